import { describe, expect, test } from "bun:test";
import { createQuotaMonitor, SNIPPET_CHARS } from "../../internal/quota/quota.ts";
import type { Verdict } from "../../internal/quota/classify.ts";

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const HOUR = 3_600_000;
const quota = (resetAt?: number, line = "You've hit your 5-hour limit · resets 3pm (Europe/Paris)"): Verdict =>
  ({ kind: "quota", limit: "five_hour", resetAt, pattern: "hit-your-limit", line });
const transient: Verdict = { kind: "transient", pattern: "api-error", line: "API Error: 500 Internal server error" };
const none: Verdict = { kind: "none" };
const context = { activeAccount: "a", lastSwapAt: null, lastSwapTo: null };

describe("createQuotaMonitor()", () => {
  test("requests a swap at once for a hit with a reset time on the active account", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 300_000 });
    const decision = monitor.observe({ session: "ccl-auto-11", account: "a", signal: "pane", verdict: quota(NOW + HOUR), now: NOW }, context);
    expect(decision).toMatchObject({ action: "swap", account: "a", resetAt: NOW + HOUR });
    if (decision.action !== "swap") throw new Error("unreachable");
    expect(decision.request).toMatchObject({ triggerSession: "ccl-auto-11", signal: "pane", pattern: "hit-your-limit", resetKnown: true });
  });

  test("requires confirm_polls consecutive sightings for a hit without a reset time", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 3, reactivateCooldownMs: 0 });
    const obs = { session: "s", account: "a", signal: "pane" as const, verdict: quota(undefined, "You've hit your usage limit"), now: NOW };
    expect(monitor.observe(obs, context).action).toBe("none");
    expect(monitor.observe(obs, context).action).toBe("none");
    const third = monitor.observe(obs, context);
    expect(third).toMatchObject({ action: "swap", resetAt: NOW + HOUR });
  });

  test("absorbs a single transient screen between two unconfirmed sightings", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 0 });
    const hit = { session: "s", account: "a", signal: "pane" as const, verdict: quota(), now: NOW };
    expect(monitor.observe(hit, context).action).toBe("none");
    expect(monitor.observe({ ...hit, verdict: transient }, context).action).toBe("none");
    expect(monitor.observe(hit, context).action).toBe("none");
    expect(monitor.observe({ ...hit, verdict: none }, context).action).toBe("none");
  });

  test("never swaps on transient verdicts, however many", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 1, reactivateCooldownMs: 0 });
    for (let i = 0; i < 50; i++) {
      expect(monitor.observe({ session: "s", account: "a", signal: "pane", verdict: transient, now: NOW + i }, context).action).toBe("none");
    }
  });

  test("cools but does not swap during the cooldown after a swap", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 1, reactivateCooldownMs: 300_000 });
    const decision = monitor.observe({ session: "s", account: "b", signal: "pane", verdict: quota(), now: NOW },
      { activeAccount: "b", lastSwapAt: NOW - 60_000, lastSwapTo: "b" });
    expect(decision).toMatchObject({ action: "cool", why: "swap cooldown active" });
  });

  test("waives the cooldown when the new account reports its own dated limit", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 300_000 });
    const decision = monitor.observe({ session: "s", account: "b", signal: "hook", verdict: quota(NOW + 2 * HOUR), now: NOW },
      { activeAccount: "b", lastSwapAt: NOW - 60_000, lastSwapTo: "b" });
    expect(decision.action).toBe("swap");
  });

  test("only cools an account that is not the active one", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 1, reactivateCooldownMs: 0 });
    const decision = monitor.observe({ session: "s", account: "old", signal: "transcript", verdict: quota(NOW + HOUR), now: NOW }, context);
    expect(decision).toMatchObject({ action: "cool", account: "old", why: "not the active account" });
  });

  test("treats a reset time in the past as unknown", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 0 });
    expect(monitor.observe({ session: "s", account: "a", signal: "pane", verdict: quota(NOW - 1000), now: NOW }, context).action).toBe("none");
  });

  test("keeps a snippet of at most 120 characters", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 1, reactivateCooldownMs: 0 });
    const decision = monitor.observe({ session: "s", account: "a", signal: "pane", verdict: quota(NOW + HOUR, "You've hit your usage limit ".repeat(10)), now: NOW }, context);
    if (decision.action !== "swap") throw new Error("expected a swap");
    expect(decision.request.snippet.length).toBe(SNIPPET_CHARS);
  });
});

describe("confirmation streaks", () => {
  test("a clean pane between two sightings resets the streak (isolated hits never add up)", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 0 });
    const hit = { session: "s", account: "a", signal: "pane" as const, verdict: quota(), now: NOW };
    expect(monitor.observe(hit, context).action).toBe("none");
    for (let i = 1; i <= 100; i++) monitor.observe({ ...hit, verdict: none, now: NOW + i * 1000 }, context);
    expect(monitor.observe({ ...hit, now: NOW + 101_000 }, context).action).toBe("none");
  });

  test("the same screen seen by the pane and the transcript within one poll counts once", () => {
    const monitor = createQuotaMonitor({ confirmPolls: 2, reactivateCooldownMs: 0, minSightingGapMs: 4000 });
    const hit = { session: "s", account: "a", verdict: quota(), now: NOW };
    expect(monitor.observe({ ...hit, signal: "pane" }, context).action).toBe("none");
    expect(monitor.observe({ ...hit, signal: "transcript", now: NOW + 10 }, context).action).toBe("none");
    expect(monitor.observe({ ...hit, signal: "pane", now: NOW + 5000 }, context).action).toBe("swap");
  });
});
