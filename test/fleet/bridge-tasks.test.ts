/**
 * @module test/fleet/bridge-tasks
 * The fleet bridge's task side on two hosts sharing one SQLite fleet file: export and claim (each task once), pins,
 * workdirs a host lacks, the finish that comes too late (superseded), release when the gate closes, and the origin's
 * files following the shared row.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { mkdirSync, rmSync } from "node:fs";
import { SUPERSEDED } from "../../internal/fleet/bridge-tasks.ts";
import { createTestFleet, HEARTBEAT_MS, LEASE_MS, type Fleet } from "./bridge-support.ts";

let fleet: Fleet;
afterEach(async () => fleet.cleanup());

describe("fleet bridge: tasks", () => {
  test("an inbox task is exported by its host, claimed by another, run once, and its file lands in the origin's done/", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    for (const f of ["one.md", "two.md", "three.md"]) a.drop(f);
    await a.bridge.tick();
    expect(a.files("inbox")).toEqual([]);
    expect(a.files("processing")).toEqual(["one.md", "three.md", "two.md"]);
    expect(a.store.tasks().map((t) => t.fleetState)).toEqual(["exported", "exported", "exported"]);

    b.free = 5;
    await b.bridge.tick();
    a.free = 5;
    await a.bridge.tick();
    expect(b.claimed().map((t) => t.file).sort()).toEqual(["one.md", "three.md", "two.md"]);
    expect(a.claimed()).toEqual([]);
    expect(b.claimed().every((t) => t.originHost === "a" && t.fleetClaim === 1 && t.state === "queued")).toBe(true);

    for (const t of b.claimed()) b.run(t);
    for (const t of b.store.tasks(["running"])) await b.bridge.finished(t.id, { state: "done", at: fleet.clock.now(), result: `result of ${t.file}` });
    expect(b.events.map((e) => e.kind)).toEqual(["task_done", "task_done", "task_done"]);
    expect(b.store.tasks().every((t) => t.state === "done" && t.fleetState === "ended")).toBe(true);
    expect(await b.sw.fleet.counts()).toMatchObject({ done: 3, queued: 0, running: 0 });

    await a.bridge.tick();
    expect(a.files("processing")).toEqual([]);
    expect(a.files("done")).toEqual(["one.md", "one.result.md", "three.md", "three.result.md", "two.md", "two.result.md"]);
    expect(a.store.tasks().every((t) => t.state === "done" && t.fleetState === "ended")).toBe(true);
    expect(a.events).toEqual([]);
  });

  test("a paused host exports nothing: its inbox files stay in inbox/ until it resumes, then go to the shared queue", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    a.paused = true;
    a.drop("held.md");
    await a.bridge.tick();
    expect(a.files("inbox")).toEqual(["held.md"]);
    expect(a.store.tasks()[0]).toMatchObject({ state: "queued", fleetState: null, fleetId: null });
    b.free = 1;
    await b.bridge.tick();
    expect(b.claimed()).toEqual([]);
    a.paused = false;
    await a.bridge.tick();
    expect(a.files("inbox")).toEqual([]);
    await b.bridge.tick();
    expect(b.claimed().map((t) => t.file)).toEqual(["held.md"]);
  });

  test("status() shows every host with its sessions (shared task ids) and heartbeat age", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["seen.md"]);
    b.store.upsertSession("pool-1", "pool", { state: "working", account: "max", taskId: held.id }, fleet.clock.now());
    await b.bridge.tick();
    await fleet.clock.advance(2_000);
    await a.bridge.tick();
    expect(a.bridge.status()).toMatchObject({
      host: "a", backend: "sqlite", degraded: null, outbox: 0, parked: 0,
      hosts: [
        { name: "a", heartbeatAgeMs: 0, sessions: [] },
        { name: "b", heartbeatAgeMs: 2_000, sessions: [{ name: "pool-1", kind: "pool", state: "working", account: "max", taskId: held.fleetId }] },
      ],
    });
  });

  test("two hosts claiming at once each get different tasks, every task exactly once", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    for (let i = 0; i < 20; i++) (i % 2 ? a : b).drop(`t${i}.md`);
    await Promise.all([a.bridge.tick(), b.bridge.tick()]);
    a.free = 7;
    b.free = 7;
    await Promise.all([a.bridge.tick(), b.bridge.tick()]);
    await Promise.all([a.bridge.tick(), b.bridge.tick()]);
    const ids = [...a.claimed(), ...b.claimed()].map((t) => t.fleetId);
    expect(ids).toHaveLength(14);
    expect(new Set(ids).size).toBe(14);
    expect(a.claimed()).toHaveLength(7);
    expect(b.claimed()).toHaveLength(7);
  });

  test("a task pinned to a host is claimed by that host only", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    b.drop("pinned.md", { pin: "a" });
    b.free = 3;
    await b.bridge.tick();
    await b.bridge.tick();
    expect(b.claimed()).toEqual([]);
    expect((await b.sw.fleet.tasks())[0]).toMatchObject({ file: "pinned.md", pinnedHost: "a", state: "queued" });
    a.free = 1;
    await a.bridge.tick();
    expect(a.claimed().map((t) => t.file)).toEqual(["pinned.md"]);
  });

  test("a task whose workdir does not exist on a host is left for a host that has it", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const onlyA = join(a.workdir, "only-a");
    mkdirSync(onlyA);
    a.existing.add(onlyA);
    a.drop("special.md", { workdir: onlyA });
    await a.bridge.tick();
    b.free = 2;
    await b.bridge.tick();
    expect(b.claimed()).toEqual([]);
    a.free = 1;
    await a.bridge.tick();
    expect(a.claimed()).toEqual([expect.objectContaining({ file: "special.md", workdir: onlyA, originHost: "a" })]);
  });

  test("a finish after the lease expired and another host took the task supersedes the local row: no notification, no file", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["slow.md"]);
    // b goes silent past its lease; a requeues the task at its heartbeat and claims it.
    await fleet.clock.advance(LEASE_MS + 1);
    a.free = 1;
    await a.bridge.tick();
    expect(a.claimed().map((t) => t.file)).toEqual(["slow.md"]);
    expect(a.claimed()[0]!.fleetClaim).toBe(2);

    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "late" });
    expect(b.store.task(held.id)).toMatchObject({ state: "failed", error: SUPERSEDED, fleetState: "superseded", fleetClaim: null });
    expect(b.events).toEqual([]);
    expect((await b.sw.fleet.tasks())[0]).toMatchObject({ state: "running", host: "a", claim: 2 });

    const mine = a.claimed()[0]!;
    a.run(mine);
    await a.bridge.finished(mine.id, { state: "done", at: fleet.clock.now(), result: "on time" });
    expect(a.events.map((e) => e.kind)).toEqual(["task_done"]);
    expect(a.files("done")).toEqual(["slow.md", "slow.result.md"]);
  });

  test("a host that keeps its heartbeat keeps its claims past the lease; one that stops loses them to the others", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["long.md"]);
    a.free = 1;
    for (let t = 0; t < 3 * LEASE_MS; t += HEARTBEAT_MS) {
      await fleet.clock.advance(HEARTBEAT_MS);
      await b.bridge.tick();
      await a.bridge.tick();
    }
    expect(a.claimed()).toEqual([]);
    expect((await a.sw.fleet.tasks())[0]).toMatchObject({ state: "running", host: "b", claim: held.fleetClaim });
    await fleet.clock.advance(LEASE_MS + 1);
    await a.bridge.tick();
    expect(a.claimed().map((t) => t.file)).toEqual(["long.md"]);
  });

  test("an origin whose own run was superseded still gets its file into done/ once the other host finishes", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const mine = await fleet.handOver(a, a, ["twice.md"]);
    await fleet.clock.advance(LEASE_MS + 1);
    b.free = 1;
    await b.bridge.tick();
    await a.bridge.finished(mine.id, { state: "done", at: fleet.clock.now(), result: "mine" });
    expect(a.store.task(mine.id)).toMatchObject({ state: "failed", fleetState: "superseded" });
    expect(a.files("processing")).toEqual(["twice.md"]);
    const theirs = b.claimed()[0]!;
    b.run(theirs);
    await b.bridge.finished(theirs.id, { state: "failed", at: fleet.clock.now(), error: "tests still red" });
    await a.bridge.tick();
    expect(a.files("failed")).toEqual(["twice.error.txt", "twice.md"]);
    expect(a.store.task(mine.id)).toMatchObject({ state: "failed", error: "tests still red", fleetState: "ended" });
    expect(a.events).toEqual([]);
    expect(b.events).toEqual([expect.objectContaining({ kind: "task_failed", file: "twice.md", reason: "tests still red" })]);
  });

  test("an inbox file gone before its export fails the local row with the reason, and is never enqueued", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    a.drop("gone.md");
    rmSync(join(a.queueDir, "proj", "inbox", "gone.md"));
    await a.bridge.tick();
    expect(a.store.tasks()[0]).toMatchObject({ state: "failed", error: "task file vanished from inbox/ before export", fleetId: null });
    expect(a.events).toEqual([expect.objectContaining({ kind: "task_failed", file: "gone.md" })]);
    expect(await a.sw.fleet.tasks()).toEqual([]);
  });

  test("claims never typed go back to the queue when the gate closes, and another host takes them", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    a.drop("x.md");
    a.free = 1;
    await a.bridge.tick();
    expect(a.claimed()).toHaveLength(1);
    a.gate = { open: false, reason: "a swap is running" };
    await a.bridge.tick();
    expect(a.claimed()).toEqual([]);
    expect(a.store.tasks()[0]).toMatchObject({ state: "queued", fleetState: "released", fleetClaim: null });
    expect((await a.sw.fleet.tasks())[0]).toMatchObject({ state: "queued", host: null, error: "released: a swap is running" });
    b.free = 1;
    await b.bridge.tick();
    expect(b.claimed().map((t) => [t.file, t.fleetClaim])).toEqual([["x.md", 2]]);
  });

  test("a release asked by the dispatcher (session not ready) frees the claim; the same host may claim the task again", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    a.drop("y.md");
    a.free = 1;
    await a.bridge.tick();
    const held = a.claimed()[0]!;
    await a.bridge.release(held.id, "session not ready");
    expect((await a.sw.fleet.tasks())[0]).toMatchObject({ state: "queued", error: "released: session not ready" });
    await a.bridge.tick();
    expect(a.claimed()).toEqual([expect.objectContaining({ id: held.id, fleetClaim: 2, state: "queued" })]);
    expect(a.store.tasks()).toHaveLength(1);
  });

  test("a claim the host holds without a local row (a crash between the two) is released at start", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    await a.sw.fleet.enqueue({ originHost: "z", project: "proj", file: "orphan.md", prompt: "p", priority: 0, workdir: a.workdir,
      timeoutMs: null, pinnedHost: null, createdAt: 1 });
    await a.sw.fleet.claim("a", { workdirs: [a.workdir], limit: 1, now: fleet.clock.now(), leaseMs: LEASE_MS });
    await a.bridge.tick();
    expect((await a.sw.fleet.tasks())[0]).toMatchObject({ state: "queued", error: "released: not held by its host after a restart" });
  });
});

describe("fleet bridge: the fleet view's swaps", () => {
  test("each pass shares the summaries of this host's swaps changed since the last one (recordSwap)", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a] = fleet.pair();
    const swap = a.store.createSwap({ fromAccount: "max", toAccount: "pro", reason: "quota", triggerSession: "pool-1", signal: "hook", pattern: null, snippet: null, resetAt: null, requestedAt: fleet.clock.now() });
    await a.bridge.tick();
    expect(await a.sw.fleet.swaps()).toEqual([expect.objectContaining({ host: "a", id: swap.id, session: "pool-1", fromAccount: "max", toAccount: "pro", step: "requested", reason: "quota" })]);
    await fleet.clock.advance(1_000);
    a.store.updateSwap(swap.id, { step: "done" }, fleet.clock.now());
    await a.bridge.tick();
    expect(await a.sw.fleet.swaps()).toEqual([expect.objectContaining({ host: "a", id: swap.id, step: "done", updatedAt: fleet.clock.now() })]);
  });
});

describe("fleet bridge: wake()", () => {
  test("runs one pass now (a new inbox task exported and claimed, no heartbeat waited for); wakes meanwhile make no second pass", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts;
    a!.free = 1;
    a!.drop("now.md");
    a!.bridge.wake();
    a!.bridge.wake();
    await a!.bridge.close(); // waits for the fleet work in flight
    expect(a!.sw.calls.filter((c) => c === "heartbeat")).toHaveLength(1);
    expect(a!.claimed().map((t) => t.file)).toEqual(["now.md"]);
  });

  test("does nothing while degraded (the backoff decides) or once closed", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts;
    a!.sw.down = true;
    await a!.bridge.tick();
    const calls = a!.sw.calls.length;
    a!.bridge.wake();
    await a!.bridge.close();
    a!.sw.down = false;
    a!.bridge.wake();
    await a!.bridge.close();
    expect(a!.sw.calls.length).toBe(calls);
  });
});
