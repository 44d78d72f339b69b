/**
 * @module test/fleet/postgres
 * The fleet contract on the PostgreSQL backend, on a private cluster (test/support/postgres.ts; skipped with the
 * reason printed when none can be started, a failure under CI): two store objects, each with its own connections,
 * act as two hosts. Also, through a proxy the test cuts, hangs and restores: an unreachable or silent database is a
 * fast {@link FleetUnavailable} and the store recovers, and a watch that loses its connection reports every account again
 * once it is back, so a change made meanwhile is not missed.
 */
import { describe, expect, test } from "bun:test";
import { POSTGRES_MIGRATIONS } from "../../internal/fleet/postgres-schema.ts";
import { openPostgresFleet } from "../../internal/fleet/postgres.ts";
import { FleetUnavailable, type FleetAccountRow } from "../../internal/fleet/store.ts";
import { closedPortUrl, privatePostgres } from "../support/postgres.ts";
import { tcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { eventually } from "../support/tmux.ts";
import { fleetContract, task } from "./contract.ts";

/** `url` with its port replaced by the proxy's. */
function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.port = String(proxy.port);
  return u.toString();
}

/** A call that fails fast ends well within this; one that hangs (no timeout applied) would not. Not a speed figure. */
const HANG_MS = 15_000;

const pg = await privatePostgres("test/fleet/postgres.test.ts");

if (pg) {
  fleetContract({
    name: "postgres",
    migrations: POSTGRES_MIGRATIONS.length,
    watches: true,
    async fresh() {
      const url = await pg.freshDatabase();
      return () => openPostgresFleet(url);
    },
  });

  describe("openPostgresFleet()", () => {
    test("throws FleetUnavailable within the connection timeout when nothing listens", async () => {
      const started = performance.now();
      const error = await openPostgresFleet(closedPortUrl(), { connectTimeoutMs: 2000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FleetUnavailable);
      expect((error as FleetUnavailable).message).toStartWith("Cannot open the fleet store: fleet database unreachable (");
      expect((error as FleetUnavailable).cause).toBeInstanceOf(Error);
      expect(performance.now() - started).toBeLessThan(HANG_MS);
    });

    test("throws FleetUnavailable within the connection timeout when the server accepts but never answers", async () => {
      const url = await pg.freshDatabase();
      const proxy = tcpProxy(Number(new URL(url).port));
      proxy.hang();
      try {
        const started = performance.now();
        const error = await openPostgresFleet(viaProxy(url, proxy), { connectTimeoutMs: 1000 }).catch((e: unknown) => e);
        const ms = performance.now() - started;
        expect(error).toBeInstanceOf(FleetUnavailable);
        expect((error as Error).message).toStartWith("Cannot open the fleet store: fleet database unreachable (");
        process.stderr.write(`fleet postgres: silent server refused in ${ms.toFixed(0)} ms: ${(error as Error).message}\n`);
        expect(ms).toBeLessThan(HANG_MS);
      } finally {
        proxy.stop();
      }
    });

    test("a store whose database goes away fails fast with FleetUnavailable, and works again once it is back", async () => {
      const url = await pg.freshDatabase();
      const proxy = tcpProxy(Number(new URL(url).port));
      const store = await openPostgresFleet(viaProxy(url, proxy), { connectTimeoutMs: 1000 });
      try {
        await store.enqueue(task("t"));
        proxy.cut();
        const started = performance.now();
        const error = await store.counts().then(() => null, (e: unknown) => e);
        expect(error).toBeInstanceOf(FleetUnavailable);
        expect((error as Error).message).toStartWith("Cannot run fleet counts: fleet database unreachable (");
        expect(performance.now() - started).toBeLessThan(HANG_MS);
        proxy.restore();
        expect(await eventually(() => store.counts().catch(() => null), 10_000)).toEqual({ queued: 1, running: 0, done: 0, failed: 0 });
      } finally {
        proxy.stop();
        await store.close();
      }
    });

    test("a database that stops answering (a partition) fails the call with FleetUnavailable after callTimeoutMs", async () => {
      const url = await pg.freshDatabase();
      const proxy = tcpProxy(Number(new URL(url).port));
      const store = await openPostgresFleet(viaProxy(url, proxy), { connectTimeoutMs: 1000, callTimeoutMs: 500 });
      try {
        await store.enqueue(task("t"));
        proxy.hang();
        const started = performance.now();
        const error = await store.tasks().then(() => null, (e: unknown) => e);
        expect(error).toBeInstanceOf(FleetUnavailable);
        expect((error as Error).message).toBe("Cannot run fleet tasks: fleet database unreachable (no answer within 500 ms)");
        expect(performance.now() - started).toBeLessThan(HANG_MS);
        proxy.cut();
        proxy.restore();
        expect(await eventually(() => store.counts().catch(() => null), 10_000)).toEqual({ queued: 1, running: 0, done: 0, failed: 0 });
      } finally {
        proxy.stop();
        await store.close();
      }
    });

    test("a watch whose connection drops reports every account again once it is back, changes made meanwhile included", async () => {
      const url = await pg.freshDatabase();
      const proxy = tcpProxy(Number(new URL(url).port));
      const a = await openPostgresFleet(url);
      const b = await openPostgresFleet(viaProxy(url, proxy), { connectTimeoutMs: 1000 });
      try {
        await a.setAccountState("max", "available", null, 1000, "h1");
        await a.setAccountState("pro", "available", null, 1000, "h1");
        const seen: FleetAccountRow[] = [];
        const stop = await b.watchAccounts((row) => seen.push(row));
        proxy.cut();
        expect(await a.setAccountState("max", "cooling", 5000, 2000, "h1")).toBe(true);
        const started = performance.now();
        proxy.restore();
        await eventually(() => seen.some((r) => r.name === "max" && r.state === "cooling") && seen.some((r) => r.name === "pro"), 15_000);
        process.stderr.write(`fleet postgres: watch caught up ${(performance.now() - started).toFixed(0)} ms after the database came back\n`);
        expect(seen.find((r) => r.name === "max")).toMatchObject({ state: "cooling", resetAt: 5000, updatedBy: "h1" });
        await stop();
      } finally {
        proxy.stop();
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
} else {
  test.skip("FleetStore contract (postgres): no private PostgreSQL (see the SKIPPED line above)", () => {});
}
