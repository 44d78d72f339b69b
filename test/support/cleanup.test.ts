import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { eventually, privateTmux, tempDir } from "./tmux.ts";
import { running } from "./linger.ts";
import { startProcDaemon } from "./proc-daemon.ts";
import { processesMentioning } from "../../internal/lifecycle/proc.ts";

// The test helpers leave nothing behind: no folder recreated by a late hook, no agent, tmux server or daemon process.
const LINGER = join(import.meta.dir, "linger.ts");
const TMUX = join(import.meta.dir, "tmux.ts");

/** Runs a short bun script (a test process that ends without cleaning up) and returns what it printed. */
async function orphaningScript(code: string): Promise<string> {
  const child = Bun.spawn([process.execPath, "-e", code], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  return out.trim();
}

describe("tempDir() cleanup", () => {
  test("removes the folder for good when a process still writes into it (a hook spooling as its agent ends)", async () => {
    const temp = tempDir("cf-cleanup-");
    const spool = join(temp.path, "state", "spool");
    const hook = Bun.spawn(["sh", "-c", 'sleep 0.4; mkdir -p "$0"', spool], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    await eventually(() => processesMentioning(temp.path).includes(hook.pid), 5_000, 5);
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

  test("a test process that dies before its cleanup takes its private servers with it, one started again after kill() too", async () => {
    const sockets = (await orphaningScript(`
      import { privateTmux } from ${JSON.stringify(TMUX)};
      const [left, again] = [privateTmux("orphan"), privateTmux("orphan")];
      await left.raw("new-session", "-d", "-s", "left", "sleep", "3600");
      await again.raw("new-session", "-d", "-s", "first", "sleep", "3600");
      await again.kill();
      await again.raw("new-session", "-d", "-s", "late", "sleep", "3600");
      console.log(left.socket, again.socket);
      process.exit(0);`)).split(" ");
    expect(sockets).toHaveLength(2);
    const alive = (socket: string) => Bun.spawnSync(["tmux", "-L", socket, "has-session"], { stderr: "ignore" }).exitCode === 0;
    await eventually(() => !sockets.some(alive), 10_000, 50);
  });
});

describe("spawnTied()", () => {
  test("the spawned program dies with the test process that spawned it", async () => {
    const pid = Number(await orphaningScript(`
      import { spawnTied } from ${JSON.stringify(LINGER)};
      import { readFileSync } from "node:fs";
      const p = spawnTied(["sleep", "3600"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      // Tied once setpriv has run the program (a parent gone before that moment is not noticed).
      while (!readFileSync(\`/proc/\${p.pid}/cmdline\`, "utf8").startsWith("sleep")) await Bun.sleep(5);
      console.log(p.pid);
      process.exit(0);`));
    expect(pid).toBeGreaterThan(0);
    await eventually(() => !running(pid), 10_000, 50);
  });
});

describe("startProcDaemon() cleanup", () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterAll(async () => cleanup?.());

  test("kills every daemon process it started and refuses to start one after it (a timed-out test runs on)", async () => {
    const d = await startProcDaemon({ extra: { dedicated: " []", pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: ${dir}/work }` } });
    cleanup = d.cleanup;
    const first = processesMentioning(d.configPath);
    expect(first.length).toBeGreaterThan(0);
    await d.cleanup();
    expect(first.filter(running)).toEqual([]);
    expect(() => d.start()).toThrow("cleaned up");
    expect(processesMentioning(d.configPath)).toEqual([]);
    expect(existsSync(d.dir)).toBe(false);
  }, 60_000);
});
