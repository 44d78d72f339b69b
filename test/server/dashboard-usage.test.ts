import { describe, expect, test } from "bun:test";
import { renderDashboard } from "../../internal/server/dashboard.ts";
import { duration, USAGE_SCRIPT } from "../../internal/server/dashboard-usage.ts";
import type { StatusSnapshot } from "../../internal/state/status.ts";

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 29, 12);
const iso = (ms: number) => new Date(ms).toISOString();

/** Two accounts: main active 18 h ago → 6 h ago, then cooling after a limit; backup active since (still open). */
function usageSnapshot(): StatusSnapshot {
  const from = iso(NOW - 24 * HOUR);
  return {
    version: "0.4.0", now: iso(NOW), started_at: iso(NOW), active_account: "backup", swapping: false, paused: false, exhausted: false, wake_at: null,
    accounts: [
      {
        name: "main", home: "/h/main", state: "cooling", reset_at: iso(NOW + 2 * HOUR), limits_7d: 2, active_today_s: 6 * 3600, active_7d_s: 40 * 3600,
        last_limit: { kind: "five_hour", at: iso(NOW - 6 * HOUR), session: "ccl-auto-11", reset_at: iso(NOW + 2 * HOUR) },
        tasks_done_today: 4, tasks_failed_today: 1, tasks_done_7d: 20, tasks_failed_7d: 2, turns_today: 30, turns_7d: 150,
        timeline: {
          from, to: iso(NOW),
          periods: [{ kind: "active", from: iso(NOW - 18 * HOUR), to: iso(NOW - 6 * HOUR) }, { kind: "cooling", from: iso(NOW - 6 * HOUR), to: null }],
          limits: [{ at: iso(NOW - 6 * HOUR), kind: "five_hour", session: "ccl-auto-11" }],
        },
      },
      {
        name: "<b>backup</b>", home: "/h/b", state: "available", reset_at: null, limits_7d: 0, active_today_s: 6 * 3600, active_7d_s: 6 * 3600,
        last_limit: null, tasks_done_today: 2, tasks_failed_today: 0, tasks_done_7d: 2, tasks_failed_7d: 0, turns_today: 12, turns_7d: 12,
        timeline: { from, to: iso(NOW), periods: [{ kind: "active", from: iso(NOW - 6 * HOUR), to: null }], limits: [] },
      },
    ],
    sessions: [], tasks: { queued: 0, running: 0, done: 0, failed: 0, stalled: 0 }, queue: [], last_swap: null, swaps: [],
  };
}

/** The markup of the usage row of `account`. */
const rowOf = (page: string, account: string) => page.match(new RegExp(`<div class="u-acct" data-usage-account="${account}"[\\s\\S]*?</svg>`))?.[0] ?? "";

describe("the dashboard's Usage panel", () => {
  test("draws each account's last 24 hours: active in the upper lane, its states in the lower one, limits as marks", () => {
    const page = renderDashboard(usageSnapshot(), { nonce: "n" });
    const main = rowOf(page, "main");
    expect(main).toContain('data-state="cooling"');
    expect(main).toMatch(/<rect class="tl-period tl-active" data-kind="active" x="250" y="1" width="500" height="5">/);
    expect(main).toMatch(/<rect class="tl-period tl-cooling" data-kind="cooling" x="750" y="8" width="250" height="5">/);
    expect(main).toMatch(/<line class="tl-limit" data-limit-kind="five_hour" x1="750" x2="750" y1="0" y2="14"><title>five_hour limit at 06:00 UTC on ccl-auto-11<\/title>/);
    const backup = rowOf(page, "&lt;b&gt;backup&lt;/b&gt;");
    expect(backup).toMatch(/data-kind="active" x="750" y="1" width="250"/);
    expect(backup).not.toContain("tl-limit");
  });

  test("shows the figures: time active, limits, tasks, turns and the last limit", () => {
    const page = renderDashboard(usageSnapshot());
    const main = rowOf(page, "main");
    expect(main).toContain('data-fig="active">active 6h 00m today · 1d 16h in 7 d<');
    expect(main).toContain('data-fig="limits">2 limits in 7 d<');
    expect(main).toContain('data-fig="tasks">tasks 4 done · 1 failed today (20 · 2 in 7 d)<');
    expect(main).toContain('data-fig="turns">turns 30 today · 150 in 7 d<');
    expect(main).toContain('data-fig="last-limit">last limit five_hour 6h 00m ago on ccl-auto-11<');
    expect(rowOf(page, "&lt;b&gt;backup&lt;/b&gt;")).toContain('data-fig="last-limit">no limit yet<');
  });

  test("places nothing with style attributes (the CSP allows none) and runs its script under the page's nonce", () => {
    const page = renderDashboard(usageSnapshot(), { nonce: "abc" });
    const panel = page.slice(page.indexOf('<div id="usage">'), page.indexOf("<h2>Swaps</h2>"));
    expect(panel).not.toContain("style=");
    expect(page).toContain(`<script nonce="abc">${USAGE_SCRIPT}</script>`);
    expect(USAGE_SCRIPT).not.toContain("innerHTML");
    expect(USAGE_SCRIPT).not.toContain("${");
  });

  test("an account from a daemon too old to report usage gets an empty timeline and no figures", () => {
    const snapshot = usageSnapshot();
    snapshot.accounts = [{ name: "old", home: "/h/o", state: "available", reset_at: null }];
    const row = rowOf(renderDashboard(snapshot), "old");
    expect(row).toContain("tl-bg");
    expect(row).not.toContain("tl-period");
    expect(row).not.toContain("data-fig");
  });
});

describe("the dashboard's swaps", () => {
  test("name the kind of limit behind a quota swap", () => {
    const snapshot = usageSnapshot();
    const swap = { id: 3, at: iso(NOW), step: "done" as const, from: "main", to: "backup", reason: "quota", limit: "five_hour", trigger_session: "ccl-auto-11",
      signal: "hook", pattern: "p", snippet: null, reset_at: null, error: null, sessions: [] };
    snapshot.swaps = [swap];
    expect(renderDashboard(snapshot)).toContain("<span>limit <b>five_hour</b></span>");
  });
});

describe("duration()", () => {
  test("reads minutes, hours and days", () => {
    expect([0, 59, 45 * 60, 3 * 3600 + 5 * 60, 2 * 86400 + 4 * 3600 + 59].map(duration)).toEqual(["0m", "0m", "45m", "3h 05m", "2d 4h"]);
  });
});
