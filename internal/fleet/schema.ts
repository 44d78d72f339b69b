/**
 * @module fleet/schema
 * The fleet tables, written once for both backends: SQLite accepts PostgreSQL's column types (BIGINT has integer
 * affinity there), so only the task id column differs (`INTEGER PRIMARY KEY AUTOINCREMENT` vs `BIGSERIAL PRIMARY
 * KEY`). Times are BIGINT epoch ms. Each backend lists its numbered migrations (a later one may differ per dialect).
 */

/** Migration 1: every fleet table. `taskId` is the dialect's auto-increment primary key column type. */
export function fleetTablesV1(taskId: string): string {
  return `
    CREATE TABLE fleet_hosts (name TEXT PRIMARY KEY, heartbeat_at BIGINT NOT NULL, started_at BIGINT NOT NULL,
      version TEXT NOT NULL, url TEXT, degraded TEXT);
    CREATE TABLE fleet_sessions (host TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
      account TEXT, task_id BIGINT, updated_at BIGINT NOT NULL, PRIMARY KEY (host, name));
    CREATE TABLE fleet_accounts (name TEXT PRIMARY KEY, state TEXT NOT NULL, reset_at BIGINT,
      updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL);
    CREATE TABLE fleet_model_limits (account TEXT NOT NULL, model TEXT NOT NULL, reset_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL, updated_by TEXT NOT NULL, PRIMARY KEY (account, model));
    CREATE TABLE fleet_tasks (id ${taskId}, origin_host TEXT NOT NULL, project TEXT NOT NULL,
      file TEXT NOT NULL, prompt TEXT NOT NULL, priority INTEGER NOT NULL, workdir TEXT NOT NULL, timeout_ms BIGINT,
      pinned_host TEXT, state TEXT NOT NULL DEFAULT 'queued', host TEXT, claim INTEGER NOT NULL DEFAULT 0,
      lease_until BIGINT, created_at BIGINT NOT NULL, claimed_at BIGINT, finished_at BIGINT, result TEXT, error TEXT,
      UNIQUE (origin_host, project, file, created_at));
    CREATE INDEX fleet_tasks_queue ON fleet_tasks (state, priority DESC, id);
    CREATE INDEX fleet_tasks_lease ON fleet_tasks (state, lease_until);
    CREATE TABLE fleet_swaps (host TEXT NOT NULL, id BIGINT NOT NULL, session TEXT NOT NULL, from_account TEXT,
      to_account TEXT, step TEXT NOT NULL, reason TEXT NOT NULL, started_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL, PRIMARY KEY (host, id));
    CREATE TABLE fleet_events (key TEXT PRIMARY KEY, at BIGINT NOT NULL);`;
}
