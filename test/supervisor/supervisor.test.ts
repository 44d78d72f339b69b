import { beforeEach, describe, expect, test } from "bun:test";
import { createSupervisor, swapHolds, type Supervisor } from "../../internal/supervisor/supervisor.ts";
import { createAccountDecisions } from "../../internal/supervisor/accounts.ts";
import { createQuotaMonitor } from "../../internal/quota/quota.ts";
import { createWatcher } from "../../internal/watcher/watcher.ts";
import { createEventBus, type OperatorEvent } from "../../internal/notify/feed.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { parseConfig } from "../../internal/config/config.ts";
import type { Switcher, SwapInput, SwapResult } from "../../internal/switcher/switcher.ts";
import type { Dispatcher } from "../../internal/dispatcher/dispatcher.ts";
import type { Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import type { PaneInfo, Tmux } from "../../internal/tmux/tmux.ts";
import { recordMove } from "../../internal/switcher/moved.ts";
import { pickNextAccount } from "../../internal/switcher/accounts.ts";
import { parseHookEvent } from "../../internal/hook/event.ts";
import { createRuntime, type Runtime } from "../../internal/state/runtime.ts";
import { createDispatchGate, type GateState } from "../../internal/dispatcher/gate.ts";
import { createSessionTracker } from "../../internal/watcher/sessions.ts";
import { accountUsage, createUsageRecorder } from "../../internal/state/usage.ts";
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { transcriptPath } from "../../internal/claude/home.ts";
import { tempDir } from "../support/tmux.ts";

// The decision core with every edge faked: a fake clock, an in-memory store, a switcher that records requests.
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const config = parseConfig(`
state_dir: /tmp/cf-unused
accounts: [{ name: a, home: /h/a }, { name: b, home: /h/b }]
autonomous: { prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: /w }
quota: { poll_interval: 1s, reactivate_cooldown: 5m, confirm_polls: 2 }
`, "", { env: {}, home: "/root" });

let clock: FakeClock;
let store: Store;
let supervisor: Supervisor;
/** Another supervisor on the same store (a restarted daemon), with some deps replaced. */
let build: (extra?: Partial<Parameters<typeof createSupervisor>[0]>) => Supervisor;
let runtime: Runtime;
let gate: () => GateState;
let requests: SwapInput[];
let notified: OperatorEvent[];
let swapRunning: boolean;

/** A switcher that applies the same choice rule as the real one, without touching sessions. */
function fakeSwitcher(): Switcher {
  return {
    async request(input): Promise<SwapResult> {
      requests.push(input);
      const choice = pickNextAccount(store.accounts(), clock.now(), { exclude: runtime.activeAccount(), prefer: input.to });
      if (choice.kind === "exhausted") return { ok: false, exhausted: { wakeAt: choice.wakeAt }, message: "no account with quota left" };
      const swap = store.createSwap({ fromAccount: runtime.activeAccount(), toAccount: choice.account.name, reason: input.reason, triggerSession: input.triggerSession ?? null, signal: input.signal ?? null, pattern: input.pattern ?? null, snippet: input.snippet ?? null, resetAt: input.resetAt ?? null, requestedAt: clock.now() });
      store.updateSwap(swap.id, { step: "done" }, clock.now());
      runtime.setActiveAccount(choice.account.name);
      return { ok: true, swapId: swap.id, message: "ok" };
    },
    resumeOpen: async () => undefined,
    running: () => swapRunning,
    idle: async () => undefined,
    settled: async () => undefined,
    halt: async () => undefined,
  };
}

beforeEach(() => {
  clock = createFakeClock(Date.UTC(2026, 10, 23, 12));
  store = openStore(":memory:");
  store.syncAccounts(config.accounts, clock.now());
  requests = [];
  notified = [];
  swapRunning = false;
  const log = memoryLog();
  const events = createEventBus({ store, log, send: (e) => notified.push(e), describe: (e) => ({ level: "info", message: e.kind }) });
  const tmux = { listPanes: async () => [], capture: async () => new Map() } as unknown as Tmux;
  const lifecycle = { ownedNames: () => ["ccl-auto-11"], retiringNames: () => [], strandedNames: () => [], kindOf: (n: string) => (n === "ccl-auto-11" ? "pool" : null) } as unknown as Lifecycle;
  const dispatcher = { ingest: async () => 0, dispatch: async () => 0, checkIdleAlert: () => undefined, complete: () => undefined, fail: () => undefined } as unknown as Dispatcher;
  store.upsertSession("ccl-auto-11", "pool", { state: "idle", account: "a", sessionId: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b" }, clock.now());
  runtime = createRuntime(store, config.accounts);
  gate = createDispatchGate({ store, runtime, clock }, config.quota.reactivate_cooldown);
  build = (extra = {}) => createSupervisor({
    config, store, tmux, lifecycle, dispatcher, events, clock, log, runtime, gate,
    sessions: createSessionTracker({ store, names: extra.lifecycle ?? lifecycle }),
    delivery: { deliver: async () => ({ kind: "typed" }), typeContinue: async () => ({ kind: "typed" }), idle: async () => {} },
    quota: createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 5 * 60_000 }),
    switcher: fakeSwitcher(),
    watcher: createWatcher({ idlePolls: 3, taskTimeoutMs: HOUR }),
    usage: createUsageRecorder({ store }),
    ...extra,
  });
  supervisor = build();
});

const stopFailure = (line: string) => supervisor.handle({
  kind: "hook", event: parseHookEvent("StopFailure", { error: "rate_limit", last_assistant_message: line }), session: "ccl-auto-11", at: clock.now(),
});

describe("exhausted mode", () => {
  test("enters exhausted when every account is cooling, closes the gate and notifies once", async () => {
    store.setAccountState("b", "cooling", clock.now() + 2 * HOUR, clock.now());
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(runtime.exhaustedUntil()).toBe(Date.UTC(2026, 10, 23, 14));
    expect(gate()).toEqual({ open: false, reason: "all accounts exhausted until 2026-11-23T14:00:00.000Z" });
    await clock.advance(60_000);
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(notified.filter((e) => e.kind === "accounts_exhausted")).toHaveLength(1);
  });

  test("wakes at the earliest reset and swaps to the account that came back", async () => {
    store.setAccountState("b", "cooling", clock.now() + 2 * HOUR, clock.now());
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(requests).toHaveLength(1);
    await clock.advance(HOUR);
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests).toHaveLength(1);
    await clock.set(Date.UTC(2026, 10, 23, 14));
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests.map((r) => r.reason)).toEqual(["quota", "reset"]);
    expect({ activeAccount: runtime.activeAccount(), exhaustedUntil: runtime.exhaustedUntil() }).toEqual({ activeAccount: "b", exhaustedUntil: null });
    expect(store.accounts().find((a) => a.name === "b")!.state).toBe("available");
    expect(notified.map((e) => e.kind)).toContain("account_available");
  });

  test("leaves exhausted without a swap when the active account itself comes back first", async () => {
    store.setAccountState("b", "cooling", clock.now() + 5 * HOUR, clock.now());
    await stopFailure("You've hit your 5-hour limit · resets 1pm (UTC)");
    await clock.set(Date.UTC(2026, 10, 23, 13));
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests.map((r) => r.reason)).toEqual(["quota"]);
    expect({ activeAccount: runtime.activeAccount(), exhaustedUntil: runtime.exhaustedUntil() }).toEqual({ activeAccount: "a", exhaustedUntil: null });
    expect(gate()).toEqual({ open: true });
  });
});

describe("the active account cooling with no swap under way", () => {
  test("a limit seen while a swap ran (its request refused) is acted on at the next tick: a swap to the usable account", async () => {
    store.setAccountState("a", "cooling", clock.now() + HOUR, clock.now());
    swapRunning = true;
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests).toEqual([]);
    swapRunning = false;
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests).toEqual([expect.objectContaining({ reason: "quota", from: "a" })]);
    expect(runtime.activeAccount()).toBe("b");
  });

  test("within the cooldown after a swap the active account cools without a swap (no ping-pong); after it, it swaps", async () => {
    const swap = store.createSwap({ fromAccount: "b", toAccount: "a", reason: "quota", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: clock.now() });
    store.updateSwap(swap.id, { step: "done" }, clock.now());
    store.setAccountState("a", "cooling", clock.now() + HOUR, clock.now());
    await clock.advance(60_000);
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests).toEqual([]);
    await clock.advance(5 * 60_000);
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(requests).toEqual([expect.objectContaining({ reason: "quota", from: "a" })]);
  });

  test("with every account cooling it enters exhausted mode once, not a swap attempt per poll", async () => {
    store.setAccountState("a", "cooling", clock.now() + HOUR, clock.now());
    store.setAccountState("b", "cooling", clock.now() + 2 * HOUR, clock.now());
    for (let i = 0; i < 5; i++) {
      await supervisor.handle({ kind: "tick", at: clock.now() });
      await clock.advance(5_000);
    }
    expect(requests).toHaveLength(1);
    expect(runtime.exhaustedUntil()).toBe(clock.now() - 25_000 + HOUR);
    expect(notified.filter((e) => e.kind === "accounts_exhausted")).toHaveLength(1);
  });
});

describe("the dispatch gate", () => {
  test("closes while a swap runs, during the cooldown after it, and when paused; opens by itself afterwards", async () => {
    expect(gate()).toEqual({ open: true });
    // A swap is running from the moment its row is written (requested), whatever the process doing it.
    const open = store.createSwap({ fromAccount: "a", toAccount: "b", reason: "manual", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: clock.now() });
    expect(gate()).toEqual({ open: false, reason: "a swap is running" });
    store.updateSwap(open.id, { step: "failed", error: "test" }, clock.now());
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(runtime.activeAccount()).toBe("b");
    expect(gate()).toEqual({ open: false, reason: "cooldown after a swap" });
    await clock.advance(5 * 60_000);
    expect(gate()).toEqual({ open: true });
    runtime.setPaused(true);
    expect(gate()).toEqual({ open: false, reason: "paused by the operator" });
    expect(store.getFlag("paused")).toBe("1");
    runtime.setPaused(false);
    expect(gate()).toEqual({ open: true });
  });
});

describe("the dispatch gate after an in-place swap", () => {
  test("opens as soon as the swap is done (no process restarted); a restart swap still holds new tasks for the cooldown", () => {
    const swap = (mode: string | null) => {
      const row = store.createSwap({ fromAccount: "a", toAccount: "b", reason: "quota", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: clock.now() });
      store.updateSwap(row.id, { step: "verifying", plan: JSON.stringify({ sessions: [], ...(mode ? { mode } : {}) }) }, clock.now());
      expect(gate()).toEqual({ open: false, reason: "a swap is running" });
      store.updateSwap(row.id, { step: "done" }, clock.now());
    };
    swap("in-place");
    expect(gate()).toEqual({ open: true });
    swap("restart");
    expect(gate()).toEqual({ open: false, reason: "cooldown after a swap" });
    // A plan written before swap modes existed was a restart.
    store.updateSwap(store.lastDoneSwap()!.id, { plan: JSON.stringify({ sessions: [] }) }, clock.now());
    expect(gate()).toEqual({ open: false, reason: "cooldown after a swap" });
  });
});

describe("typing during a swap", () => {
  test("holds every session until the swap only verifies, except those a restart swap has already relaunched", () => {
    const plan = JSON.stringify({ sessions: [{ name: "ccl-auto-11", relaunchedAt: 1 }, { name: "ccl-auto-12" }] });
    expect(swapHolds(null, "ccl-auto-11")).toBe(false);
    expect(swapHolds({ step: "stopping", plan }, "ccl-auto-11")).toBe(true);
    expect(swapHolds({ step: "relaunching", plan }, "ccl-auto-11")).toBe(false);
    expect(swapHolds({ step: "relaunching", plan }, "ccl-auto-12")).toBe(true);
    expect(swapHolds({ step: "relaunching", plan: null }, "ccl-auto-11")).toBe(true);
    expect(swapHolds({ step: "closing", plan }, "ccl-auto-11")).toBe(true);
    expect(swapHolds({ step: "verifying", plan }, "ccl-auto-12")).toBe(false);
  });
});

describe("hook signals", () => {
  test("a transient StopFailure (529, not your usage limit) never requests a swap", async () => {
    for (const line of [
      "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.",
      "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited",
      'API Error: 500 {"type":"error","error":{"type":"api_error","message":"rate limit exceeded upstream"}}',
    ]) await stopFailure(line);
    expect(requests).toEqual([]);
    expect(store.accounts().every((a) => a.state === "available")).toBe(true);
  });

  test("a late StopFailure from a turn on the old account cools the old account, not the one the session moved to", async () => {
    runtime.setActiveAccount("b");
    store.upsertSession("ccl-auto-11", "pool", { account: "b" }, clock.now());
    await supervisor.handle({
      kind: "hook", event: parseHookEvent("StopFailure", { error: "rate_limit", last_assistant_message: "You've hit your 5-hour limit · resets 3pm (UTC)", transcript_path: "/h/a/projects/-w/3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b.jsonl" }), session: "ccl-auto-11", at: clock.now(),
    });
    expect(requests).toEqual([]);
    expect(store.accounts().map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "available"]]);
  });

  test("a limit line that shows after an in-place move (a request sent before it, answered late) is the old account's", async () => {
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(runtime.activeAccount()).toBe("b");
    // The move: the session row says b, with a's limit line recorded; its own turn had started after b was last touched.
    await clock.advance(1_000);
    recordMove(store, "ccl-auto-11", { from: "a", line: "You've hit your 5-hour limit · resets 3pm (UTC)", at: clock.now() });
    store.upsertSession("ccl-auto-11", "pool", { account: "b", turnAt: clock.now() }, clock.now());
    // Claude Code, slow under load, draws the 429 of its last request on a only now: seen on several polls.
    const lines = ["❯ Task 1: count to three", "  ⎿  You've hit your 5-hour limit · resets 3pm (UTC)", "", "─".repeat(40), "❯ ", "─".repeat(40)];
    const pane = { session: "ccl-auto-11", paneId: "%1", pid: 1, dead: false } as unknown as PaneInfo;
    for (let i = 0; i < 3; i++) {
      await clock.advance(500);
      await supervisor.handle({ kind: "pane", session: "ccl-auto-11", pane, lines, at: clock.now() });
    }
    expect(store.accounts().map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "available"]]);
    expect(runtime.exhaustedUntil()).toBeNull();
    expect(requests).toHaveLength(1);
  });

  test("a limit record written before a restart swap relaunched the session, read by a poll that began before it, is the old account's", async () => {
    const line = "You've hit your 5-hour limit · resets 3pm (UTC)";
    const written = clock.now();
    // A swap is running (another session's limit): this session is relaunched on b while a poll pass is under way.
    runtime.setActiveAccount("b");
    const pollBegan = clock.now() + 500;
    await clock.advance(1_000);
    recordMove(store, "ccl-auto-11", { from: "a", line, at: clock.now(), restart: true });
    store.upsertSession("ccl-auto-11", "pool", { account: "b", launchedAt: clock.now() }, clock.now());
    const record = {
      type: "assistant", isApiErrorMessage: true, error: "rate_limit", apiError: "usage_limit_reached", apiErrorStatus: 429, timestamp: new Date(written).toISOString(),
      message: { model: "<synthetic>", role: "assistant", content: [{ type: "text", text: line }] },
    };
    await supervisor.handle({ kind: "transcript", session: "ccl-auto-11", account: "b", record, at: pollBegan });
    expect(store.accounts().map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "available"]]);
    expect(requests).toEqual([]);
  });

  test("an event from a session the daemon does not own is ignored", async () => {
    await supervisor.handle({ kind: "hook", event: parseHookEvent("StopFailure", { error: "rate_limit", last_assistant_message: "You've hit your 5-hour limit · resets 3pm (UTC)" }), session: "ccl-0", at: clock.now() });
    expect(requests).toEqual([]);
  });

  test("the forensic record names the trigger session, signal, pattern and snippet", async () => {
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(requests[0]).toMatchObject({ reason: "quota", triggerSession: "ccl-auto-11", signal: "hook", snippet: "You've hit your 5-hour limit · resets 3pm (UTC)", resetAt: Date.UTC(2026, 10, 23, 15) });
    expect(requests[0]!.pattern).toContain("quota");
  });
});

describe("exact resets from the ledger", () => {
  test("a limit record's exact reset replaces the screen's minute-rounded one for the same limit, and only that", async () => {
    const accounts = createAccountDecisions({
      config, store, clock, log: memoryLog(), runtime, switcher: fakeSwitcher(),
      quota: createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 5 * 60_000 }),
      events: createEventBus({ store, log: memoryLog(), send: () => undefined, describe: (e) => ({ level: "info", message: e.kind }) }),
    });
    const rounded = Date.UTC(2026, 10, 23, 15, 17);
    store.setAccountState("a", "cooling", rounded, clock.now());
    accounts.exactReset("a", rounded + 37_000);
    expect(store.accounts().find((a) => a.name === "a")!.resetAt).toBe(rounded + 37_000);
    // Another limit (hours away) is not this one; an available account is not cooled by it.
    accounts.exactReset("a", rounded + 3 * HOUR);
    accounts.exactReset("b", rounded);
    expect(store.accounts().map((a) => [a.name, a.state, a.resetAt])).toEqual([["a", "cooling", rounded + 37_000], ["b", "available", null]]);
    expect(accounts.accountOfEvent("/h/a/projects/-w/x.jsonl")).toBe("a");
  });
});

describe("usage at a glance", () => {
  test("a limit is recorded once with its kind, session and signal, however many signals report it", async () => {
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    await clock.advance(10_000);
    await stopFailure("You've hit your 5-hour limit · resets 3pm (UTC)");
    expect(store.usage.limitsSince("a", 0)).toEqual([
      { account: "a", kind: "five_hour", session: "ccl-auto-11", signal: "hook", at: Date.UTC(2026, 10, 23, 12), resetAt: Date.UTC(2026, 10, 23, 15) },
    ]);
    // A later, longer limit on the account that cools is a new one.
    await stopFailure("You've hit your weekly limit · resets Nov 26, 9am (UTC)");
    expect(store.usage.limitsSince("a", 0).map((l) => l.kind)).toEqual(["five_hour", "weekly"]);
    // The swap it requested keeps the kind too.
    expect(requests[0]).toMatchObject({ reason: "quota", limit: "five_hour" });
  });

  test("a prompt in a session's transcript is a turn of the account it runs on; a tool result is not", async () => {
    const record = (content: unknown) => ({ type: "user", promptId: "p-1", message: { role: "user", content } });
    await supervisor.handle({ kind: "transcript", session: "ccl-auto-11", account: "a", record: record("fix the tests"), at: clock.now() });
    await supervisor.handle({ kind: "transcript", session: "ccl-auto-11", account: "a", record: record([{ type: "tool_result", content: "ok" }]), at: clock.now() });
    expect(accountUsage(store, "a", clock.now())).toMatchObject({ turns_today: 1, turns_7d: 1 });
    expect(accountUsage(store, "b", clock.now()).turns_today).toBe(0);
  });

  test("turns taken while the daemon was down are counted once when it starts again, each on its own day", async () => {
    const home = tempDir("cf-turns-");
    try {
      const row = store.session("ccl-auto-11")!;
      const path = transcriptPath(home.path, row.workdir, row.sessionId!);
      mkdirSync(dirname(path), { recursive: true });
      const prompt = (text: string, at: number) => appendFileSync(path, `${JSON.stringify({ type: "user", promptId: text, message: { role: "user", content: text }, timestamp: new Date(at).toISOString() })}\n`);
      const pane = { session: "ccl-auto-11", paneId: "%1", pid: 1, command: "claude", path: "/w", dead: false, deadStatus: null, activityAt: 0, width: 80, height: 24 };
      const lifecycle = { ownedNames: () => ["ccl-auto-11"], observedNames: () => ["ccl-auto-11"], retiringNames: () => [], strandedNames: () => [], kindOf: () => "pool" } as unknown as Lifecycle;
      const tmux = { listPanes: async () => [pane], capture: async () => new Map([["%1", ["❯ "]]]) } as unknown as Tmux;
      const daemon = () => build({ tmux, lifecycle, sessionHome: () => home.path });
      const turns = () => accountUsage(store, "a", clock.now());
      prompt("before the daemon ever followed it", clock.now() - 2 * DAY);
      const first = daemon();
      await first.poll();
      prompt("while it runs", clock.now());
      await first.poll();
      expect(turns()).toMatchObject({ turns_today: 1, turns_7d: 1 });
      // The daemon stops; two turns are taken meanwhile, one of them yesterday.
      prompt("while it was down, yesterday", clock.now() - DAY);
      prompt("while it was down", clock.now());
      const second = daemon();
      await second.poll();
      await second.poll();
      expect(turns()).toMatchObject({ turns_today: 2, turns_7d: 3 });
      prompt("after the restart", clock.now());
      await second.poll();
      expect(turns()).toMatchObject({ turns_today: 3, turns_7d: 4 });
    } finally {
      await home.cleanup();
    }
  });

  test("time active counts from the first tick that sees a session on the account", async () => {
    await supervisor.handle({ kind: "tick", at: clock.now() });
    await clock.advance(HOUR);
    expect(accountUsage(store, "a", clock.now()).active_today_s).toBe(3600);
  });
});

describe("an account changed on another fleet host (docs/fleet.md)", () => {
  test("the active account cooling there: a quota swap from it here, with its reset", async () => {
    const resetAt = clock.now() + HOUR;
    store.setAccountState("a", "cooling", resetAt, clock.now()); // the bridge writes the local row first
    await supervisor.accountChanged({ name: "a", state: "cooling", resetAt, by: "host-b" });
    expect(requests).toEqual([expect.objectContaining({ reason: "quota", from: "a", resetAt })]);
    expect(runtime.activeAccount()).toBe("b");
  });

  test("the active account needs a login there: a login swap from it here", async () => {
    store.setAccountState("a", "needs_login", null, clock.now());
    await supervisor.accountChanged({ name: "a", state: "needs_login", resetAt: null, by: "host-b" });
    expect(requests).toEqual([expect.objectContaining({ reason: "login", from: "a" })]);
  });

  test("the active account disabled there stays in use here until the next swap, as when disabled here", async () => {
    store.setAccountState("a", "disabled", null, clock.now());
    await supervisor.accountChanged({ name: "a", state: "disabled", resetAt: null, by: "host-b" });
    expect(requests).toEqual([]);
  });

  test("an account no session here runs on, or one available again: no swap", async () => {
    store.setAccountState("b", "cooling", clock.now() + HOUR, clock.now());
    await supervisor.accountChanged({ name: "b", state: "cooling", resetAt: clock.now() + HOUR, by: "host-b" });
    await supervisor.accountChanged({ name: "a", state: "available", resetAt: null, by: "host-b" });
    expect(requests).toEqual([]);
  });
});
