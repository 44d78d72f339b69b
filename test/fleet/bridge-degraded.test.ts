/**
 * @module test/fleet/bridge-degraded
 * The fleet bridge while the database is away and when it comes back: degraded with the reason and the time, writes
 * kept in the outbox in order, nothing exported or claimed, running work untouched, the backoff (1 s doubling to
 * 30 s), then the outbox flushed in order, the accounts re-read and the leases renewed. Also the outbox's own rules
 * (an entry that fails for another reason is retried, then parked without blocking the rest).
 */
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { createTestFleet, HEARTBEAT_MS, LEASE_MS, type Fleet } from "./bridge-support.ts";

let fleet: Fleet;
afterEach(async () => fleet.cleanup());

describe("fleet bridge: database away", () => {
  test("an unreachable database makes the host degraded with the reason; writes wait, nothing is claimed, running work goes on", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["running.md", "waiting.md"]);
    const before = b.store.task(held.id);

    b.sw.down = true;
    b.free = 3;
    const downAt = fleet.clock.now();
    await b.bridge.tick();
    expect(b.bridge.health()).toEqual({
      ok: true, warning: true,
      detail: `fleet database unreachable since ${new Date(downAt).toISOString()} (0s): Cannot heartbeat: fleet database unreachable (connect ECONNREFUSED 127.0.0.1:5432); 0 writes waiting`,
    });
    expect(b.bridge.status().degraded).toEqual({ since: downAt, reason: expect.stringContaining("ECONNREFUSED") });

    await b.bridge.accountChanged("max", "cooling", downAt + 3_600_000);
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "ok" });
    await fleet.clock.advance(1_000);
    await b.bridge.tick();
    expect(b.bridge.status()).toMatchObject({ outbox: 2, degraded: { since: downAt } });
    expect(b.bridge.health().detail).toContain("(1s)");
    expect(b.claimed()).toEqual([]);
    expect(b.store.tasks().map((t) => t.file)).toEqual(["running.md"]);
    expect(b.store.task(held.id)).toMatchObject({ ...before!, state: "done", fleetState: "finishing", finishedAt: expect.any(Number) });
    expect(b.events).toEqual([]);
    // While away the host sends its own notifications (twice is better than never).
    expect(await b.bridge.claimEvent("swap_started:max", 60_000)).toBe(true);
    expect(await a.bridge.claimEvent("swap_started:max", 60_000)).toBe(true);
  });

  test("retries back off 1 s, 2 s, 4 s … up to 30 s, and the heartbeat comes back once the database answers", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    expect(a.bridge.nextDelayMs()).toBe(HEARTBEAT_MS);
    a.sw.down = true;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      await a.bridge.tick();
      delays.push(a.bridge.nextDelayMs());
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    a.sw.down = false;
    await a.bridge.tick();
    expect(a.bridge.nextDelayMs()).toBe(HEARTBEAT_MS);
    expect(a.bridge.health()).toEqual({ ok: true, detail: "sqlite fleet, host a" });
  });

  test("the loop runs a pass every heartbeat, and every backoff while away", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    const controller = new AbortController();
    const beats = () => a.sw.calls.filter((c) => c === "heartbeat").length;
    const asleep = () => until(() => fleet.clock.pending() === 1);
    a.bridge.start(controller.signal);
    await asleep();
    expect(beats()).toBe(1);
    await fleet.clock.advance(HEARTBEAT_MS - 1);
    expect(beats()).toBe(1);
    await fleet.clock.advance(1);
    await until(() => beats() === 2);
    await asleep();
    a.sw.down = true;
    await fleet.clock.advance(HEARTBEAT_MS);
    await until(() => a.bridge.status().degraded !== null);
    await asleep();
    a.sw.down = false;
    await fleet.clock.advance(999);
    expect(a.bridge.status().degraded).not.toBeNull();
    await fleet.clock.advance(1);
    await until(() => a.bridge.status().degraded === null);
    expect(beats()).toBe(4); // two passes, the failed try, the pass that cleared it
    await asleep();
    controller.abort();
    await until(() => fleet.clock.pending() === 0);
  });

  test("back: the outbox is flushed in order, degraded cleared, accounts re-read and the leases renewed", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);

    b.sw.down = true;
    await b.bridge.tick();
    await b.bridge.accountChanged("pro", "cooling", fleet.clock.now() + 1_000);
    await b.bridge.accountChanged("pro", "disabled", null);
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "made it" });
    // Meanwhile host a writes an account change b cannot hear.
    await a.bridge.accountChanged("max", "needs_login", null);
    expect(b.changes).toEqual([]);
    await fleet.clock.advance(LEASE_MS / 2);

    b.sw.down = false;
    b.sw.calls.length = 0;
    await b.bridge.tick();
    expect(b.bridge.status()).toMatchObject({ degraded: null, outbox: 0 });
    expect(b.sw.calls.slice(0, 4)).toEqual(["setAccountState", "setAccountState", "finish", "accounts"]);
    expect((await a.sw.fleet.accounts()).find((r) => r.name === "pro")).toMatchObject({ state: "disabled", updatedBy: "b" });
    expect(b.changes).toEqual([{ name: "max", state: "needs_login", resetAt: null, by: "a" }]);
    expect(b.store.accounts().find((r) => r.name === "max")?.state).toBe("needs_login");
    expect(b.events.map((e) => e.kind)).toEqual(["task_done"]);
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
    await a.bridge.tick();
    expect(a.files("done")).toEqual(["job.md", "job.result.md"]);
  });

  test("back after the lease expired and another host took the task: the finish is refused and the local row superseded", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    b.sw.down = true;
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "late" });
    await b.bridge.tick();
    await fleet.clock.advance(LEASE_MS + 1);
    a.free = 1;
    await a.bridge.tick();
    b.sw.down = false;
    await b.bridge.tick();
    expect(b.store.task(held.id)).toMatchObject({ state: "failed", fleetState: "superseded" });
    expect(b.events).toEqual([]);
    expect(a.claimed().map((t) => t.fleetClaim)).toEqual([2]);
  });

  test("after an outage longer than the lease, a host back first waits one lease before requeueing the others' claims", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    a.sw.down = true;
    b.sw.down = true;
    await a.bridge.tick();
    await b.bridge.tick();
    await fleet.clock.advance(LEASE_MS + 1);
    a.sw.down = false;
    a.free = 1;
    await a.bridge.tick();
    expect(a.claimed()).toEqual([]);
    expect((await a.sw.fleet.tasks())[0]).toMatchObject({ state: "running", host: "b" });
    await fleet.clock.advance(HEARTBEAT_MS);
    b.sw.down = false;
    await b.bridge.tick(); // b renews its claim before a's grace is over
    await fleet.clock.advance(LEASE_MS - HEARTBEAT_MS); // a's grace over, b's renewed lease not
    await a.bridge.tick();
    expect(a.claimed()).toEqual([]);
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "once" });
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
  });

  test("writes waiting in the outbox survive a restart of the daemon and are sent by the new bridge", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    b.sw.down = true;
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "kept" });
    await b.bridge.tick();
    await b.restart();
    b.sw.down = false;
    await b.bridge.tick();
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
    expect(b.events.map((e) => e.kind)).toEqual(["task_done"]);
    expect((await b.sw.fleet.tasks())[0]).toMatchObject({ state: "done", host: "b", result: "kept" });
  });

  test("a task's local end and its finish in the outbox are stored together: a crash between them leaves neither", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    const killed = spyOn(b.store.bridge, "push").mockImplementation(() => { throw new Error("killed before the outbox write"); });
    expect(() => b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "kept" })).toThrow("killed before the outbox write");
    killed.mockRestore();
    expect(b.store.task(held.id)).toMatchObject({ state: "running", fleetState: "claimed" });
    expect(b.bridge.status().outbox).toBe(0);

    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "kept" });
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
    expect((await b.sw.fleet.tasks())[0]).toMatchObject({ state: "done", host: "b", result: "kept" });
  });

  test("a row left finishing with no finish in the outbox (stored apart by 0.4) is finished again after a restart", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    b.sw.down = true;
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "lost with the entry" });
    for (const entry of b.store.bridge.pending()) b.store.bridge.done(entry.id);
    await b.restart();
    b.sw.down = false;
    await b.bridge.tick();
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
    expect((await b.sw.fleet.tasks())[0]).toMatchObject({ state: "done", host: "b" });
    expect(b.events.map((e) => e.kind)).toEqual(["task_done"]);
    await a.bridge.tick();
    expect(a.files("done")).toEqual(["job.md"]);
  });

  test("a crash after the finish was answered, before its entry was removed, sends it again once: the task ends once", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    const killed = spyOn(b.store.bridge, "done").mockImplementation(() => { throw new Error("killed before the entry was removed"); });
    await b.bridge.finished(held.id, { state: "done", at: fleet.clock.now(), result: "once" });
    killed.mockRestore();
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "finishing" });
    expect(b.bridge.status().outbox).toBe(1);
    expect(b.events).toEqual([]);

    await b.restart();
    await b.bridge.tick();
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
    expect(b.bridge.status().outbox).toBe(0);
    expect(b.events.map((e) => e.kind)).toEqual(["task_done"]);
  });

  test("a finish the database already took (sent again after a crash) counts as accepted, not superseded", async () => {
    fleet = createTestFleet(["a", "b"]);
    const [a, b] = fleet.pair();
    const held = await fleet.handOver(a, b, ["job.md"]);
    const outcome = { state: "done" as const, at: fleet.clock.now(), result: "once" };
    expect(await b.sw.fleet.finish(held.fleetId!, "b", held.fleetClaim!, outcome)).toBe(true);
    await b.bridge.finished(held.id, outcome);
    expect(b.store.task(held.id)).toMatchObject({ state: "done", fleetState: "ended" });
    expect(b.events.map((e) => e.kind)).toEqual(["task_done"]);
  });

  test("a write the database refuses for another reason is retried with backoff, then parked without blocking the rest", async () => {
    fleet = createTestFleet(["a"]);
    const [a] = fleet.hosts as [typeof fleet.hosts[0]];
    const inner = a.sw.fleet;
    let refuse = true;
    const original = inner.setModelLimit.bind(inner);
    inner.setModelLimit = async (...args) => {
      if (refuse) throw new Error("value out of range");
      return original(...args);
    };
    await a.bridge.modelLimitChanged("max", "opus", 1);
    await a.bridge.accountChanged("max", "cooling", null);
    expect(a.bridge.status()).toMatchObject({ outbox: 2, parked: 0, degraded: null });
    for (const wait of [1_000, 2_000, 4_000, 8_000]) {
      await fleet.clock.advance(wait);
      await a.bridge.tick();
    }
    expect(a.bridge.status()).toMatchObject({ outbox: 0, parked: 1, degraded: null });
    expect(a.bridge.health()).toEqual({ ok: true, warning: true, detail: "1 fleet writes parked: refused by the database (see the log)" });
    expect((await inner.accounts()).find((r) => r.name === "max")).toMatchObject({ state: "cooling" });
    refuse = false;
  });
});

async function until(probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}
