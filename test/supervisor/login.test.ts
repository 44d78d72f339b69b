/**
 * @module test/supervisor/login
 * Specs for the lost-login case of the account decisions (supervisor/accounts.ts, supervisor/login.ts) and the
 * operator's way back (control.setAccountEnabled), with a fake clock, an in-memory store, a switcher that records
 * what it is asked and applies the real account choice, and a fake login-file clock.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { createAccountDecisions, type AccountDecisions } from "../../internal/supervisor/accounts.ts";
import { createQuotaMonitor } from "../../internal/quota/quota.ts";
import { classifyPane, classifyStopFailure, classifyTranscriptRecord, type Verdict } from "../../internal/quota/classify.ts";
import { createEventBus, type OperatorEvent } from "../../internal/notify/feed.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { parseConfig } from "../../internal/config/config.ts";
import type { SwapInput, SwapResult, Switcher } from "../../internal/switcher/switcher.ts";
import { pickNextAccount } from "../../internal/switcher/accounts.ts";
import { createRuntime, type Runtime } from "../../internal/state/runtime.ts";
import { createControl } from "../../internal/control/control.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { loginFix } from "../../internal/supervisor/login.ts";
import { renderEvent } from "../../internal/notify/events.ts";

const config = parseConfig(`
state_dir: /tmp/cf-unused
accounts: [{ name: a, home: /h/a }, { name: b, home: /h/b }]
autonomous: { prefix: ccl-auto-, start_index: 11, min: 1, max: 2, workdir: /w }
quota: { poll_interval: 1s, reactivate_cooldown: 5m, confirm_polls: 2 }
`, "", { env: {}, home: "/root" });
const REVOKED = "OAuth token revoked · Please run /login";
const OPTIONS = { now: 0, defaultZone: "UTC" };

let clock: FakeClock;
let store: Store;
let runtime: Runtime;
let accounts: AccountDecisions;
let requests: SwapInput[];
let notified: OperatorEvent[];
let mtimes: Record<string, number>;
/** What the fake switcher answers instead of swapping (e.g. a swap already running). */
let refuse: SwapResult | null;

const state = (name: string) => store.accounts().find((a) => a.name === name)!.state;
const kinds = () => notified.map((e) => e.kind);
const hookVerdict = (line = REVOKED): Verdict => classifyStopFailure({ hook_event_name: "StopFailure", error: "authentication_failed", last_assistant_message: line }, OPTIONS);

beforeEach(() => {
  clock = createFakeClock(Date.UTC(2026, 10, 29, 1, 40));
  store = openStore(":memory:");
  store.syncAccounts(config.accounts.map((a, i) => ({ ...a, priority: i })), clock.now());
  for (const name of ["ccl-auto-11", "ccl-auto-12"]) store.upsertSession(name, "pool", { state: "working", account: "a", launchedAt: clock.now() - 60_000, turnAt: clock.now() - 1000 }, clock.now());
  runtime = createRuntime(store, config.accounts);
  requests = [];
  notified = [];
  mtimes = { "/h/a": 1000, "/h/b": 1000 };
  refuse = null;
  const switcher: Switcher = {
    async request(input) {
      requests.push(input);
      if (refuse) return refuse;
      const choice = pickNextAccount(store.accounts(), clock.now(), { exclude: input.from ?? runtime.activeAccount() });
      if (choice.kind === "exhausted") return { ok: false, exhausted: { wakeAt: choice.wakeAt }, message: "no account with quota left" };
      const swap = store.createSwap({ fromAccount: input.from ?? null, toAccount: choice.account.name, reason: input.reason, triggerSession: input.triggerSession ?? null, signal: input.signal ?? null, pattern: input.pattern ?? null, snippet: input.snippet ?? null, resetAt: null, requestedAt: clock.now() });
      store.updateSwap(swap.id, { step: "done" }, clock.now());
      runtime.setActiveAccount(choice.account.name);
      return { ok: true, swapId: swap.id, message: "ok" };
    },
    resumeOpen: async () => undefined, running: () => false, idle: async () => undefined, settled: async () => undefined, halt: async () => undefined,
  };
  const events = createEventBus({ store, log: memoryLog(), send: (e) => notified.push(e), describe: (e) => ({ level: "info", message: e.kind }) });
  accounts = createAccountDecisions({
    config, store, clock, log: memoryLog(), runtime, switcher, events, loginMtime: (home) => mtimes[home] ?? 0,
    quota: createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 5 * 60_000 }),
  });
});

describe("a lost login (decision core)", () => {
  test("marks the account needs_login, tells the operator once with the fix, and moves its sessions (reason login)", async () => {
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    expect(state("a")).toBe("needs_login");
    expect(requests).toEqual([{ reason: "login", from: "a", triggerSession: "ccl-auto-11", signal: "hook", pattern: "stop_failure:login:revoked", snippet: REVOKED }]);
    expect(runtime.activeAccount()).toBe("b");
    const told = notified.filter((e) => e.kind === "login_lost");
    expect(told).toEqual([{ kind: "login_lost", at: clock.now(), account: "a", home: "/h/a", session: "ccl-auto-11", cause: "revoked", line: REVOKED, fix: "CLAUDE_CONFIG_DIR=/h/a claude" }]);
    expect(renderEvent(told[0]!, "UTC").text).toContain("Fix: run CLAUDE_CONFIG_DIR=/h/a claude, then /login in it.");
    expect(told[0]!.level ?? "critical").toBe("critical");

    // The other session, the transcript record and the screen say the same thing: one episode, one message, one swap.
    await clock.advance(200);
    await accounts.onVerdict("ccl-auto-12", hookVerdict(), "hook", clock.now(), "a");
    const record = { type: "assistant", isApiErrorMessage: true, error: "authentication_failed", apiErrorStatus: 403, message: { content: [{ type: "text", text: REVOKED }] } };
    await accounts.onVerdict("ccl-auto-12", classifyTranscriptRecord(record, OPTIONS), "transcript", clock.now(), "a");
    expect(kinds().filter((k) => k === "login_lost")).toHaveLength(1);
    expect(requests).toHaveLength(1);
  });

  test("with no other usable account: exhausted mode (dispatch waits), the operator told of both", async () => {
    store.setAccountState("b", "cooling", clock.now() + 3_600_000, clock.now());
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    expect(state("a")).toBe("needs_login");
    expect(runtime.exhaustedUntil()).toBe(clock.now() + 3_600_000);
    expect(kinds()).toEqual(["login_lost", "accounts_exhausted"]);
  });

  test("a lost login on an account its sessions already left marks it and tells the operator, without a swap", async () => {
    runtime.setActiveAccount("b");
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now(), "a");
    expect([state("a"), requests.length, kinds()]).toEqual(["needs_login", 0, ["login_lost"]]);
  });

  test("an account the operator disabled stays disabled; the operator is still told once and its sessions move", async () => {
    store.setAccountState("a", "disabled", null, clock.now());
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    await accounts.onVerdict("ccl-auto-12", hookVerdict(), "hook", clock.now(), "a");
    expect([state("a"), kinds().filter((k) => k === "login_lost").length, requests.map((r) => r.reason)]).toEqual(["disabled", 1, ["login"]]);
  });

  test("a login line left on a screen is old news once the account is back, until its session takes a turn", async () => {
    const pane = classifyPane([`  ⎿ \u00a0${REVOKED}`, "", "─".repeat(40), "❯\u00a0Once fixed, resend your message", "─".repeat(40)], OPTIONS);
    expect(pane).toMatchObject({ kind: "login", cause: "revoked" });
    store.setAccountState("a", "available", null, clock.now());
    await accounts.onVerdict("ccl-auto-11", pane, "pane", clock.now());
    expect([state("a"), requests.length]).toEqual(["available", 0]);
    store.upsertSession("ccl-auto-11", "pool", { turnAt: clock.now() + 1 }, clock.now());
    await clock.advance(1000);
    await accounts.onVerdict("ccl-auto-11", pane, "pane", clock.now());
    expect(state("a")).toBe("needs_login");
  });

  test("a limit seen on an account that needs a login does not make it cooling (only a new login brings it back)", async () => {
    runtime.setActiveAccount("b");
    store.setAccountState("a", "needs_login", null, clock.now());
    const limit = classifyStopFailure({ error: "rate_limit", last_assistant_message: "You've hit your 5-hour limit · resets 3am (UTC)" }, { now: clock.now(), defaultZone: "UTC" });
    await accounts.onVerdict("ccl-auto-11", limit, "hook", clock.now(), "a");
    expect(state("a")).toBe("needs_login");
  });

  test("a swap refused (one already running) is tried again on a later tick, not at every poll", async () => {
    refuse = { ok: false, message: "a swap is already running" };
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    expect(requests).toHaveLength(1);
    refuse = null;
    await clock.advance(30_000);
    await accounts.wakeAccounts(clock.now());
    expect(requests).toHaveLength(1);
    await clock.advance(30_000);
    await accounts.wakeAccounts(clock.now());
    expect(requests.map((r) => [r.reason, r.from])).toEqual([["login", "a"], ["login", "a"]]);
    expect(runtime.activeAccount()).toBe("b");
  });
});

describe("a login fixed", () => {
  test("a new login file in the account home (its mtime changed) makes the account available, logged and told", async () => {
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    await accounts.wakeAccounts(clock.now());
    expect(state("a")).toBe("needs_login");
    mtimes["/h/a"] = 5000;
    await clock.advance(1000);
    await accounts.wakeAccounts(clock.now());
    expect(state("a")).toBe("available");
    expect(notified.at(-1)).toMatchObject({ kind: "login_restored", account: "a", how: "login file changed" });
  });

  test("a new login file ends exhausted mode at once when it was the last account", async () => {
    store.setAccountState("b", "cooling", clock.now() + 3_600_000, clock.now());
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    expect([runtime.activeAccount(), runtime.exhaustedUntil()]).toEqual(["a", clock.now() + 3_600_000]);
    mtimes["/h/a"] = 5000;
    await clock.advance(1000);
    await accounts.wakeAccounts(clock.now());
    expect([state("a"), runtime.activeAccount(), runtime.exhaustedUntil()]).toEqual(["available", "a", null]);
  });

  test("the daemon's own write during a swap (a token carried back) is not a new login", async () => {
    refuse = { ok: false, message: "a swap is already running" };
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    const open = store.createSwap({ fromAccount: "a", toAccount: "b", reason: "login", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: clock.now() });
    mtimes["/h/a"] = 2000;
    await accounts.wakeAccounts(clock.now());
    store.updateSwap(open.id, { step: "done" }, clock.now());
    await accounts.wakeAccounts(clock.now());
    expect(state("a")).toBe("needs_login");
    mtimes["/h/a"] = 3000;
    await accounts.wakeAccounts(clock.now());
    expect(state("a")).toBe("available");
  });

  test("`accounts enable` (and Telegram /enable) brings it back, tells the operator, and ends exhausted mode", async () => {
    store.setAccountState("b", "cooling", clock.now() + 3_600_000, clock.now());
    await accounts.onVerdict("ccl-auto-11", hookVerdict(), "hook", clock.now());
    expect(runtime.exhaustedUntil()).not.toBeNull();
    const events = createEventBus({ store, log: memoryLog(), send: (e) => notified.push(e), describe: (e) => ({ level: "info", message: e.kind }) });
    const control = createControl({ store, runtime, events, clock, log: memoryLog(), version: "test", startedAt: 0 } as unknown as Parameters<typeof createControl>[0]);
    const status = buildStatus(store, { version: "t", startedAt: 0, activeAccount: "a", paused: false, exhaustedUntil: null }, clock.now());
    expect(status.accounts[0]).toMatchObject({ name: "a", home: "/h/a", state: "needs_login", reset_at: null, login_fix: loginFix("/h/a") });
    expect(control.setAccountEnabled("a", true)).toEqual({ ok: true, message: "account a enabled; its login in /h/a is used again" });
    expect(state("a")).toBe("available");
    expect(notified.at(-1)).toMatchObject({ kind: "login_restored", account: "a", how: "enabled" });
    await accounts.wakeAccounts(clock.now());
    expect(runtime.exhaustedUntil()).toBeNull();
  });
});

describe("loginFix()", () => {
  test("quotes a home that the shell would split", () => {
    expect(loginFix("/home/op/.claude-b")).toBe("CLAUDE_CONFIG_DIR=/home/op/.claude-b claude");
    expect(loginFix("/srv/claude homes/it's b")).toBe("CLAUDE_CONFIG_DIR='/srv/claude homes/it'\\''s b' claude");
  });
});
