/**
 * @module test/supervisor/usage-warning.e2e
 * Issue 13 end to end on real tmux (private socket) with the simulated Claude Code, which draws 2.1.330's usage
 * warning and credits line verbatim, right-aligned above its input box, ~5 s after a reply for ~8 s, once per text
 * (from `<account home>/sim-usage`): `switch_at` moves the sessions before any limit and cools the account until the
 * warning's reset; without it nothing happens; extra usage is a limit with `move` and only told with `allow`; a
 * warning drawn 8 s is caught even with a poll slower than that (the glance).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterPolls, listPanes, startTestDaemon, storedEvents, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { extraUsageText, usageWarningText } from "../../internal/demo/sim-screen.ts";

let current: TestDaemon | null = null;
afterEach(async () => {
  await current?.cleanup();
  current = null;
});

const SWITCH_AT_90 = (dir: string) => `
  - { name: a, home: ${dir}/homes/a, switch_at: 90 }
  - { name: b, home: ${dir}/homes/b }`;

/** A reset on the whole hour about three hours ahead, and the warning and credits lines that name it (UTC). */
function lines() {
  const now = new Date();
  const reset = new Date(Math.ceil((now.getTime() + 3 * 3_600_000) / 3_600_000) * 3_600_000);
  return { reset, warning: usageWarningText(91, "five_hour", reset, now, "UTC"), credits: extraUsageText("five_hour", reset, now, "UTC") };
}

async function fleet(extra: NonNullable<Parameters<typeof startTestDaemon>[0]>["extra"] = {}) {
  const t = await startTestDaemon({ extra });
  current = t;
  // A session is idle once a poll has seen its prompt: with a 20 s poll that is up to 20 s after it drew it.
  const pollMs = /poll_interval: (\d+)s/.exec(extra.quota ?? "")?.[1];
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000 + Number(pollMs ?? 0) * 1000);
  return t;
}

const screenOf = async (t: TestDaemon, session: string) => ((await t.server.tmux.capture([session])).get(session) ?? []).join("\n");

/** Adds one short task and returns the session it ran on once its reply is on screen. */
async function runTask(t: TestDaemon, name: string): Promise<string> {
  expect((await t.daemon.control.addTask({ project: "demo", name, prompt: `[sim:work=300ms] ${name}` })).ok).toBe(true);
  const task = await eventually(() => t.daemon.control.tasks().find((row) => row.file === name && row.session), 20_000);
  await eventually(async () => (await screenOf(t, task.session!)).includes(`Done: ${name}`), 20_000);
  return task.session!;
}

describe("switch_at: a usage warning moves the sessions before any limit", () => {
  test("switch_at 90 and a 91% warning: every session moves to b in place, a cools until the warning's reset", async () => {
    const t = await fleet({ accounts: SWITCH_AT_90 });
    const pids = new Map((await listPanes(t.server)).map((p) => [p.name, p.pid]));
    const { reset, warning } = lines();
    writeFileSync(join(t.home("a"), "sim-usage"), `${warning}\n`);
    const session = await runTask(t, "notes.md");
    await eventually(() => t.daemon.control.status().last_swap?.step === "done", 30_000);
    const status = t.daemon.control.status();
    expect(status.last_swap).toMatchObject({ reason: "warning", from: "a", to: "b", trigger_session: session, pattern: "warning:used-percent", snippet: warning });
    expect(status.swaps).toHaveLength(1);
    expect(status.accounts.map((a) => [a.name, a.state, a.reset_at])).toEqual([["a", "cooling", reset.toISOString()], ["b", "available", null]]);
    expect(status.sessions.map((s) => s.account)).toEqual(["b", "b", "b"]);
    expect((await listPanes(t.server)).map((p) => [p.name, p.pid]).sort()).toEqual([...pids].sort());
    await eventually(() => t.daemon.control.tasks().find((row) => row.file === "notes.md")?.state === "done", 20_000);
  }, 90_000);

  test("without switch_at the same warning is only logged: no swap, no account cooling", async () => {
    const t = await fleet();
    const { warning } = lines();
    writeFileSync(join(t.home("a"), "sim-usage"), `${warning}\n`);
    const session = await runTask(t, "notes.md");
    await eventually(async () => (await screenOf(t, session)).includes("You've used 91% of your 5-hour limit"), 20_000);
    await eventually(() => t.log.records.some((r) => r.msg === "usage warning seen" && r.why === "no switch_at"), 10_000);
    await afterPolls(t.daemon.url(), 3);
    const status = t.daemon.control.status();
    expect(status.swaps).toEqual([]);
    expect(status.accounts.map((a) => a.state)).toEqual(["available", "available"]);
  }, 90_000);

  test("a warning drawn for 8 s is caught with a 20 s poll (the glance)", async () => {
    const t = await fleet({ accounts: SWITCH_AT_90, quota: "{ poll_interval: 20s, reactivate_cooldown: 1h, confirm_polls: 2 }", watcher: "{ poll_interval: 20s, task_timeout: 10m }" });
    const { warning } = lines();
    writeFileSync(join(t.home("a"), "sim-usage"), `${warning}\n`);
    await typePrompt(t.server, "ccl-auto-12", "[sim:work=300ms] summarise the changelog");
    await eventually(() => t.daemon.control.status().last_swap?.step === "done", 40_000);
    expect(t.daemon.control.status().last_swap).toMatchObject({ reason: "warning", from: "a", to: "b", trigger_session: "ccl-auto-12", signal: "pane" });
  }, 120_000);
});

describe("quota.on_extra_usage", () => {
  test("move (default): the credits line is a's limit: sessions move to b (reason extra_usage), a cools until the reset", async () => {
    const t = await fleet();
    const { reset, credits } = lines();
    writeFileSync(join(t.home("a"), "sim-usage"), `${credits}\n`);
    const session = await runTask(t, "notes.md");
    await eventually(() => t.daemon.control.status().last_swap?.step === "done", 30_000);
    const status = t.daemon.control.status();
    expect(status.last_swap).toMatchObject({ reason: "extra_usage", from: "a", to: "b", trigger_session: session, pattern: "warning:now-using-credits" });
    expect(status.accounts.map((a) => [a.name, a.state, a.reset_at])).toEqual([["a", "cooling", reset.toISOString()], ["b", "available", null]]);
    expect(status.sessions.map((s) => s.account)).toEqual(["b", "b", "b"]);
  }, 90_000);

  test("allow: the sessions stay on a and the operator is told once", async () => {
    const t = await fleet({ quota: "{ poll_interval: 300ms, reactivate_cooldown: 1h, confirm_polls: 2, on_extra_usage: allow }" });
    const { reset, credits } = lines();
    writeFileSync(join(t.home("a"), "sim-usage"), `${credits}\n`);
    const session = await runTask(t, "notes.md");
    await eventually(() => storedEvents(t, "extra_usage").length > 0, 20_000);
    // The line stays on screen for 8 s: many polls see it, one notification.
    await eventually(async () => !(await screenOf(t, session)).includes("You're now using usage credits"), 20_000);
    await afterPolls(t.daemon.url(), 2);
    expect(storedEvents(t, "extra_usage")).toEqual([
      expect.objectContaining({ account: "a", session, line: credits, window: "five_hour", reset_at: reset.getTime() }),
    ]);
    const status = t.daemon.control.status();
    expect(status.swaps).toEqual([]);
    expect(status.accounts.map((a) => a.state)).toEqual(["available", "available"]);
  }, 90_000);
});
