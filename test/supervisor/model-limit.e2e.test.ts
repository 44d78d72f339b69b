import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listPanes, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { SIM_REQUEST_LOG } from "../../internal/demo/sim-login.ts";
import { formatResetTime } from "../../internal/demo/sim-screen.ts";
import { systemClock, type Clock } from "../../internal/clock.ts";

// Per-model limits end to end: real tmux on a private socket, the simulated Claude Code (whose default model hits
// "You've hit your Opus limit" while `--model sonnet` does not, and which opens the limit dialog), the whole daemon.
const OWNED = ["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"];
const CONTINUE = "Continue where you left off.";
const SIM_DEFAULT_MODEL = "claude-sim-1";
const FALLBACK = "{ poll_interval: 300ms, reactivate_cooldown: 1h, confirm_polls: 2, on_model_limit: fallback, fallback_model: sonnet }";
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

/** The daemon's clock, which the test can move forward (the sessions keep real time). */
function shiftedClock(): Clock & { jump(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, sleep: systemClock.sleep, jump: (ms) => void (offset += ms) };
}

/** A daemon whose owned sessions are idle, and the Opus limit line of account a, resetting two hours from now. */
async function fleet(quota: string, clock?: Clock) {
  const t = await startTestDaemon({ extra: { quota }, deps: clock ? { clock } : undefined });
  current = t;
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === OWNED.length, 20_000);
  const now = new Date();
  const line = `You've hit your Opus limit · resets ${formatResetTime(new Date(now.getTime() + 2 * 3_600_000), now, "UTC")} (UTC)`;
  return { t, line };
}

/** What each request of the simulated Claude Code went out with (its request log in the session home). */
const requests = (t: TestDaemon) => (existsSync(join(t.fleet, SIM_REQUEST_LOG)) ? readFileSync(join(t.fleet, SIM_REQUEST_LOG), "utf8") : "")
  .split("\n").filter(Boolean).map((l) => JSON.parse(l) as { session_id: string; token: string; prompt: string; model: string });

/** The `--model` each owned pane was started with (null: none). */
async function paneModels(t: TestDaemon): Promise<Record<string, string | null>> {
  const panes = await listPanes(t.server);
  return Object.fromEntries(OWNED.map((name) => [name, /--model (\S+)/.exec(panes.find((p) => p.name === name)?.command ?? "")?.[1] ?? null]));
}

describe("quota.on_model_limit: fallback", () => {
  test("the account stays, every session moves to --model sonnet with its conversation, the cut task continues once; after the reset they return to the default model", async () => {
    const clock = shiftedClock();
    const { t, line } = await fleet(FALLBACK, clock);
    writeFileSync(join(t.home("a"), "sim-model-limit"), `${line}\n`);
    const prompt = "[sim:work=500ms] Write the release notes";
    expect((await t.daemon.control.addTask({ project: "demo", name: "notes.md", prompt })).ok).toBe(true);
    const task = await eventually(() => t.daemon.control.tasks().find((row) => row.file === "notes.md" && row.state === "done"), 60_000);
    const session = t.daemon.control.status().sessions.find((s) => s.name === task.session)!;
    // The task went out on the default model and hit its limit; its one continue went out on sonnet, same conversation, same account.
    const sent = requests(t).filter((r) => r.session_id === session.session_id);
    expect(sent.map((r) => [r.prompt, r.model, r.token])).toEqual([[prompt, SIM_DEFAULT_MODEL, "sk-ant-oat01-SIM-a"], [CONTINUE, "sonnet", "sk-ant-oat01-SIM-a"]]);
    const transcript = readFileSync(transcriptPath(t.fleet, session.workdir, session.session_id!), "utf8");
    expect(transcript.split("\n").filter((l) => l.includes(`"content":"${CONTINUE}"`))).toHaveLength(1);
    expect(transcript.split("\n").filter((l) => l.includes(`"content":"${prompt}"`))).toHaveLength(1);
    // Every session on a runs sonnet (the idle ones too); a was not cooled and no swap happened.
    await eventually(async () => Object.values(await paneModels(t)).every((m) => m === "sonnet"), 20_000);
    const status = t.daemon.control.status();
    expect(status.accounts.map((a) => [a.name, a.state, a.models?.map((m) => m.model)])).toEqual([["a", "available", ["opus"]], ["b", "available", []]]);
    expect({ active: status.active_account, swaps: status.swaps.length, accounts: status.sessions.map((s) => s.account) }).toEqual({ active: "a", swaps: 0, accounts: ["a", "a", "a"] });
    // Nothing was typed into the limit dialog (the sim logs any key pressed while it shows).
    expect(existsSync(join(t.fleet, "sim-dialog-keys.log"))).toBe(false);
    expect(t.log.records.filter((r) => r.msg === "closing a dialog before continuing")).toEqual([]);
    expect(t.daemon.control.tasks().filter((row) => row.state !== "done")).toEqual([]);

    // The Opus limit resets: each session goes back to the default model once idle, with its conversation.
    rmSync(join(t.home("a"), "sim-model-limit"));
    clock.jump(2 * 3_600_000 + 60_000);
    await eventually(async () => Object.values(await paneModels(t)).every((m) => m === null), 30_000);
    expect(t.daemon.control.status().accounts[0]!.models).toEqual([]);
    await typePrompt(t.server, session.name, "[sim:work=0s] after the reset");
    await eventually(() => requests(t).some((r) => r.prompt === "[sim:work=0s] after the reset" && r.model === SIM_DEFAULT_MODEL && r.session_id === session.session_id), 20_000);
    expect(t.log.records.filter((r) => r.msg === "session relaunched for a model limit").map((r) => r.why).sort())
      .toEqual(["limit", "limit", "limit", "reset", "reset", "reset"]);
  }, 120_000);
});

describe("quota.on_model_limit: swap (the default)", () => {
  test("an Opus limit swaps the account as any limit does, and the cut task continues on b", async () => {
    const { t, line } = await fleet("{ poll_interval: 300ms, reactivate_cooldown: 1h, confirm_polls: 2 }");
    writeFileSync(join(t.home("a"), "sim-model-limit"), `${line}\n`);
    expect((await t.daemon.control.addTask({ project: "demo", name: "notes.md", prompt: "[sim:work=500ms] Write the release notes" })).ok).toBe(true);
    const task = await eventually(() => t.daemon.control.tasks().find((row) => row.file === "notes.md" && row.state === "done"), 60_000);
    const status = t.daemon.control.status();
    expect(status.last_swap).toMatchObject({ from: "a", to: "b", reason: "quota", trigger_session: task.session });
    expect(status.accounts.map((a) => [a.name, a.state, a.models])).toEqual([["a", "cooling", []], ["b", "available", []]]);
    expect(Object.values(await paneModels(t)).every((m) => m === null)).toBe(true);
    const sessionId = status.sessions.find((s) => s.name === task.session)!.session_id;
    expect(requests(t).filter((r) => r.session_id === sessionId).map((r) => [r.prompt === CONTINUE, r.token]))
      .toEqual([[false, "sk-ant-oat01-SIM-a"], [true, "sk-ant-oat01-SIM-b"]]);
  }, 90_000);
});
