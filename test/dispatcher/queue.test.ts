/**
 * @module test/dispatcher/queue
 * Specs for the queue folders on a temp dir: inbox scanning (dotfiles, *.tmp, half-written files, symlinks, bad
 * names), no-overwrite moves with companions, atomic writeTask, and the real fs.watch including re-arming.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { createTaskQueue, TaskQueueError, type TaskQueue } from "../../internal/dispatcher/queue.ts";

let root: string;
let queueDir: string;
let clock: FakeClock;
let queue: TaskQueue;
const inbox = (p = "alpha") => join(queueDir, p, "inbox");
const drop = (name: string, content: string | Uint8Array = "Do the thing.\n", p = "alpha") => writeFileSync(join(inbox(p), name), content);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-queue-"));
  queueDir = join(root, "queue");
  // Ten seconds ahead of the files' real mtimes: every file written by a test is already "stable".
  clock = createFakeClock(Date.now() + 10_000);
  queue = createTaskQueue({ queueDir, maxTaskBytes: 1024, log: memoryLog(), clock });
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

  test("ignores dotfiles and *.tmp files and leaves them in place", async () => {
    for (const name of [".hidden.md", "..md", ".draft.md.tmp", "upload.md.tmp"]) drop(name);
    expect(await queue.scanInbox()).toEqual([]);
    expect(readdirSync(inbox()).sort()).toEqual(["..md", ".draft.md.tmp", ".hidden.md", "upload.md.tmp"]);
  });

  test("does not read a half-written file until its size and mtime stop changing", async () => {
    clock = createFakeClock(Date.now());
    queue = createTaskQueue({ queueDir, maxTaskBytes: 1024, log: memoryLog(), clock });
    drop("big.md", "---\npriority: 1\n");
    expect(await queue.scanInbox()).toEqual([]);
    expect(queue.settlingUntil()).not.toBeNull();
    await clock.advance(1_000);
    appendFileSync(join(inbox(), "big.md"), "---\nFirst half");
    expect(await queue.scanInbox()).toEqual([]);
    await clock.advance(1_000);
    appendFileSync(join(inbox(), "big.md"), " and second half.\n");
    expect(await queue.scanInbox()).toEqual([]);
    await clock.advance(1_000);
    const entries = await queue.scanInbox();
    expect(entries.map((e) => e.status)).toEqual(["ready"]);
    expect(queue.settlingUntil()).toBeNull();
    expect(await queue.readTask(entries[0]!)).toEqual({ ok: true, prompt: "First half and second half.", frontMatter: { priority: 1 } });
  });

  test("a file with an mtime in the future still becomes ready once unchanged for a while", async () => {
    drop("future.md");
    const future = new Date(clock.now() + 3_600_000);
    utimesSync(join(inbox(), "future.md"), future, future);
    expect(await queue.scanInbox()).toEqual([]);
    await clock.advance(600);
    expect((await queue.scanInbox()).map((e) => e.file)).toEqual(["future.md"]);
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
    drop("notes.txt");
    drop("a..b.md");
    const byFile = Object.fromEntries((await queue.scanInbox()).map((e) => [e.file, e]));
    expect(byFile["outside.md"]).toMatchObject({ status: "rejected", reason: expect.stringContaining("outside the queue directory") });
    expect(byFile["dangling.md"]).toMatchObject({ status: "rejected", reason: "symlink target does not exist" });
    expect(byFile["folder.md"]).toMatchObject({ status: "rejected", reason: "not a regular file" });
    expect(byFile["notes.txt"]).toMatchObject({ status: "rejected", reason: expect.stringContaining("invalid task file name") });
    expect(byFile["a..b.md"]).toMatchObject({ status: "rejected", reason: expect.stringContaining("invalid task file name") });
  });

  test("refuses to read a file over the limit", async () => {
    drop("huge.md", "x".repeat(5000));
    const [entry] = await queue.scanInbox();
    expect(await queue.readTask(entry!)).toEqual({ ok: false, reason: "file is 5000 bytes, over the 1024-byte limit" });
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
