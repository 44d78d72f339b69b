/**
 * @module tmux/runner
 * The real {@link RunCommand}: the only `Bun.spawn` in the tree. Always passes an explicit environment, so the
 * daemon's secrets never reach a tmux server it starts (reference/ecosystem.md §9.9), and a missing binary becomes
 * a result with code 127 instead of a synchronous throw.
 */
import type { RunCommand } from "./tmux.ts";

/** Variables a child process may inherit from the daemon; everything else (tokens, API keys) stays behind. */
const PASSED_ENV = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "TMUX_TMPDIR", "TZ", "SHELL"];

/** Builds the minimal environment for child processes from the daemon's own. */
export function childEnv(from: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of PASSED_ENV) {
    const value = from[key];
    if (value) env[key] = value;
  }
  env.PATH ??= "/usr/local/bin:/usr/bin:/bin";
  env.LANG ??= "C.UTF-8";
  env.TERM ??= "xterm-256color";
  return env;
}

/** Creates a runner that spawns programs with `env` (use {@link childEnv}). */
export function createBunRun(env: Record<string, string>): RunCommand {
  return async (argv, options = {}) => {
    let proc;
    try {
      proc = Bun.spawn(argv, {
        env,
        stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
        stdout: "pipe",
        stderr: "pipe",
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
      });
    } catch (error) {
      return { code: 127, stdout: "", stderr: `cannot start ${argv[0]}: ${(error as Error).message}` };
    }
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const timedOut = proc.signalCode === "SIGKILL" && options.timeoutMs !== undefined;
    return { code, stdout, stderr: timedOut ? `${stderr}timed out after ${options.timeoutMs} ms` : stderr };
  };
}
