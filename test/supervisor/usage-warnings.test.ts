/**
 * @module test/supervisor/usage-warnings
 * Specs for what a usage warning does to its account (issue 13): a move before the limit at `switch_at` (swap reason
 * `warning`, the account cooling until that window's reset), nothing without `switch_at`, extra usage handled as a
 * limit (`move`, swap reason `extra_usage`) or told once per window (`allow`), and the glance that catches a warning
 * drawn for 8 s between two slow polls. The decision core with every edge faked: fake clock, in-memory store, a
 * switcher that records requests, a tmux that returns the screens a test sets.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { createUsageRecorder } from "../../internal/state/usage.ts";
import { createSupervisor, type Supervisor } from "../../internal/supervisor/supervisor.ts";
import { createUsageWarnings } from "../../internal/supervisor/usage-warnings.ts";
import { createQuotaMonitor } from "../../internal/quota/quota.ts";
import { createWatcher } from "../../internal/watcher/watcher.ts";
import { createEventBus, type OperatorEvent } from "../../internal/notify/feed.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { parseConfig, type Config } from "../../internal/config/config.ts";
import type { Switcher, SwapInput, SwapResult } from "../../internal/switcher/switcher.ts";
import type { Dispatcher } from "../../internal/dispatcher/dispatcher.ts";
import type { Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import type { PaneInfo, Tmux } from "../../internal/tmux/tmux.ts";
import { pickNextAccount } from "../../internal/switcher/accounts.ts";
import { recordMove } from "../../internal/switcher/moved.ts";
import { createRuntime, type Runtime } from "../../internal/state/runtime.ts";
import { createDispatchGate } from "../../internal/dispatcher/gate.ts";
import { createSessionTracker } from "../../internal/watcher/sessions.ts";
import { classifyText } from "../../internal/quota/classify.ts";

const START = Date.parse("2026-11-29T01:00:00Z");
const AT_4AM = Date.parse("2026-11-29T04:00:00Z");
const DEC2_1AM = Date.parse("2026-12-02T01:00:00Z");
const FIVE_HOUR = "You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep using Claude Code";
const WEEKLY = "You've used 91% of your weekly limit · resets Dec 2, 1am (UTC)";
const CREDITS = "You're now using usage credits · Your 5-hour limit resets 4am (UTC)";
const SESSIONS = ["ccl-auto-11", "ccl-auto-12"];

const configOf = (accounts: string, quota = "") => parseConfig(`
state_dir: /tmp/cf-unused
claude: { timezone: UTC }
accounts: ${accounts}
autonomous: { prefix: ccl-auto-, start_index: 11, min: 2, max: 2, workdir: /w }
quota: { poll_interval: 5s, reactivate_cooldown: 5m, confirm_polls: 2${quota} }
`, "", { env: {}, home: "/root" });
const SWITCH_AT_90 = "[{ name: a, home: /h/a, switch_at: 90 }, { name: b, home: /h/b }]";

let clock: FakeClock;
let store: Store;
let runtime: Runtime;
let supervisor: Supervisor;
let requests: SwapInput[];
let notified: OperatorEvent[];
let screens: Map<string, string[]>;
let captured: string[][];

/** A switcher that applies the real choice rule and moves every row, without touching sessions. */
function fakeSwitcher(): Switcher {
  return {
    async request(input): Promise<SwapResult> {
      requests.push(input);
      const from = input.from ?? runtime.activeAccount();
      const choice = pickNextAccount(store.accounts(), clock.now(), { exclude: from });
      if (choice.kind === "exhausted") return { ok: false, exhausted: { wakeAt: choice.wakeAt }, message: "no account with quota left" };
      const swap = store.createSwap({ fromAccount: from, toAccount: choice.account.name, reason: input.reason, triggerSession: input.triggerSession ?? null, signal: input.signal ?? null, pattern: input.pattern ?? null, snippet: input.snippet ?? null, resetAt: input.resetAt ?? null, requestedAt: clock.now() });
      store.updateSwap(swap.id, { step: "done" }, clock.now());
      runtime.setActiveAccount(choice.account.name);
      for (const name of SESSIONS) {
        // What the in-place `moving` step records: the account each session left, with the swap's line.
        recordMove(store, name, { from: from!, line: input.snippet ?? null, at: clock.now() });
        store.upsertSession(name, "pool", { account: choice.account.name }, clock.now());
      }
      return { ok: true, swapId: swap.id, message: "ok" };
    },
    resumeOpen: async () => undefined,
    running: () => false,
    idle: async () => undefined,
    settled: async () => undefined,
    halt: async () => undefined,
  };
}

function setup(config: Config, keep?: Store) {
  clock = createFakeClock(START);
  store = keep ?? openStore(":memory:");
  store.syncAccounts(config.accounts, START - 3_600_000);
  requests = [];
  notified = [];
  screens = new Map();
  captured = [];
  const log = memoryLog();
  const events = createEventBus({ store, log, send: (e) => notified.push(e), describe: (e) => ({ level: "info", message: e.kind }) });
  const tmux = {
    listPanes: async () => [],
    capture: async (targets: string[]) => {
      captured.push(targets);
      return new Map(targets.filter((t) => screens.has(t)).map((t) => [t, screens.get(t)!]));
    },
  } as unknown as Tmux;
  const lifecycle = { ownedNames: () => SESSIONS, retiringNames: () => [], strandedNames: () => [], kindOf: () => "pool" } as unknown as Lifecycle;
  const dispatcher = { ingest: async () => 0, dispatch: async () => 0, checkIdleAlert: () => undefined } as unknown as Dispatcher;
  for (const name of SESSIONS) store.upsertSession(name, "pool", { state: "idle", account: "a", launchedAt: START - 600_000, activityAt: START - 600_000, turnAt: START - 60_000 }, START - 600_000);
  runtime = createRuntime(store, config.accounts);
  supervisor = createSupervisor({
    config, store, tmux, lifecycle, dispatcher, events, clock, log, runtime,
    gate: createDispatchGate({ store, runtime, clock }, config.quota.reactivate_cooldown),
    sessions: createSessionTracker({ store, names: lifecycle }),
    delivery: { deliver: async () => ({ kind: "typed" }), typeContinue: async () => ({ kind: "typed" }), idle: async () => {} },
    quota: createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 5 * 60_000 }),
    switcher: fakeSwitcher(),
    watcher: createWatcher({ idlePolls: 3, taskTimeoutMs: 3_600_000 }),
    usage: createUsageRecorder({ store }),
  });
}

/** 2.1.330's fullscreen screen after a reply, with `notice` right-aligned above the input box (§13.2). */
function screen(notice: string, cols = 200): string[] {
  const rule = "─".repeat(cols);
  return ["❯ Write the release notes", "● Done: the notes are in NOTES.md.", "✻ Baked for 2s · done 1:00 AM",
    `${" ".repeat(Math.max(2, cols - 2 - [...notice].length))}${notice}`, rule, "❯\u00a0", rule, "  ⏵⏵ bypass permissions on (shift+tab to cycle)"];
}

const paneInfo = (session: string): PaneInfo => ({ session, paneId: `%${session}`, pid: 1, command: "claude", path: "/w", dead: false, deadStatus: null, activityAt: clock.now(), width: 200, height: 50 });
const seePane = (session: string, lines: string[]) => supervisor.handle({ kind: "pane", session, pane: paneInfo(session), lines, at: clock.now() });
const state = (name: string) => store.accounts().find((a) => a.name === name)!;

describe("switch_at: a usage warning at or above it moves the sessions before the limit", () => {
  beforeEach(() => setup(configOf(SWITCH_AT_90)));

  test("a 91% 5-hour warning with switch_at 90 swaps (reason warning) and cools the account until 4am", async () => {
    await seePane("ccl-auto-11", screen(FIVE_HOUR));
    expect(requests).toEqual([{ reason: "warning", from: "a", triggerSession: "ccl-auto-11", signal: "pane", pattern: "warning:used-percent", snippet: FIVE_HOUR.slice(0, 120), resetAt: AT_4AM }]);
    expect([state("a").state, state("a").resetAt]).toEqual(["cooling", AT_4AM]);
    expect(runtime.activeAccount()).toBe("b");
    expect(store.lastDoneSwap()?.reason).toBe("warning");
    // Usage at a glance: the move counts among a's limits, as kind switch_at.
    expect(store.usage.limitsSince("a", 0).map((l) => [l.kind, l.session, l.resetAt])).toEqual([["switch_at", "ccl-auto-11", AT_4AM]]);
  });

  test("a 91% weekly warning cools the account until the weekly reset", async () => {
    await seePane("ccl-auto-12", screen(WEEKLY, 80));
    expect(requests.map((r) => [r.reason, r.resetAt])).toEqual([["warning", DEC2_1AM]]);
    expect(state("a").resetAt).toBe(DEC2_1AM);
  });

  test("the same warning still on screen after the move is the old account's: b is not cooled, no second swap", async () => {
    await seePane("ccl-auto-11", screen(FIVE_HOUR));
    await clock.advance(3_000);
    await seePane("ccl-auto-11", screen(FIVE_HOUR));
    await seePane("ccl-auto-12", screen(FIVE_HOUR));
    expect(requests).toHaveLength(1);
    expect(state("b").state).toBe("available");
  });

  test("a warning seen after the session took a turn on the new account is that account's", async () => {
    setup(configOf("[{ name: a, home: /h/a, switch_at: 90 }, { name: b, home: /h/b, switch_at: 90 }, { name: c, home: /h/c }]"));
    await seePane("ccl-auto-11", screen(FIVE_HOUR));
    await clock.advance(60_000);
    store.upsertSession("ccl-auto-11", "pool", { turnAt: clock.now() }, clock.now());
    await seePane("ccl-auto-11", screen("You've used 95% of your 5-hour limit · resets 5am (UTC) · /upgrade to keep using Claude Code"));
    expect(requests.map((r) => [r.reason, r.from])).toEqual([["warning", "a"], ["warning", "b"]]);
    expect(store.accounts().map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "cooling"], ["c", "available"]]);
  });

  test("a warning below switch_at does nothing", async () => {
    await seePane("ccl-auto-11", screen("You've used 85% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep using Claude Code"));
    expect(requests).toEqual([]);
    expect(state("a").state).toBe("available");
  });

  test("without another usable account the sessions stay and the account is not cooled (no exhausted mode)", async () => {
    store.setAccountState("b", "cooling", AT_4AM, clock.now());
    await seePane("ccl-auto-11", screen(FIVE_HOUR));
    expect(requests).toEqual([]);
    expect(state("a").state).toBe("available");
    expect(runtime.exhaustedUntil()).toBeNull();
  });

  test("the account comes back at the reset", async () => {
    await seePane("ccl-auto-11", screen(FIVE_HOUR));
    await clock.set(AT_4AM);
    await supervisor.handle({ kind: "tick", at: clock.now() });
    expect(state("a").state).toBe("available");
  });
});

describe("without switch_at a warning never cools an account", () => {
  test("a 99% warning is only logged", async () => {
    setup(configOf("[{ name: a, home: /h/a }, { name: b, home: /h/b }]"));
    await seePane("ccl-auto-11", screen("You've used 99% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep using Claude Code"));
    expect(requests).toEqual([]);
    expect(store.accounts().map((a) => a.state)).toEqual(["available", "available"]);
  });
});

describe("quota.on_extra_usage", () => {
  test("move (the default): extra usage is the account's limit: a swap with reason extra_usage, cooling until the reset", async () => {
    setup(configOf("[{ name: a, home: /h/a }, { name: b, home: /h/b }]"));
    await seePane("ccl-auto-11", screen(CREDITS));
    expect(requests.map((r) => [r.reason, r.pattern, r.resetAt])).toEqual([["extra_usage", "warning:now-using-credits", AT_4AM]]);
    expect([state("a").state, state("a").resetAt]).toEqual(["cooling", AT_4AM]);
    expect(runtime.activeAccount()).toBe("b");
  });

  test("move: a steady `Now using usage credits` left on a moved session's screen does not cool b", async () => {
    setup(configOf("[{ name: a, home: /h/a }, { name: b, home: /h/b }]"));
    await seePane("ccl-auto-11", screen(CREDITS));
    await clock.advance(300_000);
    for (let i = 0; i < 3; i++) {
      await clock.advance(5_000);
      await seePane("ccl-auto-12", screen("Now using usage credits"));
    }
    expect(requests.map((r) => r.reason)).toEqual(["extra_usage"]);
    expect(state("b").state).toBe("available");
  });

  test("allow: the operator is told once per window and the sessions stay", async () => {
    setup(configOf("[{ name: a, home: /h/a }, { name: b, home: /h/b }]", ", on_extra_usage: allow"));
    await seePane("ccl-auto-11", screen(CREDITS));
    await clock.advance(3_000);
    await seePane("ccl-auto-12", screen(CREDITS));
    await seePane("ccl-auto-12", screen("Now using usage credits"));
    expect(requests).toEqual([]);
    expect(state("a").state).toBe("available");
    expect(notified.filter((e) => e.kind === "extra_usage")).toEqual([
      expect.objectContaining({ kind: "extra_usage", account: "a", session: "ccl-auto-11", line: CREDITS, window: "five_hour", reset_at: AT_4AM }),
    ]);
  });

  test("allow: a restarted daemon does not tell the same window again", async () => {
    const config = configOf("[{ name: a, home: /h/a }, { name: b, home: /h/b }]", ", on_extra_usage: allow");
    setup(config);
    await seePane("ccl-auto-11", screen(CREDITS));
    setup(config, store); // a new daemon on the same store
    await seePane("ccl-auto-12", screen(CREDITS));
    expect(notified).toEqual([]);
    await clock.set(AT_4AM + 1);
    await seePane("ccl-auto-12", screen(CREDITS.replace("4am", "9am")));
    expect(notified.map((e) => e.kind)).toEqual(["extra_usage"]);
  });

  test("allow: an unreadable memory of told windows is forgotten, not fatal", async () => {
    const config = configOf("[{ name: a, home: /h/a }, { name: b, home: /h/b }]", ", on_extra_usage: allow");
    const kept = openStore(":memory:");
    kept.setFlag("extra_usage_told", "{not json");
    setup(config, kept);
    await seePane("ccl-auto-11", screen(CREDITS));
    expect(notified.map((e) => e.kind)).toEqual(["extra_usage"]);
  });
});

describe("Supervisor.glance()", () => {
  beforeEach(() => setup(configOf(SWITCH_AT_90)));

  test("captures only sessions that may show a warning, in one call, and acts on a warning", async () => {
    store.upsertSession("ccl-auto-12", "pool", { state: "idle", activityAt: clock.now() - 4_000 }, clock.now());
    screens.set("ccl-auto-12", screen(FIVE_HOUR));
    screens.set("ccl-auto-11", screen(FIVE_HOUR));
    await supervisor.glance();
    expect(captured).toEqual([["ccl-auto-12"]]);
    expect(requests.map((r) => [r.reason, r.triggerSession])).toEqual([["warning", "ccl-auto-12"]]);
  });

  test("runs no tmux command when no session was active lately", async () => {
    await supervisor.glance();
    expect(captured).toEqual([]);
  });

  test("a limit line seen by a glance is left to the poll", async () => {
    store.upsertSession("ccl-auto-11", "pool", { state: "working" }, clock.now());
    screens.set("ccl-auto-11", screen("").map((l, i) => (i === 3 ? "  ⎿ \u00a0You've hit your 5-hour limit · resets 4am (UTC)" : l)));
    await supervisor.glance();
    expect(requests).toEqual([]);
  });
});

describe("createUsageWarnings().decide()", () => {
  const warning = (line: string) => classifyText(line, { now: START, defaultZone: "UTC" }) as Extract<ReturnType<typeof classifyText>, { kind: "warning" }>;
  const account = { name: "a", state: "available" as const };
  const table: Array<[string, string, Parameters<ReturnType<typeof createUsageWarnings>["decide"]>[1], unknown]> = [
    ["moves at switch_at", FIVE_HOUR, { account, switchAt: 91, onExtraUsage: "move", now: START }, { action: "move", resetAt: AT_4AM, resetKnown: true }],
    ["ignores below switch_at", FIVE_HOUR, { account, switchAt: 92, onExtraUsage: "move", now: START }, { action: "ignore", why: "below switch_at" }],
    ["ignores without switch_at", FIVE_HOUR, { account, onExtraUsage: "move", now: START }, { action: "ignore", why: "no switch_at" }],
    ["ignores a cooling account", FIVE_HOUR, { account: { name: "a", state: "cooling" }, switchAt: 90, onExtraUsage: "move", now: START }, { action: "ignore", why: "account cooling" }],
    ["moves on an `Approaching` warning (no percent)", "Approaching 5-hour limit · resets 4am (UTC)", { account, switchAt: 90, onExtraUsage: "move", now: START }, { action: "move", resetAt: AT_4AM, resetKnown: true }],
    ["ignores a model window", "You've used 95% of your Fable limit · resets 4am (UTC)", { account, switchAt: 90, onExtraUsage: "move", now: START }, { action: "ignore", why: "not a plan window" }],
    ["assumes one hour without a reset", "Over 95% of your weekly limit used", { account, switchAt: 90, onExtraUsage: "move", now: START }, { action: "move", resetAt: START + 3_600_000, resetKnown: false }],
    ["turns extra usage into a limit", CREDITS, { account, onExtraUsage: "move", now: START }, { action: "limit", verdict: { kind: "quota", limit: "five_hour", pattern: "warning:now-using-credits", line: CREDITS, resetAt: AT_4AM } }],
    ["tells extra usage with allow", "You're now using extra usage", { account, onExtraUsage: "allow", now: START }, { action: "tell" }],
  ];
  for (const [name, line, context, expected] of table) {
    test(name, () => expect(createUsageWarnings().decide(warning(line), context)).toEqual(expected as never));
  }

  test("starts from the windows an earlier run told and hands out each change", () => {
    const kept: Array<Record<string, number>> = [];
    const first = createUsageWarnings({ remember: (told) => kept.push(told) });
    const context = { account, onExtraUsage: "allow" as const, now: START };
    expect(first.decide(warning(CREDITS), context).action).toBe("tell");
    expect(kept).toEqual([{ [`a|five_hour|${AT_4AM}`]: AT_4AM }]);
    expect(createUsageWarnings({ told: kept[0] }).decide(warning(CREDITS), context).action).toBe("ignore");
  });

  test("tells extra usage again once the window has reset", () => {
    const warnings = createUsageWarnings();
    const context = { account, onExtraUsage: "allow" as const, now: START };
    expect(warnings.decide(warning(CREDITS), context).action).toBe("tell");
    expect(warnings.decide(warning(CREDITS), context).action).toBe("ignore");
    expect(warnings.decide(warning(CREDITS), { ...context, now: AT_4AM + 1 }).action).toBe("tell");
  });
});

describe("the extra_usage notification", () => {
  test("names the account, quotes the line, says the sessions stay and when the plan limit resets", async () => {
    const { renderEvent } = await import("../../internal/notify/events.ts");
    const message = renderEvent({ kind: "extra_usage", at: START, account: "a", session: "ccl-auto-11", line: CREDITS, window: "five_hour", reset_at: AT_4AM }, "UTC");
    expect(message.text.split("\n")).toEqual([
      "⚠️ Account a is using extra usage",
      `“${CREDITS}”`,
      "Seen on ccl-auto-11.",
      "Sessions stay on it (quota.on_extra_usage: allow).",
      "Plan limit resets 04:00 UTC, in 3h",
    ]);
  });
});
