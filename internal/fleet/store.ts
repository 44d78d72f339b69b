/**
 * @module fleet/store
 * The shared store of a fleet (docs/fleet.md): the async {@link FleetStore} interface and its row types. It holds
 * only what hosts share (hosts and their session snapshots, account states, the one task queue, swap summaries,
 * notification claims); each host keeps its working state in its own synchronous store (internal/state/state.ts).
 * Two backends implement it: fleet/sqlite.ts (single host, in the daemon's own file) and fleet/postgres.ts (a fleet).
 * Every time is epoch ms. It holds no business rules: callers decide, the store records.
 */

/** Same states as the local store's accounts (internal/state/state.ts AccountState). */
export type FleetAccountState = "available" | "cooling" | "disabled" | "needs_login";
export type FleetTaskState = "queued" | "running" | "done" | "failed";

/** One session of a host, as the host last reported it (the fleet view). */
export interface FleetSession {
  name: string;
  kind: string;
  state: string;
  account: string | null;
  /** The shared task (fleet_tasks.id) it runs, if any. */
  taskId: number | null;
  updatedAt: number;
}

/** What a host says about itself with every heartbeat. */
export interface HostInfo {
  startedAt: number;
  version: string;
  /** Its control API or dashboard address, for the fleet view; null when it serves none. */
  url: string | null;
  /** Why it runs degraded (`/health`), or null. */
  degraded: string | null;
}

export interface HostRow extends HostInfo {
  name: string;
  heartbeatAt: number;
  /** `now - heartbeatAt` for the `now` given to {@link FleetStore.hosts}. */
  heartbeatAgeMs: number;
  sessions: FleetSession[];
}

/** One model an account may not use until `resetAt`. */
export interface FleetModelLimit {
  model: string;
  resetAt: number;
}

export interface FleetAccountRow {
  name: string;
  state: FleetAccountState;
  resetAt: number | null;
  updatedAt: number;
  /** The host that wrote the last change. */
  updatedBy: string;
  limits: FleetModelLimit[];
}

/** A task as a host's inbox hands it to the queue. `(originHost, project, file, createdAt)` identifies it. */
export interface NewTask {
  originHost: string;
  project: string;
  file: string;
  prompt: string;
  /** Higher first. */
  priority: number;
  workdir: string;
  timeoutMs: number | null;
  /** Front matter `host:`: only this host may claim it. */
  pinnedHost: string | null;
  createdAt: number;
}

export interface FleetTaskRow extends NewTask {
  id: number;
  state: FleetTaskState;
  /** The host running it (or that ran it); null while queued. */
  host: string | null;
  /** The claim generation: incremented by each claim; `finish` and `release` must name the current one. */
  claim: number;
  leaseUntil: number | null;
  claimedAt: number | null;
  finishedAt: number | null;
  result: string | null;
  /** Why it failed, or why it was last released or requeued. */
  error: string | null;
}

export interface ClaimOptions {
  /** The workdirs that exist on this host; a task whose workdir is not among them is left for another host. */
  workdirs: string[];
  /** At most this many tasks (one per free session). */
  limit: number;
  now: number;
  /** The lease: the claim holds until `now + leaseMs` unless renewed. */
  leaseMs: number;
}

export interface TaskOutcome {
  state: "done" | "failed";
  at: number;
  result?: string | null;
  error?: string | null;
}

export interface TaskFilter {
  state?: FleetTaskState;
  host?: string;
  /** Only these tasks (e.g. the ones an origin host waits on). */
  ids?: number[];
  /** Default 100; newest first. */
  limit?: number;
}

/** A summary of one swap a host ran (the swap machine itself stays local). `(host, id)` identifies it. */
export interface SwapSummary {
  /** The host's local swap id. */
  id: number;
  session: string;
  fromAccount: string | null;
  toAccount: string | null;
  /** The swap machine's step, `done` or `failed` once it ended. */
  step: string;
  reason: string;
  startedAt: number;
  updatedAt: number;
}

export interface SwapRow extends SwapSummary {
  host: string;
}

/** Stops a watch; resolves once nothing more is delivered. */
export type Unsubscribe = () => Promise<void>;

export interface FleetStore {
  /** Which backend this is, for logs and the fleet view. */
  readonly backend: "sqlite" | "postgres";

  /** Upserts the host's row and replaces its session snapshot, in one transaction. */
  heartbeat(host: string, now: number, info: HostInfo, sessions: FleetSession[]): Promise<void>;
  /** Every host with its sessions, by name. */
  hosts(now: number): Promise<HostRow[]>;

  /**
   * Writes an account's shared state only when it really changes (a different state, or the same state with another
   * reset); returns whether it changed. PostgreSQL notifies the other hosts in the same transaction.
   */
  setAccountState(name: string, state: FleetAccountState, resetAt: number | null, now: number, host: string): Promise<boolean>;
  /** Sets (`resetAt` a time) or clears (null) one model limit of an account; returns whether it changed. */
  setModelLimit(account: string, model: string, resetAt: number | null, now: number, host: string): Promise<boolean>;
  accounts(): Promise<FleetAccountRow[]>;
  /**
   * Calls `onChange` with the current row of each account that changed, once committed, whichever store object (this
   * one included: `updatedBy` names the host) changed it. PostgreSQL: LISTEN; after a lost connection comes back,
   * every account is reported again, so a change made meanwhile is not missed. SQLite: one host, nothing to watch;
   * `onChange` is never called.
   */
  watchAccounts(onChange: (account: FleetAccountRow) => void): Promise<Unsubscribe>;

  /** Adds a task unless the same `(originHost, project, file, createdAt)` is there; returns its id either way. */
  enqueue(task: NewTask): Promise<number>;
  /** Claims up to `limit` queued tasks this host may run, highest priority first, each for exactly one host. */
  claim(host: string, options: ClaimOptions): Promise<FleetTaskRow[]>;
  /** Extends the lease of every task the host runs; returns how many. */
  renew(host: string, now: number, leaseMs: number): Promise<number>;
  /** Ends a task the host still holds with claim `claim`; false (and nothing written) when the claim is stale. */
  finish(id: number, host: string, claim: number, outcome: TaskOutcome): Promise<boolean>;
  /** Puts a task the host holds back in the queue (it was never typed); false when the claim is stale. */
  release(id: number, host: string, claim: number, reason: string, now: number): Promise<boolean>;
  /** Puts every running task whose lease passed back in the queue; returns their ids. */
  requeueExpired(now: number): Promise<number[]>;
  tasks(filter?: TaskFilter): Promise<FleetTaskRow[]>;
  counts(): Promise<Record<FleetTaskState, number>>;

  /** Upserts the summary of one of the host's swaps. */
  recordSwap(host: string, swap: SwapSummary): Promise<void>;
  /** The latest swaps, newest first (default 50). */
  swaps(limit?: number): Promise<SwapRow[]>;

  /**
   * Claims the right to send the notification `key` at `at`: true for exactly one caller fleet-wide per `windowMs`
   * (the first since the last successful claim of that key more than `windowMs` ago).
   */
  claimEvent(key: string, at: number, windowMs: number): Promise<boolean>;

  /** The number of migrations applied. */
  schemaVersion(): Promise<number>;
  /** Releases the connection(s); further calls fail. */
  close(): Promise<void>;
}

/** The shared database cannot be reached (refused, timed out, dropped): the caller goes degraded and retries. */
export class FleetUnavailable extends Error {
  override readonly name = "FleetUnavailable";
  constructor(action: string, override readonly cause: unknown) {
    super(`Cannot ${action}: fleet database unreachable (${cause instanceof Error ? cause.message : String(cause)})`);
  }
}

/** An empty count per task state. */
export function zeroCounts(): Record<FleetTaskState, number> {
  return { queued: 0, running: 0, done: 0, failed: 0 };
}
