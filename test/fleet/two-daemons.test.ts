/**
 * @module test/fleet/two-daemons
 * Two whole daemons in one process (wire(), in-memory tmux each, one fake clock) as two fleet hosts on one SQLite
 * fleet file, with a bus playing PostgreSQL's NOTIFY for account writes: a task dropped on one host and pinned to the
 * other runs there once and lands in its origin's done/; 200 tasks from both inboxes are typed once each; a host
 * stopped with a task typed is requeued after the lease and finishes nothing twice when back; a limit seen on host A
 * moves host B's sessions off that account, and only one of the two hosts sends `swap_started`; the database away
 * and back under load loses and doubles nothing. The real
 * two-process cases are test/fleet/fleet.e2e.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock } from "../../internal/clock.ts";
import { openSqliteFleet } from "../../internal/fleet/sqlite.ts";
import { switched, type Switch, type Watcher } from "./bridge-support.ts";
import { limitHit, SESSION, startWiredDaemon, type WiredDaemon } from "./daemon-support.ts";

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/** Hosts `a` and `b` on one fleet file, one clock, one workdir, accounts `a` and `b` each. */
async function twoHosts(pool = 1): Promise<{
  a: WiredDaemon; b: WiredDaemon; both(what: string, done: () => boolean | Promise<boolean>): Promise<void>;
  /** The database away (every fleet call of both hosts throws FleetUnavailable) or back. */
  database(up: boolean): void;
}> {
  const dir = mkdtempSync(join(tmpdir(), "cf-two-daemons-"));
  stops.push(() => rmSync(dir, { recursive: true, force: true }));
  const bus = new Set<Watcher>();
  const switches: Switch[] = [];
  const open = () => {
    const sw = switched(openSqliteFleet(join(dir, "fleet.db")), bus);
    switches.push(sw);
    return sw.fleet;
  };
  const clock = createFakeClock();
  const host = (name: string) => startWiredDaemon(stops, {
    host: name, clock, workdir: join(dir, "work"), accounts: ["a", "b"], pool, fleet: open,
  });
  const a = await host("a");
  const b = await host("b");
  // One clock: driving it through either host moves both.
  return { a, b, both: (what, done) => a.until(what, done), database: (up) => switches.forEach((sw) => (sw.down = !up)) };
}

describe("two daemons, one fleet (in process)", () => {
  test("a task dropped on host A and pinned to B is typed once on B; its file and B's reply land in A's done/", async () => {
    const { a, b, both } = await twoHosts();
    writeFileSync(join(a.folder("inbox"), "there.md"), "---\nhost: b\n---\nRun this on b\n");
    await both("the prompt typed on b", () => b.fake.promptCounts().size === 1);
    await both("b's delivery confirmed", () => b.daemon.control.tasks().some((t) => t.delivery === "confirmed"));
    b.fake.endTurn(SESSION, "Ran on b.");
    await both("a's done/there.result.md", () => existsSync(join(a.folder("done"), "there.result.md")));
    expect(readFileSync(join(a.folder("done"), "there.result.md"), "utf8")).toContain("Ran on b.");
    expect([...b.fake.promptCounts()]).toEqual([["Run this on b", 1]]);
    expect(a.fake.promptCounts().size).toBe(0);
    expect(a.daemon.control.tasks().find((t) => t.file === "there.md")).toMatchObject({ state: "done", fleetState: "ended" });
    expect(b.log.records.filter((r) => r.msg === "fleet task finished")).toHaveLength(1);
    expect(b.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("host A stopped with a task typed: requeued after the lease, done by B; A back later finishes nothing twice", async () => {
    const { a, b, both } = await twoHosts();
    writeFileSync(join(b.folder("inbox"), "busy.md"), "---\nhost: b\n---\nKeep b busy\n");
    await both("b busy", () => b.fake.promptCounts().size === 1);
    writeFileSync(join(a.folder("inbox"), "job.md"), "Do the job\n");
    await both("the job typed on a", () => a.fake.promptCounts().size === 1);
    await both("a's delivery confirmed", () => a.daemon.control.tasks().some((t) => t.delivery === "confirmed"));
    await a.daemon.stop("host a goes away");
    b.fake.endTurn(SESSION, "Busy done.");
    await both("the job typed on b after a's lease", () => b.fake.promptCounts().get("Do the job") === 1);
    await both("b's job delivery confirmed", () => b.daemon.control.tasks().some((t) => t.file === "job.md" && t.delivery === "confirmed"));
    b.fake.endTurn(SESSION, "Job done by b.");
    await both("b's finish", () => b.log.records.filter((r) => r.msg === "fleet task finished").length === 2);
    a.fake.endTurn(SESSION, "Job done by a, too late."); // a's agent went on while its daemon was away
    await a.boot();
    await both("a's done/job.result.md", () => existsSync(join(a.folder("done"), "job.result.md")));
    expect(readFileSync(join(a.folder("done"), "job.result.md"), "utf8")).toContain("Job done by b.");
    await both("a's own run superseded", () => a.log.records.some((r) => r.msg === "task superseded"));
    expect(a.log.records.filter((r) => r.msg === "fleet task finished")).toEqual([]);
    expect(a.daemon.control.tasks().find((t) => t.file === "job.md")).toMatchObject({ state: "done", fleetState: "ended" });
  });

  test("200 tasks dropped into both inboxes are typed once each, fleet-wide, and each lands in its origin's done/", async () => {
    const { a, b, both } = await twoHosts(2);
    const tasks = Array.from({ length: 200 }, (_, i) => ({ origin: i % 2 === 0 ? a : b, file: `t${String(i).padStart(3, "0")}.md`, prompt: `Task number ${i}` }));
    for (const t of tasks) writeFileSync(join(t.origin.folder("inbox"), t.file), `${t.prompt}\n`);
    const done = () => tasks.every((t) => existsSync(join(t.origin.folder("done"), t.file.replace(/\.md$/, ".result.md"))));
    for (let step = 0; step < 4_000 && !done(); step++) {
      // Every agent that has been working for a step finishes its turn with a reply naming its prompt.
      for (const h of [a, b]) {
        for (const pane of h.fake.panes.values()) if (pane.busy) h.fake.endTurn(pane.session, `reply on ${h === a ? "a" : "b"}`);
      }
      await a.drive(250);
    }
    expect(done()).toBe(true);
    const typed = new Map<string, number>();
    for (const h of [a, b]) for (const [text, n] of h.fake.promptCounts()) typed.set(text, (typed.get(text) ?? 0) + n);
    expect(tasks.filter((t) => typed.get(t.prompt) !== 1).map((t) => [t.prompt, typed.get(t.prompt) ?? 0])).toEqual([]);
    const finishes = [a, b].flatMap((h) => h.log.records.filter((r) => r.msg === "fleet task finished").map((r) => r.fleet_id));
    expect({ finishes: finishes.length, tasks: new Set(finishes).size }).toEqual({ finishes: 200, tasks: 200 });
    expect([a, b].map((h) => h.fake.promptCounts().size).every((n) => n > 0)).toBe(true); // both hosts ran some
  }, 120_000);

  test("the database away and back under load: nothing lost or doubled, /health degraded then ok", async () => {
    const { a, b, both, database } = await twoHosts(2);
    const tasks = Array.from({ length: 40 }, (_, i) => ({ origin: i % 2 === 0 ? a : b, file: `d${String(i).padStart(2, "0")}.md`, prompt: `Job number ${i}` }));
    for (const t of tasks) writeFileSync(join(t.origin.folder("inbox"), t.file), `${t.prompt}\n`);
    const doneCount = () => tasks.filter((t) => existsSync(join(t.origin.folder("done"), t.file.replace(/\.md$/, ".result.md")))).length;
    const health = async (h: WiredDaemon) => (await (await h.get("/health")).json()).checks.fleet;
    const step = async () => {
      for (const h of [a, b]) for (const pane of h.fake.panes.values()) if (pane.busy) h.fake.endTurn(pane.session, "reply");
      await a.drive(250);
    };
    while (doneCount() < 8) await step();
    // A turn under way when the database goes: its end has to wait in the outbox.
    const busy = () => [a, b].some((h) => [...h.fake.panes.values()].some((p) => p.busy));
    await both("a turn under way", busy);
    const pids = () => [a, b].map((h) => [...h.fake.panes.values()].map((p) => `${p.session}:${p.pid}`).sort());
    const before = pids();
    database(false);
    for (let i = 0; i < 80; i++) await step(); // 20 s of fake time away, less than the lease: turns end meanwhile
    expect((await health(a))).toMatchObject({ ok: true, warning: true, detail: expect.stringContaining("unreachable") });
    expect((await health(b)).warning).toBe(true);
    expect(a.daemon.control.status().fleet!.outbox + b.daemon.control.status().fleet!.outbox).toBeGreaterThan(0);
    database(true);
    for (let i = 0; i < 4_000 && doneCount() < tasks.length; i++) await step();
    expect(doneCount()).toBe(tasks.length);
    const typed = new Map<string, number>();
    for (const h of [a, b]) for (const [text, n] of h.fake.promptCounts()) typed.set(text, (typed.get(text) ?? 0) + n);
    expect(tasks.filter((t) => typed.get(t.prompt) !== 1).map((t) => [t.prompt, typed.get(t.prompt) ?? 0])).toEqual([]);
    expect(await health(a)).toEqual({ ok: true, detail: "sqlite fleet, host a" });
    expect(await health(b)).toEqual({ ok: true, detail: "sqlite fleet, host b" });
    expect(pids()).toEqual(before); // the agents were never touched
  }, 120_000);

  test("a limit seen on host A moves host B's sessions off that account; one of the two sends swap_started", async () => {
    const { a, b, both } = await twoHosts();
    await both("both hosts see each other", async () => (await (await b.get("/status")).json()).fleet.hosts.length === 2);
    expect(b.daemon.control.status().active_account).toBe("a");
    expect(await limitHit(a, "You've hit your 5-hour limit · resets 11pm (UTC)")).toBe(202);
    await both("a cooling on b", () => b.daemon.control.status().accounts.find((x) => x.name === "a")?.state === "cooling");
    await both("b's swap off a", () => b.daemon.control.status().swaps.some((s) => s.from === "a" && s.reason === "quota"));
    expect(b.log.records.some((r) => r.msg === "account changed on another host; moving off it" && r.account === "a" && r.by === "a")).toBe(true);
    await both("a's own swap off a", () => a.daemon.control.status().swaps.some((s) => s.from === "a" && s.reason === "quota"));
    const left = () => [a, b].flatMap((h) => h.log.records.filter((r) => r.msg === "notification left to another host" && r.kind === "swap_started"));
    await both("the second swap_started left to the first host", () => left().length > 0);
    expect(left()).toHaveLength(1);
  });
});
