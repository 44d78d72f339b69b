/**
 * @module test/supervisor/login.e2e
 * A lost login end to end: real tmux on a private socket, the simulated Claude Code taught the 2.1.330 auth failure
 * (reference/real-claude.md §13.3), the whole daemon. Account a's token is refused mid-task: a becomes `needs_login`,
 * the operator is told once with the fix, every session moves to b in place with its conversation, the cut task goes
 * on there; `accounts enable a` (after the operator logged in) brings a back.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterPolls, listPanes, startTestDaemon, storedEvents, TOKEN, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { readLogin } from "../../internal/claude/login.ts";
import { SIM_REQUEST_LOG } from "../../internal/demo/sim-login.ts";
import { LOGIN_LINES } from "../../internal/demo/sim-screen.ts";

const OWNED = ["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"];
const CONTINUE = "Continue where you left off.";
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

const requests = (t: TestDaemon) =>
  readFileSync(join(t.fleet, SIM_REQUEST_LOG), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { session_id: string; token: string; prompt: string });

/** The operator events the daemon recorded (its event log, read from the state file). */
describe("a lost login moves the sessions and waits for the operator", () => {
  test("a is needs_login, the operator is told once with the fix, the sessions move to b in place, the task goes on; enable brings a back", async () => {
    const t = await startTestDaemon();
    current = t;
    await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000);
    const pids = new Map((await listPanes(t.server)).map((p) => [p.name, p.pid]));

    // The server refuses a's token from now on (a 403 "revoked"), wherever its login is used.
    writeFileSync(join(t.home("a"), "sim-auth"), "revoked\n");
    const prompt = "[sim:work=500ms] Write the release notes";
    expect((await t.daemon.control.addTask({ project: "demo", name: "notes.md", prompt })).ok).toBe(true);

    await eventually(() => t.daemon.control.status().last_swap?.step === "done", 30_000);
    let status = t.daemon.control.status();
    expect(status.accounts.map((a) => [a.name, a.state])).toEqual([["a", "needs_login"], ["b", "available"]]);
    expect(status.accounts[0]!.login_fix).toBe(`CLAUDE_CONFIG_DIR=${t.home("a")} claude`);
    expect(status.last_swap).toMatchObject({ from: "a", to: "b", reason: "login", snippet: LOGIN_LINES.revoked });
    expect(status.last_swap!.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(OWNED.map((n) => [n, "kept"]));
    expect(status.sessions.map((s) => [s.name, s.account]).sort()).toEqual(OWNED.map((n) => [n, "b"]));
    expect((await listPanes(t.server)).map((p) => [p.name, p.pid]).sort()).toEqual([...pids].sort());
    expect(readLogin(t.fleet)?.oauth.accessToken).toBe("sk-ant-oat01-SIM-b");

    // The cut task continues once, as b, in the same conversation.
    const task = await eventually(() => t.daemon.control.tasks().find((row) => row.file === "notes.md" && row.state === "done"), 30_000);
    const session = t.daemon.control.status().sessions.find((s) => s.name === task.session)!;
    const sent = requests(t).filter((r) => r.session_id === session.session_id);
    expect(sent.map((r) => [r.prompt, r.token])).toEqual([[prompt, "sk-ant-oat01-SIM-a"], [CONTINUE, "sk-ant-oat01-SIM-b"]]);
    const transcript = readFileSync(transcriptPath(t.fleet, session.workdir, session.session_id!), "utf8");
    expect(transcript).toContain(`"error":"authentication_failed"`);
    expect(transcript.split("\n").filter((l) => l.includes(`"content":"${CONTINUE}"`))).toHaveLength(1);

    // Told once, with the exact fix; the old login line on screen never counts against b.
    await afterPolls(t.daemon.url(), 3);
    const told = storedEvents(t, "login_lost") as Array<{ account: string; fix: string }>;
    expect(told).toEqual([expect.objectContaining({ account: "a", fix: `CLAUDE_CONFIG_DIR=${t.home("a")} claude` })]);
    expect(t.log.records.filter((r) => r.msg === "login lost")).toHaveLength(1);
    status = t.daemon.control.status();
    expect(status.accounts.map((a) => [a.name, a.state])).toEqual([["a", "needs_login"], ["b", "available"]]);

    // The operator logged in again; `claude-failover accounts enable a` (POST /accounts/a/enable) brings it back.
    rmSync(join(t.home("a"), "sim-auth"));
    const answer = await fetch(new URL("/accounts/a/enable", t.daemon.url()), { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(answer.status).toBe(200);
    expect(t.daemon.control.status().accounts.map((a) => [a.name, a.state])).toEqual([["a", "available"], ["b", "available"]]);
    expect(storedEvents(t, "login_restored")).toEqual([{ account: "a", how: "enabled" }]);
  }, 120_000);
});
