import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { freezeAtStep, listPanes, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { readLogin } from "../../internal/claude/login.ts";
import { SIM_REQUEST_LOG } from "../../internal/demo/sim-login.ts";
import type { SwapStep } from "../../internal/state/state.ts";

// `switcher.placement: spread` end to end: real tmux on a private socket, the simulated Claude Code (which re-reads
// its login for every request, like 2.1.330), three accounts, six pool sessions, the default `switcher.mode: auto`.
const POOL = ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13", "ccl-auto-14", "ccl-auto-15", "ccl-auto-16"];
const CONTINUE = "Continue where you left off.";
const LIMIT = "You've hit your 5-hour limit · resets 11pm (Europe/Paris)";
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

/** A spread daemon whose six sessions are idle, with every pane's pid. */
async function fleet(deps?: NonNullable<Parameters<typeof startTestDaemon>[0]>["deps"]) {
  const t = await startTestDaemon({
    deps,
    extra: {
      accountNames: ["a", "b", "c"], dedicated: " []",
      pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: 6, max: 6, workdir: ${dir}/work }`,
      switcher: "{ relaunch_stagger: 100ms, verify_timeout: 20s, placement: spread }",
    },
  });
  current = t;
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 6, 30_000);
  const pids = new Map((await listPanes(t.server)).map((p) => [p.name, p.pid]));
  return { t, pids };
}

const sessionHome = (t: TestDaemon, name: string) => join(t.config.state_dir, "homes", "sessions", name);
const onAccount = (t: TestDaemon, account: string) => t.daemon.control.status().sessions.filter((s) => s.account === account).map((s) => s.name).sort();
/** Every request the simulated Claude Code sent from `session`'s home: prompt and token. */
const requests = (t: TestDaemon, session: string) => {
  const path = join(sessionHome(t, session), SIM_REQUEST_LOG);
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { prompt: string; token: string }) : [];
};

/** How many usage-limit error records the transcripts in `session`'s home hold: the turns the limit cut there. */
const limitRecords = (t: TestDaemon, session: string) => {
  const projects = join(sessionHome(t, session), "projects");
  if (!existsSync(projects)) return 0;
  return readdirSync(projects, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".jsonl"))
    .flatMap((f) => readFileSync(join(projects, f), "utf8").split("\n"))
    .filter((line) => line.includes('"apiError":"usage_limit_reached"')).length;
};

/** The end state of a limit on a: its two sessions moved in place, one to b and one to c; nothing else moved. */
async function expectAMovedInPlace(t: TestDaemon, pids: Map<string, number>, onA: string[]) {
  await eventually(() => t.daemon.control.status().last_swap?.step === "done", 30_000);
  const status = t.daemon.control.status();
  expect(status.swaps.filter((s) => s.step !== "failed")).toHaveLength(1);
  expect(status.last_swap!.from).toBe("a");
  expect(status.last_swap!.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(onA.map((name) => [name, "kept"]));
  expect(status.last_swap!.sessions.map((s) => s.to).sort()).toEqual(["b", "c"]);
  expect(status.swap_mode?.mode).toBe("in-place");
  expect(onAccount(t, "a")).toEqual([]);
  expect([onAccount(t, "b").length, onAccount(t, "c").length]).toEqual([3, 3]);
  const panes = await listPanes(t.server);
  expect(panes.map((p) => [p.name, p.pid]).sort()).toEqual([...pids].sort());
  for (const s of status.sessions) {
    expect(readLogin(sessionHome(t, s.name))?.oauth.accessToken).toBe(`sk-ant-oat01-SIM-${s.account}`);
    expect(panes.find((p) => p.name === s.name)!.command).toContain(`CLAUDE_CONFIG_DIR=${sessionHome(t, s.name)}`);
  }
}

describe("spread placement over three accounts", () => {
  test("six sessions run two per account; a limit on a moves only its two, in place, and each cut task finishes once", async () => {
    const { t, pids } = await fleet();
    expect(["a", "b", "c"].map((a) => onAccount(t, a).length)).toEqual([2, 2, 2]);
    expect(t.daemon.control.status().placement).toBe("spread");
    const onA = onAccount(t, "a");
    const before = new Map(t.daemon.control.status().sessions.map((s) => [s.name, s.account]));
    // Six tasks, one per session, all running; then a runs out: the last request of each turn on a hits the limit.
    // Each turn works long enough that none has ended when the quota is written, however slowly the six were typed
    // and confirmed on a loaded machine (with 8 s, one on a once ended first and was not cut).
    const prompts = POOL.map((_, i) => `[sim:work=25s] Task number ${i + 1}`);
    for (const [i, prompt] of prompts.entries()) expect((await t.daemon.control.addTask({ project: "demo", name: `t${i + 1}.md`, prompt })).ok).toBe(true);
    await eventually(() => t.daemon.control.tasks().filter((task) => task.state === "running" && task.delivery === "confirmed").length === 6, 30_000);
    writeFileSync(join(t.home("a"), "sim-quota"), `${LIMIT}\n`);
    await expectAMovedInPlace(t, pids, onA);
    for (const [name, account] of before) if (account !== "a") expect(t.daemon.control.status().sessions.find((s) => s.name === name)!.account).toBe(account);
    await eventually(() => t.daemon.control.tasks().filter((task) => task.state === "done").length === 6, 90_000);
    const sent = POOL.flatMap((name) => requests(t, name).map((r) => ({ ...r, session: name })));
    // Every task went out once. Each turn on a that the limit cut got one continue, sent as the account its session
    // moved to; a turn on a still running when its session moved sent its last request as that account, was not cut
    // and got none (which of a's two turns end before the move depends on how far apart they were typed).
    for (const prompt of prompts) expect(sent.filter((r) => r.prompt === prompt)).toHaveLength(1);
    const cut = POOL.filter((name) => limitRecords(t, name) > 0);
    expect(cut.length).toBeGreaterThanOrEqual(1);
    expect(onA).toEqual(expect.arrayContaining(cut));
    const continues = sent.filter((r) => r.prompt === CONTINUE);
    expect(continues.map((r) => r.session).sort()).toEqual(cut);
    const accountOf = (name: string) => t.daemon.control.status().sessions.find((s) => s.name === name)!.account;
    for (const c of continues) expect(c.token).toBe(`sk-ant-oat01-SIM-${accountOf(c.session)}`);
    expect(t.daemon.control.status().accounts.map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "available"], ["c", "available"]]);
  }, 180_000);
});

describe("a daemon killed during a spread swap finishes it on its next start", () => {
  const steps: SwapStep[] = ["writing", "moving"];
  for (const step of steps) {
    test(`killed at ${step}`, async () => {
      const { freeze, frozen } = freezeAtStep(step);
      const { t, pids } = await fleet({ beforeSwapStep: freeze });
      const onA = onAccount(t, "a");
      writeFileSync(join(t.home("a"), "sim-quota"), `${LIMIT}\n`);
      await typePrompt(t.server, onA[0]!, "[sim:work=0s] hit the limit");
      await eventually(() => frozen(), 20_000, 10);
      await t.daemon.stop("simulated crash");
      expect(new Database(join(t.config.state_dir, "state.db"), { readonly: true }).query("SELECT step FROM swaps").get()).toEqual({ step });
      await t.restart();
      await expectAMovedInPlace(t, pids, onA);
      await typePrompt(t.server, onA[1]!, "[sim:work=0s] after the swap");
      const account = t.daemon.control.status().sessions.find((s) => s.name === onA[1])!.account;
      await eventually(() => requests(t, onA[1]!).some((r) => r.prompt === "[sim:work=0s] after the swap" && r.token === `sk-ant-oat01-SIM-${account}`));
    }, 90_000);
  }
});
