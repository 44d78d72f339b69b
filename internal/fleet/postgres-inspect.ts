/**
 * @module fleet/postgres-inspect
 * A read-only look at a PostgreSQL fleet database, for `doctor`: does it answer, which schema version it holds (none
 * when `fleet_schema` does not exist: an empty database, whose schema the first daemon to start creates) and which
 * hosts it knows. Everything runs in one READ ONLY transaction, so it never creates or changes anything, unlike
 * openPostgresFleet (fleet/postgres.ts), which migrates. Also names a database without the secret parts of its URL.
 */
import { SQL } from "bun";
import { reach } from "./postgres.ts";
import { POSTGRES_MIGRATIONS } from "./postgres-schema.ts";
import { hostRows } from "./rows.ts";
import type { HostRow } from "./store.ts";

export interface FleetInspection {
  /** Migrations applied; null when `fleet_schema` does not exist (an empty database). */
  version: number | null;
  /** The version this binary expects (`POSTGRES_MIGRATIONS.length`). */
  expected: number;
  /** The hosts with their sessions and heartbeat age; empty unless the schema is one this binary reads (1..expected). */
  hosts: HostRow[];
}

export interface InspectOptions {
  /** How long to wait for a connection. Default 3000 ms (rounded up to seconds by the client). */
  connectTimeoutMs?: number;
  /** How long the reads may take once connected. Default 5000 ms. */
  callTimeoutMs?: number;
  /** The time heartbeat ages are counted to. Default `Date.now()`. */
  now?: number;
}

/**
 * Reads the schema version and the hosts of the fleet database at `url` without writing anything. Throws
 * FleetUnavailable when it cannot be reached (refused, timed out, silent), the client's error otherwise (e.g. a
 * refused login or a database that does not exist): either may quote the server, never the URL.
 */
export async function inspectPostgresFleet(url: string, options: InspectOptions = {}): Promise<FleetInspection> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
  const sql = new SQL(url, { max: 1, connectionTimeout: Math.max(1, Math.ceil(connectTimeoutMs / 1000)) });
  const expected = POSTGRES_MIGRATIONS.length;
  try {
    return await reach("inspect the fleet database", connectTimeoutMs + (options.callTimeoutMs ?? 5000), () =>
      sql.begin("read only", async (tx) => {
        const [{ present }] = await tx`SELECT to_regclass('fleet_schema') IS NOT NULL AS present`;
        if (!present) return { version: null, expected, hosts: [] };
        const [{ v }] = await tx`SELECT coalesce(max(version), 0)::int AS v FROM fleet_schema`;
        const version = Number(v);
        if (version < 1 || version > expected) return { version, expected, hosts: [] };
        const hosts = await tx`SELECT * FROM fleet_hosts ORDER BY name`;
        const sessions = await tx`SELECT * FROM fleet_sessions ORDER BY host, name`;
        return { version, expected, hosts: hostRows([...hosts], [...sessions], options.now ?? Date.now()) };
      }));
  } finally {
    await sql.close({ timeout: 0 }).catch(() => {});
  }
}

/** `host:port/database` of a PostgreSQL URL: no user, no password, no parameters. */
export function postgresTarget(url: string): string {
  try {
    const u = new URL(url);
    const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
    return `${u.hostname || "localhost"}:${u.port || "5432"}/${database || "(the user's database)"}`;
  } catch {
    return "(an unreadable URL)";
  }
}
