/**
 * @module test/cli/doctor-fleet
 * Specs for `doctor`'s fleet lines (issue 14): a single host says so; a fleet database is checked read-only on a
 * private cluster (test/support/postgres.ts; those cases are skipped with the reason printed when none can be
 * started): it answers, its schema version against this binary's (empty, older, equal, NEWER), the hosts with their
 * heartbeat age; a closed port is one clear failure line. The URL and its password never appear in the output.
 */
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { fleetChecks, heartbeatAge } from "../../internal/cli/doctor-fleet.ts";
import { renderDoctor, runDoctor } from "../../internal/cli/doctor.ts";
import { parseConfig } from "../../internal/config/config.ts";
import { POSTGRES_MIGRATIONS } from "../../internal/fleet/postgres-schema.ts";
import { openPostgresFleet } from "../../internal/fleet/postgres.ts";
import { closedPortUrl, privatePostgres } from "../support/postgres.ts";
import { tempDir } from "../support/tmux.ts";

const PASSWORD = "hunter2-fleet-pw";
const VAR = "CF_FLEET_URL";
const EXPECTED = POSTGRES_MIGRATIONS.length;

/** `url` with the password set (trust auth ignores it): it must never be printed. */
const withPassword = (url: string) => url.replace("postgres://postgres@", `postgres://postgres:${PASSWORD}@`);

function fleetConfig(url: string | null, host = "build-1") {
  const fleet = url ? `fleet: { host: ${host}, postgres_url_env: ${VAR} }\n` : `fleet: { host: ${host} }\n`;
  return parseConfig(`accounts: [{ name: a, home: /tmp/a }]\n${fleet}`, "", { env: url ? { [VAR]: url } : {}, home: "/tmp" });
}

async function doctorText(url: string | null, now?: number): Promise<string> {
  const text = renderDoctor(await fleetChecks(fleetConfig(url), { connectTimeoutMs: 2000, now }));
  expect(text).not.toContain(PASSWORD);
  if (url) expect(text).not.toContain(url);
  return text;
}

describe("fleetChecks() without fleet.postgres_url_env", () => {
  test("says the host runs alone on SQLite", async () => {
    expect(await doctorText(null)).toBe("✓ fleet: single host (SQLite), this host named build-1");
  });

  test("is part of runDoctor's checks", async () => {
    const dir = tempDir();
    const config = parseConfig(`state_dir: ${dir.path}/state\naccounts: [{ name: a, home: ${dir.path}/a }]\n`, "", { env: {}, home: dir.path, hostname: "box" });
    const checks = await runDoctor(config, async () => ({ code: 1, stdout: "", stderr: "" }), { unitDir: dir.path });
    expect(renderDoctor(checks)).toContain("✓ fleet: single host (SQLite), this host named box");
    dir.cleanup();
  });
});

describe("fleetChecks() on a closed port", () => {
  test("is one failure line naming host:port/database and the variable, with a fix, never the URL", async () => {
    const url = withPassword(closedPortUrl());
    const { port } = new URL(url);
    const text = await doctorText(url);
    expect(text).toStartWith(`✗ fleet database: 127.0.0.1:${port}/postgres (the URL in ${VAR}, fleet.postgres_url_env) does not answer: Cannot inspect the fleet database: fleet database unreachable (`);
    expect(text).toContain(`\n    fix: start PostgreSQL there, or correct ${VAR}`);
    expect(text.split("\n")).toHaveLength(2);
  });
});

describe("heartbeatAge()", () => {
  test("reads as seconds, minutes, hours, days, or a clock behind", () => {
    expect([4200, 720_000, 5 * 3_600_000, 3 * 86_400_000, -5000].map(heartbeatAge)).toEqual([
      "4.2 s ago", "12 min ago", "5 h ago", "3 d ago", "5.0 s ago in the future: this host's clock is behind",
    ]);
  });
});

const pg = await privatePostgres("test/cli/doctor-fleet.test.ts");

if (pg) {
  describe("fleetChecks() on a private cluster", () => {
    test("an empty database: answers, says the schema comes at the first start, and creates nothing", async () => {
      const url = await pg.freshDatabase();
      const text = await doctorText(withPassword(url));
      const { port } = new URL(url);
      expect(text).toBe([
        `✓ fleet database: 127.0.0.1:${port}/${new URL(url).pathname.slice(1)} (the URL in ${VAR}, fleet.postgres_url_env) answers; this host is build-1`,
        "✓ fleet schema: empty database: the schema is created at the first start",
      ].join("\n"));
      const sql = new SQL(url, { max: 1 });
      const [{ tables }] = await sql`SELECT count(*)::int AS tables FROM pg_tables WHERE schemaname = 'public'`;
      await sql.close();
      expect(tables).toBe(0);
    });

    test("a migrated database: the version as expected and every host with its heartbeat age and sessions", async () => {
      const url = await pg.freshDatabase();
      const store = await openPostgresFleet(url);
      const info = { startedAt: 0, version: "0.4.0", url: null, degraded: null };
      await store.heartbeat("build-1", 100_000, info, [{ name: "s1", kind: "pool", state: "idle", account: "a", taskId: null, updatedAt: 100_000 }]);
      await store.heartbeat("build-2", 40_000, { ...info, degraded: "fleet database unreachable" }, []);
      await store.close();
      const text = await doctorText(withPassword(url), 104_200);
      expect(text.split("\n").slice(1)).toEqual([
        `✓ fleet schema: version ${EXPECTED}, as this binary expects`,
        "✓ fleet hosts: 2: build-1 (this host) (heartbeat 4.2 s ago, 1 session); build-2 (heartbeat 1 min ago, 0 sessions, silent past the lease, degraded: fleet database unreachable)",
      ]);
    });

    test("an older schema is migrated at start; a NEWER one fails: this binary is too old", async () => {
      const url = await pg.freshDatabase();
      const sql = new SQL(url, { max: 1 });
      await sql`CREATE TABLE fleet_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`;
      expect(await doctorText(url)).toContain(`✓ fleet schema: version 0, older than this binary's ${EXPECTED}: migrated at the daemon's start`);
      await sql`INSERT INTO fleet_schema (version, applied_at) VALUES (${EXPECTED + 1}, 0)`;
      await sql.close();
      const checks = await fleetChecks(fleetConfig(url), { connectTimeoutMs: 2000 });
      expect(checks.map((c) => [c.name, c.ok])).toEqual([["fleet database", true], ["fleet schema", false]]);
      expect(renderDoctor(checks)).toContain(`✗ fleet schema: version ${EXPECTED + 1} is NEWER than this binary's ${EXPECTED}: this binary is too old for the fleet`);
      expect(checks[1]!.fix).toBe("upgrade claude-failover on this host to the version the other hosts run");
    });

    test("a database that does not exist is a failure line quoting the server, without the URL", async () => {
      const url = withPassword(pg.url.replace(/\/postgres$/, "/no_such_fleet_db"));
      const text = await doctorText(url);
      expect(text).toStartWith("✗ fleet database: 127.0.0.1:");
      expect(text).toContain(`/no_such_fleet_db (the URL in CF_FLEET_URL, fleet.postgres_url_env) answers with an error: database "no_such_fleet_db" does not exist`);
    });
  });
}
