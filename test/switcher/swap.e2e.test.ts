import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { expectResumedOnB, freezeAtStep, giveConversations, listPanes, seedAccountHomes, startTestDaemon, testConfigText, freePort, typePrompt, TOKEN, SIM, type Conversations, type TestDaemon } from "../support/daemon.ts";
import { readLogin } from "../../internal/claude/login.ts";
import { eventually, privateTmux, tempDir } from "../support/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import type { SwapStep } from "../../internal/state/state.ts";
import { spawnTied } from "../support/linger.ts";

// The restart swap end to end (the fallback path, `switcher.mode: restart`): real tmux on a private socket, the
// simulated Claude Code, the whole daemon. The in-place swap has its own file (hot-swap.e2e.test.ts).
const FOREIGN = ["ccl-0", "ccl-auto11", "ccl-auto-10"];
const OWNED = ["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"];
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

/** Starts a daemon and gives every owned session a conversation with content (so there is a transcript to carry). */
async function daemonWithConversations(deps?: NonNullable<Parameters<typeof startTestDaemon>[0]>["deps"]) {
  const t = await startTestDaemon({ foreign: FOREIGN, deps, extra: { switcher: "{ relaunch_stagger: 100ms, verify_timeout: 20s, mode: restart }" } });
  current = t;
  const seen = await giveConversations(t, OWNED, FOREIGN);
  return { t, seen, before: seen.before };
}

/** The end state every swap from a to b must reach, whatever happened on the way. */
async function expectOnAccountB(t: TestDaemon, seen: Conversations) {
  await eventually(() => t.daemon.control.status().last_swap?.step === "done", 30_000);
  await eventually(() => t.daemon.control.status().sessions.every((s) => s.account === "b" && s.state !== "starting"), 20_000);
  expect(readlinkSync(join(t.dir, "claude-link"))).toBe(t.fleet);
  await expectResumedOnB(t, OWNED, seen);
  expect(t.daemon.control.status().swaps.filter((s) => s.step !== "failed")).toHaveLength(1);
  expect(t.daemon.control.status().last_swap!.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(OWNED.map((n) => [n, "resumed"]));
}

describe("a quota hit moves every session to the next account", () => {
  test("pool and dedicated sessions come back on b with their own conversation; foreign sessions untouched; no phantom", async () => {
    const { t, seen, before } = await daemonWithConversations();
    writeFileSync(join(t.home("a"), "sim-quota"), "You've hit your 5-hour limit · resets 11pm (Europe/Paris)\n");
    await typePrompt(t.server, "ccl-auto-12", "[sim:work=0s] one more turn");
    await expectOnAccountB(t, seen);
    const swap = t.daemon.control.status().last_swap!;
    expect(swap).toMatchObject({ from: "a", to: "b", reason: "quota", trigger_session: "ccl-auto-12" });
    const hits = t.log.records.filter((r) => r.msg === "quota hit" || r.msg === "old limit line ignored after relaunch");
    expect({ accounts: t.daemon.control.status().accounts.map((a) => [a.name, a.state]), hits: hits.filter((h) => h.account === "b") })
      .toEqual({ accounts: [["a", "cooling"], ["b", "available"]], hits: [] });
    // The conversation goes on: a new turn on b is appended to the same transcript.
    await typePrompt(t.server, "ccl-auto-11", "[sim:work=0s] after the swap");
    const path = transcriptPath(t.fleet, before.get("ccl-auto-11")!.workdir, before.get("ccl-auto-11")!.session_id!);
    await eventually(() => readFileSync(path, "utf8").includes("after the swap"));
  }, 60_000);
});

describe("a daemon killed during a swap finishes it on its next start", () => {
  const steps: SwapStep[] = ["saving", "stopping", "flipping", "migrating", "relaunching", "verifying"];
  for (const step of steps) {
    test(`killed at ${step}`, async () => {
      const { freeze, frozen } = freezeAtStep(step);
      const { t, seen } = await daemonWithConversations({ beforeSwapStep: freeze });
      expect((await t.daemon.control.swap("b")).ok).toBe(true);
      await eventually(() => frozen(), 20_000, 10);
      await t.daemon.stop("simulated crash");
      expect(new Database(join(t.config.state_dir, "state.db"), { readonly: true }).query("SELECT step FROM swaps").get()).toEqual({ step });
      await t.restart();
      await expectOnAccountB(t, seen);
    }, 60_000);
  }
});

test("a real SIGKILL mid-relaunch, then a restart, ends in the same state", async () => {
  const dir = tempDir("cf-kill-");
  const server = privateTmux("kill");
  for (const name of FOREIGN) await server.raw("new-session", "-d", "-s", name, "sleep", "3600");
  const port = await freePort();
  const configPath = join(dir.path, "config.yaml");
  writeFileSync(configPath, testConfigText(dir.path, server.socket, port, { switcher: "{ relaunch_stagger: 1500ms, verify_timeout: 20s, mode: restart }" }));
  require("node:fs").mkdirSync(join(dir.path, "work", "ded"), { recursive: true });
  seedAccountHomes(dir.path);
  const fleet = join(dir.path, "state", "homes", "fleet");
  const env = { ...process.env, CF_TEST_TOKEN: TOKEN, TMUX: "", TMUX_PANE: "", HOME: dir.path };
  const start = () => spawnTied([process.execPath, join(import.meta.dir, "../../cmd/claude-failover.ts"), "run", "--config", configPath], { env, stdout: "ignore", stderr: "ignore" });
  const api = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init).then((r) => r.json() as Promise<any>);
  let proc = start();
  try {
    await eventually(async () => (await api("/status").catch(() => null))?.sessions?.filter((s: any) => s.state === "idle").length === 3, 30_000);
    await Promise.all(OWNED.map((name) => typePrompt(server, name, `[sim:work=0s] hello from ${name}`)));
    const before = new Map<string, any>((await api("/status")).sessions.map((s: any) => [s.name, s]));
    for (const s of before.values()) await eventually(() => existsSync(transcriptPath(fleet, s.workdir, s.session_id)));
    const foreign = new Map((await listPanes(server)).filter((p) => FOREIGN.includes(p.name)).map((p) => [p.name, p.pid]));
    const answer = await api("/swap", { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" }, body: "{}" });
    expect(answer.ok).toBe(true);
    const db = new Database(join(dir.path, "state", "state.db"), { readonly: true });
    await eventually(() => (db.query("SELECT step FROM swaps").get() as { step: string } | null)?.step === "relaunching", 20_000, 5);
    proc.kill("SIGKILL");
    await proc.exited;
    expect((db.query("SELECT step FROM swaps").get() as { step: string }).step).toBe("relaunching");
    db.close();
    proc = start();
    await eventually(async () => (await api("/status").catch(() => null))?.last_swap?.step === "done", 40_000);
    await eventually(async () => (await api("/status")).sessions.every((s: any) => s.account === "b"), 20_000);
    const panes = await listPanes(server);
    expect(panes.map((p) => p.name).sort()).toEqual([...FOREIGN, ...OWNED].sort());
    for (const name of OWNED) {
      const pane = panes.find((p) => p.name === name)!;
      expect(pane.command).toContain(`--resume ${before.get(name).session_id}`);
      expect(pane.command).toContain(`CLAUDE_CONFIG_DIR=${fleet}`);
    }
    for (const [name, pid] of foreign) expect(panes.find((p) => p.name === name)?.pid).toBe(pid);
    expect(readlinkSync(join(dir.path, "claude-link"))).toBe(fleet);
    expect(readLogin(fleet)?.oauth.accessToken).toBe("sk-ant-oat01-SIM-b");
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    await server.kill();
    await dir.cleanup();
  }
}, 120_000);

test("SIM is the simulated Claude Code used by these tests", () => {
  expect(existsSync(SIM)).toBe(true);
});
