/**
 * @module test/fleet/daemon
 * The whole daemon as wire() builds it, as a single host (no `fleet.postgres_url_env`: the SQLite fleet backend in
 * its own state.db), with an in-memory tmux (test/support/fake-tmux.ts) and a fake clock: a task runs through the
 * shared queue exactly as it ran without one (typed once, its reply in done/, no warning), a task pinned to another
 * host waits, and `/status`, `/health` and `/metrics` show the fleet of one.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SESSION, startWiredDaemon } from "./daemon-support.ts";

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});
const singleHost = () => startWiredDaemon(stops);

describe("a single host runs the bridge on SQLite", () => {
  test("a task file is typed once and its reply lands in done/, with no warning, as without a fleet", async () => {
    const h = await singleHost();
    writeFileSync(join(h.folder("inbox"), "hello.md"), "Say hello to the ledger\n");
    await h.until("the prompt typed", () => h.fake.promptCounts().size === 1);
    await h.until("the delivery confirmed", () => h.daemon.control.tasks()[0]?.delivery === "confirmed");
    h.fake.endTurn(SESSION, "Hello, ledger.");
    await h.until("done/hello.result.md", () => existsSync(join(h.folder("done"), "hello.result.md")));
    expect(readFileSync(join(h.folder("done"), "hello.result.md"), "utf8")).toContain("Hello, ledger.");
    expect([...h.fake.promptCounts()]).toEqual([["Say hello to the ledger", 1]]);
    expect(h.daemon.control.tasks()[0]).toMatchObject({ state: "done", attempts: 1, fleetState: "ended", originHost: "solo" });
    expect(h.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("a daemon stopped right after typing follows the task after a restart and never types it again", async () => {
    const h = await singleHost();
    writeFileSync(join(h.folder("inbox"), "restart.md"), "Survive a restart\n");
    await h.until("the prompt typed", () => h.fake.promptCounts().size === 1);
    await h.daemon.stop("restart");
    h.fake.endTurn(SESSION, "Survived."); // while no daemon runs: the next one reads it from the transcript
    await h.boot();
    await h.until("done/restart.result.md", () => existsSync(join(h.folder("done"), "restart.result.md")));
    expect(readFileSync(join(h.folder("done"), "restart.result.md"), "utf8")).toContain("Survived.");
    expect([...h.fake.promptCounts()]).toEqual([["Survive a restart", 1]]);
    expect(h.daemon.control.tasks()[0]).toMatchObject({ state: "done", attempts: 1, fleetState: "ended" });
    expect(h.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("/status, /health and /metrics show the fleet of one; a task pinned to another host waits, never typed", async () => {
    const h = await singleHost();
    await h.until("a heartbeat", async () => (await (await h.get("/status")).json()).fleet?.hosts.length === 1);
    const status = await (await h.get("/status")).json();
    expect(status.fleet).toMatchObject({ host: "solo", backend: "sqlite", degraded: null, outbox: 0, hosts: [{ name: "solo", sessions: [{ name: SESSION }] }] });
    expect((await (await h.get("/health")).json()).checks.fleet).toEqual({ ok: true, detail: "sqlite fleet, host solo" });
    expect(await (await h.get("/metrics")).text()).toContain("claude_failover_fleet_degraded 0");

    writeFileSync(join(h.folder("inbox"), "elsewhere.md"), "---\nhost: build-2\n---\nNot here\n");
    await h.until("the export", () => h.daemon.control.tasks()[0]?.fleetState === "exported");
    await h.drive(12_000); // two heartbeats and more: passes that would claim it, were it not pinned elsewhere
    expect(readdirSync(h.folder("processing"))).toEqual(["elsewhere.md"]);
    expect(h.fake.promptCounts().size).toBe(0);
  });
});
