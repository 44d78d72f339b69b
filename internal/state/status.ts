/**
 * @module state/status
 * The read model every surface shows (`GET /status`, the dashboard, Telegram `/status`, `claude-failover status`). Owns the JSON field names of the `/status` contract
 * (DESIGN.md); computes nothing but the projection of the store plus a few runtime flags.
 */
import type { AccountState, SessionKind, SessionState, Store, SwapStep, TaskRow, TaskState } from "./state.ts";
import { accountUsage, type AccountUsage } from "./usage.ts";
import { loginFix } from "../supervisor/login.ts";

/** A session's state as the surfaces show it: `retiring` is a session that left the owned names and finishes its task. */
export type SessionStatusState = SessionState | "retiring";

/** `/status` as scripts read it. Field names are a contract: snake_case, times ISO 8601. */
export interface StatusSnapshot {
  version: string;
  now: string;
  started_at: string;
  active_account: string | null;
  swapping: boolean;
  paused: boolean;
  /** Every account is cooling, disabled or needs a login; dispatch waits for `wake_at`. */
  exhausted: boolean;
  wake_at: string | null;
  /**
   * Each account with its usage at a glance (state/usage.ts: last limit, limits, time active, tasks, turns, timeline);
   * buildStatus always fills the usage fields, readers of an older daemon's `/status` may find them absent.
   * `login_fix`, only for a `needs_login` account: the command to run, then `/login` in it.
   */
  accounts: Array<{
    name: string; home: string; state: AccountState; reset_at: string | null; login_fix?: string;
    /**
     * Models the account may not use until their reset (quota.on_model_limit: fallback); its sessions run the fallback
     * model. Always written by this daemon; optional for surfaces reading an older one.
     */
    models?: Array<{ model: string; reset_at: string }>;
  } & Partial<AccountUsage>>;
  sessions: Array<{
    name: string; kind: SessionKind; state: SessionStatusState; account: string | null; session_id: string | null;
    task: string | null; workdir: string;
    /** Only for a `dead` session: its last screen lines (what Claude Code printed before exiting). */
    last_lines?: string[];
  }>;
  tasks: Record<TaskState, number>;
  queue: Array<{ id: number; project: string; file: string; priority: number; state: TaskState; session: string | null }>;
  last_swap: SwapSummary | null;
  swaps: SwapSummary[];
  /** How the next swap moves sessions (`in-place` or `restart`) and why; absent when the daemon does not say. */
  swap_mode?: { mode: "in-place" | "restart"; why: string };
  /**
   * `switcher.placement`: `failover` (every session on the active account) or `spread` (sessions spread over the
   * usable accounts; `active_account` is then the account new sessions start on). Absent when the daemon does not say.
   */
  placement?: "failover" | "spread";
  /** The fleet (docs/fleet.md): this host, the backend, whether the database is away, every host; absent without a bridge. */
  fleet?: FleetStatus;
}

/** `/status`'s `fleet`: projected from the fleet bridge's status (fleet/view.ts). */
export interface FleetStatus {
  host: string;
  backend: "sqlite" | "postgres";
  /** Since when and why the fleet database cannot be reached; null while it answers. */
  degraded: { since: string; reason: string } | null;
  /** Fleet writes waiting in the local outbox, and those parked (refused, kept, no longer tried). */
  outbox: number;
  parked: number;
  hosts: Array<{
    name: string; version: string; url: string | null; degraded: string | null; heartbeat_age_s: number;
    sessions: Array<{ name: string; kind: string; state: string; account: string | null; task_id: number | null }>;
  }>;
}

/** One swap as the surfaces show it (forensic fields included). */
export interface SwapSummary {
  id: number;
  at: string;
  step: SwapStep;
  from: string | null;
  to: string | null;
  reason: string;
  trigger_session: string | null;
  signal: string | null;
  pattern: string | null;
  snippet: string | null;
  reset_at: string | null;
  /** The kind of limit behind a quota swap (`five_hour`, `weekly`, …); absent from older daemons. */
  limit?: string | null;
  error: string | null;
  /**
   * Per-session result, once the swap has relaunched them: `resumed`, `fresh` (new conversation) or `dead` (`kept`: moved
   * in place); `to`: the account that session moved to, in `spread` placement (where `to` above is where new sessions start).
   */
  sessions: Array<{ name: string; outcome: string | null; to?: string }>;
}

/** Runtime facts the store does not hold. */
export interface RuntimeFlags {
  version: string;
  startedAt: number;
  activeAccount: string | null;
  paused: boolean;
  exhaustedUntil: number | null;
  swapMode?: { mode: "in-place" | "restart"; why: string };
  placement?: "failover" | "spread";
  fleet?: FleetStatus;
}

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);

/** Projects the store and runtime flags into a {@link StatusSnapshot}. */
export function buildStatus(store: Store, flags: RuntimeFlags, now: number): StatusSnapshot {
  const tasksById = new Map(store.tasks(["queued", "running", "stalled"], 500).map((t) => [t.id, t]));
  const swaps = store.recentSwaps(20).map(summarizeSwap);
  const open = store.openSwap();
  return {
    version: flags.version,
    now: new Date(now).toISOString(),
    started_at: new Date(flags.startedAt).toISOString(),
    active_account: flags.activeAccount,
    swapping: open !== null,
    paused: flags.paused,
    exhausted: flags.exhaustedUntil !== null,
    wake_at: iso(flags.exhaustedUntil),
    accounts: store.accounts().map((a) => ({
      name: a.name, home: a.home, state: a.state, reset_at: iso(a.resetAt), ...(a.state === "needs_login" ? { login_fix: loginFix(a.home) } : {}),
      models: store.modelLimits().filter((m) => m.account === a.name && m.resetAt > now).map((m) => ({ model: m.model, reset_at: new Date(m.resetAt).toISOString() })),
      ...accountUsage(store, a.name, now),
    })),
    sessions: store.sessions().map((s) => ({
      name: s.name, kind: s.kind, state: s.retiringAt !== null ? "retiring" : s.state, account: s.account, session_id: s.sessionId,
      task: s.taskId !== null ? taskLabel(tasksById.get(s.taskId) ?? store.task(s.taskId)) : null, workdir: s.workdir,
      ...(s.state === "dead" ? { last_lines: deadLines(store.getFlag(`dead_lines:${s.name}`)) } : {}),
    })),
    tasks: store.taskCounts(),
    queue: [...tasksById.values()].slice(0, 100).map((t) => ({
      id: t.id, project: t.project, file: t.file, priority: t.priority, state: t.state, session: t.session,
    })),
    last_swap: swaps[0] ?? null,
    swaps,
    ...(flags.swapMode ? { swap_mode: flags.swapMode } : {}),
    ...(flags.placement ? { placement: flags.placement } : {}),
    ...(flags.fleet ? { fleet: flags.fleet } : {}),
  };
}

function taskLabel(task: TaskRow | null | undefined): string | null {
  return task ? `${task.project}/${task.file}` : null;
}

function summarizeSwap(s: import("./state.ts").SwapRow): SwapSummary {
  return {
    id: s.id, at: new Date(s.requestedAt).toISOString(), step: s.step, from: s.fromAccount, to: s.toAccount, reason: s.reason,
    trigger_session: s.triggerSession, signal: s.signal, pattern: s.pattern, snippet: s.snippet, reset_at: iso(s.resetAt), limit: s.limitKind ?? null, error: s.error,
    sessions: planOutcomes(s.plan),
  };
}

function planOutcomes(plan: string | null): SwapSummary["sessions"] {
  if (!plan) return [];
  try {
    const parsed = JSON.parse(plan) as { sessions?: Array<{ name?: unknown; outcome?: unknown; to?: unknown }> };
    return (parsed.sessions ?? []).map((s) => ({ name: String(s.name), outcome: typeof s.outcome === "string" ? s.outcome : null, ...(typeof s.to === "string" ? { to: s.to } : {}) }));
  } catch {
    return [];
  }
}

/** The JSON array of screen lines lifecycle keeps for a dead session; empty when absent or unreadable. */
function deadLines(value: string | null): string[] {
  if (value === null) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}
