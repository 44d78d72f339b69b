/**
 * @module test/dispatcher/dispatcher
 * Specs for ingest and dispatch on a temp queue, a memory store and a fake session layer: ordering, exactly-once
 * delivery, every bad input ending in failed/ with a reason, retries, the gate, requeue and the watch-driven loop.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createTaskQueue } from "../../internal/dispatcher/queue.ts";
import { createDispatcher, DISPATCH_LATENCY_METRIC, type DispatchEvent } from "../../internal/dispatcher/dispatcher.ts";
import { accountUsage, createUsageRecorder, type UsageRecorder } from "../../internal/state/usage.ts";

const SESSIONS = ["pool-1", "pool-2", "pool-3", "pool-4", "pool-5"];
let root: string;
let queueDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-dispatch-"));
  queueDir = join(root, "queue");
  for (const d of ["default", "alpha/api", "alpha/web"]) mkdirSync(srv(d), { recursive: true });
});
/** A working directory that exists, under the test's temp folder. */
const srv = (path: string) => join(root, "srv", path);
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A dispatcher on a temp queue, a memory store and a fake session layer that records every delivery. */
function harness(opts: { sessions?: string[]; maxBytes?: number; clock?: FakeClock; store?: Store; settleMs?: number; usage?: UsageRecorder } = {}) {
  const store = opts.store ?? openStore(":memory:");
  const clock = opts.clock ?? createFakeClock(Date.now() + 10_000);
  const log = memoryLog();
  // settle 0 unless asked: files a test writes are whole (the inbox rule has its own specs in queue.test.ts).
  const queue = createTaskQueue({ queueDir, maxTaskBytes: opts.maxBytes ?? 256 * 1024, log, clock, settleMs: opts.settleMs ?? 0 });
  queue.ensureProject("alpha");
  const sessions = opts.sessions ?? SESSIONS.slice(0, 1);
  const delivered: Array<{ session: string; prompt: string; workdir: string }> = [];
  const events: DispatchEvent[] = [];
  const observed: Array<[string, number]> = [];
  const h = {
    store, clock, log, queue, delivered, events, observed,
    gate: { open: true } as { open: true } | { open: false; reason: string },
    deliver: async (_session: string, _prompt: string, _workdir: string): Promise<boolean | "not-ready"> => true,
    drop: (name: string, content: string | Uint8Array = `Prompt of ${name}\n`, project = "alpha") =>
      writeFileSync(join(queueDir, project, "inbox", name), content),
    ls: (folder: string, project = "alpha") => readdirSync(join(queueDir, project, folder)).sort(),
    read: (folder: string, name: string) => readFileSync(join(queueDir, "alpha", folder, name), "utf8"),
    running: () => store.tasks(["running"]),
    /** Ingests, dispatches, then finishes every running task, until nothing is queued or running. */
    async drain() {
      for (let i = 0; i < 100; i++) {
        await h.dispatcher.ingest();
        await h.dispatcher.dispatch();
        const running = h.running();
        for (const t of running) h.dispatcher.complete(t.id, `result of ${t.file}`);
        if (running.length === 0 && store.taskCounts().queued === 0) return;
      }
      throw new Error("drain(): tasks still queued after 100 rounds");
    },
    dispatcher: undefined as unknown as ReturnType<typeof createDispatcher>,
  };
  h.dispatcher = createDispatcher({
    store, queue, clock, log,
    // Like the real supervisor: owned idle sessions without a task, lowest index first.
    freeSessions: () => sessions.filter((s) => !store.tasks(["running", "stalled"]).some((t) => t.session === s)),
    deliver: async (task) => {
      const { session, prompt, workdir } = { ...task, session: task.session! };
      delivered.push({ session, prompt, workdir });
      const outcome = await h.deliver(session, prompt, workdir);
      if (outcome === "not-ready") return { kind: "not-ready", reason: "busy" };
      if (outcome) store.updateTask(task.id, { delivery: "typed", attempts: task.attempts + 1 });
      return { kind: "typed" };
    },
    gate: () => h.gate,
    notify: (event) => events.push(event),
    metrics: { observe: (name, seconds) => observed.push([name, seconds]) },
    usage: opts.usage,
  }, { defaultWorkdir: srv("default"), projects: { alpha: { workdir: srv("alpha") } }, idleAlertAfterMs: 60_000, rescanIntervalMs: 30_000 });
  return h;
}

describe("ingest() and dispatch()", () => {
  test("a dropped file is queued and delivered to the lowest free session", async () => {
    const h = harness({ sessions: ["pool-1", "pool-2", "pool-3"] });
    h.drop("fix.md", "---\nworkdir: api\ntimeout: 30m\n---\nFix the login bug.\n");
    expect(await h.dispatcher.ingest()).toBe(1);
    expect(await h.dispatcher.ingest()).toBe(0);
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered).toEqual([{ session: "pool-1", prompt: "Fix the login bug.", workdir: srv("alpha/api") }]);
    expect(h.ls("inbox")).toEqual([]);
    expect(h.ls("processing")).toEqual(["fix.md"]);
    expect(h.store.tasks()).toEqual([expect.objectContaining({ file: "fix.md", state: "running", session: "pool-1", timeoutMs: 1_800_000, attempts: 1 })]);
    expect(h.observed).toEqual([[DISPATCH_LATENCY_METRIC, 0]]);
  });

  test("a project without its own workdir uses the default one", async () => {
    const h = harness();
    h.queue.ensureProject("beta");
    h.drop("b.md", "beta work", "beta");
    await h.dispatcher.ingest();
    await h.dispatcher.dispatch();
    expect(h.delivered).toEqual([{ session: "pool-1", prompt: "beta work", workdir: srv("default") }]);
  });

  test("runs the highest priority first, then the oldest", async () => {
    const h = harness();
    h.gate = { open: false, reason: "paused by operator" };
    h.drop("old-normal.md");
    await h.dispatcher.ingest();
    await h.clock.advance(5_000);
    h.drop("new-normal.md");
    h.drop("urgent.md", "---\npriority: 5\n---\nPrompt of urgent.md");
    h.drop("soon.md", "---\npriority: 1\n---\nPrompt of soon.md");
    h.drop("later.md", "---\npriority: -1\n---\nPrompt of later.md");
    await h.dispatcher.ingest();
    h.gate = { open: true };
    await h.drain();
    expect(h.delivered.map((d) => d.prompt)).toEqual(["urgent.md", "soon.md", "old-normal.md", "new-normal.md", "later.md"].map((f) => `Prompt of ${f}`));
  });

  test("ten files and five sessions: every task delivered exactly once as sessions free up", async () => {
    const h = harness({ sessions: SESSIONS });
    for (let i = 0; i < 10; i++) h.drop(`t${i}.md`);
    await h.dispatcher.ingest();
    expect(await h.dispatcher.dispatch()).toBe(5);
    expect(h.delivered.map((d) => d.session)).toEqual(SESSIONS);
    expect(await h.dispatcher.dispatch()).toBe(0);
    for (const t of h.running().slice(0, 2)) h.dispatcher.complete(t.id, "ok");
    expect(await h.dispatcher.dispatch()).toBe(2);
    expect(h.running().length).toBe(5);
    await h.drain();
    const prompts = h.delivered.map((d) => d.prompt).sort();
    expect(prompts).toEqual(Array.from({ length: 10 }, (_, i) => `Prompt of t${i}.md`).sort());
    expect(h.ls("done").filter((n) => !n.includes(".result"))).toHaveLength(10);
    expect(h.ls("inbox")).toEqual([]);
    expect(h.ls("processing")).toEqual([]);
    expect(h.store.taskCounts()).toMatchObject({ done: 10, queued: 0, running: 0 });
  });

  test("complete() moves the file to done/ with its result and notifies with the duration", async () => {
    const h = harness();
    h.drop("r.md");
    await h.dispatcher.ingest();
    await h.dispatcher.dispatch();
    await h.clock.advance(90_000);
    const [task] = h.running();
    h.dispatcher.complete(task!.id, "All tests pass.");
    expect(h.ls("done")).toEqual(["r.md", "r.result.md"]);
    expect(h.read("done", "r.result.md")).toBe("All tests pass.");
    expect(h.events).toEqual([expect.objectContaining({ kind: "task_done", project: "alpha", file: "r.md", session: "pool-1", duration_ms: 90_000 })]);
    h.dispatcher.complete(task!.id, "again");
    expect(h.ls("done")).toEqual(["r.md", "r.result.md"]);
  });

  test("a prompt full of tmux key names and escape sequences reaches deliver() byte for byte", async () => {
    const h = harness();
    const prompt = "C-c Enter \x1b[201~ Escape; tmux send-keys -t ccl-0 C-d \x1b[200~ $(rm -rf ~) `whoami` \u0003";
    h.drop("keys.md", `${prompt}\n`);
    await h.dispatcher.ingest();
    await h.dispatcher.dispatch();
    expect(h.delivered.map((d) => d.prompt)).toEqual([prompt]);
  });
});

describe("bad inputs end in failed/ with a reason", () => {
  const outside = () => join(root, "outside.txt");
  test.each([
    { name: "invalid front matter", file: "yaml.md", content: "---\npriority: [1\n---\nbody", reason: "invalid YAML front matter at line" },
    { name: "unknown front-matter key", file: "key.md", content: "---\nmodel: opus\n---\nbody", reason: 'unknown front-matter key "model"' },
    { name: "empty prompt", file: "empty.md", content: "---\npriority: 1\n---\n\n", reason: "empty prompt" },
    { name: "binary file", file: "image.md", content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]), reason: "binary file" },
    { name: "file over the default 256 KiB limit", file: "big.md", content: "x".repeat(300 * 1024), reason: "file is 307200 bytes, over the 262144-byte limit" },
    { name: "*.md name with '..'", file: "a..b.md", content: "hello", reason: "invalid task file name" },
  ])("$name", async ({ file, content, reason }) => {
    const h = harness();
    h.drop(file, content);
    expect(await h.dispatcher.ingest()).toBe(0);
    expect(h.ls("inbox")).toEqual([]);
    expect(h.ls("failed")).toContain(file);
    const stem = file.endsWith(".md") ? file.slice(0, -3) : file;
    expect(h.read("failed", `${stem}.error.txt`)).toContain(reason);
    expect(h.store.tasks()).toEqual([expect.objectContaining({ file, state: "failed", error: expect.stringContaining(reason) })]);
    expect(h.events).toEqual([expect.objectContaining({ kind: "task_failed", project: "alpha", file, reason: expect.stringContaining(reason) })]);
    expect(await h.dispatcher.dispatch()).toBe(0);
  });

  test.each([
    ["does not exist", (dir: string) => dir, "missing"],
    ["is not a directory", (dir: string) => { writeFileSync(dir, "a file"); return dir; }, "plain-file"],
  ])("a task whose workdir %s fails with that reason and is never delivered", async (what, make, name) => {
    const h = harness();
    const dir = make(srv(name));
    h.drop("job.md", `---\nworkdir: ${dir}\n---\nWork there.\n`);
    h.drop("next.md", "The next task still runs.\n");
    await h.dispatcher.ingest();
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered).toEqual([{ session: "pool-1", prompt: "The next task still runs.", workdir: srv("alpha") }]);
    expect(existsSync(srv("missing"))).toBe(false);
    expect(h.read("failed", "job.error.txt")).toStartWith(`workdir ${dir} ${what}\n`);
    expect(h.store.taskByFile("alpha", "job.md")).toMatchObject({ state: "failed", error: `workdir ${dir} ${what}` });
    expect(h.events).toEqual([expect.objectContaining({ kind: "task_failed", file: "job.md", reason: `workdir ${dir} ${what}` })]);
  });

  test("the size limit is configurable", async () => {
    const h = harness({ maxBytes: 100 });
    h.drop("medium.md", "y".repeat(101));
    await h.dispatcher.ingest();
    expect(h.read("failed", "medium.error.txt")).toStartWith("file is 101 bytes, over the 100-byte limit");
  });

  test("a symlink pointing outside the queue is moved (not followed) to failed/", async () => {
    const h = harness();
    writeFileSync(outside(), "secret");
    symlinkSync(outside(), join(queueDir, "alpha", "inbox", "link.md"));
    await h.dispatcher.ingest();
    expect(h.ls("failed")).toEqual(["link.error.txt", "link.md"]);
    expect(h.read("failed", "link.error.txt")).toContain("symlink points outside the queue directory");
    expect(readFileSync(outside(), "utf8")).toBe("secret");
    expect(h.delivered).toEqual([]);
  });

  test("dotfiles such as .hidden.md and ..md, and names that are not *.md, are ignored and never read or moved", async () => {
    const h = harness();
    h.drop(".hidden.md");
    h.drop("..md");
    h.drop("notes.txt");
    expect(await h.dispatcher.ingest()).toBe(0);
    expect(h.ls("inbox")).toEqual(["..md", ".hidden.md", "notes.txt"]);
    expect(h.ls("failed")).toEqual([]);
    expect(h.store.tasks()).toEqual([]);
  });

  test("500 malformed files at once all end in failed/, notifications stay bounded, and dispatch still works", async () => {
    const h = harness();
    for (let i = 0; i < 500; i++) h.drop(`bad-${i}.md`, i % 2 ? "" : "---\nnope: 1\n---\nx");
    expect(await h.dispatcher.ingest()).toBe(0);
    expect(h.ls("inbox")).toEqual([]);
    expect(h.ls("failed").filter((n) => n.endsWith(".error.txt"))).toHaveLength(500);
    expect(h.store.taskCounts().failed).toBe(500);
    expect(h.events.length).toBe(11);
    expect(h.events.at(-1)).toMatchObject({ kind: "task_failed", file: "490 more files" });
    h.drop("good.md");
    await h.dispatcher.ingest();
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered.map((d) => d.prompt)).toEqual(["Prompt of good.md"]);
  });
});

describe("delivery", () => {
  test("a file changed after it was queued is delivered as it is when it moves to processing/", async () => {
    const h = harness();
    h.drop("edit.md", "First draft, cut off");
    expect(await h.dispatcher.ingest()).toBe(1);
    h.drop("edit.md", "---\nworkdir: web\ntimeout: 5m\n---\nThe whole prompt.\n");
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered).toEqual([{ session: "pool-1", prompt: "The whole prompt.", workdir: srv("alpha/web") }]);
    expect(h.store.tasks()[0]).toMatchObject({ prompt: "The whole prompt.", workdir: srv("alpha/web"), timeoutMs: 300_000 });
  });

  test("a file that turned invalid after it was queued fails with the reason instead of delivering the old text", async () => {
    const h = harness();
    h.drop("gone-bad.md", "Fine at first");
    await h.dispatcher.ingest();
    h.drop("gone-bad.md", "---\nmodel: opus\n---\nbody");
    expect(await h.dispatcher.dispatch()).toBe(0);
    expect(h.delivered).toEqual([]);
    expect(h.ls("failed")).toEqual(["gone-bad.error.txt", "gone-bad.md"]);
    expect(h.store.tasks()[0]).toMatchObject({ state: "failed", error: expect.stringContaining('unknown front-matter key "model"') });
  });

  test("a half-written file is not read until it is stable, then delivered whole", async () => {
    const h = harness({ clock: createFakeClock(Date.now()), settleMs: 1_000 });
    const path = join(queueDir, "alpha", "inbox", "slow.md");
    writeFileSync(path, "---\npriority: 2\n");
    expect(await h.dispatcher.ingest()).toBe(0);
    await h.clock.advance(400);
    appendFileSync(path, "---\nPart one,");
    expect(await h.dispatcher.ingest()).toBe(0);
    await h.clock.advance(400);
    appendFileSync(path, " part two.\n");
    expect(await h.dispatcher.ingest()).toBe(0);
    expect(h.ls("failed")).toEqual([]);
    await h.clock.advance(1_000);
    expect(await h.dispatcher.ingest()).toBe(1);
    await h.dispatcher.dispatch();
    expect(h.delivered.map((d) => d.prompt)).toEqual(["Part one, part two."]);
  });

  test("a delivery is typed once: whether it arrived is for the task follower, never a second paste", async () => {
    const h = harness();
    h.deliver = async () => false;
    h.drop("once.md");
    await h.dispatcher.ingest();
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered).toHaveLength(1);
    expect(h.store.tasks()[0]).toMatchObject({ state: "running", session: "pool-1" });
  });

  test("a deliver() that throws leaves the task running for the follower to settle, typed at most once", async () => {
    const h = harness();
    h.deliver = async () => { throw new Error("Cannot run tmux paste-buffer: exit 1"); };
    h.drop("boom.md");
    await h.dispatcher.ingest();
    await h.dispatcher.dispatch();
    await h.dispatcher.dispatch();
    expect(h.delivered).toHaveLength(1);
    expect(h.store.tasks()[0]).toMatchObject({ state: "running", session: "pool-1" });
    expect(h.log.records.some((r) => r.msg === "task delivery failed")).toBe(true);
  });

  test.each(["swap in progress", "all accounts exhausted", "paused by operator"])("a closed gate (%s) dispatches nothing until it reopens", async (reason) => {
    const h = harness();
    h.gate = { open: false, reason };
    h.drop("wait.md");
    await h.dispatcher.ingest();
    expect(await h.dispatcher.dispatch()).toBe(0);
    expect(await h.dispatcher.dispatch()).toBe(0);
    expect(h.delivered).toEqual([]);
    expect(h.ls("inbox")).toEqual(["wait.md"]);
    expect(h.log.records.filter((r) => r.msg === "dispatch paused")).toEqual([expect.objectContaining({ reason, queued: 1 })]);
    h.gate = { open: true };
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered.map((d) => d.prompt)).toEqual(["Prompt of wait.md"]);
  });

  test("requeue() keeps the file in processing/ and the next dispatch delivers the same prompt again", async () => {
    const h = harness();
    h.drop("again.md");
    await h.dispatcher.ingest();
    await h.dispatcher.dispatch();
    const [task] = h.running();
    h.dispatcher.requeue(task!.id, "session relaunched without its conversation");
    expect(h.store.task(task!.id)).toMatchObject({ state: "queued", session: null });
    expect(h.ls("processing")).toEqual(["again.md"]);
    h.drop("again.md", "a different task with the same name");
    await h.dispatcher.ingest();
    await h.dispatcher.ingest();
    expect(h.store.tasks(["queued"]).map((t) => t.prompt)).toEqual(["Prompt of again.md", "a different task with the same name"]);
    expect(await h.dispatcher.dispatch()).toBe(1);
    expect(h.delivered.map((d) => d.prompt)).toEqual(["Prompt of again.md", "Prompt of again.md"]);
    h.dispatcher.complete(task!.id, null);
    await h.drain();
    expect(h.delivered.map((d) => d.prompt)).toEqual(["Prompt of again.md", "Prompt of again.md", "a different task with the same name"]);
    expect(h.ls("done")).toEqual(["again-" + h.clock.now() + ".md", "again-" + h.clock.now() + ".result.md", "again.md"]);
  });

  test("start() delivers a file dropped into the inbox without any other call", async () => {
    const h = harness();
    const abort = new AbortController();
    h.dispatcher.start(abort.signal);
    try {
      await Bun.sleep(50);
      await h.queue.writeTask("alpha", "watched.md", "Seen by the watcher.\n");
      const until = Date.now() + 3_000;
      while (h.delivered.length === 0 && Date.now() < until) await Bun.sleep(10);
      expect(h.delivered.map((d) => d.prompt)).toEqual(["Seen by the watcher."]);
    } finally {
      abort.abort();
    }
  });

  test("start() picks up a file that was still being written once it settles", async () => {
    const h = harness({ clock: createFakeClock(Date.now()), settleMs: 1_000 });
    const abort = new AbortController();
    h.dispatcher.start(abort.signal);
    try {
      h.drop("fresh.md", "Written just now.\n");
      // The dispatcher has seen the file once it waits for it to settle; until the clock moves, nothing is delivered.
      const seen = Date.now() + 3_000;
      while (h.queue.settlingUntil() === null && Date.now() < seen) await Bun.sleep(10);
      expect(h.queue.settlingUntil()).not.toBeNull();
      expect(h.delivered).toEqual([]);
      await h.clock.advance(1_100); // past the settle time, and the dispatcher's recheck 1 ms after it
      const until = Date.now() + 3_000;
      while (h.delivered.length === 0 && Date.now() < until) await Bun.sleep(10);
      expect(h.delivered.map((d) => d.prompt)).toEqual(["Written just now."]);
    } finally {
      abort.abort();
    }
  });
});

describe("usage at a glance", () => {
  test("a task done or failed counts for the account its session ran on; a file rejected at the door counts for none", async () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "a", home: "/h/a", priority: 0 }], Date.now());
    const h = harness({ sessions: ["pool-1", "pool-2"], store, usage: createUsageRecorder({ store }) });
    for (const s of ["pool-1", "pool-2"]) store.upsertSession(s, "pool", { state: "idle", account: "a" }, h.clock.now());
    h.drop("ok.md");
    h.drop("bad.md");
    h.drop("empty.md", "");
    await h.dispatcher.ingest();
    await h.dispatcher.dispatch();
    const [first, second] = h.running();
    h.dispatcher.complete(first!.id, "done");
    h.dispatcher.fail(second!.id, "gave up");
    expect(h.ls("failed")).toContain("empty.error.txt");
    expect(accountUsage(store, "a", h.clock.now())).toMatchObject({ tasks_done_today: 1, tasks_failed_today: 1, tasks_done_7d: 1, tasks_failed_7d: 1 });
  });
});
