import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLifecycle, deadLinesFlag, type Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import { findLiveSession } from "../../internal/lifecycle/live.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createFakeClock, systemClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { eventually, privateTmux, tempDir } from "../support/tmux.ts";

const SIM = join(import.meta.dir, "../support/sim-claude-bin.ts");
const HOOK_TOKEN = "t".repeat(40);
const FOREIGN = ["ccl-0", "ccl-auto11", "ccl-auto-5", "ccl-auto-14", "other-12"];
const server = privateTmux("lifecycle");
const dir = tempDir();
const account = { name: "main", home: join(dir.path, "home-main") };
let store: Store;

function makeLifecycle(s: Store): Lifecycle {
  return createLifecycle({ tmux: server.tmux, store: s, clock: systemClock, log: memoryLog() }, {
    pool: { prefix: "ccl-auto-", startIndex: 11, min: 2, max: 3, workdir: join(dir.path, "work") },
    dedicated: [{ session: "ccl-1-dedicated", workdir: join(dir.path, "dedicated") }],
    claude: { command: process.execPath, args: [SIM, "--dangerously-skip-permissions"] },
    stripEnv: ["CLAUDE_FAILOVER_TOKEN"],
    hooksDir: join(dir.path, "hooks"),
    hook: { self: ["/usr/local/bin/claude-failover"], url: "http://127.0.0.1:1", spoolDir: join(dir.path, "spool"), tokenFile: join(dir.path, "hook-token") },
  });
}

async function panes() {
  const out = await server.raw("list-panes", "-a", "-F", "#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_start_command}");
  return out.stdout.split("\n").filter(Boolean).map((l) => {
    const [name, pid, dead, command] = l.split("\t");
    return { name: name!, pid: Number(pid), dead: dead === "1", command: command ?? "" };
  });
}

beforeAll(async () => {
  // The daemon never creates a session's workdir: it exists, as the start-up check demands.
  for (const d of ["work", "dedicated"]) mkdirSync(join(dir.path, d), { recursive: true });
  writeFileSync(join(dir.path, "hook-token"), `${HOOK_TOKEN}\n`, { mode: 0o600 });
  store = openStore(join(dir.path, "state.db"));
  for (const name of FOREIGN) await server.raw("new-session", "-d", "-s", name, "sleep", "3600");
});

afterAll(async () => {
  await server.kill();
  store.close();
  await dir.cleanup();
});

describe("lifecycle against a real tmux server", () => {
  let lifecycle: Lifecycle;
  let foreignBefore: Map<string, number>;

  test("creates min pool sessions and every dedicated session running Claude Code with the launch contract", async () => {
    foreignBefore = new Map((await panes()).map((p) => [p.name, p.pid]));
    lifecycle = makeLifecycle(store);
    const report = await lifecycle.reconcile(account);
    expect(report.created.sort()).toEqual(["ccl-1-dedicated", "ccl-auto-11", "ccl-auto-12"]);
    const list = await panes();
    const names = list.map((p) => p.name).sort();
    expect(names).toEqual([...FOREIGN, "ccl-1-dedicated", "ccl-auto-11", "ccl-auto-12"].sort());
    const pool = list.find((p) => p.name === "ccl-auto-11")!;
    const row = store.session("ccl-auto-11")!;
    expect(pool.command).toContain(`CLAUDE_CONFIG_DIR=${account.home}`);
    expect(pool.command).toContain(`--session-id ${row.sessionId}`);
    expect(pool.command).toContain(`--settings ${join(dir.path, "hooks", "ccl-auto-11.json")}`);
    expect(pool.command).toContain("-u CLAUDECODE");
    expect(pool.command).toContain("-u CLAUDE_FAILOVER_TOKEN");
    expect(row).toMatchObject({ kind: "pool", account: "main", workdir: join(dir.path, "work") });
    expect(store.session("ccl-1-dedicated")).toMatchObject({ kind: "dedicated", workdir: join(dir.path, "dedicated") });
    const settings = JSON.parse(readFileSync(join(dir.path, "hooks", "ccl-auto-11.json"), "utf8"));
    expect(Object.keys(settings.hooks).sort()).toEqual(["Notification", "SessionStart", "Stop", "StopFailure", "UserPromptSubmit"]);
    expect(settings.hooks.StopFailure[0].hooks[0].command).toContain("hook StopFailure --session ccl-auto-11");
    // The hook secret is named by its file, never written into the settings nor the pane's command line.
    expect(settings.hooks.StopFailure[0].hooks[0].command).toEndWith(`--token-file ${join(dir.path, "hook-token")}`);
    expect(readFileSync(join(dir.path, "hooks", "ccl-auto-11.json"), "utf8")).not.toContain(HOOK_TOKEN);
    expect(pool.command).not.toContain(HOOK_TOKEN);
    // The simulated Claude Code writes its transcript where the daemon expects it.
    await eventually(async () => (await server.tmux.capture(["ccl-auto-11"])).get("ccl-auto-11")?.some((l) => l.startsWith("❯")));
  });

  test("leaves every foreign session untouched, including look-alike names", async () => {
    await lifecycle.reconcile(account);
    const after = new Map((await panes()).map((p) => [p.name, p.pid]));
    for (const name of FOREIGN) expect(after.get(name)).toBe(foreignBefore.get(name)!);
    expect(store.session("ccl-auto-14")).toBeNull();
    expect(store.session("ccl-auto11")).toBeNull();
  });

  test("recreates a killed session within one reconcile and resumes its conversation", async () => {
    const before = store.session("ccl-auto-12")!;
    await eventually(async () => (await server.tmux.capture(["ccl-auto-12"])).get("ccl-auto-12")?.some((l) => l.startsWith("❯")));
    await server.tmux.sendText("ccl-auto-12", "[sim:work=0s] hello");
    await server.tmux.sendKeys("ccl-auto-12", "Enter");
    await eventually(() => existsSync(transcriptPath(account.home, before.workdir, before.sessionId!)));
    await server.raw("kill-session", "-t", "=ccl-auto-12");
    const report = await lifecycle.reconcile(account);
    expect(report.created).toEqual(["ccl-auto-12"]);
    const recreated = (await panes()).filter((p) => p.name === "ccl-auto-12");
    expect(recreated).toHaveLength(1);
    expect(recreated[0]!.command).toContain(`--resume ${before.sessionId}`);
    expect(store.session("ccl-auto-12")!.sessionId).toBe(before.sessionId);
  });

  test("relaunches a pane whose program exited (remain-on-exit)", async () => {
    await server.raw("respawn-pane", "-k", "-t", "=ccl-auto-11:", "sh", "-c", "exit 3");
    await eventually(async () => (await panes()).find((p) => p.name === "ccl-auto-11")?.dead);
    const report = await lifecycle.reconcile(account);
    expect(report.relaunched).toEqual(["ccl-auto-11"]);
    expect((await panes()).find((p) => p.name === "ccl-auto-11")!.dead).toBe(false);
  });

  test("a restarted daemon adopts running sessions instead of creating duplicates", async () => {
    const before = new Map((await panes()).map((p) => [p.name, p.pid]));
    const again = makeLifecycle(store);
    const report = await again.reconcile(account);
    expect(report).toEqual({ created: [], relaunched: [], adopted: [], dead: [], retired: [], deferred: [] });
    for (const pane of (await panes()).filter((p) => !FOREIGN.includes(p.name))) {
      await eventually(() => existsSync(join(account.home, "sessions", `${pane.pid}.json`)));
    }
    const fresh = openStore(":memory:");
    const lost = await makeLifecycle(fresh).reconcile(account);
    expect(lost.adopted.sort()).toEqual(["ccl-1-dedicated", "ccl-auto-11", "ccl-auto-12"]);
    expect(lost.created).toEqual([]);
    // Claude Code's live registry (<home>/sessions/<pid>.json) gives the adopted sessions their conversation back.
    for (const name of lost.adopted) expect(fresh.session(name)!.sessionId).toBe(store.session(name)!.sessionId);
    expect(new Map((await panes()).map((p) => [p.name, p.pid]))).toEqual(before);
  });

  test("grow() starts the next pool session up to max and no further", async () => {
    expect(await lifecycle.grow(account)).toBe("ccl-auto-13");
    expect(await lifecycle.grow(account)).toBeNull();
    expect((await panes()).filter((p) => p.name === "ccl-auto-14")).toHaveLength(1);
  });

  test("a session relaunched in another home than it ran in takes its conversation along", async () => {
    const other = { name: "other", home: join(dir.path, "home-other") };
    const before = store.session("ccl-auto-12")!;
    expect(before.home).toBe(account.home);
    await server.raw("kill-session", "-t", "=ccl-auto-12");
    expect((await lifecycle.reconcile(other)).created).toEqual(["ccl-auto-12"]);
    const pane = (await panes()).find((p) => p.name === "ccl-auto-12")!;
    expect(pane.command).toContain(`CLAUDE_CONFIG_DIR=${other.home} `);
    expect(pane.command).toContain(`--resume ${before.sessionId}`);
    expect(readFileSync(transcriptPath(other.home, before.workdir, before.sessionId!), "utf8")).toContain("hello");
    expect(store.session("ccl-auto-12")).toMatchObject({ account: "other", home: other.home, sessionId: before.sessionId });
  });

  test("never launches or stops a name it does not own", async () => {
    await expect(lifecycle.launch("ccl-0", { account })).rejects.toThrow(/not an owned session/);
    await expect(lifecycle.hold("other-12", "x")).rejects.toThrow(/not an owned session/);
  });

  test("refuses to launch into a missing workdir, leaves the pane as it was and creates nothing", async () => {
    const missing = join(dir.path, "no-such-repo");
    const before = (await panes()).find((p) => p.name === "ccl-auto-11")!;
    await expect(lifecycle.launch("ccl-auto-11", { account, workdir: missing })).rejects.toThrow(`Cannot launch ccl-auto-11: workdir ${missing} does not exist`);
    expect(existsSync(missing)).toBe(false);
    expect((await panes()).find((p) => p.name === "ccl-auto-11")!.pid).toBe(before.pid);
  });

  test("relaunches a session whose last task's workdir was removed in its own workdir, without recreating the removed one", async () => {
    const taskDir = join(dir.path, "task-repo");
    mkdirSync(taskDir);
    expect(await lifecycle.launch("ccl-auto-12", { account, workdir: taskDir })).toMatchObject({ workdir: taskDir });
    rmSync(taskDir, { recursive: true });
    expect(await lifecycle.launch("ccl-auto-12", { account })).toMatchObject({ workdir: join(dir.path, "work") });
    expect(existsSync(taskDir)).toBe(false);
  });
});

describe("a Claude Code that dies right after launch", () => {
  const crashServer = privateTmux("crash");
  const crashDir = tempDir();
  afterAll(async () => {
    await crashServer.kill();
    await crashDir.cleanup();
  });

  test("is relaunched at once, then after 2 s and 4 s, then left dead with its last screen lines, reported once", async () => {
    const clock = createFakeClock();
    const crashStore = openStore(join(crashDir.path, "state.db"));
    mkdirSync(join(crashDir.path, "work"), { recursive: true });
    const lifecycle = createLifecycle({ tmux: crashServer.tmux, store: crashStore, clock, log: memoryLog() }, {
      pool: { prefix: "ccl-auto-", startIndex: 11, min: 1, max: 1, workdir: join(crashDir.path, "work") },
      dedicated: [],
      claude: { command: "sh", args: ["-c", "echo '--dangerously-skip-permissions cannot be used with root/sudo privileges'; sleep 0.2; exit 1"] },
      stripEnv: [],
      hooksDir: join(crashDir.path, "hooks"),
      hook: { self: ["/usr/local/bin/claude-failover"], url: "http://127.0.0.1:1", spoolDir: join(crashDir.path, "spool"), tokenFile: join(crashDir.path, "hook-token") },
    });
    const acct = { name: "main", home: join(crashDir.path, "home") };
    const dead = async () => eventually(async () => (await crashServer.tmux.listPanes()).find((p) => p.session === "ccl-auto-11")?.dead, 10_000, 50);
    const reconcileAfter = async (ms: number) => {
      await clock.advance(ms);
      return lifecycle.reconcile(acct);
    };
    expect((await lifecycle.reconcile(acct)).created).toEqual(["ccl-auto-11"]);
    await dead();
    expect((await reconcileAfter(1_000)).relaunched).toEqual(["ccl-auto-11"]); // first death: at once
    await dead();
    expect((await reconcileAfter(1_000)).relaunched).toEqual([]); // second death: waits 2 s
    expect((await reconcileAfter(1_000)).relaunched).toEqual([]);
    expect((await reconcileAfter(1_000)).relaunched).toEqual(["ccl-auto-11"]);
    await dead();
    expect((await reconcileAfter(1_000)).relaunched).toEqual([]); // third death: waits 4 s
    expect((await reconcileAfter(3_000)).relaunched).toEqual([]);
    expect((await reconcileAfter(1_000)).relaunched).toEqual(["ccl-auto-11"]);
    await dead();
    const report = await reconcileAfter(1_000);
    expect(report.dead).toEqual(["ccl-auto-11"]);
    expect(crashStore.session("ccl-auto-11")?.state).toBe("dead");
    // What the program printed, or its exit status when tmux kept nothing of a pane that died this fast (seen here on a
    // loaded machine, with Claude Code and with this stand-in alike).
    const lines = JSON.parse(crashStore.getFlag(deadLinesFlag("ccl-auto-11"))!) as string[];
    expect(lines.join("\n")).toMatch(/--dangerously-skip-permissions cannot be used with root\/sudo privileges|^Claude Code exited with status 1 and left nothing on the screen$/);
    expect((await reconcileAfter(60_000)).dead).toEqual([]);
    expect((await reconcileAfter(60_000)).relaunched).toEqual([]);
    crashStore.close();
  });
});

describe("findLiveSession()", () => {
  test("returns the registry's status and waitingFor (2.1.330 writes waiting / dialog open under the limit dialog)", () => {
    const d = tempDir();
    const home = join(d.path, "home");
    require("node:fs").mkdirSync(join(home, "sessions"), { recursive: true });
    const sessionId = "0b4e6a55-1d0f-4c61-9f43-2a9f1f7c3a10";
    require("node:fs").writeFileSync(join(home, "sessions", "4242.json"), JSON.stringify({ pid: 4242, sessionId, status: "waiting", waitingFor: "dialog open", version: "2.1.330" }));
    expect(findLiveSession([{ name: "a", home }], 4242, new Map())).toEqual({ sessionId, account: "a", status: "waiting", waitingFor: "dialog open" });
    expect(findLiveSession([{ name: "a", home }], 4243, new Map())).toBeNull();
    d.cleanup();
  });
});
