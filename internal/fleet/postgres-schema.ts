/**
 * @module fleet/postgres-schema
 * The PostgreSQL fleet schema: numbered migrations tracked in `fleet_schema`, applied in one transaction under a
 * transaction-level advisory lock, so two hosts starting at once apply each migration exactly once (the second
 * waits, then finds them applied). The tables are in fleet/schema.ts.
 */
import type { SQL } from "bun";
import { fleetTablesV1 } from "./schema.ts";

/** Numbered migrations; index i brings `fleet_schema` from version i to i+1. Never edit a released entry. */
export const POSTGRES_MIGRATIONS = [
  fleetTablesV1("BIGSERIAL PRIMARY KEY"),
];

/** The advisory lock key serialising migrations across hosts (any constant shared by every binary). */
const MIGRATION_LOCK = 0x0f1ee7;

/** Applies the missing migrations; throws when the database is newer than this binary. */
export async function migratePostgres(sql: SQL): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS fleet_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`;
    const [{ v }] = await tx`SELECT coalesce(max(version), 0)::int AS v FROM fleet_schema`;
    if (v > POSTGRES_MIGRATIONS.length) {
      throw new Error(`Cannot open the fleet store: schema version ${v} is newer than this binary (${POSTGRES_MIGRATIONS.length})`);
    }
    for (let version = v; version < POSTGRES_MIGRATIONS.length; version++) {
      await tx.unsafe(POSTGRES_MIGRATIONS[version]!);
      await tx`INSERT INTO fleet_schema (version, applied_at) VALUES (${version + 1}, ${Date.now()})`;
    }
  });
}

export async function schemaVersion(sql: SQL): Promise<number> {
  const [{ v }] = await sql`SELECT coalesce(max(version), 0)::int AS v FROM fleet_schema`;
  return Number(v);
}
