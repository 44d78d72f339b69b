/**
 * @module state/usage
 * Usage at a glance, per account. What is recorded, each fact in the one place that knows it ({@link UsageRecorder}:
 * the supervisor reports limits, turns and the accounts sessions run on; the dispatcher reports finished tasks), and
 * what the surfaces show ({@link accountUsage}: the last limit, limits in 7 days, time active today and over 7 days,
 * tasks done and failed, turns, and a 24-hour timeline). Days are UTC days; "7 days" is today and the six days before.
 * Reads are a few indexed seeks per account (the dashboard polls `/status` every few seconds); account state periods
 * (cooling, disabled, …) are written by the store itself whenever an account's state changes.
 */
import type { Store } from "./state.ts";
import type { LimitRecord, PeriodRecord } from "./usage-store.ts";

const DAY_MS = 86_400_000;
/** How far back the timeline goes. */
export const TIMELINE_MS = DAY_MS;
/** Resets closer than this are one (a screen's time is rounded to the minute, a record's is exact). */
const SAME_RESET_MS = 60_000;
/** Period kind of the time sessions ran on an account. */
export const ACTIVE = "active";

/** What the recorder counts in (the metrics registry); optional. */
export interface UsageMetrics {
  inc(name: string, labels?: Record<string, string>, by?: number): void;
}

/** Records usage facts. */
export interface UsageRecorder {
  /**
   * An account hit a limit (and starts cooling), counted in `claude_failover_limits_total{account,kind}`. When the
   * account already cools until `coolingUntil`, the hit is that same limit seen again (by another signal or session)
   * unless it is another kind that lasts longer (a weekly limit reached while the five-hour one cools). Returns whether
   * it was recorded as a new limit.
   */
  limitHit(limit: LimitRecord, coolingUntil?: number | null): boolean;
  /** A turn (a prompt in a session's transcript) was taken on `account`. */
  turn(account: string, at: number): void;
  /** A task that ran on `account` ended done (`ok`) or failed; a task that never reached a session has no account. */
  taskFinished(account: string | null, ok: boolean, at: number): void;
  /** Opens and closes `active` periods so they match the accounts sessions run on now; writes only on a change. */
  sessionsSeen(at: number): void;
}

/** The UTC day of `ms`, `YYYY-MM-DD`. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Creates the {@link UsageRecorder}. */
export function createUsageRecorder(deps: { store: Pick<Store, "usage">; metrics?: UsageMetrics }): UsageRecorder {
  const { usage } = deps.store;
  let inUse: Set<string> | null = null;
  return {
    limitHit(limit, coolingUntil = null) {
      if (coolingUntil !== null) {
        const longer = (limit.resetAt ?? 0) > coolingUntil + SAME_RESET_MS;
        if (!longer || usage.lastLimit(limit.account)?.kind === limit.kind) return false;
      }
      usage.addLimit(limit);
      deps.metrics?.inc("claude_failover_limits_total", { account: limit.account, kind: limit.kind });
      return true;
    },
    turn(account, at) {
      usage.bump(account, utcDay(at), "turns");
      deps.metrics?.inc("claude_failover_account_turns_total", { account });
    },
    taskFinished(account, ok, at) {
      if (account === null) return;
      usage.bump(account, utcDay(at), ok ? "tasks_done" : "tasks_failed");
      deps.metrics?.inc("claude_failover_account_tasks_total", { account, result: ok ? "done" : "failed" });
    },
    sessionsSeen(at) {
      inUse ??= new Set(usage.openPeriods(ACTIVE));
      const now = new Set(usage.accountsInUse());
      for (const account of now) if (!inUse.has(account)) usage.openPeriod(account, ACTIVE, at);
      for (const account of inUse) if (!now.has(account)) usage.closePeriod(account, ACTIVE, at);
      inUse = now;
    },
  };
}

/** One account's usage as `/status` shows it (fields of `accounts[]`; times ISO 8601, durations in seconds). */
export interface AccountUsage {
  /** The latest limit the account hit: its kind (`five_hour`, `weekly`, `opus`, …), when, which session, its reset. */
  last_limit: { kind: string; at: string; session: string | null; reset_at: string | null } | null;
  limits_7d: number;
  /** Seconds during which sessions ran on the account, since 00:00 UTC / over the last 7 days. */
  active_today_s: number;
  active_7d_s: number;
  tasks_done_today: number;
  tasks_failed_today: number;
  tasks_done_7d: number;
  tasks_failed_7d: number;
  turns_today: number;
  turns_7d: number;
  /** The last 24 hours: periods (`active`, `cooling`, `disabled`, …; `to` null while open) and limits as marks. */
  timeline: {
    from: string;
    to: string;
    periods: Array<{ kind: string; from: string; to: string | null }>;
    limits: Array<{ at: string; kind: string; session: string | null }>;
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Projects the usage tables of `account` at `now` into {@link AccountUsage}. */
export function accountUsage(store: Pick<Store, "usage">, account: string, now: number): AccountUsage {
  const { usage } = store;
  const todayStart = Math.floor(now / DAY_MS) * DAY_MS;
  const weekStart = todayStart - 6 * DAY_MS;
  const timelineStart = now - TIMELINE_MS;
  const limits = usage.limitsSince(account, Math.min(weekStart, timelineStart));
  const periods = usage.periodsSince(account, Math.min(weekStart, timelineStart));
  const days = usage.daysSince(account, utcDay(weekStart));
  const today = days.find((d) => d.day === utcDay(now));
  const sum = (key: "turns" | "tasks_done" | "tasks_failed") => days.reduce((n, d) => n + d[key], 0);
  const active = periods.filter((p) => p.kind === ACTIVE);
  const last = usage.lastLimit(account);
  return {
    last_limit: last ? { kind: last.kind, at: iso(last.at), session: last.session, reset_at: last.resetAt ? iso(last.resetAt) : null } : null,
    limits_7d: limits.filter((l) => l.at >= weekStart).length,
    active_today_s: seconds(active, todayStart, now),
    active_7d_s: seconds(active, weekStart, now),
    tasks_done_today: today?.tasks_done ?? 0,
    tasks_failed_today: today?.tasks_failed ?? 0,
    tasks_done_7d: sum("tasks_done"),
    tasks_failed_7d: sum("tasks_failed"),
    turns_today: today?.turns ?? 0,
    turns_7d: sum("turns"),
    timeline: {
      from: iso(timelineStart),
      to: iso(now),
      periods: periods.filter((p) => (p.endedAt ?? now) > timelineStart && p.startedAt <= now).map((p) => ({
        kind: p.kind, from: iso(Math.max(p.startedAt, timelineStart)), to: p.endedAt === null ? null : iso(p.endedAt),
      })),
      limits: limits.filter((l) => l.at >= timelineStart).map((l) => ({ at: iso(l.at), kind: l.kind, session: l.session })),
    },
  };
}

/** Whole seconds of `periods` inside [from, to]; an open period lasts until `to`. */
function seconds(periods: PeriodRecord[], from: number, to: number): number {
  return Math.floor(periodsMs(periods, from, to) / 1000);
}

/** Milliseconds of `periods` inside [from, to]; an open period lasts until `to`. */
export function periodsMs(periods: readonly PeriodRecord[], from: number, to: number): number {
  let ms = 0;
  for (const p of periods) ms += Math.max(0, Math.min(p.endedAt ?? to, to) - Math.max(p.startedAt, from));
  return ms;
}
