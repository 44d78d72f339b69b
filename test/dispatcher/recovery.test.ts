/**
 * @module test/dispatcher/recovery
 * Specs for a daemon restart (adopt, requeue, stray files, interrupted moves: nothing lost or run twice) and for
 * the "tasks waiting while sessions idle" alarm with a fake clock.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createTaskQueue } from "../../internal/dispatcher/queue.ts";
import { createDispatcher, type DispatchEvent } from "../../internal/dispatcher/dispatcher.ts";

let root: string;
let queueDir: string;
let store: Store;
let clock: FakeClock;
const deliveries: Array<{ session: string; prompt: string }> = [];
const events: DispatchEvent[] = [];
let gate: { open: true } | { open: false; reason: string };
let sessions: string[];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-recover-"));
  queueDir = join(root, "queue");
  store = openStore(":memory:");
  clock = createFakeClock(Date.now() + 10_000);
  deliveries.length = 0;
  events.length = 0;
  gate = { open: true };
  sessions = ["pool-1", "pool-2"];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** One daemon "life": a fresh queue and dispatcher over the same store and folders. */
function boot() {
  const log = memoryLog();
  const queue = createTaskQueue({ queueDir, maxTaskBytes: 4096, log, clock, settleMs: 0 });
  queue.ensureProject("alpha");
  const dispatcher = createDispatcher({
    store, queue, clock, log,
    freeSessions: () => sessions.filter((s) => !store.tasks(["running", "stalled"]).some((t) => t.session === s)),
    deliver: async (task) => {
      deliveries.push({ session: task.session!, prompt: task.prompt });
      store.updateTask(task.id, { delivery: "typed" });
      return { kind: "typed" };
    },
    gate: () => gate,
    notify: (event) => events.push(event),
  }, { defaultWorkdir: "/srv", projects: {}, idleAlertAfterMs: 60_000, rescanIntervalMs: 30_000 });
  return { dispatcher, log };
}
const dir = (folder: string) => join(queueDir, "alpha", folder);
const ls = (folder: string) => readdirSync(dir(folder)).sort();
const drop = (folder: string, name: string, content = `Prompt of ${name}`) => writeFileSync(join(dir(folder), name), content);
async function drain(dispatcher: ReturnType<typeof boot>["dispatcher"]) {
  for (let i = 0; i < 20; i++) {
    await dispatcher.ingest();
    await dispatcher.ingest();
    await dispatcher.dispatch();
    const running = store.tasks(["running"]);
    for (const t of running) dispatcher.complete(t.id, "ok");
    if (running.length === 0 && store.taskCounts().queued === 0) return;
  }
}
const delivered = () => deliveries.map((d) => d.prompt).sort();

describe("recover()", () => {
  test("after a restart: a typed task is kept for its transcript to settle, a claim never typed is requeued, the stray file recovered; none lost or run twice", async () => {
    const first = boot();
    drop("inbox", "a.md");
    drop("inbox", "b.md");
    drop("inbox", "c.md");
    await first.dispatcher.ingest();
    await first.dispatcher.dispatch();
    const [a, b] = store.tasks(["running"]);
    expect([a!.session, b!.session]).toEqual(["pool-1", "pool-2"]);
    drop("processing", "stray.md"); // e.g. left by an older daemon whose store was lost

    // b was claimed, but the daemon died before its delivery intent was written: nothing was typed.
    store.updateTask(b!.id, { delivery: null });
    deliveries.length = 0;
    const second = boot();
    second.dispatcher.recover();
    expect(store.task(a!.id)).toMatchObject({ state: "running", session: "pool-1" });
    expect(store.task(b!.id)).toMatchObject({ state: "queued", session: null });
    expect(ls("processing")).toEqual(["a.md", "b.md"]);
    expect(ls("inbox")).toEqual(["c.md", "stray.md"]);

    await second.dispatcher.ingest();
    await second.dispatcher.dispatch();
    expect(deliveries).toEqual([{ session: "pool-2", prompt: "Prompt of b.md" }]);
    await drain(second.dispatcher);
    second.dispatcher.complete(a!.id, "adopted and finished");
    expect(delivered()).toEqual(["Prompt of b.md", "Prompt of c.md", "Prompt of stray.md"]);
    expect(ls("done").filter((n) => n.endsWith(".md") && !n.includes(".result"))).toEqual(["a.md", "b.md", "c.md", "stray.md"]);
    expect(ls("inbox")).toEqual([]);
    expect(ls("processing")).toEqual([]);
    expect(store.taskCounts()).toMatchObject({ done: 4, queued: 0, running: 0, failed: 0 });
  });

  test("a crash between marking a task running and moving its file finishes the move instead of queueing it twice", async () => {
    const { dispatcher } = boot();
    drop("inbox", "half.md");
    const row = store.addTask({ project: "alpha", file: "half.md", priority: 0, workdir: "/srv", timeoutMs: null, prompt: "Prompt of half.md", createdAt: clock.now() });
    store.updateTask(row.id, { state: "running", session: "pool-1", startedAt: clock.now() });
    dispatcher.recover();
    expect(ls("processing")).toEqual(["half.md"]);
    expect(ls("inbox")).toEqual([]);
    await drain(dispatcher);
    expect(delivered()).toEqual(["Prompt of half.md"]);
    expect(store.tasks()).toHaveLength(1);
  });

  test("a crash between recording done/failed and moving the file finishes the move without running it again", async () => {
    const { dispatcher } = boot();
    for (const [file, state] of [["won.md", "done"], ["lost.md", "failed"]] as const) {
      drop("processing", file);
      const row = store.addTask({ project: "alpha", file, priority: 0, workdir: "/srv", timeoutMs: null, prompt: `Prompt of ${file}`, createdAt: clock.now() });
      store.updateTask(row.id, { state, startedAt: clock.now(), finishedAt: clock.now(), error: state === "failed" ? "timed out" : null });
    }
    dispatcher.recover();
    await drain(dispatcher);
    expect(deliveries).toEqual([]);
    expect(ls("done")).toEqual(["won.md"]);
    expect(ls("failed")).toEqual(["lost.error.txt", "lost.md"]);
    expect(readFileSync(join(dir("failed"), "lost.error.txt"), "utf8")).toStartWith("timed out");
  });

  test("a task's file and result reach done/ before its end is recorded: a daemon killed between the two ends it again after the restart, result kept", async () => {
    const first = boot();
    drop("inbox", "a.md");
    await first.dispatcher.ingest();
    await first.dispatcher.dispatch();
    const [a] = store.tasks(["running"]);
    // complete() as a kill -9 cuts it after its first step: the file moved with its result, the store still says running.
    const queue = createTaskQueue({ queueDir, maxTaskBytes: 4096, log: memoryLog(), clock, settleMs: 0 });
    queue.moveTo("alpha", "a.md", "processing", "done", { result: "the turn's reply" });
    expect(store.task(a!.id)).toMatchObject({ state: "running" });

    const second = boot();
    second.dispatcher.recover();
    expect(store.task(a!.id)).toMatchObject({ state: "running", session: "pool-1" });
    second.dispatcher.complete(a!.id, "the turn's reply");
    expect(store.task(a!.id)).toMatchObject({ state: "done" });
    expect(ls("done")).toEqual(["a.md", "a.result.md"]);
    expect(readFileSync(join(dir("done"), "a.result.md"), "utf8")).toBe("the turn's reply");
    expect(second.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
    expect(deliveries).toHaveLength(1);
  });

  test("complete() writes the result into done/ before it records the task done", async () => {
    const { dispatcher } = boot();
    drop("inbox", "a.md");
    await dispatcher.ingest();
    await dispatcher.dispatch();
    const [a] = store.tasks(["running"]);
    let atDone: string | undefined;
    const original = store.updateTask.bind(store);
    store.updateTask = (id, patch) => {
      if (patch.state === "done") atDone = existsSync(join(dir("done"), "a.result.md")) ? "result written" : "result missing";
      return original(id, patch);
    };
    dispatcher.complete(a!.id, "reply");
    expect(atDone).toBe("result written");
    expect(store.task(a!.id)).toMatchObject({ state: "done" });
  });

  test("a stray file that only shares its name with an old finished task is run, not filed away", async () => {
    const { dispatcher } = boot();
    const old = store.addTask({ project: "alpha", file: "daily.md", priority: 0, workdir: "/srv", timeoutMs: null, prompt: "yesterday's prompt", createdAt: clock.now() });
    store.updateTask(old.id, { state: "done", startedAt: clock.now(), finishedAt: clock.now() });
    drop("processing", "daily.md", "today's prompt");
    dispatcher.recover();
    await drain(dispatcher);
    expect(delivered()).toEqual(["today's prompt"]);
  });
});

describe("checkIdleAlert()", () => {
  /** The 0.3.1 failure: tasks queued, sessions idle, yet the dispatcher sees no free session. */
  async function stuck() {
    const booted = boot();
    sessions = [];
    drop("inbox", "waiting.md");
    await booted.dispatcher.ingest();
    await booted.dispatcher.dispatch();
    return booted;
  }
  const alerts = (log: ReturnType<typeof boot>["log"]) => log.records.filter((r) => r.msg === "tasks waiting while sessions idle");

  test("fires once, as an error and a tasks_waiting notification, after the threshold", async () => {
    const { dispatcher, log } = await stuck();
    const since = clock.now();
    dispatcher.checkIdleAlert(2);
    await clock.advance(59_000);
    dispatcher.checkIdleAlert(2);
    expect(events).toEqual([]);
    await clock.advance(2_000);
    dispatcher.checkIdleAlert(2);
    await clock.advance(600_000);
    dispatcher.checkIdleAlert(2);
    expect(events).toEqual([{ kind: "tasks_waiting", level: "critical", at: since + 61_000, queued: 1, idle_sessions: 2, since }]);
    expect(alerts(log)).toEqual([expect.objectContaining({ level: "error", queued: 1, idle_sessions: 2, since })]);
  });

  test("a new episode after the queue drained alerts again", async () => {
    const { dispatcher } = await stuck();
    dispatcher.checkIdleAlert(1);
    await clock.advance(61_000);
    dispatcher.checkIdleAlert(1);
    dispatcher.checkIdleAlert(0);
    await clock.advance(1_000);
    dispatcher.checkIdleAlert(1);
    await clock.advance(61_000);
    dispatcher.checkIdleAlert(1);
    expect(events.filter((e) => e.kind === "tasks_waiting")).toHaveLength(2);
  });

  test("stays quiet while the gate is closed", async () => {
    const { dispatcher, log } = await stuck();
    gate = { open: false, reason: "all accounts exhausted" };
    for (let i = 0; i < 10; i++) {
      dispatcher.checkIdleAlert(2);
      await clock.advance(60_000);
    }
    expect(events).toEqual([]);
    expect(alerts(log)).toEqual([]);
  });

  test("stays quiet while tasks keep being delivered", async () => {
    const booted = boot();
    sessions = ["pool-1"];
    for (let i = 0; i < 5; i++) drop("inbox", `t${i}.md`);
    for (let i = 0; i < 5; i++) {
      await booted.dispatcher.ingest();
      await booted.dispatcher.dispatch();
      booted.dispatcher.checkIdleAlert(1);
      await clock.advance(40_000);
      for (const t of store.tasks(["running"])) booted.dispatcher.complete(t.id, null);
    }
    expect(events.filter((e) => e.kind === "tasks_waiting")).toEqual([]);
  });
});
