/**
 * @module test/fleet/surfaces
 * The fleet's parts around the bridge: `/status`'s `fleet` and its gauges, the hosts section of `claude-failover
 * status` and the dashboard's hosts card (shown only for a real fleet); one notification per shared event; account
 * writes of the deciders shared, the bridge's own not echoed; a PostgreSQL store opened lazily while the database is away.
 */
import { describe, expect, test } from "bun:test";
import { renderStatus } from "../../internal/cli/client.ts";
import type { BridgeStatus } from "../../internal/fleet/bridge.ts";
import { fleetSend, sharedEventKey } from "../../internal/fleet/notify.ts";
import { lazyFleet } from "../../internal/fleet/open.ts";
import { sharingStore } from "../../internal/fleet/shared-store.ts";
import { openSqliteFleet } from "../../internal/fleet/sqlite.ts";
import { FleetUnavailable } from "../../internal/fleet/store.ts";
import { fleetGauges, fleetLines, fleetStatus } from "../../internal/fleet/view.ts";
import { memoryLog } from "../../internal/log.ts";
import type { NotifyEvent } from "../../internal/notify/events.ts";
import { renderDashboard } from "../../internal/server/dashboard.ts";
import { createMetrics, statusGauges } from "../../internal/server/metrics.ts";
import { openStore } from "../../internal/state/state.ts";
import { buildStatus } from "../../internal/state/status.ts";

const NOW = Date.UTC(2026, 10, 29, 8);
const host = (name: string, ageMs: number, sessions: BridgeStatus["hosts"][number]["sessions"] = []): BridgeStatus["hosts"][number] =>
  ({ name, heartbeatAt: NOW - ageMs, heartbeatAgeMs: ageMs, startedAt: 0, version: "1.2.3", url: null, degraded: null, sessions });
const bridgeStatus = (over: Partial<BridgeStatus> = {}): BridgeStatus => ({
  host: "a", backend: "postgres", degraded: null, outbox: 0, parked: 0,
  hosts: [host("a", 1_200), host("b", 4_600, [{ name: "pool-1", kind: "pool", state: "working", account: "max", taskId: 7, updatedAt: NOW }])],
  ...over,
});
function snapshot(fleet?: BridgeStatus) {
  const store = openStore(":memory:");
  const s = buildStatus(store, { version: "1.2.3", startedAt: NOW, activeAccount: null, paused: false, exhaustedUntil: null, fleet: fleet && fleetStatus(fleet) }, NOW);
  store.close();
  return s;
}

describe("the fleet view", () => {
  test("/status fleet: host, backend, degraded with ISO time, every host with its heartbeat age in seconds and its sessions", () => {
    const s = snapshot(bridgeStatus({ degraded: { since: NOW - 30_000, reason: "connect ECONNREFUSED" }, outbox: 3 }));
    expect(s.fleet).toEqual({
      host: "a", backend: "postgres", outbox: 3, parked: 0, degraded: { since: "2026-11-29T07:59:30.000Z", reason: "connect ECONNREFUSED" },
      hosts: [
        { name: "a", version: "1.2.3", url: null, degraded: null, heartbeat_age_s: 1, sessions: [] },
        { name: "b", version: "1.2.3", url: null, degraded: null, heartbeat_age_s: 5, sessions: [{ name: "pool-1", kind: "pool", state: "working", account: "max", task_id: 7 }] },
      ],
    });
    expect(snapshot().fleet).toBeUndefined();
  });

  test("/metrics: hosts, heartbeat age per host, degraded, outbox", () => {
    const text = createMetrics().render(statusGauges(snapshot(bridgeStatus({ degraded: { since: NOW, reason: "x" } })), "1.2.3"));
    expect(text).toContain("claude_failover_fleet_hosts 2");
    expect(text).toContain('claude_failover_fleet_heartbeat_age_seconds{host="b"} 5');
    expect(text).toContain("claude_failover_fleet_degraded 1");
    expect(text).toContain("claude_failover_fleet_outbox 0");
    expect(fleetGauges(undefined)).toEqual([]);
  });

  test("claude-failover status prints the hosts for several hosts or PostgreSQL, nothing for a single host on SQLite", () => {
    const text = renderStatus(snapshot(bridgeStatus()), NOW);
    expect(text).toContain("Fleet (postgres, this host a)");
    expect(text).toMatch(/ {2}b {2}heartbeat 5s ago {2}1 sessions, 1 with a task/);
    expect(text).toContain("pool-1  working  max  task #7");
    const single = bridgeStatus({ backend: "sqlite", hosts: [host("a", 0)] });
    expect(fleetLines(fleetStatus(single))).toEqual([]);
    expect(renderStatus(snapshot(single), NOW)).not.toContain("Fleet");
    expect(fleetLines(fleetStatus({ ...single, backend: "postgres" }))[0]).toBe("Fleet (postgres, this host a)");
  });

  test("the dashboard shows a hosts card for more than one host, and hides it for one", () => {
    const page = renderDashboard(snapshot(bridgeStatus()));
    expect(page).toMatch(/<section class="panel wide" id="hosts-panel" >/);
    expect(page).toContain('data-host="b"');
    expect(page).toContain("heartbeat 5s ago");
    const single = renderDashboard(snapshot(bridgeStatus({ hosts: [host("a", 0)] })));
    expect(single).toContain('id="hosts-panel" hidden');
    expect(single).not.toContain('data-host="a"');
  });
});

describe("one notification per shared event", () => {
  const swap = (from: string, to: string): NotifyEvent => ({ kind: "swap_started", at: NOW, from, to, reason: "quota", trigger_session: null, pattern: null, snippet: null, reset_at: null });

  test("keys: a swap by the account left (whatever its target), account events by account, a host's own events none", () => {
    expect(sharedEventKey(swap("max", "pro"))).toBe(sharedEventKey(swap("max", "team")));
    expect(sharedEventKey({ kind: "login_lost", at: NOW, account: "max", home: "/h", session: null, cause: "x", line: "", fix: "" })).toBe("login_lost:max");
    expect(sharedEventKey({ kind: "session_dead", at: NOW, session: "pool-1", reason: "x" })).toBeNull();
    expect(sharedEventKey({ kind: "task_done", at: NOW, project: "p", file: "f", session: "s", duration_ms: 1 })).toBeNull();
  });

  test("two hosts seeing one limit send one swap_started between them; a host's own events go out as they are", async () => {
    const fleet = openSqliteFleet(":memory:");
    const sent: string[] = [];
    const hostSend = (name: string) => fleetSend((e) => sent.push(`${name}:${e.kind}`), (key, windowMs) => fleet.claimEvent(key, NOW, windowMs), memoryLog());
    hostSend("a")(swap("max", "pro"));
    hostSend("b")(swap("max", "team"));
    hostSend("b")({ kind: "session_dead", at: NOW, session: "pool-1", reason: "x" });
    await Bun.sleep(0);
    await Bun.sleep(0);
    expect(sent.sort()).toEqual(["a:swap_started", "b:session_dead"]);
    await fleet.close();
  });

  test("a claim that fails sends anyway (twice is better than never)", async () => {
    const sent: string[] = [];
    fleetSend((e) => sent.push(e.kind), async () => { throw new Error("boom"); }, memoryLog())(swap("max", "pro"));
    await Bun.sleep(0);
    expect(sent).toEqual(["swap_started"]);
  });
});

describe("account writes of the deciders", () => {
  test("are written locally and shared; the plain store (the bridge's) shares nothing", async () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "max", home: "/h/max", priority: 0 }], NOW);
    const shared: unknown[] = [];
    const deciding = sharingStore(store, {
      accountChanged: async (...args) => void shared.push(["account", ...args]),
      modelLimitChanged: async (...args) => void shared.push(["model", ...args]),
    }, memoryLog());
    deciding.setAccountState("max", "cooling", NOW + 60_000, NOW);
    deciding.setModelLimit("max", "opus", NOW + 60_000, NOW);
    deciding.clearModelLimit("max", "opus");
    store.setAccountState("max", "available", null, NOW);
    expect(shared).toEqual([["account", "max", "cooling", NOW + 60_000], ["model", "max", "opus", NOW + 60_000], ["model", "max", "opus", null]]);
    expect(deciding.accounts()[0]).toMatchObject({ name: "max", state: "available" });
    store.close();
  });
});

describe("the PostgreSQL store opened lazily", () => {
  test("while the database is away every call is FleetUnavailable, and the next call tries to open it again", async () => {
    let opens = 0;
    let up = false;
    const inner = openSqliteFleet(":memory:");
    const fleet = lazyFleet("postgres", async () => {
      opens++;
      if (!up) throw new Error("password authentication failed");
      return inner;
    });
    expect(fleet.backend).toBe("postgres");
    await expect(fleet.counts()).rejects.toBeInstanceOf(FleetUnavailable);
    await expect(fleet.hosts(NOW)).rejects.toThrow(/password authentication failed/);
    up = true;
    expect(await fleet.counts()).toMatchObject({ queued: 0 });
    await fleet.counts();
    expect(opens).toBe(3);
    await fleet.close();
    await expect(fleet.counts()).rejects.toThrow(/closed/);
  });
});
