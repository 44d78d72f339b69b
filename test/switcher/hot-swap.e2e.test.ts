import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { listPanes, startTestDaemon, typePrompt, freezeAtStep, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { readLogin } from "../../internal/claude/login.ts";
import { SIM_REQUEST_LOG } from "../../internal/demo/sim-login.ts";
import type { SwapStep } from "../../internal/state/state.ts";

// The in-place swap end to end: real tmux on a private socket, the simulated Claude Code (which re-reads its login
// for every request, like 2.1.330), the whole daemon in its default `switcher.mode: auto`.
const FOREIGN = ["ccl-0", "ccl-auto11"];
const OWNED = ["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"];
const CONTINUE = "Continue where you left off.";
const LIMIT = "You've hit your 5-hour limit · resets 11pm (Europe/Paris)";
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

/** A daemon whose owned sessions are idle, with the pid of every pane (owned and foreign). */
async function fleet(deps?: NonNullable<Parameters<typeof startTestDaemon>[0]>["deps"], extra?: NonNullable<Parameters<typeof startTestDaemon>[0]>["extra"]) {
  const t = await startTestDaemon({ foreign: FOREIGN, deps, extra });
  current = t;
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000);
  const pids = new Map((await listPanes(t.server)).map((p) => [p.name, p.pid]));
  return { t, pids };
}

/** What each request of the simulated Claude Code went out with (its request log in the session home). */
const requests = (t: TestDaemon) =>
  readFileSync(join(t.fleet, SIM_REQUEST_LOG), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { session_id: string; token: string; prompt: string });

/** The end state of every in-place swap from a to b: same processes, rows and login on b, nothing restarted. */
async function expectMovedInPlace(t: TestDaemon, pids: Map<string, number>) {
  await eventually(() => t.daemon.control.status().last_swap?.step === "done", 30_000);
  const status = t.daemon.control.status();
  expect(status.sessions.map((s) => [s.name, s.account]).sort()).toEqual(OWNED.map((n) => [n, "b"]));
  expect(status.last_swap!.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(OWNED.map((n) => [n, "kept"]));
  expect(status.swaps.filter((s) => s.step !== "failed")).toHaveLength(1);
  expect(status.swap_mode).toEqual({ mode: "in-place", why: "auto: Claude Code 2.1.330-sim re-reads its login for every request" });
  expect(readLogin(t.fleet)?.oauth.accessToken).toBe("sk-ant-oat01-SIM-b");
  const panes = await listPanes(t.server);
  expect(panes.map((p) => [p.name, p.pid]).sort()).toEqual([...pids].sort());
  for (const name of OWNED) expect(panes.find((p) => p.name === name)!.command).toContain(`CLAUDE_CONFIG_DIR=${t.fleet}`);
}

describe("a limit moves every session to the next account in place", () => {
  test("no process restarts, the cut task continues once on b, and its continue disarms the armed automatic continue", async () => {
    const { t, pids } = await fleet();
    writeFileSync(join(t.fleet, "settings.json"), JSON.stringify({ autoContinueAtUsageLimit: true }));
    writeFileSync(join(t.home("a"), "sim-quota"), `${LIMIT}\n`);
    const prompt = "[sim:work=500ms] Write the release notes";
    expect((await t.daemon.control.addTask({ project: "demo", name: "notes.md", prompt })).ok).toBe(true);
    await expectMovedInPlace(t, pids);
    const task = await eventually(() => t.daemon.control.tasks().find((row) => row.file === "notes.md" && row.state === "done"), 30_000);
    const session = t.daemon.control.status().sessions.find((s) => s.name === task.session)!;
    const sent = requests(t).filter((r) => r.session_id === session.session_id);
    // The task went out as a, hit the limit, and its one continue went out as b from the same conversation.
    expect(sent.map((r) => [r.prompt, r.token])).toEqual([[prompt, "sk-ant-oat01-SIM-a"], [CONTINUE, "sk-ant-oat01-SIM-b"]]);
    const transcript = readFileSync(transcriptPath(t.fleet, session.workdir, session.session_id!), "utf8");
    expect(transcript.split("\n").filter((l) => l.includes(`"content":"${CONTINUE}"`))).toHaveLength(1);
    const screen = (await t.server.tmux.capture([task.session!])).get(task.session!)!.join("\n");
    // No Esc was needed: the typed continue disarmed the CLI's own (reference/real-claude.md §14).
    expect(screen).not.toContain("Automatic continue cancelled");
    expect(screen).not.toContain("Continuing automatically");
    expect(t.daemon.control.status().accounts.map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "available"]]);
  }, 90_000);
});

describe("a cut task does not wait for the swap's last step", () => {
  test("its continue goes out on b while the swap still verifies, once, and the swap then ends", async () => {
    // The swap is held before `moving` until every signal of the cut turn was handled, then at `verifying`: with no
    // poll, nothing but the look after the swap can type the continue, and it must not wait for `done`.
    const gates = { moving: Promise.withResolvers<void>(), verifying: Promise.withResolvers<void>() };
    const hold = (_id: number, step: string) => (step === "moving" || step === "verifying" ? gates[step].promise : undefined);
    const { t, pids } = await fleet({ beforeSwapStep: hold },
      { quota: "{ poll_interval: 1h, reactivate_cooldown: 1h, confirm_polls: 2 }", watcher: "{ poll_interval: 1h, task_timeout: 10m }" });
    writeFileSync(join(t.home("a"), "sim-quota"), `${LIMIT}\n`);
    const prompt = "[sim:work=500ms] Write the changelog";
    expect((await t.daemon.control.addTask({ project: "demo", name: "changelog.md", prompt })).ok).toBe(true);
    const session = await eventually(() => t.daemon.control.tasks().find((row) => row.file === "changelog.md")?.session, 30_000);
    const signals = () => new Set(t.log.records.filter((r) => r.msg === "quota hit" && r.session === session).map((r) => r.signal));
    await eventually(() => signals().has("hook") && signals().has("transcript") && t.daemon.control.status().last_swap?.step === "moving", 30_000);
    gates.moving.resolve();
    await eventually(() => requests(t).some((r) => r.prompt === CONTINUE && r.token === "sk-ant-oat01-SIM-b"), 30_000);
    expect(t.daemon.control.status().last_swap?.step).toBe("verifying");
    gates.verifying.resolve();
    await expectMovedInPlace(t, pids);
    await eventually(() => t.daemon.control.tasks().find((row) => row.file === "changelog.md" && row.state === "done"), 30_000);
    expect(requests(t).filter((r) => r.prompt === CONTINUE)).toHaveLength(1);
  }, 120_000);
});

describe("a daemon killed during an in-place swap finishes it on its next start", () => {
  const steps: SwapStep[] = ["saving", "writing", "closing", "moving", "verifying"];
  for (const step of steps) {
    test(`killed at ${step}`, async () => {
      const { freeze, frozen } = freezeAtStep(step);
      const { t, pids } = await fleet({ beforeSwapStep: freeze });
      expect((await t.daemon.control.swap("b")).ok).toBe(true);
      await eventually(() => frozen(), 20_000, 10);
      await t.daemon.stop("simulated crash");
      expect(new Database(join(t.config.state_dir, "state.db"), { readonly: true }).query("SELECT step FROM swaps").get()).toEqual({ step });
      await t.restart();
      await expectMovedInPlace(t, pids);
      // The next request of every session goes out as b.
      await typePrompt(t.server, "ccl-auto-12", "[sim:work=0s] after the swap");
      await eventually(() => requests(t).some((r) => r.prompt === "[sim:work=0s] after the swap" && r.token === "sk-ant-oat01-SIM-b"));
    }, 60_000);
  }
});

describe("token refreshes", () => {
  test("a token a session's CLI refreshed is carried to the account home and used by its sibling sessions", async () => {
    const { t } = await fleet();
    await typePrompt(t.server, "ccl-auto-11", "[sim:refresh=1] [sim:work=0s] refresh first");
    await eventually(() => readLogin(t.home("a"))?.oauth.accessToken === "sk-ant-oat01-SIM-a-r1", 10_000);
    expect(readLogin(t.home("a"))?.oauth.refreshToken).toBe("sk-ant-ort01-SIM-a-r1");
    expect(readLogin(t.home("b"))?.oauth.accessToken).toBe("sk-ant-oat01-SIM-b");
    await typePrompt(t.server, "ccl-auto-12", "[sim:work=0s] sibling");
    await eventually(() => requests(t).some((r) => r.prompt === "[sim:work=0s] sibling" && r.token === "sk-ant-oat01-SIM-a-r1"));
  }, 60_000);
});
