import { describe, expect, test } from "bun:test";
import {
  escapeHtml, eventKey, eventLevel, formatDuration, formatWhen, renderEvent, type NotifyEvent,
} from "../../internal/notify/events.ts";

const AT = Date.UTC(2026, 10, 23, 12, 50); // 13:50 in Paris
const PARIS = "Europe/Paris";

describe("renderEvent()", () => {
  const cases: Array<[NotifyEvent, string, string]> = [
    [{ kind: "daemon_started", at: AT, version: "0.4.0", accounts: 3, sessions: 12 }, "ℹ️ claude-failover 0.4.0 started", "3 accounts, 12 sessions"],
    [{ kind: "daemon_stopping", at: AT, reason: "SIGTERM" }, "ℹ️ claude-failover stopping", "SIGTERM"],
    [{
      kind: "swap_started", at: AT, from: "main", to: "backup", reason: "quota exhausted", trigger_session: "ccl-auto-11",
      pattern: "usage limit", snippet: "Claude usage limit reached", reset_at: Date.UTC(2026, 10, 23, 14, 0),
    }, "⚠️ Swap main → backup", "main resets 15:00 Europe/Paris, in 1h 10m"],
    [{ kind: "swap_done", at: AT, from: "main", to: "backup", sessions: 12, resumed: 10, fresh: 2, duration_ms: 42_000 },
      "⚠️ Swap done main → backup", "12 sessions (10 resumed, 2 fresh) in 42s"],
    [{ kind: "swap_failed", at: AT, from: "main", to: null, error: "no account left" }, "🚨 Swap FAILED main → ?", "no account left"],
    [{ kind: "accounts_exhausted", at: AT, wake_at: Date.UTC(2026, 10, 23, 14, 0) }, "🚨 All accounts exhausted", "Next reset 15:00 Europe/Paris, in 1h 10m"],
    [{ kind: "account_available", at: AT, account: "main" }, "ℹ️ Account main available again", ""],
    [{ kind: "account_enabled", at: AT, account: "main", enabled: false }, "ℹ️ Account main disabled", ""],
    [{ kind: "task_done", at: AT, project: "web", file: "fix.md", session: "ccl-auto-12", duration_ms: 7_800_000 },
      "ℹ️ Task done: web/fix.md", "on ccl-auto-12 in 2h 10m"],
    [{ kind: "task_failed", at: AT, project: "web", file: "fix.md", reason: "timed out" }, "⚠️ Task failed: web/fix.md", "timed out"],
    [{ kind: "task_stalled", at: AT, project: "web", file: "fix.md", session: "ccl-auto-12", after_ms: 1_200_000 },
      "⚠️ Task stalled: web/fix.md", "no progress for 20m"],
    [{ kind: "session_dead", at: AT, session: "ccl-auto-13", reason: "pane exited" }, "🚨 Session ccl-auto-13 dead", "pane exited"],
    [{ kind: "tasks_waiting", at: AT, queued: 5, idle_sessions: 0, since: AT - 1_800_000 }, "⚠️ 5 tasks waiting", "since 13:20 Europe/Paris, 30m ago"],
    [{ kind: "breaker_open", at: AT, swaps: 3, window_ms: 600_000 }, "🚨 Swap breaker open", "3 swaps within 10m"],
    [{ kind: "test_message", at: AT, host: "build-01" }, "ℹ️ claude-failover test message", "notify test\" on build-01."],
    [{
      kind: "login_lost", at: AT, account: "main", home: "/h/main", session: "ccl-auto-11", cause: "revoked",
      line: "OAuth token revoked · Please run /login", fix: "CLAUDE_CONFIG_DIR=/h/main claude",
    }, "🚨 Account main lost its login", "Fix: run CLAUDE_CONFIG_DIR=/h/main claude, then /login in it."],
    [{ kind: "login_restored", at: AT, account: "main", how: "enabled" }, "ℹ️ Account main logged in again", "Enabled by the operator."],
    [{
      kind: "extra_usage", at: AT, account: "main", session: "ccl-auto-12", line: "You're now using usage credits", window: "five_hour",
      reset_at: Date.UTC(2026, 10, 23, 14, 0),
    }, "⚠️ Account main is using extra usage", "Plan limit resets 15:00 Europe/Paris, in 1h 10m"],
    [{
      kind: "model_limit", at: AT, account: "main", model: "opus", fallback: "sonnet", session: "ccl-auto-11",
      line: "You've hit your Opus limit · resets 3pm (UTC)", reset_at: Date.UTC(2026, 10, 23, 15, 0),
    }, "⚠️ Account main: Opus limit", "Its sessions run sonnet until 16:00 Europe/Paris, in 2h 10m, on the same account"],
    [{ kind: "model_restored", at: AT, account: "main", model: "opus" }, "ℹ️ Account main: Opus usable again", "default model once idle"],
  ];

  for (const [event, title, fragment] of cases) {
    test(`renders ${event.kind} with a short title and its details`, () => {
      const out = renderEvent(event, PARIS);

      expect(out.title).toBe(title);
      expect(out.text.startsWith(title)).toBe(true);
      expect(out.text).toContain(fragment);
      expect(out.html).toStartWith(`<b>${escapeHtml(title)}</b>`);
    });
  }

  test("marks a coalesced message with its count", () => {
    const out = renderEvent({ kind: "session_dead", at: AT, session: "s", reason: "gone" }, PARIS, 12);

    expect(out.title).toBe("🚨 Session s dead ×12");
  });

  test("escapes <, > and & in the HTML but not in the text", () => {
    const out = renderEvent({ kind: "task_failed", at: AT, project: "p", file: "a<b>.md", reason: "x & y" }, "UTC");

    expect(out.html).toContain("a&lt;b&gt;.md");
    expect(out.html).toContain("x &amp; y");
    expect(out.text).toContain("a<b>.md");
  });

  test("shows the date when the time is on another day in the operator's zone", () => {
    const out = renderEvent({ kind: "accounts_exhausted", at: AT, wake_at: AT + 26 * 3_600_000 }, PARIS);

    expect(out.text).toContain("24 Nov 15:50 Europe/Paris, in 1d 2h");
  });
});

describe("renderEvent() line", () => {
  test("puts a swap on one line with the account's reset, and other events as their title", () => {
    const started = renderEvent({
      kind: "swap_started", at: AT, from: "main", to: "backup", reason: "quota", trigger_session: "ccl-auto-11",
      pattern: "p", snippet: "s", reset_at: Date.UTC(2026, 10, 23, 14, 0),
    }, PARIS);
    const failed = renderEvent({ kind: "swap_failed", at: AT, from: "main", to: null, error: "no account left" }, PARIS);

    expect(started.line).toBe("⚠️ Swap main → backup: quota, main resets 15:00 Europe/Paris, in 1h 10m");
    expect(failed.line).toBe("🚨 Swap FAILED main → ?: no account left");
    expect(renderEvent({ kind: "session_dead", at: AT, session: "s", reason: "gone" }, PARIS).line).toBe("🚨 Session s dead");
  });
});

describe("formatDuration()", () => {
  const cases: Array<[number, string]> = [
    [0, "0s"], [45_000, "45s"], [12 * 60_000, "12m"], [2 * 3_600_000, "2h"], [7_800_000, "2h 10m"], [3 * 86_400_000 + 4 * 3_600_000, "3d 4h"],
  ];
  for (const [ms, text] of cases) test(`formats ${ms} ms as "${text}"`, () => expect(formatDuration(ms)).toBe(text));
});

describe("formatWhen()", () => {
  test("formats a past time with how long ago", () => {
    expect(formatWhen(AT - 5 * 60_000, AT, "UTC")).toBe("12:45 UTC, 5m ago");
  });
});

describe("eventLevel() and eventKey()", () => {
  test("derives the level from the kind unless the event overrides it", () => {
    expect(eventLevel({ kind: "task_done", at: AT, project: "p", file: "f", session: "s", duration_ms: 1 })).toBe("info");
    expect(eventLevel({ kind: "task_done", at: AT, level: "critical", project: "p", file: "f", session: "s", duration_ms: 1 })).toBe("critical");
  });

  test("keys a per-model limit by account and model, so an Opus and a Sonnet limit are two messages", () => {
    const opus: NotifyEvent = { kind: "model_limit", at: AT, account: "a", model: "opus", fallback: "sonnet", session: null, line: "", reset_at: AT };
    expect(eventKey(opus)).toBe("model_limit:a:opus");
    expect(eventKey({ ...opus, model: "fable" })).toBe("model_limit:a:fable");
    expect(eventKey({ kind: "model_restored", at: AT, account: "a", model: "opus" })).toBe("model_restored:a:opus");
  });

  test("keys an event by kind and main subject unless it carries its own key", () => {
    const dead = { kind: "session_dead", at: AT, session: "ccl-auto-11", reason: "x" } as const;

    expect(eventKey(dead)).toBe("session_dead:ccl-auto-11");
    expect(eventKey({ ...dead, reason: "other" })).toBe(eventKey(dead));
    expect(eventKey({ ...dead, key: "custom" })).toBe("custom");
  });
});
