import { beforeEach, describe, expect, test } from "bun:test";
import { createSupervisor, type Supervisor } from "../../internal/supervisor/supervisor.ts";
import { limitedFamily, modelFamily, modelMoves, wantedModel, type ModelSessionView } from "../../internal/supervisor/models.ts";
import { createQuotaMonitor } from "../../internal/quota/quota.ts";
import { createWatcher } from "../../internal/watcher/watcher.ts";
import { createEventBus } from "../../internal/notify/feed.ts";
import { openStore, type ModelLimitRow, type Store } from "../../internal/state/state.ts";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { parseConfig } from "../../internal/config/config.ts";
import type { Switcher, SwapInput } from "../../internal/switcher/switcher.ts";
import type { Dispatcher } from "../../internal/dispatcher/dispatcher.ts";
import type { Lifecycle, LaunchRequest } from "../../internal/lifecycle/lifecycle.ts";
import type { Tmux } from "../../internal/tmux/tmux.ts";
import { parseHookEvent } from "../../internal/hook/event.ts";
import { createRuntime } from "../../internal/state/runtime.ts";
import { createDispatchGate } from "../../internal/dispatcher/gate.ts";
import { createSessionTracker, type SessionTracker } from "../../internal/watcher/sessions.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { renderFrame, limitDialogLines } from "../../internal/demo/sim-screen.ts";
import { createUsageRecorder } from "../../internal/state/usage.ts";

// Per-model limits decided with every edge faked: a fake clock, an in-memory store, a lifecycle that records launches.
const T0 = Date.UTC(2026, 10, 29, 12);
const OPUS_LINE = "You've hit your Opus limit · resets 3pm (UTC)";
const RESET = Date.UTC(2026, 10, 29, 15);
const NAMES = ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"];
const uuid = (i: number) => `3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a${String(i).padStart(2, "0")}`;

const configWith = (quota: string) => parseConfig(`
state_dir: /tmp/cf-unused
accounts: [{ name: a, home: /h/a }, { name: b, home: /h/b }]
autonomous: { prefix: ccl-auto-, start_index: 11, min: 3, max: 3, workdir: /w }
quota: { poll_interval: 1s, reactivate_cooldown: 5m, confirm_polls: 2, ${quota} }
`, "", { env: {}, home: "/root" });

const frame = (state: "idle" | "busy" | "dialog", input = "") => renderFrame({
  header: "Claude Code (simulated)", entries: state === "dialog" ? [{ kind: "error", text: OPUS_LINE }] : [], input, now: T0,
  busySince: state === "busy" ? T0 - 1000 : undefined, mode: "", promptChar: "❯", cols: 80, rows: 24,
  dialog: state === "dialog" ? limitDialogLines("3pm") : undefined,
}).lines;

let clock: FakeClock;
let store: Store;
let sessions: SessionTracker;
let supervisor: Supervisor;
let launches: Array<{ name: string; model: string | null | undefined; resumeId: string | null | undefined; account: string }>;
let requests: SwapInput[];

function setup(quota: string) {
  const config = configWith(quota);
  clock = createFakeClock(T0);
  store = openStore(":memory:");
  store.syncAccounts(config.accounts, clock.now());
  launches = [];
  requests = [];
  const log = memoryLog();
  const names = { ownedNames: () => NAMES, kindOf: (n: string) => (NAMES.includes(n) ? "pool" as const : null) };
  sessions = createSessionTracker({ store, names });
  const lifecycle = {
    ...names, retiringNames: () => [], strandedNames: () => [],
    async launch(name: string, request: LaunchRequest) {
      launches.push({ name, model: request.model, resumeId: request.resumeId, account: request.account.name });
      sessions.apply(name, { kind: "launched", at: clock.now(), sessionId: request.resumeId!, account: request.account.name, home: request.account.home, workdir: "/w", resumed: true });
      return { ...sessions.apply(name, { kind: "model", at: clock.now(), model: request.model ?? null })!, resumed: true };
    },
  } as unknown as Lifecycle;
  const switcher = {
    async request(input: SwapInput) {
      requests.push(input);
      return { ok: false, message: "test switcher" };
    },
    running: () => false,
  } as unknown as Switcher;
  const runtime = createRuntime(store, config.accounts);
  const dispatcher = { ingest: async () => 0, dispatch: async () => 0, checkIdleAlert: () => undefined } as unknown as Dispatcher;
  NAMES.forEach((name, i) => {
    store.upsertSession(name, "pool", { state: "idle", account: "a", sessionId: uuid(i), launchedAt: T0 - 60_000, turnAt: T0 - 1000 }, T0);
    sessions.sighted(name, true, frame("idle"), T0);
  });
  supervisor = createSupervisor({
    config, store, lifecycle, switcher, dispatcher, sessions, runtime, clock, log,
    tmux: { listPanes: async () => [], capture: async () => new Map() } as unknown as Tmux,
    gate: createDispatchGate({ store, runtime, clock }, config.quota.reactivate_cooldown),
    events: createEventBus({ store, log, send: () => undefined, describe: (e) => ({ level: "info", message: e.kind }) }),
    delivery: { deliver: async () => ({ kind: "typed" }), typeContinue: async () => ({ kind: "typed" }), idle: async () => {} },
    quota: createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 5 * 60_000 }),
    watcher: createWatcher({ idlePolls: 3, taskTimeoutMs: 3_600_000 }),
    usage: createUsageRecorder({ store }),
  });
}

/** The notifications stored so far of `kind`, as their fields. */
const told = (kind: string) => store.events(0, 100).filter((e) => e.kind === kind).map((e) => JSON.parse(e.fields ?? "null"));

const stopFailure = (session: string, line = OPUS_LINE) => supervisor.handle({
  kind: "hook", event: parseHookEvent("StopFailure", { error: "rate_limit", last_assistant_message: line }), session, at: clock.now(),
});
const tick = () => supervisor.handle({ kind: "tick", at: clock.now() });
const models = () => Object.fromEntries(NAMES.map((n) => [n, store.session(n)!.model]));

describe("on_model_limit: fallback", () => {
  beforeEach(() => setup("on_model_limit: fallback, fallback_model: sonnet"));

  test("an Opus limit records the model's reset, keeps the account usable and requests no swap", async () => {
    await stopFailure("ccl-auto-11");
    expect(store.modelLimits()).toEqual([{ account: "a", model: "opus", resetAt: RESET, updatedAt: T0 }]);
    expect(store.accounts().find((a) => a.name === "a")!.state).toBe("available");
    expect(requests).toEqual([]);
  });

  test("relaunches the session that hit it and the account's idle sessions with --model sonnet, resuming each conversation", async () => {
    sessions.sighted("ccl-auto-11", true, frame("dialog"), T0);
    await stopFailure("ccl-auto-11");
    expect(launches).toEqual(NAMES.map((name, i) => ({ name, model: "sonnet", resumeId: uuid(i), account: "a" })));
    expect(models()).toEqual({ "ccl-auto-11": "sonnet", "ccl-auto-12": "sonnet", "ccl-auto-13": "sonnet" });
  });

  test("a session whose turn is running moves only once that turn is over", async () => {
    sessions.sighted("ccl-auto-13", true, frame("busy"), T0);
    await stopFailure("ccl-auto-11");
    expect(launches.map((l) => l.name)).toEqual(["ccl-auto-11", "ccl-auto-12"]);
    await clock.advance(1000);
    await tick();
    expect(launches.map((l) => l.name)).toEqual(["ccl-auto-11", "ccl-auto-12"]);
    sessions.sighted("ccl-auto-13", true, frame("idle"), clock.now());
    await tick();
    expect(launches.map((l) => `${l.name}:${l.model}`)).toEqual(["ccl-auto-11:sonnet", "ccl-auto-12:sonnet", "ccl-auto-13:sonnet"]);
  });

  test("the same limit seen again (transcript, pane, a late hook) relaunches nothing more", async () => {
    await stopFailure("ccl-auto-11");
    await stopFailure("ccl-auto-11");
    await supervisor.handle({ kind: "pane", session: "ccl-auto-12", pane: { session: "ccl-auto-12", paneId: "%2", pid: 1, dead: false, deadStatus: null, command: "claude", path: "/w" } as never, lines: frame("dialog"), at: clock.now() });
    await tick();
    expect(launches).toHaveLength(3);
  });

  test("the operator is told once when the model is limited and once when it is back; the limit counts in the account's usage", async () => {
    await stopFailure("ccl-auto-11");
    await stopFailure("ccl-auto-12");
    await supervisor.handle({ kind: "pane", session: "ccl-auto-12", pane: { session: "ccl-auto-12", paneId: "%2", pid: 1, dead: false, deadStatus: null, command: "claude", path: "/w" } as never, lines: frame("dialog"), at: clock.now() });
    expect(told("model_limit")).toEqual([{ account: "a", model: "opus", fallback: "sonnet", session: "ccl-auto-11", line: OPUS_LINE, reset_at: RESET }]);
    expect(store.usage.limitsSince("a", 0).map((l) => [l.kind, l.session, l.resetAt])).toEqual([["opus", "ccl-auto-11", RESET]]);
    expect(told("model_restored")).toEqual([]);
    await clock.set(RESET);
    await tick();
    await tick();
    expect(told("model_restored")).toEqual([{ account: "a", model: "opus" }]);
  });

  test("after the reset each session returns to the default model when it is idle, never during a turn", async () => {
    await stopFailure("ccl-auto-11");
    launches = [];
    await clock.set(RESET - 1);
    await tick();
    expect(launches).toEqual([]);
    await clock.set(RESET);
    NAMES.forEach((n) => sessions.sighted(n, true, frame(n === "ccl-auto-12" ? "busy" : "idle"), clock.now()));
    await tick();
    expect(store.modelLimits()).toEqual([]);
    expect(launches).toEqual([
      { name: "ccl-auto-11", model: null, resumeId: uuid(0), account: "a" },
      { name: "ccl-auto-13", model: null, resumeId: uuid(2), account: "a" },
    ]);
    sessions.sighted("ccl-auto-12", true, frame("idle"), clock.now());
    await tick();
    expect(launches.map((l) => l.name)).toEqual(["ccl-auto-11", "ccl-auto-13", "ccl-auto-12"]);
    expect(models()).toEqual({ "ccl-auto-11": null, "ccl-auto-12": null, "ccl-auto-13": null });
  });

  test("/status shows the model's cooling under its account until the reset", async () => {
    await stopFailure("ccl-auto-11");
    const flags = { version: "t", startedAt: T0, activeAccount: "a", paused: false, exhaustedUntil: null };
    const accounts = buildStatus(store, flags, clock.now()).accounts;
    expect(accounts.map((a) => [a.name, a.state, a.models])).toEqual([
      ["a", "available", [{ model: "opus", reset_at: "2026-11-29T15:00:00.000Z" }]], ["b", "available", []],
    ]);
    expect(buildStatus(store, flags, RESET).accounts[0]!.models).toEqual([]);
  });

  test("a limit of the fallback model itself swaps the account as before", async () => {
    await stopFailure("ccl-auto-11", "You've hit your Sonnet limit · resets 3pm (UTC)");
    expect(store.modelLimits()).toEqual([]);
    expect(requests.map((r) => r.reason)).toEqual(["quota"]);
  });
});

describe("on_model_limit: swap (the default)", () => {
  beforeEach(() => setup("on_model_limit: swap"));

  test("an Opus limit cools the account and requests a swap, as every limit did", async () => {
    await stopFailure("ccl-auto-11");
    expect(store.modelLimits()).toEqual([]);
    expect(store.accounts().find((a) => a.name === "a")!.state).toBe("cooling");
    expect(requests.map((r) => r.reason)).toEqual(["quota"]);
    expect(launches).toEqual([]);
  });
});

describe("the per-model rules", () => {
  const fallback = { on_model_limit: "fallback" as const, fallback_model: "sonnet" };
  const limit = (model: string, resetAt = RESET): ModelLimitRow => ({ account: "a", model, resetAt, updatedAt: T0 });

  test("modelFamily() reads aliases and full names", () => {
    expect(["sonnet", "claude-sonnet-4-5", "opus[1m]", "claude-fable-5", "haiku"].map(modelFamily)).toEqual(["sonnet", "sonnet", "opus", "fable", null]);
  });

  test("limitedFamily() takes Opus, Sonnet and Fable limits except the fallback's own, and only with fallback", () => {
    expect((["opus", "sonnet", "fable", "five_hour", "weekly", "credits"] as const).map((k) => limitedFamily(k, fallback))).toEqual(["opus", null, "fable", null, null, null]);
    expect(limitedFamily("opus", { on_model_limit: "swap", fallback_model: "sonnet" })).toBeNull();
  });

  test("wantedModel() is the fallback while a limit of the account runs, the default otherwise", () => {
    expect(wantedModel("a", [limit("opus")], fallback, RESET - 1)).toBe("sonnet");
    expect(wantedModel("a", [limit("opus")], fallback, RESET)).toBeNull();
    expect(wantedModel("b", [limit("opus")], fallback, T0)).toBeNull();
    expect(wantedModel("a", [limit("opus")], { on_model_limit: "swap" }, T0)).toBeNull();
  });

  test("modelMoves() never moves a session a prompt is being typed into or with unsent text, nor back one with a task", () => {
    const view = (name: string, patch: Partial<ModelSessionView>): ModelSessionView => ({
      name, account: "a", model: null, dead: false, hasTask: false, typing: false, activity: "idle", input: "", ...patch,
    });
    const toFallback = [view("typing", { typing: true }), view("busy", { activity: "busy" }), view("dead", { dead: true }), view("trigger", { activity: "busy" }), view("dialog", { activity: "dialog", input: null }), view("draft", { input: "half a sentence" })];
    expect(modelMoves(toFallback, () => "sonnet", "trigger").map((m) => m.session)).toEqual(["trigger", "dialog"]);
    const back = [view("task", { model: "sonnet", hasTask: true }), view("text", { model: "sonnet", input: "draft" }), view("dialog", { model: "sonnet", activity: "dialog" }), view("idle", { model: "sonnet" })];
    expect(modelMoves(back, () => null)).toEqual([{ session: "idle", model: null, why: "reset" }]);
  });
});
