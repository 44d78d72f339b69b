/**
 * @module test/fleet/wiring
 * The dispatcher wired to the fleet bridge as the daemon wires it (docs/fleet.md "Wiring"), on one SQLite fleet file:
 * a single host runs its inbox through the shared queue with the outcome it had without one; the dispatcher takes
 * only rows claimed here and never moves a fleet row's file; a pinned task waits for its host; not-ready and restart
 * give claims back; a claim starts while degraded only with half its lease left; the janitor keeps rows still waiting.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { recoverQueue } from "../../internal/dispatcher/recover.ts";
import { CLAIM_WAIT_MS } from "../../internal/fleet/bridge-tasks.ts";
import { memoryLog } from "../../internal/log.ts";
import { createWiredFleet, LEASE_MS, type WiredFleet } from "./wiring-support.ts";

let fleet: WiredFleet;
afterEach(async () => fleet.cleanup());

describe("daemon wiring: dispatcher and fleet bridge", () => {
  test("a single host runs its inbox task through the shared queue: typed once, its file in done/ with the result, one task_done", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.sessions = ["pool-1"];
    a.drop("one.md");
    await a.dispatcher.ingest();
    expect(a.wakes).toBe(1);
    await a.dispatcher.dispatch();
    expect(a.delivered).toEqual([]); // exported, not claimed yet: the dispatcher waits for the bridge
    await a.bridge.tick();
    expect(a.store.tasks()[0]).toMatchObject({ fleetState: "claimed", originHost: "a", state: "queued" });
    await a.dispatcher.dispatch();
    expect(a.delivered).toEqual([{ session: "pool-1", prompt: "do one.md" }]);
    expect(a.files("processing")).toEqual(["one.md"]);

    const task = a.store.tasks(["running"])[0]!;
    a.dispatcher.complete(task.id, "all good");
    await a.bridge.tick();
    expect(a.files("processing")).toEqual([]);
    expect(a.files("done")).toEqual(["one.md", "one.result.md"]);
    expect(a.store.task(task.id)).toMatchObject({ state: "done", fleetState: "ended" });
    expect(a.events.map((e) => e.kind)).toEqual(["task_done"]);
    expect(await a.dispatcher.dispatch()).toBe(0);
    expect(a.delivered).toHaveLength(1);
  });

  test("a failed fleet task: one task_failed, the file in failed/ with its reason", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.sessions = ["pool-1"];
    a.drop("bad.md");
    await a.cycle();
    const task = a.store.tasks(["running"])[0]!;
    a.dispatcher.fail(task.id, "timed out after 30m");
    await a.bridge.tick();
    expect(a.files("failed")).toEqual(["bad.error.txt", "bad.md"]);
    expect(a.events).toEqual([expect.objectContaining({ kind: "task_failed", reason: "timed out after 30m" })]);
  });

  test("a file changed after it was queued is exported as it is when it moves to processing/; one that no longer parses fails", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.sessions = ["pool-1"];
    a.drop("edited.md", "first text\n");
    a.drop("broken.md", "fine\n");
    await a.dispatcher.ingest();
    a.drop("edited.md", "---\npriority: 1\n---\nsecond text\n");
    a.drop("broken.md", "---\npriorty: 1\n---\nbody\n");
    await a.bridge.tick();
    await a.dispatcher.dispatch();
    expect(a.delivered).toEqual([{ session: "pool-1", prompt: "second text" }]);
    expect(a.files("failed")).toEqual(["broken.error.txt", "broken.md"]);
    expect(a.events).toEqual([expect.objectContaining({ kind: "task_failed", file: "broken.md", reason: expect.stringMatching(/unknown front-matter key "priorty"/) })]);
  });

  test("host B runs host A's task: A's dispatcher never takes its exported row, A's file waits in processing/, then lands in done/", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    const b = fleet.add("b");
    b.sessions = ["pool-1"];
    a.drop("shared.md");
    await a.cycle(); // a has no free session: exported only
    await b.cycle();
    expect(b.delivered).toEqual([{ session: "pool-1", prompt: "do shared.md" }]);
    a.sessions = ["pool-1"];
    await a.cycle();
    expect(a.delivered).toEqual([]);
    expect(a.files("processing")).toEqual(["shared.md"]);

    b.dispatcher.complete(b.store.tasks(["running"])[0]!.id, "done by b");
    await b.bridge.tick();
    expect(b.events.map((e) => e.kind)).toEqual(["task_done"]);
    await a.bridge.tick();
    expect(a.files("done")).toEqual(["shared.md", "shared.result.md"]);
    expect(a.events).toEqual([]);
  });

  test("ingest ignores another host's row of the same file name: a local inbox file of that name is still queued", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    const b = fleet.add("b");
    b.sessions = ["pool-1"];
    a.drop("same.md");
    await a.cycle();
    await b.cycle();
    expect(b.store.tasks(["running"])[0]).toMatchObject({ file: "same.md", originHost: "a" });
    b.drop("same.md", "b's own task\n");
    expect(await b.dispatcher.ingest()).toBe(1);
    expect(b.store.tasks(["queued"])).toEqual([expect.objectContaining({ file: "same.md", prompt: "b's own task", originHost: null })]);
  });

  test("front matter host: pins a task: the other host never claims it, the pinned one runs it", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    const b = fleet.add("b");
    a.sessions = ["pool-1"];
    b.sessions = ["pool-1"];
    a.drop("pinned.md", "---\nhost: b\n---\nonly on b\n");
    await a.dispatcher.ingest();
    await a.bridge.tick();
    await a.dispatcher.dispatch();
    expect(a.delivered).toEqual([]);
    await b.cycle();
    expect(b.delivered).toEqual([{ session: "pool-1", prompt: "only on b" }]);
  });

  test("a session not ready keeps the claim held here; it is typed on the next pass with the same claim", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.sessions = ["pool-1"];
    a.ready = false;
    a.drop("later.md");
    await a.cycle();
    const row = a.store.tasks()[0]!;
    expect(row).toMatchObject({ state: "queued", fleetState: "claimed", fleetClaim: 1, session: null });
    a.ready = true;
    await a.bridge.tick();
    await a.dispatcher.dispatch();
    expect(a.delivered).toEqual([{ session: "pool-1", prompt: "do later.md" }]);
    expect(a.store.task(row.id)).toMatchObject({ state: "running", fleetState: "claimed", fleetClaim: 1 });
  });

  test("a claim waiting here with no free session goes back to the shared queue after CLAIM_WAIT_MS, and another host runs it", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    const b = fleet.add("b");
    a.sessions = ["pool-1"];
    a.ready = false;
    a.drop("stuck.md");
    await a.cycle();
    expect(a.store.tasks()[0]).toMatchObject({ state: "queued", fleetState: "claimed" });
    a.sessions = [];
    await a.bridge.tick();
    await fleet.clock.advance(CLAIM_WAIT_MS - 1);
    await a.bridge.tick();
    expect(a.store.tasks()[0]).toMatchObject({ fleetState: "claimed" });
    await fleet.clock.advance(1);
    await a.bridge.tick();
    expect(a.store.tasks()[0]).toMatchObject({ state: "queued", fleetState: "released" });
    b.sessions = ["pool-1"];
    await b.cycle();
    expect(b.delivered).toEqual([{ session: "pool-1", prompt: "do stuck.md" }]);
    expect(a.delivered).toEqual([]);
  });

  test("restart: a claim never typed goes back to the shared queue; the own exported file stays in processing/ (not a stray)", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    const b = fleet.add("b");
    a.drop("waiting.md");
    await a.cycle();
    a.drop("claimed.md");
    a.sessions = ["pool-1"];
    await a.dispatcher.ingest();
    await a.bridge.tick();
    const claimed = a.store.bridge.tasksInFleetState(["claimed"])[0]!;
    // The dispatcher had marked it running when the daemon died, before anything was typed.
    a.store.updateTask(claimed.id, { state: "running", session: "pool-1", startedAt: fleet.clock.now() });
    const moveFile = () => { throw new Error("recover must not move a fleet row's file"); };
    recoverQueue({ store: a.store, queue: a.queue, clock: fleet.clock, log: memoryLog(), moveFile, fleet: { host: "a", finished: async () => {}, release: (id, r) => a.bridge.release(id, r), mayStart: () => true, wake: () => {} } });
    expect(a.store.task(claimed.id)).toMatchObject({ state: "queued", fleetState: "released" });
    expect(a.files("processing")).toEqual(["claimed.md", "waiting.md"]);
    expect(a.files("inbox")).toEqual([]);
    b.sessions = ["pool-1", "pool-2"];
    await b.cycle();
    expect(b.delivered.map((d) => d.prompt).sort()).toEqual(["do claimed.md", "do waiting.md"]);
  });

  test("restart: a claim still waiting (queued, not started) is given back too, and claimed afresh", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.drop("held.md");
    await a.dispatcher.ingest();
    a.sessions = ["pool-1"];
    await a.bridge.tick();
    const held = a.store.bridge.tasksInFleetState(["claimed"])[0]!;
    expect(held).toMatchObject({ state: "queued", fleetClaim: 1 });
    a.dispatcher.recover();
    await a.bridge.tick();
    expect(a.store.task(held.id)).toMatchObject({ state: "queued", fleetState: "claimed", fleetClaim: 2 });
    await a.dispatcher.dispatch();
    expect(a.delivered).toEqual([{ session: "pool-1", prompt: "do held.md" }]);
  });

  test("while the database is away a claim starts only while at least half its lease is left", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.drop("one.md");
    a.drop("two.md");
    await a.dispatcher.ingest();
    a.sessions = ["pool-1", "pool-2"];
    await a.bridge.tick();
    a.sessions = ["pool-1"];
    a.link.down = true;
    await fleet.clock.advance(LEASE_MS / 2 - 1_000);
    await a.bridge.tick();
    expect(a.bridge.status().degraded).not.toBeNull();
    expect(a.bridge.mayStart()).toBe(true);
    await a.dispatcher.dispatch();
    expect(a.delivered).toHaveLength(1);
    await fleet.clock.advance(2_000);
    a.sessions = ["pool-1", "pool-2"];
    expect(a.bridge.mayStart()).toBe(false);
    expect(await a.dispatcher.dispatch()).toBe(0);
    expect(a.store.tasks(["queued"])).toEqual([expect.objectContaining({ fleetState: "claimed" })]);
    a.link.down = false;
    await a.bridge.tick();
    expect(a.bridge.mayStart()).toBe(true);
    expect(await a.dispatcher.dispatch()).toBe(1);
  });

  test("the janitor's prune keeps a row whose finish waits in the outbox and the origin's superseded row, not others", async () => {
    fleet = createWiredFleet();
    const a = fleet.add("a");
    a.sessions = ["pool-1", "pool-2", "pool-3"];
    for (const f of ["finishing.md", "superseded.md", "ended.md"]) a.drop(f);
    await a.cycle();
    const [finishing, superseded, ended] = ["finishing.md", "superseded.md", "ended.md"].map((f) => a.store.tasks().find((t) => t.file === f)!);
    a.dispatcher.complete(ended!.id, null);
    await a.bridge.tick();
    a.link.down = true;
    a.dispatcher.complete(finishing!.id, null);
    a.store.updateTask(superseded!.id, { state: "failed", fleetState: "superseded", finishedAt: fleet.clock.now() });
    await fleet.clock.advance(10_000);
    const local = a.store.addTask({ project: "proj", file: "local.md", priority: 0, workdir: fleet.workdir, timeoutMs: null, prompt: "x", createdAt: 0 });
    a.store.updateTask(local.id, { state: "done", finishedAt: fleet.clock.now() - 1 }); // a row of no fleet: pruned as ever
    expect(a.store.pruneTasks(fleet.clock.now(), "a")).toBe(2);
    expect(a.store.task(local.id)).toBeNull();
    expect(a.store.task(ended!.id)).toBeNull();
    expect(a.store.task(finishing!.id)).toMatchObject({ fleetState: "finishing" });
    expect(a.store.task(superseded!.id)).toMatchObject({ fleetState: "superseded" });
  });
});
