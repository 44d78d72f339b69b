/**
 * @module test/fleet/bridge-accounts
 * The fleet bridge's account side and notification claims on two hosts: a change written by one host becomes the
 * other's local state and one call of the supervisor's callback (its own writes never call it back), model limits
 * follow, accounts a host does not have are ignored, and `claimEvent` lets one host of the two send a notification.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { createTestFleet, type Fleet } from "./bridge-support.ts";

let fleet: Fleet;
afterEach(async () => fleet.cleanup());

describe("fleet bridge: accounts", () => {
  test("an account change on one host reaches the other's local row and calls its callback once", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    await a.bridge.tick();
    await b.bridge.tick();
    const resetAt = fleet.clock.now() + 3_600_000;
    await a.bridge.accountChanged("max", "cooling", resetAt);
    expect(b.changes).toEqual([{ name: "max", state: "cooling", resetAt, by: "a" }]);
    expect(b.store.accounts().find((r) => r.name === "max")).toMatchObject({ state: "cooling", resetAt });
    expect(a.changes).toEqual([]);
    // The same state again (another host's estimate of the same reset) and later passes change nothing.
    await b.bridge.accountChanged("max", "cooling", resetAt);
    await a.bridge.tick();
    await b.bridge.tick();
    expect(b.changes).toHaveLength(1);
    expect(a.changes).toEqual([]);
  });

  test("model limits written by one host become the other's, and are cleared with it", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    await a.bridge.tick();
    await b.bridge.tick();
    await a.bridge.modelLimitChanged("pro", "opus", 9_000);
    await a.bridge.accountChanged("pro", "available", null);
    await a.bridge.accountChanged("pro", "cooling", null);
    expect(b.store.modelLimits()).toEqual([expect.objectContaining({ account: "pro", model: "opus", resetAt: 9_000 })]);
    await a.bridge.modelLimitChanged("pro", "opus", null);
    await a.bridge.accountChanged("pro", "available", null);
    expect(b.store.modelLimits()).toEqual([]);
    expect(b.changes.map((c) => c.state)).toEqual(["cooling", "available"]);
  });

  test("a shared account this host does not have is ignored", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    await b.bridge.tick();
    await a.bridge.accountChanged("team", "disabled", null);
    expect(b.changes).toEqual([]);
    expect(b.store.accounts().map((r) => r.name)).toEqual(["max", "pro"]);
  });
});

describe("fleet bridge: notification claims", () => {
  test("claimEvent lets exactly one of two hosts send a notification, and again once the window passed", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const both = async () => [await a.bridge.claimEvent("swap_started:max", 60_000), await b.bridge.claimEvent("swap_started:max", 60_000)];
    expect(await both()).toEqual([true, false]);
    await fleet.clock.advance(30_000);
    expect(await both()).toEqual([false, false]);
    await fleet.clock.advance(30_000);
    expect((await both()).filter(Boolean)).toHaveLength(1);
  });

  test("a claim that finds the database away says send, and degrades the host", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    a.sw.down = true;
    expect(await a.bridge.claimEvent("login_lost:max", 60_000)).toBe(true);
    expect(a.bridge.status().degraded).toMatchObject({ reason: expect.stringContaining("claimEvent") });
  });
});
