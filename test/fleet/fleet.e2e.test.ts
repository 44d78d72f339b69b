/**
 * @module test/fleet/fleet.e2e
 * Two daemons as two fleet hosts (test/support/fleet-case.ts): two processes, two private tmux sockets, the simulated
 * Claude Code, one private PostgreSQL database. Each case reads the outcome from outside: the transcripts of both
 * hosts (every prompt typed), each origin's queue folders, `/status`, `/health`, the shared tables, the webhook.
 * Skipped, with the reason printed, when no private cluster can be started (a failure under CI=true).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listPanes } from "../support/daemon.ts";
import { sharedTask, startFleetCase, type FleetCase, type FleetHost } from "../support/fleet-case.ts";
import { makeTask } from "../support/ledger.ts";
import { privatePostgres } from "../support/postgres.ts";
import { eventually } from "../support/tmux.ts";

const pg = await privatePostgres("test/fleet/fleet.e2e.test.ts");
const run = pg ? describe : describe.skip;
let fc: FleetCase | null = null;
afterEach(async () => {
  await fc?.cleanup();
  fc = null;
});

const poolPids = async (h: FleetHost) => (await listPanes(h.d.server)).filter((p) => p.name.startsWith("ccl-auto-")).map((p) => `${p.name}:${p.pid}`).sort();
const hostsSeen = (h: FleetHost) => eventually(async () => (await h.status()).fleet?.hosts.length === 2, 20_000);

run("two hosts, one fleet", () => {
  test("a limit seen on host A moves host B's sessions off that account, with one swap_started message in all", async () => {
    fc = await startFleetCase(pg!, { pool: 1 });
    const { a, b } = fc;
    await Promise.all([hostsSeen(a), hostsSeen(b)]);
    expect((await b.status()).active_account).toBe("a");
    // Only host A's login of account a is out of quota: B learns it from the fleet, not from its own sessions.
    writeFileSync(join(a.d.home("a"), "sim-quota"), "You've hit your 5-hour limit · resets 11pm (UTC)\n");
    a.dropPinned("a", makeTask("hit", { work: "0s" }));
    await eventually(async () => {
      const s = await b.status();
      return s.active_account === "b" && !s.swapping && s.sessions.filter((x: any) => x.name.startsWith("ccl-auto-")).every((x: any) => x.account === "b")
        && s.accounts.find((x: any) => x.name === "a")?.state === "cooling";
    }, 60_000, 200);
    await eventually(async () => !(await a.status()).swapping && (await a.status()).active_account === "b", 60_000, 200);
    expect(b.d.logs().some((l) => l.msg === "account changed on another host; moving off it" && l.account === "a" && l.by === "a")).toBe(true);
    // Both hosts swapped off a; the host that lost the claim logged it, and only one message went out.
    await eventually(() => [a, b].some((h) => h.d.logs().some((l) => l.msg === "notification left to another host" && l.kind === "swap_started")), 20_000);
    await eventually(() => fc!.sent("swap_started") >= 1, 20_000);
    expect(fc.sent("swap_started")).toBe(1);
  }, 150_000);

  test("200 tasks dropped into both inboxes run once each, each file in its origin's done/ with its result", async () => {
    fc = await startFleetCase(pg!, { pool: 2 });
    const { a, b } = fc;
    const tasks = Array.from({ length: 200 }, (_, i) => ({ origin: i % 2 === 0 ? a : b, task: makeTask(`t${String(i).padStart(3, "0")}`, { work: "100ms" }) }));
    for (const { origin, task } of tasks) origin.drop(task);
    for (const { origin, task } of tasks) expect(await fc.settled(origin, task, 400_000)).toBe("done");
    for (const { origin, task } of tasks) fc.once(origin, task);
    const [row] = await fc.sql`SELECT count(*)::int AS n, count(DISTINCT (origin_host, file))::int AS files, sum(claim)::int AS claims FROM fleet_tasks WHERE state = 'done'`;
    expect(row).toEqual({ n: 200, files: 200, claims: 200 });
    // One accepted finish per task, fleet-wide (the host whose finish the queue took sends its task_done).
    const finished = [a, b].flatMap((h) => h.d.logs().filter((l) => l.msg === "fleet task finished").map((l) => l.fleet_id));
    expect({ finishes: finished.length, tasks: new Set(finished).size }).toEqual({ finishes: 200, tasks: 200 });
  }, 600_000);

  test("host A killed with a task running: requeued after the lease and done by B; A back later finishes nothing twice", async () => {
    fc = await startFleetCase(pg!, { pool: 1 });
    const { a, b } = fc;
    await Promise.all([hostsSeen(a), hostsSeen(b)]);
    const busy = makeTask("busy", { work: "8s" });
    b.dropPinned("b", busy);
    await b.typed(busy);
    const job = makeTask("job", { work: "20s" });
    a.drop(job);
    await a.typed(job);
    expect(await sharedTask(fc.sql, "a", job.file)).toMatchObject({ state: "running", host: "a", claim: 1 });
    await a.d.kill9(); // its tmux server and the agent stay: the agent finishes the turn with nobody listening
    await eventually(async () => (await sharedTask(fc!.sql, "a", job.file))?.host === "b", 60_000, 200);
    await eventually(async () => (await sharedTask(fc!.sql, "a", job.file))?.state === "done", 90_000, 200);
    expect(await sharedTask(fc.sql, "a", job.file)).toMatchObject({ state: "done", host: "b", claim: 2 });
    a.d.start();
    expect(await fc.settled(a, job, 60_000)).toBe("done");
    await a.d.waitLog("task superseded", {}, 60_000);
    expect(fc.typed(job)).toBe(2); // once on A (its agent ran on), once on B: only B's run counts
    const jobId = (await fc.sql`SELECT id::int AS id FROM fleet_tasks WHERE origin_host = 'a' AND file = ${job.file}`)[0]!.id;
    const finishes = [a, b].map((h) => h.d.logs().filter((l) => l.msg === "fleet task finished" && l.fleet_id === jobId).length);
    expect(finishes).toEqual([0, 1]);
  }, 240_000);

  test("the database stopped and started under load: nothing lost or doubled, agents untouched, /health degraded then ok", async () => {
    fc = await startFleetCase(pg!, { pool: 2, leaseMs: 60_000 });
    const { a, b } = fc;
    await Promise.all([hostsSeen(a), hostsSeen(b)]);
    const pids = { a: await poolPids(a), b: await poolPids(b) };
    const tasks = Array.from({ length: 40 }, (_, i) => ({ origin: i % 2 === 0 ? a : b, task: makeTask(`d${String(i).padStart(2, "0")}`, { work: "1s" }) }));
    for (const { origin, task } of tasks) origin.drop(task);
    await eventually(async () => ((await fc!.sql`SELECT count(*)::int AS n FROM fleet_tasks WHERE state = 'done'`)[0]?.n ?? 0) >= 4, 60_000, 100);
    pg!.halt();
    for (const h of [a, b]) {
      await eventually(async () => {
        const health = await h.health();
        return health.ok && health.checks.fleet?.warning === true && /unreachable/.test(health.checks.fleet.detail ?? "");
      }, 30_000, 200);
    }
    // Tasks running meanwhile end locally; their finish waits in the outbox.
    await eventually(async () => (await a.status()).fleet.outbox + (await b.status()).fleet.outbox > 0, 30_000, 200);
    pg!.resume();
    for (const h of [a, b]) await eventually(async () => (await h.health()).checks.fleet?.warning === undefined, 60_000, 200);
    for (const { origin, task } of tasks) expect(await fc.settled(origin, task, 300_000)).toBe("done");
    for (const { origin, task } of tasks) fc.once(origin, task);
    const [row] = await fc.sql`SELECT count(*)::int AS n, sum(claim)::int AS claims FROM fleet_tasks WHERE state = 'done'`;
    expect(row).toEqual({ n: 40, claims: 40 });
    expect({ a: await poolPids(a), b: await poolPids(b) }).toEqual(pids);
  }, 600_000);
});
