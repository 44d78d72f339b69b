/**
 * @module state
 * The durable store: one bun:sqlite file in WAL mode (synchronous=NORMAL, busy_timeout set) holding sessions,
 * accounts, tasks, the swap journal, events and a few flags. Every write is one autocommit statement or one
 * synchronous transaction, so a `kill -9` at any moment leaves a consistent file. Schema changes are numbered
 * migrations tracked by `PRAGMA user_version`.
 *
 * Modules above talk to the {@link Store} interface only, so another backend (PostgreSQL for multi-host fleets)
 * can replace this file without touching them. It holds no business rules: callers decide, the store records.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createUsageStore, USAGE_MIGRATION, type UsageStore } from "./usage-store.ts";
import { BRIDGE_MIGRATION, createBridgeStore, type BridgeStore, type FleetLocalState } from "./bridge-store.ts";

/**
 * `needs_login`: the account's login was refused (revoked, or a token that could not be refreshed); it takes no
 * session until the operator runs `/login` in its home (then `claude-failover accounts enable`, or the daemon sees the
 * new login file).
 */
export type AccountState = "available" | "cooling" | "disabled" | "needs_login";
export type SessionKind = "pool" | "dedicated";
export type SessionState = "starting" | "idle" | "working" | "stalled" | "dead";
export type TaskState = "queued" | "running" | "done" | "failed" | "stalled";
/**
 * Where a running task's current prompt (the task itself, or a continue prompt for it) is in its conversation:
 * `intent` written before typing; `typed` once the keys were sent; `confirmed` once the transcript (or the
 * UserPromptSubmit hook) shows the prompt with its `promptId`; `ended` when that turn ended on an API error or a
 * limit and the task waits to be continued.
 */
export type DeliveryState = "intent" | "typed" | "confirmed" | "ended";
export type SwapStep = "requested" | "saving" | "stopping" | "flipping" | "migrating" | "relaunching" | "writing" | "closing" | "moving" | "verifying" | "done" | "failed";
export type EventLevel = "info" | "warning" | "critical";

export interface AccountRow {
  name: string;
  home: string;
  priority: number;
  state: AccountState;
  /** When a cooling account's quota comes back, epoch ms. */
  resetAt: number | null;
  updatedAt: number;
}

export interface SessionRow {
  name: string;
  kind: SessionKind;
  state: SessionState;
  /** Conversation UUID the daemon launched (`--session-id`) or resumed. */
  sessionId: string | null;
  account: string | null;
  /**
   * The config home Claude Code runs in (`CLAUDE_CONFIG_DIR`), kept with the session because an account removed from
   * the config (or given a new home) loses its row: the session's conversation is still read from here.
   */
  home: string | null;
  workdir: string;
  taskId: number | null;
  launchedAt: number | null;
  /** Last time the pane was seen doing something or a hook arrived, epoch ms. */
  activityAt: number | null;
  /** Last time a turn was seen starting (UserPromptSubmit hook or a busy pane), epoch ms. */
  turnAt: number | null;
  /**
   * Since when the session is outside the owned names (a reload shrank the pool or renamed it) while still running
   * the daemon's Claude Code: it gets no new task and is stopped once its task ends. `/status` shows `retiring`.
   */
  retiringAt: number | null;
  /** The `--model` it was last launched with; null for Claude Code's default model (quota.on_model_limit: fallback). */
  model: string | null;
  updatedAt: number;
}

/** One model an account may not use until `resetAt` ("You've hit your Opus limit"), the account itself staying usable. */
export interface ModelLimitRow {
  account: string;
  /** The limited model's family as Claude Code names the limit: `opus`, `sonnet` or `fable`. */
  model: string;
  resetAt: number;
  updatedAt: number;
}

export interface TaskRow {
  id: number;
  project: string;
  /** File name in the inbox, e.g. `fix-tests.md`. */
  file: string;
  state: TaskState;
  priority: number;
  workdir: string;
  timeoutMs: number | null;
  prompt: string;
  session: string | null;
  attempts: number;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  /** The ledger of the current delivery (null while queued). */
  delivery: DeliveryState | null;
  /** Conversation id the prompt was typed into. */
  conversation: string | null;
  /** Transcript path of that conversation. */
  transcript: string | null;
  /** Transcript size when the intent was written: the prompt's record comes after it. */
  ledgerOffset: number | null;
  /** The text expected in the next user record: the task's prompt, or the continue prompt. */
  expect: string | null;
  /** Claude Code's id of the turn the task runs in (from the transcript or the hooks). */
  promptId: string | null;
  typedAt: number | null;
  /** Why the last turn ended without finishing the task: `quota` or `transient`. */
  endedKind: string | null;
  endedAt: number | null;
  /** Continue prompts typed for this task (after errors, limits and relaunches). */
  continues: number;
  /** Turns of this task that ended on a transient API error. */
  apiErrors: number;
  /** When Enter was pressed again for a prompt left unsent in the input box. */
  nudgedAt: number | null;
  /** The shared task (fleet_tasks.id) this row stands for; null without a fleet bridge (state/bridge-store.ts). */
  fleetId?: number | null;
  /** The claim generation this host holds on it, while it holds one. */
  fleetClaim?: number | null;
  /** The host whose inbox it came from (its file is there); this host's own name for its own tasks once exported. */
  originHost?: string | null;
  fleetState?: FleetLocalState | null;
}

/** The delivery fields of a task that was never delivered (what a new row holds). */
export const NO_DELIVERY = {
  delivery: null, conversation: null, transcript: null, ledgerOffset: null, expect: null, promptId: null, typedAt: null,
  endedKind: null, endedAt: null, continues: 0, apiErrors: 0, nudgedAt: null,
} as const satisfies Partial<TaskRow>;

export interface SwapRow {
  id: number;
  step: SwapStep;
  fromAccount: string | null;
  toAccount: string | null;
  reason: string;
  triggerSession: string | null;
  signal: string | null;
  pattern: string | null;
  snippet: string | null;
  resetAt: number | null;
  /** The kind of limit behind a quota swap (the verdict's `LimitKind`: `five_hour`, `weekly`, …); null otherwise. */
  limitKind?: string | null;
  /** JSON the switcher keeps between steps (saved sessions, outcomes). */
  plan: string | null;
  error: string | null;
  requestedAt: number;
  updatedAt: number;
}

export interface EventRow {
  id: number;
  at: number;
  level: EventLevel;
  kind: string;
  message: string;
  fields: string | null;
}

/** Fields a caller may change on a session; absent fields are kept. */
export type SessionPatch = Partial<Omit<SessionRow, "name" | "updatedAt">>;
export type TaskPatch = Partial<Omit<TaskRow, "id" | "createdAt">>;
export type SwapPatch = Partial<Omit<SwapRow, "id" | "requestedAt">>;

/** The narrow interface every module uses. */
export interface Store {
  /** Upserts configured accounts (name, home, priority); keeps their state. Drops accounts no longer configured. */
  syncAccounts(accounts: Array<{ name: string; home: string; priority: number }>, now: number): void;
  accounts(): AccountRow[];
  /** Sets an account's state; a change of state also ends its period of the old state and opens one of the new (`usage`). */
  setAccountState(name: string, state: AccountState, resetAt: number | null, now: number): void;
  /** Per-account usage: limits hit, periods (active, cooling, …), daily counters (state/usage-store.ts). */
  readonly usage: UsageStore;
  /** The fleet bridge's task lookups and outbox (state/bridge-store.ts). */
  readonly bridge: BridgeStore;
  /** Per-model limits of accounts (quota.on_model_limit: fallback), by account then model. */
  modelLimits(): ModelLimitRow[];
  /** Records (or moves) the reset of one model's limit on one account. */
  setModelLimit(account: string, model: string, resetAt: number, now: number): void;
  clearModelLimit(account: string, model: string): void;

  session(name: string): SessionRow | null;
  sessions(): SessionRow[];
  upsertSession(name: string, kind: SessionKind, patch: SessionPatch, now: number): SessionRow;
  deleteSession(name: string): void;

  addTask(task: Pick<TaskRow, "project" | "file" | "priority" | "workdir" | "timeoutMs" | "prompt" | "createdAt">
    & Pick<TaskRow, "fleetId" | "fleetClaim" | "originHost" | "fleetState">): TaskRow;
  task(id: number): TaskRow | null;
  taskByFile(project: string, file: string): TaskRow | null;
  tasks(states?: TaskState[], limit?: number): TaskRow[];
  updateTask(id: number, patch: TaskPatch): void;
  taskCounts(): Record<TaskState, number>;
  /**
   * Deletes done/failed rows finished before the time, but never a fleet row whose finish waits in the outbox
   * (`finishing`), nor, given this host's fleet name, one of its own `superseded` rows (its file waits in processing/
   * for the host that runs the task again: docs/fleet.md).
   */
  pruneTasks(finishedBefore: number, fleetHost?: string): number;

  createSwap(swap: Omit<SwapRow, "id" | "step" | "plan" | "error" | "updatedAt">): SwapRow;
  updateSwap(id: number, patch: SwapPatch, now: number): void;
  swap(id: number): SwapRow | null;
  /** The swap not yet `done` or `failed`, if any (at most one runs at a time). */
  openSwap(): SwapRow | null;
  recentSwaps(limit: number): SwapRow[];
  swapsSince(at: number): number;
  /**
   * The most recent swap that completed, if any, not counting `config` swaps (sessions moved off an account removed
   * from the config): those start no cooldown.
   */
  lastDoneSwap(): SwapRow | null;
  /** Deletes finished swaps requested before `before`; returns how many. */
  pruneSwaps(before: number): number;

  addEvent(event: Omit<EventRow, "id">): EventRow;
  events(afterId: number, limit: number): EventRow[];
  /** The latest `limit` events, oldest first. */
  recentEvents(limit: number): EventRow[];
  pruneEvents(before: number): number;

  getFlag(key: string): string | null;
  setFlag(key: string, value: string | null): void;

  /** Proves the file is writable (used by /health). */
  probeWrite(now: number): void;
  close(): void;
}

/** Numbered schema migrations; index i upgrades user_version i → i+1. Never edit a released entry. */
const MIGRATIONS = [
  `CREATE TABLE accounts (
     name TEXT PRIMARY KEY, home TEXT NOT NULL, priority INTEGER NOT NULL,
     state TEXT NOT NULL DEFAULT 'available', reset_at INTEGER, updated_at INTEGER NOT NULL) STRICT;
   CREATE TABLE sessions (
     name TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, session_id TEXT, account TEXT,
     workdir TEXT NOT NULL DEFAULT '', task_id INTEGER, launched_at INTEGER, activity_at INTEGER,
     updated_at INTEGER NOT NULL) STRICT;
   CREATE TABLE tasks (
     id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, file TEXT NOT NULL, state TEXT NOT NULL,
     priority INTEGER NOT NULL DEFAULT 0, workdir TEXT NOT NULL, timeout_ms INTEGER, prompt TEXT NOT NULL,
     session TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER,
     finished_at INTEGER, error TEXT) STRICT;
   CREATE INDEX tasks_state ON tasks(state, priority DESC, created_at);
   CREATE INDEX tasks_file ON tasks(project, file);
   CREATE TABLE swaps (
     id INTEGER PRIMARY KEY AUTOINCREMENT, step TEXT NOT NULL, from_account TEXT, to_account TEXT,
     reason TEXT NOT NULL, trigger_session TEXT, signal TEXT, pattern TEXT, snippet TEXT, reset_at INTEGER,
     plan TEXT, error TEXT, requested_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL,
     message TEXT NOT NULL, fields TEXT) STRICT;
   CREATE INDEX events_at ON events(at);
   CREATE TABLE flags (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;`,
  `ALTER TABLE sessions ADD COLUMN turn_at INTEGER;`,
  `ALTER TABLE tasks ADD COLUMN delivery TEXT;
   ALTER TABLE tasks ADD COLUMN conversation TEXT;
   ALTER TABLE tasks ADD COLUMN transcript TEXT;
   ALTER TABLE tasks ADD COLUMN ledger_offset INTEGER;
   ALTER TABLE tasks ADD COLUMN expect TEXT;
   ALTER TABLE tasks ADD COLUMN prompt_id TEXT;
   ALTER TABLE tasks ADD COLUMN typed_at INTEGER;
   ALTER TABLE tasks ADD COLUMN ended_kind TEXT;
   ALTER TABLE tasks ADD COLUMN ended_at INTEGER;
   ALTER TABLE tasks ADD COLUMN continues INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN api_errors INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE tasks ADD COLUMN nudged_at INTEGER;`,
  `ALTER TABLE sessions ADD COLUMN home TEXT;`,
  `ALTER TABLE sessions ADD COLUMN retiring_at INTEGER;`,
  // 6: per-model limits (quota.on_model_limit: fallback) and the model each session was launched with.
  `ALTER TABLE sessions ADD COLUMN model TEXT;
   CREATE TABLE model_limits (
     account TEXT NOT NULL, model TEXT NOT NULL, reset_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
     PRIMARY KEY (account, model)) STRICT;`,
  // 7: usage at a glance: account_limits, account_periods, account_days; swaps.limit_kind.
  USAGE_MIGRATION,
  // 8 (branch wip/fleet): the fleet bridge: tasks.fleet_id, fleet_claim, origin_host, fleet_state; bridge_outbox.
  BRIDGE_MIGRATION,
];

/** Opens (creating if needed) the store at `path`; `:memory:` for tests. */
export function openStore(path: string): Store {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  migrate(db);
  const usage = createUsageStore(db);

  const accountRow = (r: Record<string, unknown>): AccountRow => ({
    name: r.name as string, home: r.home as string, priority: r.priority as number,
    state: r.state as AccountState, resetAt: (r.reset_at as number | null) ?? null, updatedAt: r.updated_at as number,
  });
  const sessionRow = (r: Record<string, unknown>): SessionRow => ({
    name: r.name as string, kind: r.kind as SessionKind, state: r.state as SessionState,
    sessionId: (r.session_id as string | null) ?? null, account: (r.account as string | null) ?? null, home: (r.home as string | null) ?? null,
    workdir: r.workdir as string, taskId: (r.task_id as number | null) ?? null,
    launchedAt: (r.launched_at as number | null) ?? null, activityAt: (r.activity_at as number | null) ?? null,
    turnAt: (r.turn_at as number | null) ?? null, retiringAt: (r.retiring_at as number | null) ?? null,
    model: (r.model as string | null) ?? null, updatedAt: r.updated_at as number,
  });
  const taskRow = (r: Record<string, unknown>): TaskRow => ({
    id: r.id as number, project: r.project as string, file: r.file as string, state: r.state as TaskState,
    priority: r.priority as number, workdir: r.workdir as string, timeoutMs: (r.timeout_ms as number | null) ?? null,
    prompt: r.prompt as string, session: (r.session as string | null) ?? null, attempts: r.attempts as number,
    createdAt: r.created_at as number, startedAt: (r.started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null, error: (r.error as string | null) ?? null,
    delivery: (r.delivery as DeliveryState | null) ?? null, conversation: (r.conversation as string | null) ?? null,
    transcript: (r.transcript as string | null) ?? null, ledgerOffset: (r.ledger_offset as number | null) ?? null,
    expect: (r.expect as string | null) ?? null, promptId: (r.prompt_id as string | null) ?? null,
    typedAt: (r.typed_at as number | null) ?? null, endedKind: (r.ended_kind as string | null) ?? null,
    endedAt: (r.ended_at as number | null) ?? null, continues: (r.continues as number | null) ?? 0,
    apiErrors: (r.api_errors as number | null) ?? 0, nudgedAt: (r.nudged_at as number | null) ?? null,
    fleetId: (r.fleet_id as number | null) ?? null, fleetClaim: (r.fleet_claim as number | null) ?? null,
    originHost: (r.origin_host as string | null) ?? null, fleetState: (r.fleet_state as FleetLocalState | null) ?? null,
  });
  const bridge = createBridgeStore(db, taskRow);
  const swapRow = (r: Record<string, unknown>): SwapRow => ({
    id: r.id as number, step: r.step as SwapStep, fromAccount: (r.from_account as string | null) ?? null,
    toAccount: (r.to_account as string | null) ?? null, reason: r.reason as string,
    triggerSession: (r.trigger_session as string | null) ?? null, signal: (r.signal as string | null) ?? null,
    pattern: (r.pattern as string | null) ?? null, snippet: (r.snippet as string | null) ?? null,
    resetAt: (r.reset_at as number | null) ?? null, limitKind: (r.limit_kind as string | null) ?? null, plan: (r.plan as string | null) ?? null,
    error: (r.error as string | null) ?? null, requestedAt: r.requested_at as number, updatedAt: r.updated_at as number,
  });

  const SESSION_COLUMNS: Record<keyof SessionPatch, string> = {
    kind: "kind", state: "state", sessionId: "session_id", account: "account", home: "home", workdir: "workdir",
    taskId: "task_id", launchedAt: "launched_at", activityAt: "activity_at", turnAt: "turn_at", retiringAt: "retiring_at", model: "model",
  };
  const TASK_COLUMNS: Record<keyof TaskPatch, string> = {
    project: "project", file: "file", state: "state", priority: "priority", workdir: "workdir", timeoutMs: "timeout_ms",
    prompt: "prompt", session: "session", attempts: "attempts", startedAt: "started_at", finishedAt: "finished_at", error: "error",
    delivery: "delivery", conversation: "conversation", transcript: "transcript", ledgerOffset: "ledger_offset", expect: "expect",
    promptId: "prompt_id", typedAt: "typed_at", endedKind: "ended_kind", endedAt: "ended_at", continues: "continues",
    apiErrors: "api_errors", nudgedAt: "nudged_at",
    fleetId: "fleet_id", fleetClaim: "fleet_claim", originHost: "origin_host", fleetState: "fleet_state",
  };
  const SWAP_COLUMNS: Record<keyof SwapPatch, string> = {
    step: "step", fromAccount: "from_account", toAccount: "to_account", reason: "reason", triggerSession: "trigger_session",
    signal: "signal", pattern: "pattern", snippet: "snippet", resetAt: "reset_at", limitKind: "limit_kind", plan: "plan", error: "error", updatedAt: "updated_at",
  };
  const update = (table: string, key: string, keyValue: unknown, columns: Record<string, string>, patch: Record<string, unknown>) => {
    const sets: string[] = [];
    const params: Record<string, unknown> = { key: keyValue };
    for (const [field, value] of Object.entries(patch)) {
      const column = columns[field];
      if (!column || value === undefined) continue;
      sets.push(`${column} = $${column}`);
      params[column] = value;
    }
    if (sets.length) db.query(`UPDATE ${table} SET ${sets.join(", ")} WHERE ${key} = $key`).run(params as never);
  };

  return {
    syncAccounts(accounts, now) {
      db.transaction(() => {
        const names = new Set(accounts.map((a) => a.name));
        for (const row of db.query("SELECT name FROM accounts").all() as Array<{ name: string }>) {
          if (!names.has(row.name)) db.query("DELETE FROM accounts WHERE name = $name").run({ name: row.name });
        }
        for (const a of accounts) {
          db.query(`INSERT INTO accounts (name, home, priority, state, updated_at) VALUES ($name, $home, $priority, 'available', $now)
                    ON CONFLICT(name) DO UPDATE SET home = excluded.home, priority = excluded.priority`)
            .run({ name: a.name, home: a.home, priority: a.priority, now });
        }
      })();
    },
    accounts: () => (db.query("SELECT * FROM accounts ORDER BY priority").all() as Record<string, unknown>[]).map(accountRow),
    setAccountState(name, state, resetAt, now) {
      db.transaction(() => {
        const before = (db.query("SELECT state FROM accounts WHERE name = $name").get({ name }) as { state: string } | null)?.state;
        db.query("UPDATE accounts SET state = $state, reset_at = $resetAt, updated_at = $now WHERE name = $name")
          .run({ name, state, resetAt, now });
        if (before === undefined || before === state) return;
        if (before !== "available") usage.closePeriod(name, before, now);
        if (state !== "available") usage.openPeriod(name, state, now);
      })();
    },
    usage,
    bridge,
    modelLimits: () => (db.query("SELECT * FROM model_limits ORDER BY account, model").all() as Record<string, unknown>[]).map((r) => ({
      account: r.account as string, model: r.model as string, resetAt: r.reset_at as number, updatedAt: r.updated_at as number,
    })),
    setModelLimit(account, model, resetAt, now) {
      db.query(`INSERT INTO model_limits (account, model, reset_at, updated_at) VALUES ($account, $model, $resetAt, $now)
                ON CONFLICT(account, model) DO UPDATE SET reset_at = excluded.reset_at, updated_at = excluded.updated_at`)
        .run({ account, model, resetAt, now });
    },
    clearModelLimit(account, model) {
      db.query("DELETE FROM model_limits WHERE account = $account AND model = $model").run({ account, model });
    },

    session(name) {
      const row = db.query("SELECT * FROM sessions WHERE name = $name").get({ name }) as Record<string, unknown> | null;
      return row ? sessionRow(row) : null;
    },
    sessions: () => (db.query("SELECT * FROM sessions ORDER BY kind DESC, name").all() as Record<string, unknown>[]).map(sessionRow),
    upsertSession(name, kind, patch, now) {
      db.transaction(() => {
        db.query(`INSERT INTO sessions (name, kind, state, updated_at) VALUES ($name, $kind, 'starting', $now)
                  ON CONFLICT(name) DO UPDATE SET updated_at = $now`).run({ name, kind, now });
        update("sessions", "name", name, SESSION_COLUMNS, patch);
      })();
      return this.session(name)!;
    },
    deleteSession(name) {
      db.query("DELETE FROM sessions WHERE name = $name").run({ name });
    },

    addTask(task) {
      const row = db.query(`INSERT INTO tasks (project, file, state, priority, workdir, timeout_ms, prompt, created_at,
                              fleet_id, fleet_claim, origin_host, fleet_state)
                            VALUES ($project, $file, 'queued', $priority, $workdir, $timeoutMs, $prompt, $createdAt,
                              $fleetId, $fleetClaim, $originHost, $fleetState) RETURNING *`)
        .get({ project: task.project, file: task.file, priority: task.priority, workdir: task.workdir,
               timeoutMs: task.timeoutMs, prompt: task.prompt, createdAt: task.createdAt, fleetId: task.fleetId ?? null,
               fleetClaim: task.fleetClaim ?? null, originHost: task.originHost ?? null, fleetState: task.fleetState ?? null }) as Record<string, unknown>;
      return taskRow(row);
    },
    task(id) {
      const row = db.query("SELECT * FROM tasks WHERE id = $id").get({ id }) as Record<string, unknown> | null;
      return row ? taskRow(row) : null;
    },
    taskByFile(project, file) {
      const row = db.query("SELECT * FROM tasks WHERE project = $project AND file = $file ORDER BY id DESC LIMIT 1")
        .get({ project, file }) as Record<string, unknown> | null;
      return row ? taskRow(row) : null;
    },
    tasks(states, limit = 1000) {
      const where = states?.length ? `WHERE state IN (${states.map((s) => `'${s}'`).join(",")})` : "";
      return (db.query(`SELECT * FROM tasks ${where} ORDER BY priority DESC, created_at, id LIMIT $limit`).all({ limit }) as Record<string, unknown>[]).map(taskRow);
    },
    updateTask(id, patch) {
      update("tasks", "id", id, TASK_COLUMNS, patch);
    },
    taskCounts() {
      const counts: Record<TaskState, number> = { queued: 0, running: 0, done: 0, failed: 0, stalled: 0 };
      for (const r of db.query("SELECT state, COUNT(*) AS n FROM tasks GROUP BY state").all() as Array<{ state: TaskState; n: number }>) {
        counts[r.state] = r.n;
      }
      return counts;
    },
    pruneTasks(finishedBefore, fleetHost) {
      return db.query(`DELETE FROM tasks WHERE state IN ('done','failed') AND finished_at < $t AND coalesce(fleet_state, '') <> 'finishing'
                       AND NOT (coalesce(fleet_state, '') = 'superseded' AND origin_host IS $host)`).run({ t: finishedBefore, host: fleetHost ?? null }).changes;
    },

    createSwap(swap) {
      const row = db.query(`INSERT INTO swaps (step, from_account, to_account, reason, trigger_session, signal, pattern, snippet,
                              reset_at, limit_kind, requested_at, updated_at)
                            VALUES ('requested', $from, $to, $reason, $trigger, $signal, $pattern, $snippet, $resetAt, $limit, $at, $at) RETURNING *`)
        .get({ from: swap.fromAccount, to: swap.toAccount, reason: swap.reason, trigger: swap.triggerSession, signal: swap.signal,
               pattern: swap.pattern, snippet: swap.snippet, resetAt: swap.resetAt, limit: swap.limitKind ?? null, at: swap.requestedAt }) as Record<string, unknown>;
      return swapRow(row);
    },
    updateSwap(id, patch, now) {
      update("swaps", "id", id, SWAP_COLUMNS, { ...patch, updatedAt: now });
    },
    swap(id) {
      const row = db.query("SELECT * FROM swaps WHERE id = $id").get({ id }) as Record<string, unknown> | null;
      return row ? swapRow(row) : null;
    },
    openSwap() {
      const row = db.query("SELECT * FROM swaps WHERE step NOT IN ('done','failed') ORDER BY id DESC LIMIT 1").get() as Record<string, unknown> | null;
      return row ? swapRow(row) : null;
    },
    recentSwaps: (limit) => (db.query("SELECT * FROM swaps ORDER BY id DESC LIMIT $limit").all({ limit }) as Record<string, unknown>[]).map(swapRow),
    lastDoneSwap() {
      const row = db.query("SELECT * FROM swaps WHERE step = 'done' AND reason != 'config' ORDER BY id DESC LIMIT 1").get() as Record<string, unknown> | null;
      return row ? swapRow(row) : null;
    },
    pruneSwaps(before) {
      return db.query("DELETE FROM swaps WHERE step IN ('done','failed') AND requested_at < $before").run({ before }).changes;
    },
    swapsSince(at) {
      return (db.query("SELECT COUNT(*) AS n FROM swaps WHERE requested_at >= $at AND step != 'failed'").get({ at }) as { n: number }).n;
    },

    addEvent(event) {
      const row = db.query("INSERT INTO events (at, level, kind, message, fields) VALUES ($at, $level, $kind, $message, $fields) RETURNING id")
        .get({ at: event.at, level: event.level, kind: event.kind, message: event.message, fields: event.fields }) as { id: number };
      return { ...event, id: row.id };
    },
    events(afterId, limit) {
      return db.query("SELECT * FROM events WHERE id > $afterId ORDER BY id LIMIT $limit").all({ afterId, limit }) as EventRow[];
    },
    recentEvents(limit) {
      return (db.query("SELECT * FROM events ORDER BY id DESC LIMIT $limit").all({ limit }) as EventRow[]).reverse();
    },
    pruneEvents(before) {
      return db.query("DELETE FROM events WHERE at < $before").run({ before }).changes;
    },

    getFlag(key) {
      return (db.query("SELECT value FROM flags WHERE key = $key").get({ key }) as { value: string } | null)?.value ?? null;
    },
    setFlag(key, value) {
      if (value === null) db.query("DELETE FROM flags WHERE key = $key").run({ key });
      else db.query("INSERT INTO flags (key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run({ key, value });
    },

    probeWrite(now) {
      this.setFlag("health_probe", String(now));
    },
    close: () => db.close(false),
  };
}

/** Applies pending migrations in one IMMEDIATE transaction; refuses a file from a newer binary. */
function migrate(db: Database): void {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length) {
    throw new Error(`Cannot open state: schema version ${current} is newer than this binary (${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.run(MIGRATIONS[v]!);
      db.run(`PRAGMA user_version = ${v + 1}`);
    }
  }).immediate();
}
