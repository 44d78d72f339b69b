/**
 * @module test/janitor/janitor
 * Specs for housekeeping: only old done/ and failed/ entries are archived or deleted (never inbox/ or processing/),
 * store rows and events are pruned, runtime files go by age or liveness.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createJanitor, type JanitorOptions } from "../../internal/janitor/janitor.ts";

const DAY = 86_400_000;
const RETENTION = 7 * DAY;
let root: string;
let queueDir: string;
let spool: string;
let store: Store;
let clock: FakeClock;

// The fake "now" is 30 days after the real one, so files written by the test (ctime = real now) are 30 days old
// unless their mtime is set closer to the fake now.
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-janitor-"));
  queueDir = join(root, "queue");
  spool = join(root, "state", "spool");
  store = openStore(":memory:");
  clock = createFakeClock(Date.now() + 30 * DAY);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Writes `<queue>/alpha/<rel>`; `ageMs` undefined = as old as the real clock makes it (30 days). */
function put(rel: string, ageMs?: number, base = join(queueDir, "alpha")) {
  const path = join(base, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `content of ${rel}`);
  if (ageMs !== undefined) {
    const at = new Date(clock.now() - ageMs);
    utimesSync(path, at, at);
  }
  return path;
}
const tree = (dir = join(queueDir, "alpha")): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name).slice(dir.length + 1)).sort();
const janitor = (options: Partial<JanitorOptions> = {}) => {
  const log = memoryLog();
  return { log, janitor: createJanitor({ store, clock, log, queueDir, runtimeDirs: [spool] }, { intervalMs: 3_600_000, retentionMs: RETENTION, mode: "archive", ...options }) };
};
function seedQueue() {
  for (const f of ["inbox/old-waiting.md", "inbox/.hidden.md", "processing/old-running.md", "done/old-done.md", "done/old-done.result.md",
    "failed/old-fail.md", "failed/old-fail.error.txt", "failed/notes.txt", "failed/notes.txt.error.txt"]) put(f);
  put("done/new-done.md", 2 * DAY);
  put("done/new-done.result.md", 2 * DAY);
  put("failed/new-fail.md", DAY);
  return new Date(statSync(join(queueDir, "alpha", "done", "old-done.md")).ctimeMs).toISOString().slice(0, 7);
}

describe("sweep()", () => {
  test("archives only old done/ and failed/ entries with their companions, by month", async () => {
    const month = seedQueue();
    const report = await janitor().janitor.sweep();
    expect(tree()).toEqual([
      `archive/${month}/notes.txt`, `archive/${month}/notes.txt.error.txt`,
      `archive/${month}/old-done.md`, `archive/${month}/old-done.result.md`,
      `archive/${month}/old-fail.error.txt`, `archive/${month}/old-fail.md`,
      "done/new-done.md", "done/new-done.result.md", "failed/new-fail.md",
      "inbox/.hidden.md", "inbox/old-waiting.md", "processing/old-running.md",
    ]);
    expect(report).toMatchObject({ archived: 6, deleted: 0, errors: 0 });
  });

  test("in delete mode removes only old done/ and failed/ entries", async () => {
    seedQueue();
    const report = await janitor({ mode: "delete" }).janitor.sweep();
    expect(tree()).toEqual(["done/new-done.md", "done/new-done.result.md", "failed/new-fail.md", "inbox/.hidden.md", "inbox/old-waiting.md", "processing/old-running.md"]);
    expect(report).toMatchObject({ archived: 0, deleted: 6 });
  });

  test("never overwrites an archived file with the same name", async () => {
    const month = seedQueue();
    put(`archive/${month}/old-done.md`, 60 * DAY);
    await janitor().janitor.sweep();
    const archived = readdirSync(join(queueDir, "alpha", "archive", month)).filter((n) => n.startsWith("old-done")).sort();
    expect(archived).toEqual(["old-done-" + clock.now() + ".md", "old-done-" + clock.now() + ".result.md", "old-done.md"]);
    expect(readFileSync(join(queueDir, "alpha", "archive", month, `old-done-${clock.now()}.md`), "utf8")).toBe("content of done/old-done.md");
  });

  test("leaves inbox/ and processing/ alone even when everything is ancient", async () => {
    put("inbox/a.md", 400 * DAY);
    put("processing/b.md", 400 * DAY);
    put("inbox/c.md.tmp", 400 * DAY);
    for (const mode of ["archive", "delete"] as const) await janitor({ mode, retentionMs: 0 }).janitor.sweep();
    expect(tree()).toEqual(["inbox/a.md", "inbox/c.md.tmp", "processing/b.md"]);
  });

  test("prunes finished tasks, events and swaps older than the retention from the store", async () => {
    const task = (file: string, state: "done" | "failed" | "queued" | "running", finishedAgo: number | null) => {
      const row = store.addTask({ project: "alpha", file, priority: 0, workdir: "/w", timeoutMs: null, prompt: "p", createdAt: clock.now() - 40 * DAY });
      store.updateTask(row.id, { state, finishedAt: finishedAgo === null ? null : clock.now() - finishedAgo });
    };
    task("old-done.md", "done", 10 * DAY);
    task("old-failed.md", "failed", 8 * DAY);
    task("recent.md", "done", DAY);
    task("waiting.md", "queued", null);
    task("working.md", "running", null);
    store.addEvent({ at: clock.now() - 9 * DAY, level: "info", kind: "swap", message: "old", fields: null });
    store.addEvent({ at: clock.now() - DAY, level: "info", kind: "swap", message: "recent", fields: null });
    const swap = (ago: number) => store.createSwap({ fromAccount: "a", toAccount: "b", reason: "quota", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: clock.now() - ago });
    store.updateSwap(swap(9 * DAY).id, { step: "done" }, clock.now());
    store.updateSwap(swap(DAY).id, { step: "done" }, clock.now());
    const report = await janitor().janitor.sweep();
    expect(report).toMatchObject({ tasksPruned: 2, eventsPruned: 1, swapsPruned: 1 });
    expect(store.recentSwaps(10)).toHaveLength(1);
    expect(store.tasks().map((t) => t.file).sort()).toEqual(["recent.md", "waiting.md", "working.md"]);
    expect(store.events(0, 10).map((e) => e.message)).toEqual(["recent"]);
  });

  test("keeps the usage of the last 8 days whatever the retention, and prunes what is older", async () => {
    const limit = (ago: number) => store.usage.addLimit({ account: "a", kind: "five_hour", session: null, signal: "hook", at: clock.now() - ago, resetAt: null });
    limit(10 * DAY);
    limit(3 * DAY);
    const report = await janitor({ retentionMs: DAY }).janitor.sweep();
    expect(report.usagePruned).toBe(1);
    expect(store.usage.limitsSince("a", 0).map((l) => clock.now() - l.at)).toEqual([3 * DAY]);
  });

  test("removes runtime files older than the retention", async () => {
    const old = put("hook-1.json", 8 * DAY, spool);
    const recent = put("sub/hook-2.json", DAY, spool);
    const report = await janitor().janitor.sweep();
    expect([existsSync(old), existsSync(recent)]).toEqual([false, true]);
    expect(report.runtimeRemoved).toBe(1);
  });

  test("with isLiveRuntimeFile keeps live files whatever their age and removes dead ones after a grace period", async () => {
    const liveOld = put("live.json", 30 * DAY, spool);
    const deadRecent = put("dead.json", 10 * 60_000, spool);
    const deadFresh = put("just-written.json", 5_000, spool);
    const { janitor: j } = janitor({ isLiveRuntimeFile: (path) => path === liveOld });
    await j.sweep();
    expect([existsSync(liveOld), existsSync(deadRecent), existsSync(deadFresh)]).toEqual([true, false, true]);
  });
});

describe("start()", () => {
  test("sweeps at once and then every interval until aborted", async () => {
    const { log, janitor: j } = janitor();
    const abort = new AbortController();
    const sweeps = () => log.records.filter((r) => r.msg === "janitor sweep finished").length;
    j.start(abort.signal);
    await clock.advance(0);
    expect(sweeps()).toBe(1);
    await clock.advance(3_600_000);
    expect(sweeps()).toBe(2);
    abort.abort();
    await clock.advance(3_600_000);
    expect(sweeps()).toBe(2);
  });
});
