/**
 * @module test/fleet/sqlite
 * The fleet contract on the SQLite backend (two store objects on one file act as two hosts), and its life next to
 * the daemon's own tables in state.db.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteFleet, SQLITE_MIGRATIONS } from "../../internal/fleet/sqlite.ts";
import { openStore } from "../../internal/state/state.ts";
import { fleetContract, task } from "./contract.ts";

const dir = mkdtempSync(join(tmpdir(), "cf-fleet-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

fleetContract({
  name: "sqlite",
  migrations: SQLITE_MIGRATIONS.length,
  watches: false,
  async fresh() {
    const path = join(dir, `fleet-${++n}.db`);
    return async () => openSqliteFleet(path);
  },
});

describe("openSqliteFleet()", () => {
  test("lives in the daemon's state.db without touching its tables or its user_version", async () => {
    const path = join(dir, "state.db");
    const state = openStore(path);
    const inspect = () => {
      const db = new Database(path, { readonly: true });
      const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      const tables = (db.query("SELECT name, sql FROM sqlite_master WHERE tbl_name NOT LIKE 'fleet%' ORDER BY name").all());
      db.close();
      return { version, tables };
    };
    const before = inspect();
    const fleet = openSqliteFleet(path);
    await fleet.enqueue(task("t"));
    expect(inspect()).toEqual(before);
    expect(await fleet.schemaVersion()).toBe(SQLITE_MIGRATIONS.length);
    await fleet.close();
    state.close();
    const reopened = openStore(path);
    reopened.close();
    const again = openSqliteFleet(path);
    expect(await again.tasks()).toHaveLength(1);
    await again.close();
  });
});
