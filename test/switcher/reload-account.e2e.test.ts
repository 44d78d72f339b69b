import { afterEach, expect, test } from "bun:test";
import { readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { giveConversations, listPanes, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { readLogin } from "../../internal/claude/login.ts";
import { eventually } from "../support/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";

// Removing the active account from the config (a reload is a restart with the new file): real tmux, simulated
// Claude Code, the whole daemon.
const FOREIGN = ["ccl-0", "ccl-auto-10"];
const OWNED = ["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"];
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

test("restarted with account a removed, every session moves to b in place with its conversation and none is left on a", async () => {
  const t = await startTestDaemon({ foreign: FOREIGN });
  current = t;
  const seen = await giveConversations(t, OWNED, FOREIGN);
  const before = seen.before;
  const pids = new Map((await listPanes(t.server)).map((p) => [p.name, p.pid]));

  await t.daemon.stop("reload");
  await t.restart(undefined, (text) => text.replace(/^ {2}- \{ name: a, home: .*\n/m, ""));
  expect(t.config.accounts.map((a) => a.name)).toEqual(["b"]);

  const swap = await eventually(() => {
    const last = t.daemon.control.status().last_swap;
    return last?.step === "done" ? last : null;
  }, 30_000);
  expect(swap).toMatchObject({ from: "a", to: "b", reason: "config" });
  expect(swap.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(OWNED.map((name) => [name, "kept"]));
  await eventually(() => t.daemon.control.status().sessions.every((s) => s.account === "b" && s.state === "idle"), 20_000);
  const status = t.daemon.control.status();
  expect(status.active_account).toBe("b");
  expect(status.accounts.map((a) => a.name)).toEqual(["b"]);
  expect(readlinkSync(join(t.dir, "claude-link"))).toBe(t.fleet);
  expect(readLogin(t.fleet)?.oauth.accessToken).toBe("sk-ant-oat01-SIM-b");
  // Nothing restarted: the same processes, in the session home.
  expect((await listPanes(t.server)).map((p) => [p.name, p.pid]).sort()).toEqual([...pids].sort());

  // The conversation goes on as b, and the move started no swap cooldown: dispatch is open.
  await typePrompt(t.server, "ccl-auto-11", "[sim:work=0s] after the reload");
  const path = transcriptPath(t.fleet, before.get("ccl-auto-11")!.workdir, before.get("ccl-auto-11")!.session_id!);
  await eventually(() => readFileSync(path, "utf8").includes("after the reload"));
  expect(t.daemon.control.status().swaps).toHaveLength(1);
  expect((await t.daemon.control.addTask({ project: "p", prompt: "[sim:work=1s] a task after the reload" })).ok).toBe(true);
  await eventually(() => t.daemon.control.status().tasks.done === 1, 20_000);
}, 90_000);

test("restarted with account a given another home, the sessions keep running in the session home: no swap, no restart", async () => {
  const t = await startTestDaemon({ foreign: FOREIGN });
  current = t;
  const seen = await giveConversations(t, OWNED, FOREIGN);
  const moved = join(t.dir, "homes", "a-moved");
  const pids = new Map((await listPanes(t.server)).map((p) => [p.name, p.pid]));

  await t.daemon.stop("reload");
  await t.restart(undefined, (text) => text.replace(/^( {2}- \{ name: a, home: ).*\/homes\/a \}$/m, `$1${moved} }`));
  expect(t.config.accounts.find((a) => a.name === "a")!.home).toBe(moved);

  // The next turn goes out as a from the same process, in the same conversation.
  await typePrompt(t.server, "ccl-auto-11", "[sim:work=0s] after the reload");
  const was = seen.before.get("ccl-auto-11")!;
  await eventually(() => readFileSync(transcriptPath(t.fleet, was.workdir, was.session_id!), "utf8").includes("Done: after the reload"));
  expect(t.daemon.control.status().swaps).toEqual([]);
  expect((await listPanes(t.server)).map((p) => [p.name, p.pid]).sort()).toEqual([...pids].sort());
  expect(readLogin(t.fleet)?.oauth.accessToken).toBe("sk-ant-oat01-SIM-a");
  expect(readlinkSync(join(t.dir, "claude-link"))).toBe(t.fleet);
}, 90_000);
