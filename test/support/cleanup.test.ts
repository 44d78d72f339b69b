import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { privateTmux, tempDir } from "./tmux.ts";
import { running } from "./linger.ts";

// The test helpers leave nothing behind: no folder recreated by a late hook, no agent, tmux server or daemon process.

describe("tempDir() cleanup", () => {
  test("removes the folder for good when a process still writes into it (a hook spooling as its agent ends)", async () => {
    const temp = tempDir("cf-cleanup-");
    const spool = join(temp.path, "state", "spool");
    const hook = Bun.spawn(["sh", "-c", 'sleep 0.4; mkdir -p "$0"', spool], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    await temp.cleanup();
    await hook.exited;
    expect(existsSync(temp.path)).toBe(false);
  });

  test("removes a folder no process names at once, without being awaited", () => {
    const temp = tempDir("cf-cleanup-");
    mkdirSync(join(temp.path, "a", "b"), { recursive: true });
    void temp.cleanup();
    expect(existsSync(temp.path)).toBe(false);
  });
});

describe("privateTmux().kill()", () => {
  test("resolves once the panes' processes have ended, not merely the server", async () => {
    const server = privateTmux("cleanup");
    // An agent that takes a moment to end on the server's SIGHUP (as Claude Code does, running its SessionEnd hook).
    await server.raw("new-session", "-d", "-s", "slow", "sh", "-c", "trap 'sleep 0.5; exit 0' HUP; while :; do sleep 0.05; done");
    const [pid] = (await server.raw("list-panes", "-a", "-F", "#{pane_pid}")).stdout.split("\n").filter(Boolean).map(Number);
    expect(running(pid!)).toBe(true);
    await server.kill();
    expect(running(pid!)).toBe(false);
  });
});
