/**
 * @module fleet/sqlite
 * The single-host {@link FleetStore} on bun:sqlite: its own `fleet_*` tables, which can live in the daemon's
 * state.db next to internal/state/state.ts's tables without touching them (its migrations are tracked in
 * `fleet_schema`, not `PRAGMA user_version`). Each write is one statement or one `BEGIN IMMEDIATE` transaction, so
 * several store objects on one file (or the daemon's own store) never interleave a claim. Nothing to watch: one host.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { accountChanged, accountRows, claimOrder, hostRows, swapRow, taskRow } from "./rows.ts";
import { fleetTablesV1 } from "./schema.ts";
import { zeroCounts, type FleetStore, type FleetTaskState } from "./store.ts";

/** Numbered migrations; index i brings `fleet_schema` from version i to i+1. Never edit a released entry. */
export const SQLITE_MIGRATIONS = [
  fleetTablesV1("INTEGER PRIMARY KEY AUTOINCREMENT"),
];

function migrate(db: Database): void {
  db.run("CREATE TABLE IF NOT EXISTS fleet_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  db.transaction(() => {
    const current = (db.query("SELECT coalesce(max(version), 0) AS v FROM fleet_schema").get() as { v: number }).v;
    if (current > SQLITE_MIGRATIONS.length) {
      throw new Error(`Cannot open the fleet store: schema version ${current} is newer than this binary (${SQLITE_MIGRATIONS.length})`);
    }
    for (let v = current; v < SQLITE_MIGRATIONS.length; v++) {
      db.run(SQLITE_MIGRATIONS[v]!);
      db.query("INSERT INTO fleet_schema (version, applied_at) VALUES (?, ?)").run(v + 1, Date.now());
    }
  }).immediate();
}

/** Opens (creating it and its tables if needed) the fleet store in the SQLite file `path`, e.g. the daemon's state.db. */
export function openSqliteFleet(path: string): FleetStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  migrate(db);
  const all = (sql: string, ...params: (string | number | null)[]) => db.query(sql).all(...params) as Record<string, unknown>[];
  const run = (sql: string, ...params: (string | number | null)[]) => db.query(sql).run(...params).changes;
  const immediate = <T>(fn: () => T): T => db.transaction(fn).immediate();

  return {
    backend: "sqlite",

    async heartbeat(host, now, info, sessions) {
      immediate(() => {
        run(`INSERT INTO fleet_hosts (name, heartbeat_at, started_at, version, url, degraded) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at,
             version = excluded.version, url = excluded.url, degraded = excluded.degraded`,
          host, now, info.startedAt, info.version, info.url, info.degraded);
        run("DELETE FROM fleet_sessions WHERE host = ?", host);
        for (const s of sessions) {
          run("INSERT INTO fleet_sessions (host, name, kind, state, account, task_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            host, s.name, s.kind, s.state, s.account, s.taskId, s.updatedAt);
        }
      });
    },
    async hosts(now) {
      return hostRows(all("SELECT * FROM fleet_hosts ORDER BY name"), all("SELECT * FROM fleet_sessions ORDER BY host, name"), now);
    },

    async setAccountState(name, state, resetAt, now, host) {
      return immediate(() => {
        const current = db.query("SELECT state, reset_at FROM fleet_accounts WHERE name = ?").get(name) as { state: string; reset_at: number | null } | null;
        if (!accountChanged(current ?? undefined, state, resetAt)) return false;
        run(`INSERT INTO fleet_accounts (name, state, reset_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET state = excluded.state, reset_at = excluded.reset_at,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by`, name, state, resetAt, now, host);
        return true;
      });
    },
    async setModelLimit(account, model, resetAt, now, host) {
      if (resetAt === null) return run("DELETE FROM fleet_model_limits WHERE account = ? AND model = ?", account, model) > 0;
      return run(`INSERT INTO fleet_model_limits (account, model, reset_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
                  ON CONFLICT (account, model) DO UPDATE SET reset_at = excluded.reset_at, updated_at = excluded.updated_at,
                  updated_by = excluded.updated_by WHERE fleet_model_limits.reset_at <> excluded.reset_at`,
        account, model, resetAt, now, host) > 0;
    },
    async accounts() {
      return accountRows(all("SELECT * FROM fleet_accounts ORDER BY name"), all("SELECT * FROM fleet_model_limits ORDER BY account, model"));
    },
    async watchAccounts() {
      return async () => {};
    },

    async enqueue(t) {
      return immediate(() => {
        run(`INSERT INTO fleet_tasks (origin_host, project, file, prompt, priority, workdir, timeout_ms, pinned_host, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (origin_host, project, file, created_at) DO NOTHING`,
          t.originHost, t.project, t.file, t.prompt, t.priority, t.workdir, t.timeoutMs, t.pinnedHost, t.createdAt);
        const row = db.query("SELECT id FROM fleet_tasks WHERE origin_host = ? AND project = ? AND file = ? AND created_at = ?")
          .get(t.originHost, t.project, t.file, t.createdAt) as { id: number };
        return row.id;
      });
    },
    async claim(host, { workdirs, limit, now, leaseMs }) {
      if (workdirs.length === 0 || limit <= 0) return [];
      return immediate(() => claimOrder(all(
        `UPDATE fleet_tasks SET state = 'running', host = ?, claim = claim + 1, lease_until = ?, claimed_at = ?
         WHERE id IN (SELECT id FROM fleet_tasks WHERE state = 'queued' AND (pinned_host IS NULL OR pinned_host = ?)
                      AND workdir IN (SELECT value FROM json_each(?)) ORDER BY priority DESC, id LIMIT ?)
         RETURNING *`, host, now + leaseMs, now, host, JSON.stringify(workdirs), limit).map(taskRow)));
    },
    async renew(host, now, leaseMs) {
      return run("UPDATE fleet_tasks SET lease_until = ? WHERE state = 'running' AND host = ?", now + leaseMs, host);
    },
    async finish(id, host, claim, o) {
      return run(`UPDATE fleet_tasks SET state = ?, finished_at = ?, result = ?, error = ?, lease_until = NULL
                  WHERE id = ? AND state = 'running' AND host = ? AND claim = ?`,
        o.state, o.at, o.result ?? null, o.error ?? null, id, host, claim) > 0;
    },
    async release(id, host, claim, reason) {
      return run(`UPDATE fleet_tasks SET state = 'queued', host = NULL, lease_until = NULL, error = ?
                  WHERE id = ? AND state = 'running' AND host = ? AND claim = ?`, `released: ${reason}`, id, host, claim) > 0;
    },
    async requeueExpired(now) {
      return all(`UPDATE fleet_tasks SET state = 'queued', error = 'lease of ' || host || ' expired', host = NULL, lease_until = NULL
                  WHERE state = 'running' AND lease_until < ? RETURNING id`, now).map((r) => Number(r.id)).sort((a, b) => a - b);
    },
    async tasks(filter = {}) {
      return all(`SELECT * FROM fleet_tasks WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR host = ?2)
                  AND (?4 IS NULL OR id IN (SELECT value FROM json_each(?4))) ORDER BY id DESC LIMIT ?3`,
        filter.state ?? null, filter.host ?? null, filter.limit ?? 100, filter.ids ? JSON.stringify(filter.ids) : null).map(taskRow);
    },
    async counts() {
      const counts = zeroCounts();
      for (const r of all("SELECT state, count(*) AS n FROM fleet_tasks GROUP BY state")) counts[r.state as FleetTaskState] = Number(r.n);
      return counts;
    },

    async recordSwap(host, s) {
      run(`INSERT INTO fleet_swaps (host, id, session, from_account, to_account, step, reason, started_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, id) DO UPDATE SET to_account = excluded.to_account,
           step = excluded.step, reason = excluded.reason, updated_at = excluded.updated_at`,
        host, s.id, s.session, s.fromAccount, s.toAccount, s.step, s.reason, s.startedAt, s.updatedAt);
    },
    async swaps(limit = 50) {
      return all("SELECT * FROM fleet_swaps ORDER BY updated_at DESC, host, id DESC LIMIT ?", limit).map(swapRow);
    },

    async claimEvent(key, at, windowMs) {
      return run(`INSERT INTO fleet_events (key, at) VALUES (?, ?)
                  ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE fleet_events.at <= excluded.at - ?`, key, at, windowMs) > 0;
    },

    async schemaVersion() {
      return Number((db.query("SELECT coalesce(max(version), 0) AS v FROM fleet_schema").get() as { v: number }).v);
    },
    async close() {
      db.close();
    },
  };
}
