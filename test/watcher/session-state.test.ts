import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createSessionWriter, nextSessionState, type SessionFact } from "../../internal/watcher/session-state.ts";
import { openStore, type SessionRow } from "../../internal/state/state.ts";

const AT = Date.UTC(2026, 10, 29, 12);
const row = (patch: Partial<SessionRow> = {}): SessionRow => ({
  name: "ccl-auto-11", kind: "pool", state: "idle", sessionId: null, account: "a", home: "/h", workdir: "/w", taskId: null,
  launchedAt: AT - 60_000, activityAt: null, turnAt: null, retiringAt: null, model: null, updatedAt: AT - 60_000, ...patch,
});

describe("nextSessionState()", () => {
  const cases: Array<[string, SessionRow | null, SessionFact, ReturnType<typeof nextSessionState>]> = [
    ["a launch starts the session and keeps its task when the conversation was resumed", row({ taskId: 7 }),
      { kind: "launched", at: AT, sessionId: "s", account: "b", home: "/hb", workdir: "/w", resumed: true },
      { state: "starting", sessionId: "s", account: "b", home: "/hb", workdir: "/w", launchedAt: AT, activityAt: AT }],
    ["a launch's model is remembered", row(), { kind: "model", at: AT, model: "sonnet" }, { model: "sonnet" }],
    ["the same model again changes nothing", row({ model: "sonnet" }), { kind: "model", at: AT, model: "sonnet" }, null],
    ["back to the default model", row({ model: "sonnet" }), { kind: "model", at: AT, model: null }, { model: null }],
    ["a launch of a new conversation drops the task", row({ taskId: 7 }),
      { kind: "launched", at: AT, sessionId: "s", account: "b", home: "/hb", workdir: "/w", resumed: false },
      { state: "starting", sessionId: "s", account: "b", home: "/hb", workdir: "/w", launchedAt: AT, activityAt: AT, taskId: null }],
    ["adoption fills a missing row", null, { kind: "adopted", at: AT, workdir: "/w", account: "a", home: "/h", sessionId: "s" },
      { state: "idle", workdir: "/w", account: "a", home: "/h", activityAt: AT, sessionId: "s" }],
    ["adoption never overwrites a known session", row(), { kind: "adopted", at: AT, workdir: "/x", account: "b", home: "/hb", sessionId: null }, null],
    ["a live pane revives a dead session", row({ state: "dead" }), { kind: "revived", at: AT }, { state: "idle" }],
    ["a live pane leaves a running session alone", row({ state: "working" }), { kind: "revived", at: AT }, null],
    ["giving up marks the session dead once", row({ state: "dead" }), { kind: "gave-up", at: AT }, null],
    ["retiring is stamped once", row({ retiringAt: AT - 1 }), { kind: "retiring", at: AT }, null],
    ["a session owned again stops retiring", row({ retiringAt: AT - 1 }), { kind: "kept", at: AT }, { retiringAt: null }],
    ["SessionStart with a task keeps the session working", row(), { kind: "started", at: AT, sessionId: "s2", hasTask: true },
      { state: "working", activityAt: AT, sessionId: "s2" }],
    ["SessionStart of a session still starting waits for its prompt on screen", row({ state: "starting" }),
      { kind: "started", at: AT, sessionId: null, hasTask: false }, { state: "starting", activityAt: AT }],
    ["SessionStart of a running session without a task makes it idle (e.g. after /clear)", row({ state: "working" }),
      { kind: "started", at: AT, sessionId: null, hasTask: false }, { state: "idle", activityAt: AT }],
    ["a late UserPromptSubmit is no new turn", row(), { kind: "prompted", at: AT, current: false }, { state: "working", activityAt: AT }],
    ["a current UserPromptSubmit is the turn", row(), { kind: "prompted", at: AT, current: true }, { state: "working", activityAt: AT, turnAt: AT }],
    ["Stop with a task still running changes nothing", row({ state: "working" }), { kind: "turn-ended", at: AT, hasTask: true }, null],
    ["Stop without a task makes the session idle", row({ state: "working" }), { kind: "turn-ended", at: AT, hasTask: false }, { state: "idle", activityAt: AT }],
    ["a busy screen is the first turn since the launch", row(), { kind: "turn-seen", at: AT }, { turnAt: AT }],
    ["a busy screen after a turn changes nothing", row({ turnAt: AT - 1 }), { kind: "turn-seen", at: AT }, null],
    ["a busy screen makes the session working", row(), { kind: "screen", at: AT, activity: "busy", hasTask: false }, { state: "working", activityAt: AT }],
    ["an idle screen with a task keeps its state", row({ state: "working" }), { kind: "screen", at: AT, activity: "idle", hasTask: true }, null],
    ["an idle screen without a task makes it idle", row({ state: "working" }), { kind: "screen", at: AT, activity: "idle", hasTask: false }, { state: "idle", activityAt: AT }],
    ["a screen with no task running on the session drops the task id its release left (a kill -9 between a task's end and its release)",
      row({ state: "working", taskId: 3 }), { kind: "screen", at: AT, activity: "idle", hasTask: false }, { state: "idle", activityAt: AT, taskId: null }],
    ["a busy screen with no task running on the session drops a stale task id too", row({ state: "working", taskId: 3 }),
      { kind: "screen", at: AT, activity: "busy", hasTask: false }, { taskId: null }],
    ["a screen keeps the task id of a task still running", row({ state: "working", taskId: 3 }), { kind: "screen", at: AT, activity: "idle", hasTask: true }, null],
    ["a screen never revives a dead session", row({ state: "dead" }), { kind: "screen", at: AT, activity: "busy", hasTask: false }, null],
    ["a frozen screen stalls a working session once", row({ state: "stalled" }), { kind: "froze", at: AT }, null],
    ["a typed task makes the session working with it", row(), { kind: "task-typed", at: AT, taskId: 3 }, { state: "working", taskId: 3, activityAt: AT }],
    ["a released session is idle with no task", row({ state: "working", taskId: 3 }), { kind: "task-released", at: AT }, { state: "idle", taskId: null }],
    ["a move in place keeps launchedAt while the screen is clean", row(), { kind: "moved", at: AT, account: "b", stale: false }, { account: "b" }],
    ["a move in place with the old limit on screen restarts the turn clock", row(), { kind: "moved", at: AT, account: "b", stale: true }, { account: "b", launchedAt: AT }],
    ["a swap that brings a cut session back makes it working", row(), { kind: "swap-back", at: AT, midTask: true }, { state: "working", activityAt: AT }],
  ];
  for (const [name, before, fact, patch] of cases) test(name, () => expect(nextSessionState(before, fact)).toEqual(patch));
});

describe("createSessionWriter()", () => {
  test("writes owned sessions, ignores names neither stored nor owned, and forgets rows", () => {
    const store = openStore(":memory:");
    const writer = createSessionWriter(store, (name) => (name === "ccl-auto-11" ? "pool" : null));
    const launched = writer.apply("ccl-auto-11", { kind: "launched", at: AT, sessionId: "s", account: "a", home: "/h", workdir: "/w", resumed: false });
    expect(launched).toMatchObject({ name: "ccl-auto-11", kind: "pool", state: "starting", sessionId: "s", launchedAt: AT });
    expect(writer.apply("ccl-0", { kind: "started", at: AT, sessionId: null, hasTask: false })).toBeNull();
    expect(store.session("ccl-0")).toBeNull();
    writer.forget("ccl-auto-11");
    expect(store.session("ccl-auto-11")).toBeNull();
  });

  test("is the only code that writes session rows", () => {
    const root = join(import.meta.dir, "..", "..");
    const writers: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith(".ts") && /\.(upsertSession|deleteSession)\(/.test(readFileSync(path, "utf8"))) writers.push(path.slice(root.length + 1));
      }
    };
    for (const dir of ["internal", "cmd"]) walk(join(root, dir));
    expect(writers.sort()).toEqual(["internal/watcher/session-state.ts"]);
  });
});
