/**
 * @module test/fleet/two-daemons-postgres
 * Two whole daemons in one process (wire(), in-memory tmux each, one fake clock) on one database of the private
 * PostgreSQL cluster, each opening it as the daemon does (fleet/open.ts, lazily): a limit seen on host A reaches host
 * B by LISTEN/NOTIFY and moves B's sessions off that account; a task dropped on A and pinned to B runs on B once and
 * lands in A's done/. Skipped, with the reason printed, when no private cluster can be started (a failure under CI).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock } from "../../internal/clock.ts";
import { openFleet } from "../../internal/fleet/open.ts";
import { memoryLog } from "../../internal/log.ts";
import { privatePostgres } from "../support/postgres.ts";
import { limitHit, SESSION, startWiredDaemon } from "./daemon-support.ts";

const pg = await privatePostgres("test/fleet/two-daemons-postgres.test.ts");
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

async function twoHosts() {
  const url = await pg!.freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), "cf-two-pg-"));
  stops.push(() => rmSync(dir, { recursive: true, force: true }));
  const clock = createFakeClock();
  const host = (name: string) => startWiredDaemon(stops, {
    host: name, clock, workdir: join(dir, "work"), accounts: ["a", "b"], stepMs: 5,
    fleet: () => openFleet(url, "", memoryLog()),
  });
  const a = await host("a");
  const b = await host("b");
  return { a, b };
}

(pg ? describe : describe.skip)("two daemons on PostgreSQL (in process)", () => {
  test("a limit seen on host A reaches host B by NOTIFY and moves B's sessions off that account", async () => {
    const { a, b } = await twoHosts();
    await a.until("both hosts in the fleet", async () => (await (await b.get("/status")).json()).fleet.hosts.length === 2);
    expect((await (await b.get("/status")).json()).fleet).toMatchObject({ backend: "postgres", degraded: null });
    expect(await limitHit(a, "You've hit your 5-hour limit · resets 11pm (UTC)")).toBe(202);
    await a.until("b's swap off a", () => b.daemon.control.status().swaps.some((s) => s.from === "a" && s.reason === "quota"));
    expect(b.daemon.control.status().accounts.find((x) => x.name === "a")?.state).toBe("cooling");
    expect(b.log.records.some((r) => r.msg === "account changed on another host; moving off it" && r.by === "a")).toBe(true);
  }, 60_000);

  test("a task dropped on host A and pinned to B runs on B once and lands in A's done/", async () => {
    const { a, b } = await twoHosts();
    writeFileSync(join(a.folder("inbox"), "there.md"), "---\nhost: b\n---\nRun this on b\n");
    await a.until("the prompt typed on b", () => b.fake.promptCounts().size === 1);
    await a.until("b's delivery confirmed", () => b.daemon.control.tasks().some((t) => t.delivery === "confirmed"));
    b.fake.endTurn(SESSION, "Ran on b.");
    await a.until("a's done/there.result.md", () => existsSync(join(a.folder("done"), "there.result.md")));
    expect(readFileSync(join(a.folder("done"), "there.result.md"), "utf8")).toContain("Ran on b.");
    expect([...b.fake.promptCounts()]).toEqual([["Run this on b", 1]]);
    expect(a.fake.promptCounts().size).toBe(0);
  }, 60_000);
});
