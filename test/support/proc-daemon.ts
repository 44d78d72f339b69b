/**
 * @module test/support/proc-daemon
 * The daemon as a real process (`claude-failover run`), for fault tests that kill it with SIGKILL or reload it with
 * SIGHUP: its own temp folder, config file, private tmux socket, free port and log file, the simulated Claude Code
 * as `claude.command`. A `tmux` trap on the daemon's PATH can hold one tmux command (before or after it runs) until
 * the test releases it, so a test can stop the daemon at an exact step of a delivery. Nothing here changes the daemon.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { parseConfig, type Config } from "../../internal/config/config.ts";
import { freePort, seedAccountHomes, testConfigText, TOKEN } from "./daemon.ts";
import { eventually, privateTmux, tempDir, type PrivateTmux } from "./tmux.ts";
import { spawnTied } from "./linger.ts";

const ENTRY = join(import.meta.dir, "../../cmd/claude-failover.ts");
const REAL_TMUX = Bun.which("tmux") ?? "/usr/bin/tmux";

/** Where a trapped tmux command is held: before it runs (it never ran when aborted) or after it ran. */
export type TrapWhen = "before" | "after";

/** A daemon process under test and its surroundings. */
export interface ProcDaemon {
  dir: string;
  server: PrivateTmux;
  configPath: string;
  config: Readonly<Config>;
  home(account: string): string;
  /** `<queue_dir>/<project>/<folder>`. */
  folder(project: string, name: "inbox" | "processing" | "done" | "failed"): string;
  /** Starts a daemon process (again) on the same folder, socket and config file; throws after `cleanup()`. */
  start(): void;
  /** SIGKILL: the process dies at once, its tmux sessions stay. Resolves once it is gone. */
  kill9(): Promise<void>;
  /** Sends a signal (SIGHUP reloads the config file). */
  signal(name: "SIGHUP" | "SIGTERM"): void;
  /** Rewrites the config file (apply it with `signal("SIGHUP")`). */
  writeConfig(text: string): void;
  configText(): string;
  /** `http://127.0.0.1:<port>`: where the daemon listens. */
  url: string;
  /** GET with the bearer token; JSON body. */
  get(path: string): Promise<any>;
  /** Waits for a JSON log line whose `msg` is `msg` (and whose fields include `fields`), from any run; returns it. */
  waitLog(msg: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Log lines of every run so far. */
  logs(): Array<Record<string, unknown>>;
  /** Holds the first tmux command whose argv (joined by spaces) matches the shell glob `glob`. */
  arm(when: TrapWhen, glob: string): void;
  /** Resolves once the armed command is held. */
  trapped(timeoutMs?: number): Promise<void>;
  /** Lets the held command go: run it (`before`) or return (`after`); `abort` makes a `before` command fail unrun. */
  release(abort?: boolean): void;
  /** Kills every daemon process it started (SIGKILL), the tmux server and its agents, then removes the folder. */
  cleanup(): Promise<void>;
}

/** Options of {@link startProcDaemon}; `extra` is passed to {@link testConfigText}. */
export interface ProcDaemonOptions {
  extra?: Parameters<typeof testConfigText>[3];
  /** Runs before the daemon starts (e.g. write `sim-faults.json` into an account home). */
  before?(d: ProcDaemon): void;
  /** Extra variables of the daemon's environment, also seen by the config check (e.g. `fleet.postgres_url_env`'s). */
  env?: Record<string, string>;
}

/** Starts `claude-failover run` on a fresh folder and private socket. */
export async function startProcDaemon(options: ProcDaemonOptions = {}): Promise<ProcDaemon> {
  const temp = tempDir(process.env.CF_KEEP_FAULT_DIRS ? "cf-fault-kept-" : "cf-fault-");
  const dir = temp.path;
  mkdirSync(join(dir, "work", "ded"), { recursive: true });
  seedAccountHomes(dir);
  const server = privateTmux("fault");
  const port = await freePort();
  const configPath = join(dir, "config.yaml");
  const trapDir = join(dir, "trap");
  const binDir = join(dir, "bin");
  mkdirSync(trapDir, { recursive: true });
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, "tmux"), trapScript(trapDir), { mode: 0o755 });
  chmodSync(join(binDir, "tmux"), 0o755);
  writeFileSync(configPath, testConfigText(dir, server.socket, port, options.extra));
  const env = { ...process.env, ...options.env, CF_TEST_TOKEN: TOKEN, TMUX: "", TMUX_PANE: "", HOME: dir, PATH: `${binDir}:${process.env.PATH ?? "/usr/bin:/bin"}` };
  let proc: Subprocess | undefined;
  // Every daemon process started, killed at cleanup; each also dies with the test process (spawnTied).
  const procs: Subprocess[] = [];
  let cleaned = false;
  let runs = 0;
  const logFiles = () => readdirSync(dir).filter((f) => /^daemon-\d+\.log$/.test(f)).sort().map((f) => join(dir, f));
  const parse = (line: string) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  const d: ProcDaemon = {
    dir, server, configPath,
    config: parseConfig(readFileSync(configPath, "utf8"), configPath, { env: { ...options.env, CF_TEST_TOKEN: TOKEN }, home: dir }),
    home: (account) => join(dir, "homes", account),
    folder: (project, name) => join(d.config.dispatcher.queue_dir, project, name),
    start() {
      // A timed-out test runs on after its cleanup: a daemon started then would outlive it.
      if (cleaned) throw new Error("Cannot start the test daemon: it was cleaned up (the test timed out?)");
      const log = join(dir, `daemon-${String(++runs).padStart(2, "0")}.log`);
      writeFileSync(log, "");
      proc = spawnTied([process.execPath, ENTRY, "run", "--config", configPath], { env, stdin: "ignore", stdout: "ignore", stderr: Bun.file(log) });
      procs.push(proc);
    },
    async kill9() {
      proc?.kill("SIGKILL");
      await proc?.exited;
    },
    signal: (name) => void proc?.kill(name),
    writeConfig: (text) => writeFileSync(configPath, text),
    configText: () => readFileSync(configPath, "utf8"),
    url: `http://127.0.0.1:${port}`,
    get: (path) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } }).then((r) => r.json()),
    logs: () => logFiles().flatMap((f) => readFileSync(f, "utf8").split("\n").map(parse).filter((l): l is Record<string, unknown> => l !== null)),
    waitLog: (msg, fields = {}, timeoutMs = 20_000) => eventually(() =>
      d.logs().find((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v)), timeoutMs, 50),
    arm(when, glob) {
      rmSync(join(trapDir, "hit"), { recursive: true, force: true });
      rmSync(join(trapDir, "release"), { force: true });
      writeFileSync(join(trapDir, "arm"), `${when}\n${glob}\n`);
    },
    trapped: (timeoutMs = 20_000) => eventually(() => existsSync(join(trapDir, "hit", "reached")), timeoutMs, 20).then(() => undefined),
    release(abort = false) {
      rmSync(join(trapDir, "arm"), { force: true });
      writeFileSync(join(trapDir, "release"), abort ? "abort" : "go");
    },
    async cleanup() {
      cleaned = true;
      if (existsSync(trapDir)) d.release(true);
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      await server.kill();
      if (process.env.CF_KEEP_FAULT_DIRS) return; // set it to read a failed test's logs and transcripts
      // Hook commands of the dying agents may still write under HOME (= dir) for a moment: removed once they are gone.
      await temp.cleanup();
    },
  };
  try {
    options.before?.(d);
    d.start();
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, 30_000);
  } catch (error) {
    await d.cleanup();
    throw error;
  }
  return d;
}

/**
 * A `tmux` in front of the real one. When `<trap>/arm` holds `when` and a glob, the first command whose argv matches
 * is held (`before` or `after` running it) until `<trap>/release` exists; `abort` in it fails a held `before` command.
 */
function trapScript(trap: string): string {
  return `#!/bin/sh
T='${trap}'
if [ -f "$T/arm" ]; then
  when=$(sed -n 1p "$T/arm"); glob=$(sed -n 2p "$T/arm")
  case "$*" in
    $glob)
      if mkdir "$T/hit" 2>/dev/null; then
        if [ "$when" = before ]; then
          touch "$T/hit/reached"
          while [ ! -f "$T/release" ]; do sleep 0.02; done
          [ "$(cat "$T/release")" = abort ] && exit 1
          exec '${REAL_TMUX}' "$@"
        fi
        '${REAL_TMUX}' "$@"; rc=$?
        touch "$T/hit/reached"
        while [ ! -f "$T/release" ]; do sleep 0.02; done
        exit $rc
      fi;;
  esac
fi
exec '${REAL_TMUX}' "$@"
`;
}
