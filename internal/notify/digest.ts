/**
 * @module notify/digest
 * The daily digest: at `notifications.digest_at` in `notifications.timezone`, one `daily_digest` event summarising
 * the 24 hours before, read from the store: per account the limits it hit, by kind (the usage records: a 5-hour or
 * weekly limit, a per-model one, a move at `switch_at`, extra usage) and the time sessions ran on it (its `active`
 * periods, so `spread` placement counts every account in use); tasks done and failed; the swaps. {@link summarize} is
 * the pure core; this file only schedules it on the clock and reads the store. Sending is the notifier's (queued,
 * never blocking); rendering is events.ts.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store, SwapRow, TaskRow } from "../state/state.ts";
import type { LimitRecord, PeriodRecord } from "../state/usage-store.ts";
import { ACTIVE } from "../state/usage.ts";
import type { EventData, NotifyEvent } from "./events.ts";

/** What the digest reads and where it sends. */
export interface DigestDeps {
  store: Pick<Store, "accounts" | "tasks" | "recentSwaps" | "usage">;
  clock: Clock;
  log: Logger;
  send(event: NotifyEvent): void;
}

/** When, and over what. */
export interface DigestOptions {
  /** `HH:MM`; undefined: no digest. */
  at?: string;
  /** IANA zone of `at`. @default "UTC" */
  timeZone?: string;
  /** Length of the period summarised. @default 86400000 (24 hours) */
  periodMs?: number;
}

/** The digest's loop. */
export interface Digest {
  /** Sends a digest at every occurrence of `at` until `signal` aborts; does nothing without `at`. */
  start(signal: AbortSignal): void;
  /** Builds the digest of the period ending `until` (used by the loop; exposed for tests). */
  build(until: number): NotifyEvent;
}

export const DIGEST_PERIOD_MS = 86_400_000;
/** Most swaps and tasks read back from the store for one digest. */
const READ_LIMIT = 100_000;

/** What {@link summarize} reads: the store's rows, already fetched. */
export interface DigestInput {
  since: number;
  until: number;
  /** Per account, in priority order: its limits and its periods since `since` (usage records). */
  accounts: Array<{ account: string; limits: LimitRecord[]; periods: PeriodRecord[] }>;
  swaps: SwapRow[];
  /** Finished tasks (done or failed); others are ignored. */
  tasks: TaskRow[];
}

/** Creates the digest scheduler. */
export function createDigest(deps: DigestDeps, options: DigestOptions): Digest {
  const { store, clock } = deps;
  const timeZone = options.timeZone ?? "UTC";
  const period = options.periodMs ?? DIGEST_PERIOD_MS;

  const build = (until: number): NotifyEvent => {
    const since = until - period;
    const accounts = store.accounts().map(({ name }) => ({
      account: name, limits: store.usage.limitsSince(name, since), periods: store.usage.periodsSince(name, since),
    }));
    const data = summarize({ since, until, accounts, swaps: store.recentSwaps(READ_LIMIT), tasks: store.tasks(["done", "failed"], READ_LIMIT) });
    return { kind: "daily_digest", at: until, ...data };
  };

  return {
    build,
    start(signal) {
      const at = options.at;
      if (!at) return;
      void (async () => {
        while (!signal.aborted) {
          const due = nextOccurrence(at, timeZone, clock.now());
          await clock.sleep(due - clock.now(), signal);
          if (signal.aborted) return;
          try {
            const digest = build(due);
            deps.send(digest);
            deps.log.info("daily digest queued", { since: new Date(due - period).toISOString() });
          } catch (error) {
            deps.log.error("daily digest failed", { error });
          }
        }
      })();
    },
  };
}

/** The digest's numbers for `[since, until)`, from the store's rows. Pure. */
export function summarize(input: DigestInput): EventData["daily_digest"] {
  const { since, until } = input;
  const within = (t: number | null) => t !== null && t >= since && t < until;
  const swaps = input.swaps.filter((s) => within(s.requestedAt)).sort((a, b) => a.requestedAt - b.requestedAt);
  const finished = input.tasks.filter((t) => within(t.finishedAt)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
  const failed = finished.filter((t) => t.state === "failed");
  return {
    since,
    accounts: input.accounts.map(({ account, limits, periods }) => {
      const hit = limits.filter((l) => within(l.at));
      const kinds: Record<string, number> = {};
      for (const l of hit) kinds[l.kind] = (kinds[l.kind] ?? 0) + 1;
      const activeMs = periods.filter((p) => p.kind === ACTIVE)
        .reduce((ms, p) => ms + Math.max(0, Math.min(p.endedAt ?? until, until) - Math.max(p.startedAt, since)), 0);
      return { account, limits: hit.length, limit_kinds: kinds, active_ms: activeMs };
    }),
    tasks_done: finished.filter((t) => t.state === "done").length,
    tasks_failed: failed.length,
    failed: failed.map((t) => ({ project: t.project, file: t.file, reason: t.error ?? "failed" })),
    swaps: swaps.map((s) => ({ at: s.requestedAt, from: s.fromAccount, to: s.toAccount, reason: s.reason, ok: s.step !== "failed" })),
  };
}

/** The first instant after `now` whose wall time in `timeZone` is `hhmm` (`"09:00"`); DST-safe. */
export function nextOccurrence(hhmm: string, timeZone: string, now: number): number {
  const [hour, minute] = hhmm.split(":").map(Number) as [number, number];
  const parts = (at: number) => Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", hourCycle: "h23",
  }).formatToParts(at).map((p) => [p.type, Number(p.value)])) as Record<string, number>;
  const offset = (at: number) => {
    const p = parts(at);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!) - Math.floor(at / 60_000) * 60_000;
  };
  const today = parts(now);
  for (let day = 0; day <= 2; day++) {
    const wall = Date.UTC(today.year!, today.month! - 1, today.day! + day, hour, minute);
    const at = wall - offset(wall - offset(wall));
    if (at > now) return at;
  }
  return now + DIGEST_PERIOD_MS;
}
