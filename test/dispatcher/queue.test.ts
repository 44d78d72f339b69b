/**
 * @module test/dispatcher/queue
 * Specs for the queue folders on a temp dir: inbox scanning (dotfiles, non-.md names, symlinks, bad names), the
 * inbox rule on a fake clock (settle across two scans, or arrived whole by rename), no-overwrite moves with
 * companions, atomic writeTask, and the real fs.watch including re-arming.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { ARRIVAL_GRACE_MS, createTaskQueue, DEFAULT_SETTLE_MS, TaskQueueError, type TaskQueue } from "../../internal/dispatcher/queue.ts";

let root: string;
let queueDir: string;
let clock: FakeClock;
let queue: TaskQueue;
const inbox = (p = "alpha") => join(queueDir, p, "inbox");
const drop = (name: string, content: string | Uint8Array = "Do the thing.\n", p = "alpha") => writeFileSync(join(inbox(p), name), content);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-queue-"));
  queueDir = join(root, "queue");
  clock = createFakeClock(Date.now() + 10_000);
  // settle 0: files a test writes are whole, so they are read at first sight; "the inbox rule" specs use the default.
  queue = createTaskQueue({ queueDir, maxTaskBytes: 1024, log: memoryLog(), clock, settleMs: 0 });
  queue.ensureProject("alpha");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("ensureProject() and projects()", () => {
  test("creates the four folders and lists only validly named project folders", () => {
    expect(readdirSync(join(queueDir, "alpha")).sort()).toEqual(["done", "failed", "inbox", "processing"]);
    queue.ensureProject("beta.2");
    mkdirSync(join(queueDir, ".hidden"));
    mkdirSync(join(queueDir, "bad name"));
    writeFileSync(join(queueDir, "stray.md"), "x");
    expect(queue.projects()).toEqual(["alpha", "beta.2"]);
  });

  test("refuses a project name that could escape the queue", () => {
    expect(() => queue.ensureProject("../etc")).toThrow(TaskQueueError);
  });
});

describe("scanInbox()", () => {
  test("lists a stable task file as ready", async () => {
    drop("fix.md");
    const entries = await queue.scanInbox();
    expect(entries).toEqual([expect.objectContaining({ project: "alpha", file: "fix.md", path: join(inbox(), "fix.md"), status: "ready" })]);
    expect(await queue.readTask(entries[0]!)).toEqual({ ok: true, prompt: "Do the thing.", frontMatter: {} });
  });

  test("ignores dotfiles and names that are not *.md, and leaves them in place", async () => {
    const names = [".hidden.md", "..md", ".draft.md.tmp", "upload.md.tmp", "notes.txt", "job.md.part", "README"];
    for (const name of names) drop(name);
    expect(await queue.scanInbox()).toEqual([]);
    expect(readdirSync(inbox()).sort()).toEqual([...names].sort());
  });

  test("accepts a symlink whose target is inside the queue", async () => {
    mkdirSync(join(queueDir, "shared"));
    writeFileSync(join(queueDir, "shared", "t.txt"), "shared prompt");
    symlinkSync(join(queueDir, "shared", "t.txt"), join(inbox(), "linked.md"));
    const entries = await queue.scanInbox();
    expect(entries.map((e) => [e.file, e.status])).toEqual([["linked.md", "ready"]]);
    expect(await queue.readTask(entries[0]!)).toMatchObject({ ok: true, prompt: "shared prompt" });
  });

  test("rejects symlinks pointing outside the queue, dangling links, directories and bad names", async () => {
    writeFileSync(join(root, "secret.txt"), "not yours");
    symlinkSync(join(root, "secret.txt"), join(inbox(), "outside.md"));
    symlinkSync(join(root, "missing.txt"), join(inbox(), "dangling.md"));
    mkdirSync(join(inbox(), "folder.md"));
    drop("a..b.md");
    const byFile = Object.fromEntries((await queue.scanInbox()).map((e) => [e.file, e]));
    expect(byFile["outside.md"]).toMatchObject({ status: "rejected", reason: expect.stringContaining("outside the queue directory") });
    expect(byFile["dangling.md"]).toMatchObject({ status: "rejected", reason: "symlink target does not exist" });
    expect(byFile["folder.md"]).toMatchObject({ status: "rejected", reason: "not a regular file" });
    expect(byFile["a..b.md"]).toMatchObject({ status: "rejected", reason: expect.stringContaining("invalid task file name") });
  });

  test("refuses to read a file over the limit", async () => {
    drop("huge.md", "x".repeat(5000));
    const [entry] = await queue.scanInbox();
    expect(await queue.readTask(entry!)).toEqual({ ok: false, reason: "file is 5000 bytes, over the 1024-byte limit" });
  });
});

describe("the inbox rule", () => {
  /** A queue with the default `dispatcher.settle`, on a fake clock at real time. */
  const ruled = () => {
    clock = createFakeClock(Date.now());
    return createTaskQueue({ queueDir, maxTaskBytes: 1024, log: memoryLog(), clock });
  };
  const files = async (q: TaskQueue) => (await q.scanInbox()).map((e) => e.file);
  const waitFor = async (cond: () => boolean | Promise<boolean>, ms = 5_000) => {
    const until = Date.now() + ms;
    while (!(await cond()) && Date.now() < until) await Bun.sleep(10);
    return cond();
  };
  /**
   * Renames a sentinel in and waits until the queue reads it (the clock creeping 1 ms per look, far below the settle
   * time): the watch delivers events in order, so every earlier event has been handled by then.
   */
  const watchCaughtUp = async (q: TaskQueue, name: string) => {
    drop(`.${name}.tmp`, "sentinel");
    renameSync(join(inbox(), `.${name}.tmp`), join(inbox(), name));
    return waitFor(async () => {
      await clock.advance(1);
      return (await files(q)).includes(name);
    });
  };

  test("a file written in place is never read at first sight, even with an old mtime", async () => {
    const q = ruled();
    drop("old.md", "First half only");
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(inbox(), "old.md"), hourAgo, hourAgo);
    expect(await files(q)).toEqual([]);
    expect(q.settlingUntil()).toBe(clock.now() + DEFAULT_SETTLE_MS);
    await clock.advance(DEFAULT_SETTLE_MS);
    expect(await files(q)).toEqual(["old.md"]);
  });

  test("a file written in two halves with a pause is read whole, once unchanged across two scans a settle time apart", async () => {
    const q = ruled();
    drop("big.md", "---\npriority: 1\n---\nFirst half");
    expect(await files(q)).toEqual([]);
    await clock.advance(600);
    appendFileSync(join(inbox(), "big.md"), " and second half.\n");
    expect(await files(q)).toEqual([]);
    await clock.advance(600);
    expect(await files(q)).toEqual([]);
    expect(q.settlingUntil()).toBe(clock.now() + DEFAULT_SETTLE_MS - 600);
    await clock.advance(DEFAULT_SETTLE_MS - 600);
    const entries = await q.scanInbox();
    expect(entries.map((e) => e.file)).toEqual(["big.md"]);
    expect(q.settlingUntil()).toBeNull();
    expect(await q.readTask(entries[0]!)).toEqual({ ok: true, prompt: "First half and second half.", frontMatter: { priority: 1 } });
  });

  test.each([
    ["renamed", (from: string, to: string) => renameSync(from, to)],
    ["hard-linked", (from: string, to: string) => linkSync(from, to)],
  ])("a file %s in whole is read after the arrival grace, long before the settle time", async (_how, move) => {
    const q = ruled();
    let calls = 0;
    const stop = q.watch(() => calls++);
    try {
      await Bun.sleep(50);
      const started = clock.now();
      drop(".job.md.tmp", "Arrived whole.\n");
      move(join(inbox(), ".job.md.tmp"), join(inbox(), "job.md"));
      expect(await waitFor(() => calls > 0)).toBe(true);
      await clock.advance(ARRIVAL_GRACE_MS);
      const entries = await q.scanInbox();
      expect(entries.map((e) => e.file)).toEqual(["job.md"]);
      expect(await q.readTask(entries[0]!)).toMatchObject({ ok: true, prompt: "Arrived whole." });
      expect(clock.now() - started).toBeLessThan(DEFAULT_SETTLE_MS);
    } finally {
      stop();
    }
  });

  test("a file being written in place is not taken for one that arrived whole", async () => {
    const q = ruled();
    const stop = q.watch(() => {});
    await Bun.sleep(50);
    const fd = openSync(join(inbox(), "slow.md"), "w");
    try {
      writeSync(fd, "Part one,");
      expect(await watchCaughtUp(q, "sentinel.md")).toBe(true);
      expect(await files(q)).toEqual(["sentinel.md"]);
      writeSync(fd, " part two.\n");
      closeSync(fd);
      expect(await files(q)).toEqual(["sentinel.md"]);
      await clock.advance(DEFAULT_SETTLE_MS);
      const entries = await q.scanInbox();
      const slow = entries.find((e) => e.file === "slow.md");
      expect(slow && (await q.readTask(slow))).toMatchObject({ ok: true, prompt: "Part one, part two." });
    } finally {
      stop();
    }
  });

  test("a file its writer still holds open is not read however long it stays unchanged, and is read once closed", async () => {
    const q = ruled();
    const fd = openSync(join(inbox(), "held.md"), "w");
    const reader = openSync(join(inbox(), "held.md"), "r"); // a reader alone does not hold a file back
    try {
      writeSync(fd, "First half, then a long pause");
      expect(await files(q)).toEqual([]);
      for (let i = 0; i < 3; i++) {
        await clock.advance(DEFAULT_SETTLE_MS);
        expect(await files(q)).toEqual([]);
        expect(q.settlingUntil()).toBe(clock.now() + DEFAULT_SETTLE_MS);
      }
      writeSync(fd, " and the end.\n");
    } finally {
      closeSync(fd);
    }
    try {
      expect(await files(q)).toEqual([]);
      await clock.advance(DEFAULT_SETTLE_MS);
      const [entry] = await q.scanInbox();
      expect(await q.readTask(entry!)).toMatchObject({ ok: true, prompt: "First half, then a long pause and the end." });
    } finally {
      closeSync(reader);
    }
  });

  test("a file renamed in and then written to waits for the settle rule", async () => {
    const q = ruled();
    const stop = q.watch(() => {});
    try {
      await Bun.sleep(50);
      drop(".grow.md.tmp", "Start,");
      renameSync(join(inbox(), ".grow.md.tmp"), join(inbox(), "grow.md"));
      appendFileSync(join(inbox(), "grow.md"), " and more.");
      expect(await watchCaughtUp(q, "sentinel.md")).toBe(true);
      expect(await files(q)).toEqual(["sentinel.md"]);
      await clock.advance(DEFAULT_SETTLE_MS);
      expect(await files(q)).toEqual(["grow.md", "sentinel.md"]);
    } finally {
      stop();
    }
  });

  test("a task written by writeTask() is read after the arrival grace, without waiting for the watch", async () => {
    const q = ruled();
    await q.writeTask("alpha", "api.md", "From the API\n");
    expect(await files(q)).toEqual([]);
    expect(q.settlingUntil()).toBe(clock.now() + ARRIVAL_GRACE_MS);
    await clock.advance(ARRIVAL_GRACE_MS);
    expect(await files(q)).toEqual(["api.md"]);
  });

  test("with dispatcher.settle 0 every file is read at first sight", async () => {
    drop("now.md", "half");
    expect(await files(queue)).toEqual(["now.md"]);
  });
});

describe("moveTo()", () => {
  test("renames into the target folder and writes the error beside it", () => {
    drop("bad.md");
    const path = queue.reject("alpha", "bad.md", "empty prompt");
    expect(path).toBe(join(queueDir, "alpha", "failed", "bad.md"));
    expect(existsSync(join(inbox(), "bad.md"))).toBe(false);
    expect(readFileSync(join(queueDir, "alpha", "failed", "bad.error.txt"), "utf8")).toStartWith("empty prompt\n");
  });

  test("never overwrites: a clashing name gets -<epoch ms> before .md, companions follow it", () => {
    mkdirSync(join(queueDir, "alpha", "done"), { recursive: true });
    writeFileSync(join(queueDir, "alpha", "done", "job.md"), "the earlier job");
    drop("job.md", "the new job");
    const first = queue.moveTo("alpha", "job.md", "inbox", "processing");
    const final = queue.moveTo("alpha", "job.md", "processing", "done", { result: "all green" });
    expect(final).toBe(join(queueDir, "alpha", "done", `job-${clock.now()}.md`));
    expect(first).toBe(join(queueDir, "alpha", "processing", "job.md"));
    expect(readFileSync(join(queueDir, "alpha", "done", "job.md"), "utf8")).toBe("the earlier job");
    expect(readFileSync(final, "utf8")).toBe("the new job");
    expect(readFileSync(join(queueDir, "alpha", "done", `job-${clock.now()}.result.md`), "utf8")).toBe("all green");
  });

  test("throws for a missing source and leaves no companion behind", () => {
    expect(() => queue.moveTo("alpha", "ghost.md", "processing", "failed", { error: "x" })).toThrow();
    expect(readdirSync(join(queueDir, "alpha", "failed"))).toEqual([]);
  });
});

describe("writeTask()", () => {
  test("writes atomically under the given name and leaves no temporary file", async () => {
    const path = await queue.writeTask("alpha", "api.md", "---\npriority: 2\n---\nFrom the API\n");
    expect(path).toBe(join(inbox(), "api.md"));
    expect(readFileSync(path, "utf8")).toBe("---\npriority: 2\n---\nFrom the API\n");
    expect(readdirSync(inbox())).toEqual(["api.md"]);
  });

  test("generates task-<timestamp>-<rand>.md when no name is given", async () => {
    const path = await queue.writeTask("alpha", undefined, "hello");
    expect(path).toMatch(/\/task-\d{8}T\d{9}Z-[0-9a-f]{6}\.md$/);
  });

  test("refuses to overwrite an existing file and keeps its content", async () => {
    drop("taken.md", "original");
    await expect(queue.writeTask("alpha", "taken.md", "replacement")).rejects.toMatchObject({ code: "exists" });
    expect(readFileSync(join(inbox(), "taken.md"), "utf8")).toBe("original");
    expect(readdirSync(inbox())).toEqual(["taken.md"]);
  });

  test.each(["../escape.md", "..md", ".hidden.md", "a/b.md", "notes.txt"])("refuses the name %p", async (name) => {
    await expect(queue.writeTask("alpha", name, "x")).rejects.toMatchObject({ code: "invalid_name" });
    expect(readdirSync(inbox())).toEqual([]);
    expect(readdirSync(queueDir)).toEqual(["alpha"]);
  });

  test("refuses an unknown or invalid project and invalid content", async () => {
    await expect(queue.writeTask("nope", "a.md", "x")).rejects.toMatchObject({ code: "unknown_project" });
    await expect(queue.writeTask("../x", "a.md", "x")).rejects.toMatchObject({ code: "invalid_project" });
    await expect(queue.writeTask("alpha", "a.md", "---\nfoo: 1\n---\nx")).rejects.toMatchObject({ code: "invalid_task" });
    await expect(queue.writeTask("alpha", "a.md", "  \n")).rejects.toMatchObject({ code: "invalid_task", message: expect.stringContaining("empty prompt") });
  });
});

describe("watch()", () => {
  const waitFor = async (cond: () => boolean, ms = 3_000) => {
    const until = Date.now() + ms;
    while (!cond() && Date.now() < until) await Bun.sleep(10);
    return cond();
  };

  test("calls onChange when a file lands in an inbox and not for moves between other folders", async () => {
    let calls = 0;
    const stop = queue.watch(() => calls++);
    try {
      await Bun.sleep(50);
      writeFileSync(join(queueDir, "alpha", "done", "x.md"), "finished");
      await Bun.sleep(150);
      expect(calls).toBe(0);
      drop("new.md");
      expect(await waitFor(() => calls > 0)).toBe(true);
    } finally {
      stop();
    }
  });

  test("coalesces a burst of events into few calls", async () => {
    let calls = 0;
    const stop = queue.watch(() => calls++);
    try {
      await Bun.sleep(50);
      for (let i = 0; i < 200; i++) drop(`burst-${i}.md`);
      await Bun.sleep(300);
      expect(calls).toBeGreaterThan(0);
      expect(calls).toBeLessThan(20);
    } finally {
      stop();
    }
  });

  test.each([
    ["an inbox", () => inbox()],
    ["the whole queue directory", () => queueDir],
  ])("keeps seeing new files after %s is removed and recreated", async (_what, dir) => {
    let calls = 0;
    const stop = queue.watch(() => calls++);
    try {
      await Bun.sleep(50);
      rmSync(dir(), { recursive: true });
      mkdirSync(inbox(), { recursive: true });
      await Bun.sleep(400);
      calls = 0;
      drop("after.md");
      expect(await waitFor(() => calls > 0)).toBe(true);
    } finally {
      stop();
    }
  });
});
