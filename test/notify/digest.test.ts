import { describe, expect, test } from "bun:test";
import { createFakeClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { createDigest, nextOccurrence } from "../../internal/notify/digest.ts";
import { renderEvent, type NotifyEvent } from "../../internal/notify/events.ts";
import { openStore, type Store } from "../../internal/state/state.ts";

const HOUR = 3_600_000;
const PARIS = "Europe/Paris";
/** 09:00 in Paris on 24 Nov 2026 (UTC+1). */
const DUE = Date.UTC(2026, 10, 24, 8, 0);
const SINCE = DUE - 24 * HOUR;

/**
 * A day in the store: main active until a quota swap to backup at +6h (main's 5-hour limit), backup's weekly limit at
 * +10h and a failed swap to spare, backup moved off at switch_at at +19h30 and back to main at +20h.
 */
function day(): Store {
  const store = openStore(":memory:");
  store.syncAccounts([{ name: "main", home: "/h/main", priority: 0 }, { name: "backup", home: "/h/backup", priority: 1 }, { name: "spare", home: "/h/spare", priority: 2 }], SINCE);
  const swap = (at: number, from: string, to: string, reason: "quota" | "manual" | "reset" | "warning", step: "done" | "failed") => {
    const row = store.createSwap({ fromAccount: from, toAccount: to, reason, triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: at });
    store.updateSwap(row.id, { step }, at + 60_000);
  };
  swap(SINCE - 2 * HOUR, "backup", "main", "manual", "done"); // yesterday: not in the period
  swap(SINCE + 6 * HOUR, "main", "backup", "quota", "done");
  swap(SINCE + 10 * HOUR, "backup", "spare", "quota", "failed");
  swap(SINCE + 20 * HOUR, "backup", "main", "warning", "done");
  const limit = (account: string, kind: string, at: number) => store.usage.addLimit({ account, kind, session: "ccl-auto-11", signal: "hook", at, resetAt: at + 5 * HOUR });
  limit("main", "opus", SINCE - HOUR); // before the period
  limit("main", "five_hour", SINCE + 6 * HOUR);
  limit("backup", "weekly", SINCE + 10 * HOUR);
  limit("backup", "switch_at", SINCE + 19.5 * HOUR);
  const active = (account: string, from: number, to: number | null) => {
    store.usage.openPeriod(account, "active", from);
    if (to !== null) store.usage.closePeriod(account, "active", to);
  };
  active("main", SINCE - 2 * HOUR, SINCE + 6 * HOUR);
  active("backup", SINCE + 6 * HOUR, SINCE + 20 * HOUR);
  active("main", SINCE + 20 * HOUR, null);
  store.usage.openPeriod("backup", "cooling", SINCE + 10 * HOUR); // not time sessions ran on it
  const task = (file: string, state: "done" | "failed", finishedAt: number, error: string | null = null) => {
    const t = store.addTask({ project: "web", file, priority: 0, workdir: "/w", timeoutMs: null, prompt: "p", createdAt: SINCE - HOUR });
    store.updateTask(t.id, { state, finishedAt, error });
  };
  task("a.md", "done", SINCE + HOUR);
  task("b.md", "done", SINCE + 7 * HOUR);
  task("c.md", "failed", SINCE + 8 * HOUR, "timed out after 2h");
  task("old.md", "done", SINCE - HOUR);
  task("queued.md", "done", DUE + HOUR);
  return store;
}

describe("createDigest()", () => {
  test("sends at digest_at in the operator's zone a summary of the 24 hours before, read from the store", async () => {
    const clock = createFakeClock(DUE - 3 * HOUR);
    const sent: NotifyEvent[] = [];
    const abort = new AbortController();
    const digest = createDigest({ store: day(), clock, log: memoryLog(), send: (e) => sent.push(e) }, { at: "09:00", timeZone: PARIS });

    digest.start(abort.signal);
    await clock.advance(3 * HOUR - 1);
    expect(sent).toHaveLength(0);
    await clock.advance(1);
    abort.abort();

    expect(sent).toEqual([{
      kind: "daily_digest", at: DUE, since: SINCE,
      accounts: [
        { account: "main", limits: 1, limit_kinds: { five_hour: 1 }, active_ms: 10 * HOUR },
        { account: "backup", limits: 2, limit_kinds: { weekly: 1, switch_at: 1 }, active_ms: 14 * HOUR },
        { account: "spare", limits: 0, limit_kinds: {}, active_ms: 0 },
      ],
      tasks_done: 2, tasks_failed: 1,
      failed: [{ project: "web", file: "c.md", reason: "timed out after 2h" }],
      swaps: [
        { at: SINCE + 6 * HOUR, from: "main", to: "backup", reason: "quota", ok: true },
        { at: SINCE + 10 * HOUR, from: "backup", to: "spare", reason: "quota", ok: false },
        { at: SINCE + 20 * HOUR, from: "backup", to: "main", reason: "warning", ok: true },
      ],
    }]);
  });

  test("renders the digest as a short message, one line per account and per swap", () => {
    const digest = createDigest({ store: day(), clock: createFakeClock(DUE), log: memoryLog(), send: () => {} }, { timeZone: PARIS });

    const text = renderEvent(digest.build(DUE), PARIS).text;

    expect(text.split("\n")).toEqual([
      "ℹ️ Daily digest",
      "Since 23 Nov 09:00 Europe/Paris",
      "main: 1 limit hit (5-hour), active 10h",
      "backup: 2 limits hit (weekly, switch_at), active 14h",
      "spare: 0 limits hit, active 0s",
      "Tasks: 2 done, 1 failed",
      "✗ web/c.md: timed out after 2h",
      "Swaps: 3",
      "15:00 main → backup (quota)",
      "19:00 backup → spare (quota) FAILED",
      "05:00 backup → main (warning)",
    ]);
  });

  test("counts the time of every account sessions ran on, at the same time too (spread placement)", () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "a", home: "/h/a", priority: 0 }, { name: "b", home: "/h/b", priority: 1 }], SINCE);
    store.usage.openPeriod("a", "active", SINCE - HOUR);
    store.usage.openPeriod("b", "active", SINCE + 12 * HOUR);
    const digest = createDigest({ store, clock: createFakeClock(DUE), log: memoryLog(), send: () => {} }, {});

    expect(digest.build(DUE)).toMatchObject({
      accounts: [{ account: "a", limits: 0, active_ms: 24 * HOUR }, { account: "b", limits: 0, active_ms: 12 * HOUR }], tasks_done: 0, swaps: [],
    });
  });

  test("an idle day is no time active", () => {
    const store = openStore(":memory:");
    store.syncAccounts([{ name: "main", home: "/h/main", priority: 0 }], SINCE);
    const digest = createDigest({ store, clock: createFakeClock(DUE), log: memoryLog(), send: () => {} }, {});

    expect(digest.build(DUE)).toMatchObject({ accounts: [{ account: "main", limits: 0, limit_kinds: {}, active_ms: 0 }] });
  });
});

describe("nextOccurrence()", () => {
  const cases: Array<[string, string, number, number]> = [
    ["the same day when the time is still ahead", "09:00", Date.UTC(2026, 10, 24, 7, 59), DUE],
    ["the next day once the time has passed", "09:00", DUE, DUE + 24 * HOUR],
    ["the next day in UTC", "00:00", Date.UTC(2026, 10, 24, 23, 0), Date.UTC(2026, 10, 25, 0, 0)],
    ["the summer offset after the clocks go forward", "09:00", Date.UTC(2026, 2, 28, 12, 0), Date.UTC(2026, 2, 29, 7, 0)],
  ];
  for (const [name, hhmm, now, expected] of cases) {
    test(`returns ${name}`, () => {
      expect(nextOccurrence(hhmm, name.includes("UTC") ? "UTC" : PARIS, now)).toBe(expected);
    });
  }
});
