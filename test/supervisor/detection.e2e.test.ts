import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterPolls, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { parseResetTime } from "../../internal/quota/reset-time.ts";

// Real tmux (private socket), the simulated Claude Code and the whole daemon: what reaches the swap decision.
let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000);
}, 30_000);

afterAll(async () => {
  await t.cleanup();
});

const swaps = () => t.daemon.control.status().swaps;

describe("quota detection against real panes", () => {
  test("a 529, a 500 whose body says rate limit, and a conversation quoting the limit request no swap", async () => {
    await typePrompt(t.server, "ccl-auto-11", "[sim:work=0s][sim:say=API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. If it persists, check https://status.claude.com.] go");
    await typePrompt(t.server, "ccl-auto-12", '[sim:work=0s][sim:say=API Error: 500 {"type":"error","error":{"type":"api_error","message":"rate limit of upstream exceeded"}}] go');
    await typePrompt(t.server, "ccl-1-ded", "[sim:work=0s][sim:reply=The log says \"You've hit your limit · resets 3pm (Europe/Paris)\" but that was yesterday] go");
    // Once all three screens are up, several more polls look at them.
    const shows = { "ccl-auto-11": "529 Overloaded", "ccl-auto-12": "rate limit of upstream", "ccl-1-ded": "that was yesterday" };
    await eventually(async () => {
      const screens = await t.server.tmux.capture(Object.keys(shows));
      return Object.entries(shows).every(([name, text]) => screens.get(name)?.some((l) => l.includes(text)));
    }, 15_000);
    await afterPolls(t.daemon.url(), 5);
    expect(swaps()).toEqual([]);
    expect(t.daemon.control.status().accounts.map((a) => a.state)).toEqual(["available", "available"]);
    const transient = t.log.records.filter((r) => r.msg === "transient error seen");
    expect(transient.length).toBeGreaterThan(0);
  }, 30_000);

  // How fast (hook → swap request) is a figure of bench/detection.ts; here: the hook alone is enough, since no pane
  // shows a limit line.
  test("a StopFailure hook with a quota line requests a swap on its own, with the hook's reset time", async () => {
    const line = "You've hit your 5-hour limit · resets 11pm (Europe/Paris)";
    const session = t.daemon.control.status().sessions.find((s) => s.name === "ccl-auto-11")!;
    const hookToken = require("node:fs").readFileSync(join(t.config.state_dir, "hook-token"), "utf8").trim();
    const response = await fetch(`${t.daemon.url()}hooks/StopFailure?session=ccl-auto-11`, {
      method: "POST", headers: { "X-Claude-Failover-Hook": hookToken, "Content-Type": "application/json" },
      body: JSON.stringify({ hook_event_name: "StopFailure", session_id: session.session_id, error: "rate_limit", last_assistant_message: line }),
    });
    expect(response.status).toBe(202);
    const swap = await eventually(() => swaps()[0], 15_000, 10);
    expect(swap).toMatchObject({ from: "a", to: "b", reason: "quota", trigger_session: "ccl-auto-11", signal: "hook" });
    expect(swap.snippet).toBe(line);
    const expected = parseResetTime("11pm (Europe/Paris)", Date.parse(swap.at), "UTC");
    expect(swap.reset_at).toBe(new Date(expected!).toISOString());
    expect(t.daemon.control.status().accounts.find((a) => a.name === "a")).toMatchObject({ state: "cooling", reset_at: new Date(expected!).toISOString() });
    await eventually(() => swaps()[0]?.step === "done", 30_000);
    // Usage at a glance: the limit with its kind and session (in the swap record too), the turns the first test took on
    // a (prompts in the transcripts), a's cooling on its timeline, and b active once the sessions run on it.
    const a = t.daemon.control.status().accounts.find((x) => x.name === "a")!;
    expect(a).toMatchObject({ limits_7d: 1, last_limit: { kind: "five_hour", session: "ccl-auto-11" } });
    expect(a.turns_today).toBeGreaterThanOrEqual(3);
    expect(a.timeline!.periods.map((p) => [p.kind, p.to === null])).toContainEqual(["cooling", true]);
    expect(a.timeline!.limits).toEqual([expect.objectContaining({ kind: "five_hour", session: "ccl-auto-11" })]);
    expect(swaps()[0]!.limit).toBe("five_hour");
    await eventually(() => t.daemon.control.status().accounts.find((x) => x.name === "b")!.timeline!.periods.some((p) => p.kind === "active" && p.to === null), 10_000);
  }, 40_000);

  test("a quota line on a session of the new account within the cooldown requests exactly one more swap attempt and no ping-pong", async () => {
    // Account b now reports its own dated limit: the cooldown yields, but a has no quota: exhausted, not a swap back.
    writeFileSync(join(t.home("b"), "sim-quota"), "You've hit your weekly limit · resets Nov 28, 10am (UTC)\n");
    await typePrompt(t.server, "ccl-auto-12", "[sim:work=0s] one more turn");
    await eventually(() => t.daemon.control.status().exhausted, 10_000);
    await afterPolls(t.daemon.url(), 5);
    expect(swaps()).toHaveLength(1);
    expect(t.daemon.control.status().accounts.map((a) => a.state)).toEqual(["cooling", "cooling"]);
    expect(t.daemon.control.status().wake_at).not.toBeNull();
  }, 30_000);
});

test("the hook sink refuses a forged event without the hook token", async () => {
  const response = await fetch(`${t.daemon.url()}hooks/StopFailure?session=ccl-auto-11`, {
    method: "POST", headers: { "X-Claude-Failover-Hook": "wrong", "Content-Type": "application/json" }, body: "{}",
  });
  expect(response.status).toBe(401);
});

describe("the pane alone, when no hook reaches the daemon", () => {
  let p: TestDaemon;
  afterAll(async () => {
    await p?.cleanup();
  });

  // How fast (screen → swap request) is a figure of bench/detection.ts; here: what the swap says, and that it is one.
  test("a limit line above the prompt box requests one swap from the pane, with the right reset time", async () => {
    p = await startTestDaemon();
    await eventually(() => p.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000);
    // Replace ccl-auto-12's Claude Code with a program that only draws screens: a busy turn, then the limit.
    const rule = "─".repeat(80);
    const busy = join(p.dir, "busy.txt");
    const limit = join(p.dir, "limit.txt");
    writeFileSync(busy, `✻ Working… (3s · esc to interrupt)\n\n${rule}\n❯ \n${rule}\n  ⏵⏵ bypass permissions on · esc to interrupt\n`);
    writeFileSync(limit, `● Working on it\n  ⎿ \u00a0You've hit your 5-hour limit · resets 11pm (Europe/Paris)\n     /upgrade to increase your usage limit.\n\n${rule}\n❯ \n${rule}\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n`);
    await p.server.raw("respawn-pane", "-k", "-t", "=ccl-auto-12:", "sh", "-c", 'cat "$0"; sleep 1; clear; cat "$1"; exec sleep 3600', busy, limit);
    const swap = await eventually(() => p.daemon.control.status().swaps[0], 15_000, 20);
    expect(swap).toMatchObject({ from: "a", to: "b", trigger_session: "ccl-auto-12", signal: "pane" });
    expect(swap.snippet).toBe("You've hit your 5-hour limit · resets 11pm (Europe/Paris)");
    const expected = parseResetTime("11pm (Europe/Paris)", Date.parse(swap.at), "UTC");
    expect(swap.reset_at).toBe(new Date(expected!).toISOString());
    await afterPolls(p.daemon.url(), 5);
    expect(p.daemon.control.status().swaps).toHaveLength(1);
  }, 40_000);
});
