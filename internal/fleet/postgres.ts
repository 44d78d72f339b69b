/**
 * @module fleet/postgres
 * The fleet {@link FleetStore} on PostgreSQL through Bun's built-in client (no dependency): opens a small pool,
 * applies the migrations (fleet/postgres-schema.ts), and composes the aggregates (hosts, swaps and event claims
 * here; accounts and the task queue in their own files). Every failure to reach the database (refused, timed out,
 * dropped, or silent past the call timeout) surfaces as {@link FleetUnavailable}, so the caller can go degraded.
 */
import { SQL } from "bun";
import { hostRows, swapRow } from "./rows.ts";
import { postgresAccounts } from "./postgres-accounts.ts";
import { migratePostgres, schemaVersion } from "./postgres-schema.ts";
import { postgresTasks } from "./postgres-tasks.ts";
import { FleetUnavailable, type FleetStore } from "./store.ts";

export interface PostgresFleetOptions {
  /** How long to wait for a connection before {@link FleetUnavailable}. Default 3000 ms (rounded up to seconds). */
  connectTimeoutMs?: number;
  /**
   * How long a call may wait for an answer before {@link FleetUnavailable} (a partition gives no error, only silence).
   * The statement may still commit afterwards: every write is safe to retry. Default 10000 ms.
   */
  callTimeoutMs?: number;
  /** Pool size. Default 4 (a LISTEN takes one more connection). */
  max?: number;
  /** Receives what an account watch could not deliver (e.g. a failed re-read). Default: ignored. */
  onWatchError?: (error: unknown) => void;
}

/** Bun's codes for a connection that could not be made or was lost; the server's class 08 and 57P (shutdown). */
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === "string" && (code.startsWith("ERR_POSTGRES_CONNECTION_") || code === "ERR_POSTGRES_IDLE_TIMEOUT"
    || code === "ERR_POSTGRES_LIFETIME_TIMEOUT" || ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND"].includes(code))) return true;
  return typeof errno === "string" && (errno.startsWith("08") || errno.startsWith("57P"));
}

/** Runs `call`; a database that is unreachable, or silent for `ms`, becomes {@link FleetUnavailable}. */
export async function reach<T>(action: string, ms: number, call: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FleetUnavailable(action, new Error(`no answer within ${ms} ms`))), ms);
  });
  try {
    return await Promise.race([call(), silence]);
  } catch (error) {
    throw isUnreachable(error) ? new FleetUnavailable(action, error) : error;
  } finally {
    clearTimeout(timer);
  }
}

/** Wraps every method but `close` in {@link reach}, naming the call. */
function guarded(store: FleetStore, callTimeoutMs: number): FleetStore {
  const wrapped: Record<string, unknown> = { backend: store.backend, close: store.close };
  for (const [key, value] of Object.entries(store)) {
    if (typeof value !== "function" || key === "close") continue;
    wrapped[key] = (...args: unknown[]) => reach(`run fleet ${key}`, callTimeoutMs, () => (value as (...a: unknown[]) => Promise<unknown>)(...args));
  }
  return wrapped as unknown as FleetStore;
}

/** Connects to `url`, applies the missing migrations and returns the store; {@link FleetUnavailable} if unreachable. */
export async function openPostgresFleet(url: string, options: PostgresFleetOptions = {}): Promise<FleetStore> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const sql = new SQL(url, { max: options.max ?? 4, connectionTimeout: Math.max(1, Math.ceil(connectTimeoutMs / 1000)) });
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  try {
    await reach("open the fleet store", connectTimeoutMs + callTimeoutMs, () => migratePostgres(sql));
  } catch (error) {
    await sql.close({ timeout: 0 }).catch(() => {});
    throw error;
  }
  return guarded({
    backend: "postgres",
    ...postgresAccounts(sql, options.onWatchError ?? (() => {})),
    ...postgresTasks(sql),

    async heartbeat(host, now, info, sessions) {
      await sql.begin(async (tx) => {
        await tx`INSERT INTO fleet_hosts (name, heartbeat_at, started_at, version, url, degraded)
          VALUES (${host}, ${now}, ${info.startedAt}, ${info.version}, ${info.url}, ${info.degraded})
          ON CONFLICT (name) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at,
            version = excluded.version, url = excluded.url, degraded = excluded.degraded`;
        await tx`DELETE FROM fleet_sessions WHERE host = ${host}`;
        if (sessions.length === 0) return;
        await tx`INSERT INTO fleet_sessions ${tx(sessions.map((s) => ({
          host, name: s.name, kind: s.kind, state: s.state, account: s.account, task_id: s.taskId, updated_at: s.updatedAt,
        })))}`;
      });
    },
    async hosts(now) {
      const hosts = await sql`SELECT * FROM fleet_hosts ORDER BY name`;
      const sessions = await sql`SELECT * FROM fleet_sessions ORDER BY host, name`;
      return hostRows([...hosts], [...sessions], now);
    },

    async recordSwap(host, s) {
      await sql`INSERT INTO fleet_swaps (host, id, session, from_account, to_account, step, reason, started_at, updated_at)
        VALUES (${host}, ${s.id}, ${s.session}, ${s.fromAccount}, ${s.toAccount}, ${s.step}, ${s.reason}, ${s.startedAt}, ${s.updatedAt})
        ON CONFLICT (host, id) DO UPDATE SET to_account = excluded.to_account, step = excluded.step,
          reason = excluded.reason, updated_at = excluded.updated_at`;
    },
    async swaps(limit = 50) {
      return [...await sql`SELECT * FROM fleet_swaps ORDER BY updated_at DESC, host, id DESC LIMIT ${limit}`].map(swapRow);
    },

    async claimEvent(key, at, windowMs) {
      const r = await sql`INSERT INTO fleet_events (key, at) VALUES (${key}, ${at})
        ON CONFLICT (key) DO UPDATE SET at = excluded.at WHERE fleet_events.at <= excluded.at - ${windowMs}::bigint`;
      return r.count > 0;
    },

    schemaVersion: () => schemaVersion(sql),
    async close() {
      await sql.close({ timeout: 5 });
    },
  }, callTimeoutMs);
}
