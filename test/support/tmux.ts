/**
 * @module test/support/tmux
 * A private tmux server per test file: a unique `-L` socket, `-f /dev/null` so no user config is read, a scrubbed
 * environment (no TMUX, no secrets), and `kill-server` on cleanup, which returns once the panes' processes have
 * ended. Tests never see the user's tmux server.
 */
import { createTmux, type RunCommand, type Tmux } from "../../internal/tmux/tmux.ts";
import { childEnv, createBunRun } from "../../internal/tmux/runner.ts";
import { descendants, processTree } from "../../internal/lifecycle/proc.ts";
import { onTestProcessDeath, removeWhenQuiet, waitForExit } from "./linger.ts";

/** A private tmux server handle. */
export interface PrivateTmux {
  socket: string;
  run: RunCommand;
  tmux: Tmux;
  /** Raw tmux command on the private socket. */
  raw(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Kills the server; resolves once its panes' processes and their children have ended (killed after 5 s). */
  kill(): Promise<void>;
}

/** Folder of the tmux sockets of this user. */
const SOCKET_DIR = `${process.env.TMUX_TMPDIR || "/tmp"}/tmux-${process.getuid?.() ?? 0}`;
let watching = false;

/**
 * Last resort, set up once per test process: when it dies, every private server it made (its pid is in their socket
 * names) is killed, even one whose cleanup never ran or that a timed-out test started again after its cleanup.
 */
function killServersAtDeath(): void {
  if (watching) return;
  watching = true;
  onTestProcessDeath(`for s in ${SOCKET_DIR}/cf-test-*-${process.pid}-*; do [ -S "$s" ] && ${Bun.which("tmux") ?? "tmux"} -S "$s" kill-server; done`);
}

/** Creates a handle on a fresh private socket (the server starts with the first session). */
export function privateTmux(label = "t"): PrivateTmux {
  killServersAtDeath();
  const socket = `cf-test-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const env = childEnv({ ...process.env, TMUX: undefined, TMUX_PANE: undefined });
  const run = createBunRun(env);
  const tmux = createTmux(run, { socket, extraArgs: ["-f", "/dev/null"] });
  const raw = (...args: string[]) => run(["tmux", "-L", socket, "-f", "/dev/null", ...args]);
  const kill = async () => {
    const listed = await raw("list-panes", "-a", "-F", "#{pane_pid}");
    const tree = processTree();
    const pids = listed.stdout.split("\n").filter(Boolean).map(Number).flatMap((pid) => [pid, ...descendants(pid, tree)]);
    await raw("kill-server");
    // tmux leaves the socket file behind after kill-server.
    const { rmSync } = require("node:fs") as typeof import("node:fs");
    rmSync(`${SOCKET_DIR}/${socket}`, { force: true });
    // The agents end a moment after the server (SIGHUP), and may run a hook command as they go.
    await waitForExit(pids);
  };
  return { socket, run, tmux, raw, kill };
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(stepMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
}

/**
 * A temp dir removed by the returned cleanup, once no process names it any more (see {@link removeWhenQuiet}): await
 * it after killing a tmux server whose agents or hook commands write into the folder. Removed at once otherwise.
 */
export function tempDir(prefix = "cf-test-"): { path: string; cleanup(): Promise<void> } {
  const { mkdtempSync } = require("node:fs") as typeof import("node:fs");
  const { tmpdir } = require("node:os") as typeof import("node:os");
  const path = mkdtempSync(`${tmpdir()}/${prefix}`);
  return { path, cleanup: () => removeWhenQuiet(path) };
}
