/**
 * @module test/support/linger
 * Ends what a test started outside its own process: processes that outlive a tmux server for a moment (a simulated
 * Claude Code and the hook commands it runs, which spool into the test's folder when the daemon is gone), daemon
 * processes a test spawned (killed at cleanup, and by the kernel when the test process dies), and temp folders that
 * such processes would otherwise recreate after they were removed. Linux (/proc); elsewhere nothing is waited for.
 */
import type { SpawnOptions, Subprocess } from "bun";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { processesMentioning } from "../../internal/lifecycle/proc.ts";

/** How long cleanup waits for lingering processes before it kills them (SIGKILL) or removes the folder anyway. */
export const LINGER_WAIT_MS = 5_000;

/** True while `pid` runs (a zombie, ended but not reaped, counts as gone). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Waits until every pid in `pids` has ended; those still running after `timeoutMs` are killed with SIGKILL. */
export async function waitForExit(pids: readonly number[], timeoutMs = LINGER_WAIT_MS): Promise<void> {
  for (const until = Date.now() + timeoutMs; pids.some(running) && Date.now() < until;) await Bun.sleep(25);
  for (const pid of pids.filter(running)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // ended meanwhile
    }
  }
}

/**
 * Removes `dir` for good: first waits (at most `timeoutMs`) until no process names it in its command line (a pane's
 * agent started with `--settings <dir>/…`, a hook command with `--spool <dir>/…`), so none recreates it behind us.
 * When nothing names it the folder is removed before the first `await`, so a caller that does not await still finds
 * it gone.
 */
export async function removeWhenQuiet(dir: string, timeoutMs = LINGER_WAIT_MS): Promise<void> {
  for (const until = Date.now() + timeoutMs; processesMentioning(dir).length > 0 && Date.now() < until;) await Bun.sleep(25);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  for (let i = 0; i < 3 && existsSync(dir); i++) {
    await Bun.sleep(200);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** `setpriv` when the system has it: it makes a child receive SIGKILL when the process that spawned it dies. */
const SETPRIV = Bun.which("setpriv");

/**
 * Spawns a long-running program (e.g. `claude-failover run`) that must not outlive the test process: it is killed
 * by the kernel when the test process ends for any reason (a timed-out test whose cleanup never ran, Ctrl-C, a
 * crash; bun test emits no `exit` event to hook), from the moment setpriv has run it. Same pid as the program (exec).
 */
export function spawnTied<
  const In extends SpawnOptions.Writable = "ignore",
  const Out extends SpawnOptions.Readable = "pipe",
  const Err extends SpawnOptions.Readable = "inherit",
>(argv: string[], options: SpawnOptions.SpawnOptions<In, Out, Err>, signal = "SIGKILL"): Subprocess<In, Out, Err> {
  return Bun.spawn(SETPRIV ? [SETPRIV, "--pdeathsig", signal, "--", ...argv] : argv, options);
}

/**
 * Runs the shell command `onDeath` once the test process has died, whatever the way (killed, crashed, or a cleanup that
 * never ran). A small `sh` waits for that, idle (no polling); it ends with the test process.
 */
export function onTestProcessDeath(onDeath: string): void {
  const script = `trap 'kill $! 2>/dev/null; ${onDeath.replaceAll("'", "'\\''")}; exit 0' TERM; while :; do sleep 86400 & wait $!; done`;
  spawnTied(["sh", "-c", script], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }, "SIGTERM").unref();
}
