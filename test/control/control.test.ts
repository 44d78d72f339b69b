/**
 * @module test/control/control
 * Specs for `accounts enable|disable` (control.setAccountEnabled) and the per-model limits of the account
 * (quota.on_model_limit: fallback): an in-memory store, a fake clock, the real event bus recording what is told.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { createControl, type OperatorControl } from "../../internal/control/control.ts";
import { createEventBus, type OperatorEvent } from "../../internal/notify/feed.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createRuntime } from "../../internal/state/runtime.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { wantedModel } from "../../internal/supervisor/models.ts";

const HOUR = 3_600_000;
const FALLBACK = { on_model_limit: "fallback" as const, fallback_model: "sonnet" };
let clock: FakeClock;
let store: Store;
let control: OperatorControl;
let notified: OperatorEvent[];

const models = (account: string) => buildStatus(store, { version: "t", startedAt: 0, activeAccount: "a", paused: false, exhaustedUntil: null }, clock.now())
  .accounts.find((a) => a.name === account)!.models;

beforeEach(() => {
  clock = createFakeClock(Date.UTC(2026, 10, 29, 10, 0));
  store = openStore(":memory:");
  store.syncAccounts([{ name: "a", home: "/h/a", priority: 0 }, { name: "b", home: "/h/b", priority: 1 }], clock.now());
  notified = [];
  const events = createEventBus({ store, log: memoryLog(), send: (e) => notified.push(e), describe: (e) => ({ level: "info", message: e.kind }) });
  const runtime = createRuntime(store, [{ name: "a" }, { name: "b" }]);
  control = createControl({ store, runtime, events, clock, log: memoryLog(), version: "test", startedAt: 0 } as unknown as Parameters<typeof createControl>[0]);
  store.setModelLimit("a", "opus", clock.now() + 72 * HOUR, clock.now());
});

describe("setAccountEnabled() and per-model limits", () => {
  test("enabling an available account with a per-model limit ends the limit now: its sessions go back to the default model", () => {
    expect(wantedModel("a", store.modelLimits(), FALLBACK, clock.now())).toBe("sonnet");
    expect(control.setAccountEnabled("a", true)).toEqual({ ok: true, message: "account a: opus usable again; its sessions go back to the default model once idle" });
    expect(store.modelLimits()).toEqual([]);
    expect(models("a")).toEqual([]);
    expect(wantedModel("a", store.modelLimits(), FALLBACK, clock.now())).toBeNull();
    expect(notified).toMatchObject([{ kind: "model_restored", account: "a", model: "opus" }]);
  });

  test("re-enabling an account the operator disabled keeps its per-model limit until the reset, and says how to end it", () => {
    control.setAccountEnabled("a", false);
    const answer = control.setAccountEnabled("a", true);
    expect(answer).toEqual({ ok: true, message: "account a enabled; its opus limit lasts until 2026-12-02T10:00:00.000Z (enable it again to end that now)" });
    expect(models("a")).toEqual([{ model: "opus", reset_at: "2026-12-02T10:00:00.000Z" }]);
    expect(notified.map((e) => e.kind)).toEqual(["account_enabled", "account_enabled"]);
    // The second enable, on the account now available, is the one that ends it.
    control.setAccountEnabled("a", true);
    expect(models("a")).toEqual([]);
  });

  test("an available account without a per-model limit is already enabled; a limit whose reset passed does not count", async () => {
    expect(control.setAccountEnabled("b", true)).toEqual({ ok: true, message: "account b is already enabled" });
    await clock.advance(73 * HOUR);
    expect(control.setAccountEnabled("a", true)).toEqual({ ok: true, message: "account a is already enabled" });
    expect(notified).toEqual([]);
  });
});
