/**
 * @module state/bridge-store
 * The local side of the fleet bridge (internal/fleet/bridge.ts, docs/fleet.md "The bridge"), in the daemon's own
 * store: the task columns that tie a local row to the shared queue (`fleet_id`, `fleet_claim`, `origin_host`,
 * `fleet_state`) and the outbox (`bridge_outbox`): the fleet writes waiting for the database, in order, each with its
 * attempts and the time of its next try. Created by a migration in state.ts (exposed as `store.bridge`).
 * It holds no rule about what to send or when: the bridge decides.
 */
import type { Database } from "bun:sqlite";
import type { TaskRow } from "./state.ts";

/**
 * Where a local task row is in the shared queue (null: a task of a daemon that runs no bridge).
 * - `exported`: this host's inbox task, enqueued in the fleet (its file in processing/); any host may claim it.
 * - `claimed`: this host holds the claim `fleet_claim`; the dispatcher may run it.
 * - `finishing`: it ended here; the `finish` waits in the outbox.
 * - `released`: handed back to the queue without being typed.
 * - `superseded`: it ended here, but the claim had expired and another host took it: this run does not count
 *   (the local row is `failed` with the reason; no notification, no result file).
 * - `ended`: the shared row ended (and, on the origin host, the file went to done/ or failed/).
 */
export type FleetLocalState = "exported" | "claimed" | "finishing" | "released" | "superseded" | "ended";

/** What an outbox entry asks of the fleet store; `payload` is the JSON of its arguments. */
export type OutboxKind = "finish" | "release" | "account" | "model_limit";

export interface OutboxEntry {
  id: number;
  kind: OutboxKind;
  payload: string;
  createdAt: number;
  attempts: number;
  /** Not tried again before this time (epoch ms). */
  nextAt: number;
  lastError: string | null;
  /** Set when the entry kept failing with an error other than an unreachable database: kept, never tried again. */
  parkedAt: number | null;
}

/** Migration (wip/fleet): the task columns and the outbox. */
export const BRIDGE_MIGRATION = `
  ALTER TABLE tasks ADD COLUMN fleet_id INTEGER;
  ALTER TABLE tasks ADD COLUMN fleet_claim INTEGER;
  ALTER TABLE tasks ADD COLUMN origin_host TEXT;
  ALTER TABLE tasks ADD COLUMN fleet_state TEXT;
  CREATE INDEX tasks_fleet ON tasks(fleet_id);
  CREATE TABLE bridge_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT, parked_at INTEGER) STRICT;`;

/** The bridge's tables as the Store exposes them (`store.bridge`). */
export interface BridgeStore {
  /** The local row of shared task `fleetId`, if any. */
  taskByFleetId(fleetId: number): TaskRow | null;
  /** The latest row of `project/file` whose file is on this host (no `origin_host`, or `host`): rows of other hosts' tasks have none here. */
  taskByFile(project: string, file: string, host: string): TaskRow | null;
  /** Queued rows never handed to the fleet (no `fleet_id`), this host's own inbox tasks, oldest first. */
  unexported(): TaskRow[];
  /** Rows in any of `states`, oldest first. */
  tasksInFleetState(states: FleetLocalState[]): TaskRow[];

  /** Runs `fn` in one transaction: every write in it is stored, or none (a `kill -9` inside it leaves none). */
  atomically<T>(fn: () => T): T;
  /** Appends a write; returns its id. */
  push(kind: OutboxKind, payload: unknown, now: number): number;
  /** Entries not parked, in order. */
  pending(): OutboxEntry[];
  /** Parked entries, in order (for /health and the operator). */
  parked(): OutboxEntry[];
  /** Removes a delivered entry. */
  done(id: number): void;
  /** Records a failed try: one more attempt, its error, the next try at `nextAt`, parked when `park`. */
  failed(id: number, error: string, nextAt: number, park: boolean, now: number): void;
}

/** The bridge's part of the store on `db`; `taskRow` is the store's own row mapping. */
export function createBridgeStore(db: Database, taskRow: (r: Record<string, unknown>) => TaskRow): BridgeStore {
  const rows = (sql: string, params: Record<string, string | number | null> = {}) =>
    (db.query(sql).all(params) as Record<string, unknown>[]);
  const entry = (r: Record<string, unknown>): OutboxEntry => ({
    id: r.id as number, kind: r.kind as OutboxKind, payload: r.payload as string, createdAt: r.created_at as number,
    attempts: r.attempts as number, nextAt: r.next_at as number, lastError: (r.last_error as string | null) ?? null,
    parkedAt: (r.parked_at as number | null) ?? null,
  });
  return {
    taskByFleetId(fleetId) {
      const row = rows("SELECT * FROM tasks WHERE fleet_id = $fleetId ORDER BY id DESC LIMIT 1", { fleetId })[0];
      return row ? taskRow(row) : null;
    },
    taskByFile(project, file, host) {
      const row = rows(`SELECT * FROM tasks WHERE project = $project AND file = $file AND (origin_host IS NULL OR origin_host = $host)
                        ORDER BY id DESC LIMIT 1`, { project, file, host })[0];
      return row ? taskRow(row) : null;
    },
    unexported: () => rows("SELECT * FROM tasks WHERE state = 'queued' AND fleet_id IS NULL ORDER BY created_at, id").map(taskRow),
    tasksInFleetState(states) {
      const list = states.map((s) => `'${s}'`).join(",");
      return rows(`SELECT * FROM tasks WHERE fleet_state IN (${list}) ORDER BY created_at, id`).map(taskRow);
    },
    atomically: (fn) => db.transaction(fn)(),
    push(kind, payload, now) {
      const row = db.query(`INSERT INTO bridge_outbox (kind, payload, created_at, next_at) VALUES ($kind, $payload, $now, $now) RETURNING id`)
        .get({ kind, payload: JSON.stringify(payload), now }) as { id: number };
      return row.id;
    },
    pending: () => rows("SELECT * FROM bridge_outbox WHERE parked_at IS NULL ORDER BY id").map(entry),
    parked: () => rows("SELECT * FROM bridge_outbox WHERE parked_at IS NOT NULL ORDER BY id").map(entry),
    done(id) {
      db.query("DELETE FROM bridge_outbox WHERE id = $id").run({ id });
    },
    failed(id, error, nextAt, park, now) {
      db.query(`UPDATE bridge_outbox SET attempts = attempts + 1, last_error = $error, next_at = $nextAt,
                parked_at = CASE WHEN $park THEN $now ELSE NULL END WHERE id = $id`)
        .run({ id, error, nextAt, park: park ? 1 : 0, now });
    },
  };
}
