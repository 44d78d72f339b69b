import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { openStore } from "../../internal/state/state.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { tempDir } from "../support/tmux.ts";

const NOW = Date.UTC(2026, 10, 23, 12);

describe("openStore()", () => {
  test("opens in WAL mode with a busy timeout and the current schema version", () => {
    const dir = tempDir();
    const path = join(dir.path, "state.db");
    openStore(path).close();
    const db = new Database(path);
    expect(db.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(8);
    db.close();
    const again = openStore(path);
    again.probeWrite(NOW);
    again.close();
    dir.cleanup();
  });

  test("refuses a file written by a newer binary", () => {
    const dir = tempDir();
    const path = join(dir.path, "state.db");
    const db = new Database(path);
    db.run("PRAGMA user_version = 99");
    db.close();
    expect(() => openStore(path)).toThrow(/schema version 99 is newer/);
    dir.cleanup();
  });

  test("records per-model limits, moves a reset, clears one, and keeps each session's model", () => {
    const store = openStore(":memory:");
    store.setModelLimit("a", "opus", NOW + 1000, NOW);
    store.setModelLimit("a", "opus", NOW + 2000, NOW + 1);
    store.setModelLimit("b", "fable", NOW + 3000, NOW);
    expect(store.modelLimits()).toEqual([
      { account: "a", model: "opus", resetAt: NOW + 2000, updatedAt: NOW + 1 }, { account: "b", model: "fable", resetAt: NOW + 3000, updatedAt: NOW },
    ]);
    store.clearModelLimit("a", "opus");
    expect(store.modelLimits().map((l) => l.account)).toEqual(["b"]);
    expect(store.upsertSession("s", "pool", { model: "sonnet" }, NOW).model).toBe("sonnet");
    expect(store.upsertSession("s", "pool", { model: null }, NOW).model).toBeNull();
    store.close();
  });

  test("keeps account state across a config re-sync and drops removed accounts", () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "a", home: "/a", priority: 0 }, { name: "b", home: "/b", priority: 1 }], NOW);
    store.setAccountState("a", "cooling", NOW + 1000, NOW);
    store.syncAccounts([{ name: "a", home: "/a2", priority: 1 }, { name: "c", home: "/c", priority: 0 }], NOW);
    expect(store.accounts()).toEqual([
      { name: "c", home: "/c", priority: 0, state: "available", resetAt: null, updatedAt: NOW },
      { name: "a", home: "/a2", priority: 1, state: "cooling", resetAt: NOW + 1000, updatedAt: NOW },
    ]);
  });

  test("records sessions, tasks, swaps and events, and projects them into /status", () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "a", home: "/a", priority: 0 }], NOW);
    const task = store.addTask({ project: "web", file: "fix.md", priority: 2, workdir: "/w", timeoutMs: null, prompt: "fix", createdAt: NOW });
    store.updateTask(task.id, { state: "running", session: "ccl-auto-11", startedAt: NOW });
    store.upsertSession("ccl-auto-11", "pool", { state: "working", account: "a", sessionId: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b", taskId: task.id, workdir: "/w" }, NOW);
    const swap = store.createSwap({ fromAccount: "a", toAccount: "b", reason: "quota", triggerSession: "ccl-auto-11", signal: "pane", pattern: "p", snippet: "You've hit your limit", resetAt: NOW + 1000, requestedAt: NOW });
    expect(store.openSwap()?.id).toBe(swap.id);
    store.updateSwap(swap.id, { step: "done" }, NOW + 5);
    expect(store.openSwap()).toBeNull();
    store.addEvent({ at: NOW, level: "warning", kind: "swap_started", message: "m", fields: null });
    const status = buildStatus(store, { version: "1", startedAt: NOW, activeAccount: "a", paused: false, exhaustedUntil: null }, NOW);
    expect(status.sessions[0]).toMatchObject({ name: "ccl-auto-11", state: "working", task: "web/fix.md", account: "a" });
    expect(status.tasks).toEqual({ queued: 0, running: 1, done: 0, failed: 0, stalled: 0 });
    expect(status.last_swap).toMatchObject({ from: "a", to: "b", trigger_session: "ccl-auto-11", snippet: "You've hit your limit", step: "done" });
    expect(store.events(0, 10)).toHaveLength(1);
  });

  test("a session keeps the home it runs in after its account leaves the config", () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "a", home: "/a", priority: 0 }, { name: "b", home: "/b", priority: 1 }], NOW);
    store.upsertSession("ccl-auto-11", "pool", { state: "idle", account: "a", home: "/a" }, NOW);
    store.syncAccounts([{ name: "b", home: "/b", priority: 0 }], NOW);
    expect(store.accounts().map((a) => a.name)).toEqual(["b"]);
    expect(store.session("ccl-auto-11")).toMatchObject({ account: "a", home: "/a" });
  });

  test("a config swap (sessions moved off a removed account) is not the last swap the cooldown counts from", () => {
    const store = openStore(":memory:");
    const swap = (reason: string, at: number) => {
      const row = store.createSwap({ fromAccount: "a", toAccount: "b", reason, triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: at });
      store.updateSwap(row.id, { step: "done" }, at);
      return row.id;
    };
    expect(store.lastDoneSwap()).toBeNull();
    swap("config", NOW);
    expect(store.lastDoneSwap()).toBeNull();
    const quota = swap("quota", NOW + 1);
    swap("config", NOW + 2);
    expect(store.lastDoneSwap()?.id).toBe(quota);
  });
});

test("a kill -9 in the middle of writes leaves a consistent store", async () => {
  const dir = tempDir();
  const path = join(dir.path, "state.db");
  const writer = `
    import { openStore } from ${JSON.stringify(join(import.meta.dir, "../../internal/state/state.ts"))};
    const store = openStore(${JSON.stringify(path)});
    store.syncAccounts([{ name: "a", home: "/a", priority: 0 }], 1);
    for (let i = 0; ; i++) {
      const t = store.addTask({ project: "p", file: "f" + i + ".md", priority: 0, workdir: "/w", timeoutMs: null, prompt: "x".repeat(500), createdAt: i });
      store.updateTask(t.id, { state: "running", session: "s" });
      store.upsertSession("s", "pool", { state: "working", taskId: t.id }, i);
      if (i === 200) console.log("ready");
    }`;
  const proc = Bun.spawn([process.execPath, "-e", writer], { stdout: "pipe" });
  const reader = proc.stdout.getReader();
  await reader.read();
  proc.kill("SIGKILL");
  await proc.exited;
  const db = new Database(path);
  expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
  db.close();
  const store = openStore(path);
  const counts = store.taskCounts();
  expect(counts.running + counts.queued).toBeGreaterThan(200);
  const session = store.session("s")!;
  expect(store.task(session.taskId!)).not.toBeNull();
  store.close();
  dir.cleanup();
}, 20_000);
