import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { listPanes, SIM, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { realWorkdir } from "../../internal/lifecycle/lifecycle.ts";

// Upgrading an install whose sessions run in an account home: real tmux, the simulated Claude Code, the whole daemon.
const UUID = "0b5e3d4c-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

test("a session running in an account home finishes its turn there, then moves once to its session home with its conversation", async () => {
  let workdir = "";
  let oldPid = 0;
  const t = await startTestDaemon({
    // What an older daemon left: ccl-auto-11 runs Claude Code with CLAUDE_CONFIG_DIR=<account a's home>, mid-turn.
    before: async (dir, server) => {
      workdir = realWorkdir(join(dir, "work"));
      await server.tmux.newSession("ccl-auto-11", { cwd: workdir, argv: ["env", `CLAUDE_CONFIG_DIR=${join(dir, "homes", "a")}`, process.execPath, SIM, "--dangerously-skip-permissions", "--session-id", UUID] });
      await typePrompt(server, "ccl-auto-11", "[sim:work=0s] before the upgrade");
      await eventually(() => existsSync(transcriptPath(join(dir, "homes", "a"), workdir, UUID)) && readFileSync(transcriptPath(join(dir, "homes", "a"), workdir, UUID), "utf8").includes("Done: before the upgrade"));
      await typePrompt(server, "ccl-auto-11", "[sim:work=3s] a long turn");
      oldPid = (await listPanes(server)).find((p) => p.name === "ccl-auto-11")!.pid;
    },
  });
  current = t;
  const moved = await eventually(async () => {
    const pane = (await listPanes(t.server)).find((p) => p.name === "ccl-auto-11");
    return pane && pane.pid !== oldPid && pane.command.includes(`CLAUDE_CONFIG_DIR=${t.fleet}`) ? pane : null;
  }, 30_000);
  expect(moved.command).toContain(`--resume ${UUID}`);
  // It moved only after its turn had ended: the reply is in the transcript carried to the session home.
  const carried = readFileSync(transcriptPath(t.fleet, workdir, UUID), "utf8");
  expect(carried).toContain("Done: before the upgrade");
  expect(carried).toContain("Done: a long turn");
  expect(t.daemon.control.status().sessions.find((s) => s.name === "ccl-auto-11")).toMatchObject({ session_id: UUID, account: "a" });
  expect(t.log.records.filter((r) => r.msg === "session moved to its session home").map((r) => r.session)).toEqual(["ccl-auto-11"]);
  // The conversation goes on in the session home.
  await typePrompt(t.server, "ccl-auto-11", "[sim:work=0s] after the move");
  await eventually(() => readFileSync(transcriptPath(t.fleet, workdir, UUID), "utf8").includes("Done: after the move"));
  const other = (await listPanes(t.server)).find((p) => p.name === "ccl-auto-12")!;
  expect(other.command).toContain(`CLAUDE_CONFIG_DIR=${t.fleet}`);
}, 60_000);
