import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { openStore, type Store } from "../../internal/state/state.ts";
import { accountUsage, createUsageRecorder } from "../../internal/state/usage.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { createMetrics } from "../../internal/server/metrics.ts";
import { tempDir } from "../support/tmux.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Sunday 29 Nov 2026, 10:00 UTC. */
const NOW = Date.UTC(2026, 10, 29, 10);
const MIDNIGHT = Date.UTC(2026, 10, 29);

function storeWith(...names: string[]): Store {
  const store = openStore(":memory:");
  store.syncAccounts(names.map((name, priority) => ({ name, home: `/h/${name}`, priority })), NOW - 10 * DAY);
  return store;
}

const session = (store: Store, name: string, account: string, state: "idle" | "dead" = "idle", at = NOW) =>
  store.upsertSession(name, "pool", { state, account, workdir: "/w" }, at);

describe("store.usage", () => {
  test("a change of account state ends the old state's period and opens the new one's", () => {
    const store = storeWith("a");
    store.setAccountState("a", "cooling", NOW, NOW - 5 * HOUR);
    store.setAccountState("a", "cooling", NOW + HOUR, NOW - 4 * HOUR); // same state, later reset: same period
    store.setAccountState("a", "disabled", null, NOW - 2 * HOUR);
    store.setAccountState("a", "available", null, NOW - HOUR);
    expect(store.usage.periodsSince("a", 0)).toEqual([
      { account: "a", kind: "cooling", startedAt: NOW - 5 * HOUR, endedAt: NOW - 2 * HOUR },
      { account: "a", kind: "disabled", startedAt: NOW - 2 * HOUR, endedAt: NOW - HOUR },
    ]);
  });

  test("lists only periods still open or ended after the given time", () => {
    const store = storeWith("a");
    store.usage.openPeriod("a", "active", NOW - 3 * DAY);
    store.usage.closePeriod("a", "active", NOW - 2 * DAY);
    store.usage.openPeriod("a", "active", NOW - HOUR);
    store.usage.openPeriod("a", "active", NOW - 30 * 60_000); // already open: kept as it is
    expect(store.usage.periodsSince("a", NOW - DAY).map((p) => p.startedAt)).toEqual([NOW - HOUR]);
    expect(store.usage.periodsSince("a", NOW - 4 * DAY)).toHaveLength(2);
    expect(store.usage.openPeriods("active")).toEqual(["a"]);
  });

  test("the upgrade opens a period for an account that was already cooling", () => {
    const dir = tempDir();
    const path = join(dir.path, "state.db");
    const store = openStore(path);
    store.syncAccounts([{ name: "a", home: "/a", priority: 0 }, { name: "b", home: "/b", priority: 1 }], NOW);
    store.setAccountState("a", "cooling", NOW + HOUR, NOW - HOUR);
    store.close();
    // Back to the schema before the usage tables: the account is cooling, no period records it.
    const db = new Database(path);
    db.run("DROP TABLE account_limits; DROP TABLE account_periods; DROP TABLE account_days; ALTER TABLE swaps DROP COLUMN limit_kind;");
    // …and before the migrations that came after it (wip/fleet: the bridge's task columns and outbox).
    db.run(`DROP TABLE bridge_outbox; DROP INDEX tasks_fleet; ALTER TABLE tasks DROP COLUMN fleet_id; ALTER TABLE tasks DROP COLUMN fleet_claim;
            ALTER TABLE tasks DROP COLUMN origin_host; ALTER TABLE tasks DROP COLUMN fleet_state;`);
    db.run("PRAGMA user_version = 6");
    db.close();
    const upgraded = openStore(path);
    expect(upgraded.usage.periodsSince("a", 0)).toEqual([{ account: "a", kind: "cooling", startedAt: NOW - HOUR, endedAt: null }]);
    expect(upgraded.usage.periodsSince("b", 0)).toEqual([]);
    upgraded.close();
    dir.cleanup();
  });

  test("prunes limits, ended periods and day counters older than the cut, keeping open periods", () => {
    const store = storeWith("a");
    const recorder = createUsageRecorder({ store });
    recorder.limitHit({ account: "a", kind: "weekly", session: "s1", signal: "hook", at: NOW - 20 * DAY, resetAt: null });
    recorder.limitHit({ account: "a", kind: "five_hour", session: "s1", signal: "hook", at: NOW - HOUR, resetAt: null });
    recorder.turn("a", NOW - 20 * DAY);
    recorder.turn("a", NOW);
    store.usage.openPeriod("a", "active", NOW - 30 * DAY);
    store.usage.openPeriod("a", "cooling", NOW - 25 * DAY);
    store.usage.closePeriod("a", "cooling", NOW - 24 * DAY);
    expect(store.usage.prune(NOW - 10 * DAY)).toBe(3);
    expect(store.usage.limitsSince("a", 0).map((l) => l.kind)).toEqual(["five_hour"]);
    expect(store.usage.daysSince("a", "2000-01-01").map((d) => d.day)).toEqual(["2026-11-29"]);
    expect(store.usage.periodsSince("a", 0).map((p) => p.kind)).toEqual(["active"]);
  });
});

describe("createUsageRecorder()", () => {
  test("opens an active period when sessions run on an account and ends it when none do, writing only on a change", () => {
    const store = storeWith("a", "b");
    const writes: string[] = [];
    const usage = {
      ...store.usage,
      openPeriod: (account: string, kind: string, at: number) => { writes.push(`open ${account}`); store.usage.openPeriod(account, kind, at); },
      closePeriod: (account: string, kind: string, at: number) => { writes.push(`close ${account}`); store.usage.closePeriod(account, kind, at); },
    };
    const recorder = createUsageRecorder({ store: { usage } });
    session(store, "p1", "a");
    session(store, "p2", "a");
    recorder.sessionsSeen(NOW - 3 * HOUR);
    recorder.sessionsSeen(NOW - 2 * HOUR);
    session(store, "p1", "b");
    recorder.sessionsSeen(NOW - HOUR);
    session(store, "p2", "b");
    recorder.sessionsSeen(NOW - 30 * 60_000);
    session(store, "p1", "b", "dead");
    session(store, "p2", "b", "dead");
    recorder.sessionsSeen(NOW - 10 * 60_000);
    expect(writes).toEqual(["open a", "open b", "close a", "close b"]);
    expect(store.usage.periodsSince("a", 0)).toEqual([{ account: "a", kind: "active", startedAt: NOW - 3 * HOUR, endedAt: NOW - 30 * 60_000 }]);
    expect(store.usage.periodsSince("b", 0)).toEqual([{ account: "b", kind: "active", startedAt: NOW - HOUR, endedAt: NOW - 10 * 60_000 }]);
  });

  test("a restarted daemon keeps the active period it finds open", () => {
    const store = storeWith("a");
    session(store, "p1", "a");
    createUsageRecorder({ store }).sessionsSeen(NOW - 2 * HOUR);
    createUsageRecorder({ store }).sessionsSeen(NOW);
    expect(store.usage.periodsSince("a", 0)).toEqual([{ account: "a", kind: "active", startedAt: NOW - 2 * HOUR, endedAt: null }]);
  });

  test("a hit on an account already cooling is the same limit, unless another kind outlasts it", () => {
    const store = storeWith("a");
    const recorder = createUsageRecorder({ store });
    const hit = (kind: string, resetAt: number, coolingUntil: number | null) =>
      recorder.limitHit({ account: "a", kind, session: "p1", signal: "hook", at: NOW, resetAt }, coolingUntil);
    expect(hit("five_hour", NOW + 3 * HOUR, null)).toBe(true);
    expect(hit("five_hour", NOW + 3 * HOUR + 30_000, NOW + 3 * HOUR)).toBe(false); // the exact reset of the rounded one
    expect(hit("unknown", NOW + 2 * HOUR, NOW + 3 * HOUR)).toBe(false); // ends sooner: what already cools it
    expect(hit("five_hour", NOW + 5 * HOUR, NOW + 3 * HOUR)).toBe(false); // no reset known: each sighting pushes it out
    expect(hit("weekly", NOW + 50 * HOUR, NOW + 5 * HOUR)).toBe(true);
    expect(store.usage.limitsSince("a", 0).map((l) => l.kind)).toEqual(["five_hour", "weekly"]);
  });

  test("counts limits, turns and finished tasks per account, in the store and in the metrics", () => {
    const store = storeWith("a");
    const metrics = createMetrics();
    const recorder = createUsageRecorder({ store, metrics });
    recorder.limitHit({ account: "a", kind: "five_hour", session: "p1", signal: "hook", at: NOW, resetAt: NOW + HOUR });
    recorder.turn("a", NOW);
    recorder.turn("a", NOW);
    recorder.taskFinished("a", true, NOW);
    recorder.taskFinished("a", false, NOW);
    recorder.taskFinished(null, false, NOW);
    expect(store.usage.daysSince("a", "2026-11-29")).toEqual([{ account: "a", day: "2026-11-29", turns: 2, tasks_done: 1, tasks_failed: 1 }]);
    const text = metrics.render();
    expect(text).toContain('claude_failover_limits_total{account="a",kind="five_hour"} 1');
    expect(text).toContain('claude_failover_account_turns_total{account="a"} 2');
    expect(text).toContain('claude_failover_account_tasks_total{account="a",result="done"} 1');
    expect(text).toContain('claude_failover_account_tasks_total{account="a",result="failed"} 1');
  });
});

describe("accountUsage()", () => {
  test("an account never used shows zeros, no last limit and an empty timeline", () => {
    const usage = accountUsage(storeWith("a"), "a", NOW);
    expect(usage).toEqual({
      last_limit: null, limits_7d: 0, active_today_s: 0, active_7d_s: 0, tasks_done_today: 0, tasks_failed_today: 0,
      tasks_done_7d: 0, tasks_failed_7d: 0, turns_today: 0, turns_7d: 0,
      timeline: { from: new Date(NOW - DAY).toISOString(), to: new Date(NOW).toISOString(), periods: [], limits: [] },
    });
  });

  test("splits time active, tasks and turns into today (UTC) and the last 7 days", () => {
    const store = storeWith("a");
    const recorder = createUsageRecorder({ store });
    // Active from 22:00 yesterday to 01:00 today, and again from 09:00 (still running).
    store.usage.openPeriod("a", "active", MIDNIGHT - 2 * HOUR);
    store.usage.closePeriod("a", "active", MIDNIGHT + HOUR);
    store.usage.openPeriod("a", "active", NOW - HOUR);
    // Eight days ago: outside the week; six days ago: inside it.
    store.usage.openPeriod("b", "active", 0);
    recorder.turn("a", MIDNIGHT - 8 * DAY);
    recorder.turn("a", MIDNIGHT - 6 * DAY);
    recorder.turn("a", MIDNIGHT + HOUR);
    recorder.taskFinished("a", true, MIDNIGHT - 3 * DAY);
    recorder.taskFinished("a", true, NOW);
    recorder.taskFinished("a", false, NOW);
    recorder.limitHit({ account: "a", kind: "weekly", session: "p1", signal: "transcript", at: MIDNIGHT - 8 * DAY, resetAt: null });
    recorder.limitHit({ account: "a", kind: "weekly", session: "p2", signal: "transcript", at: MIDNIGHT - 2 * DAY, resetAt: MIDNIGHT });
    recorder.limitHit({ account: "a", kind: "five_hour", session: "p3", signal: "hook", at: NOW - 2 * HOUR, resetAt: NOW + 3 * HOUR });
    const usage = accountUsage(store, "a", NOW);
    expect(usage).toMatchObject({
      last_limit: { kind: "five_hour", at: new Date(NOW - 2 * HOUR).toISOString(), session: "p3", reset_at: new Date(NOW + 3 * HOUR).toISOString() },
      limits_7d: 2,
      active_today_s: 2 * 3600,
      active_7d_s: 4 * 3600,
      tasks_done_today: 1, tasks_failed_today: 1, tasks_done_7d: 2, tasks_failed_7d: 1,
      turns_today: 1, turns_7d: 2,
    });
  });

  test("the timeline covers the last 24 hours: periods cut at its start, open ones without an end, limits as marks", () => {
    const store = storeWith("a");
    store.usage.openPeriod("a", "active", NOW - 30 * HOUR);
    store.usage.closePeriod("a", "active", NOW - 5 * HOUR);
    store.setAccountState("a", "cooling", NOW + HOUR, NOW - 5 * HOUR);
    store.usage.addLimit({ account: "a", kind: "opus", session: "p1", signal: "pane", at: NOW - 26 * HOUR, resetAt: null });
    store.usage.addLimit({ account: "a", kind: "five_hour", session: "p1", signal: "hook", at: NOW - 5 * HOUR, resetAt: NOW + HOUR });
    const { timeline } = accountUsage(store, "a", NOW);
    const at = (ms: number) => new Date(ms).toISOString();
    expect(timeline.periods).toEqual([
      { kind: "active", from: at(NOW - DAY), to: at(NOW - 5 * HOUR) },
      { kind: "cooling", from: at(NOW - 5 * HOUR), to: null },
    ]);
    expect(timeline.limits).toEqual([{ at: at(NOW - 5 * HOUR), kind: "five_hour", session: "p1" }]);
  });
});

describe("the swap record", () => {
  test("keeps the kind of limit behind a quota swap, shown as last_swap.limit", () => {
    const store = storeWith("a", "b");
    const swap = (limitKind?: string) => store.createSwap({ fromAccount: "a", toAccount: "b", reason: limitKind ? "quota" : "manual", triggerSession: "p1", signal: "hook",
      pattern: "p", snippet: "s", resetAt: null, requestedAt: NOW, ...(limitKind ? { limitKind } : {}) });
    expect(swap("weekly").limitKind).toBe("weekly");
    const status = () => buildStatus(store, { version: "1", startedAt: NOW, activeAccount: "a", paused: false, exhaustedUntil: null }, NOW);
    expect(status().last_swap).toMatchObject({ reason: "quota", limit: "weekly" });
    swap();
    expect(status().last_swap).toMatchObject({ reason: "manual", limit: null });
  });
});

describe("buildStatus() accounts[]", () => {
  test("each account keeps its contract fields and gains its usage: snake_case, ISO times, seconds", () => {
    const store = storeWith("a", "b");
    const recorder = createUsageRecorder({ store });
    session(store, "p1", "a");
    recorder.sessionsSeen(NOW - HOUR);
    recorder.limitHit({ account: "a", kind: "weekly", session: "p1", signal: "transcript", at: NOW - 10 * 60_000, resetAt: NOW + DAY });
    store.setAccountState("a", "cooling", NOW + DAY, NOW - 10 * 60_000);
    recorder.turn("a", NOW - 20 * 60_000);
    const status = buildStatus(store, { version: "1", startedAt: NOW, activeAccount: "a", paused: false, exhaustedUntil: null }, NOW);
    const [a, b] = status.accounts;
    expect(a).toMatchObject({
      name: "a", home: "/h/a", state: "cooling", reset_at: new Date(NOW + DAY).toISOString(),
      last_limit: { kind: "weekly", at: new Date(NOW - 10 * 60_000).toISOString(), session: "p1", reset_at: new Date(NOW + DAY).toISOString() },
      limits_7d: 1, active_today_s: 3600, active_7d_s: 3600, turns_today: 1, turns_7d: 1, tasks_done_today: 0, tasks_failed_7d: 0,
    });
    expect(a!.timeline!.periods.map((p) => [p.kind, p.to])).toEqual([["active", null], ["cooling", null]]);
    expect(a!.timeline!.limits).toEqual([{ at: new Date(NOW - 10 * 60_000).toISOString(), kind: "weekly", session: "p1" }]);
    expect(b).toMatchObject({ name: "b", state: "available", reset_at: null, last_limit: null, limits_7d: 0, active_today_s: 0 });
  });
});
