/**
 * @module demo
 * `claude-failover demo`: the daemon's main job on an embedded default, needing nothing installed but tmux. It makes
 * a temporary folder with two demo accounts, starts a private tmux server (its own `-L` socket, so the user's
 * sessions are never seen), runs the real daemon with the simulated Claude Code, drops tasks, exhausts the first
 * account, and narrates the failover: the swap, the link flip, and every conversation resumed on the second account.
 * Cleans everything up on Ctrl-C or after `--seconds`. Exit 0 only when a swap happened and every conversation resumed.
 */
import { processesMentioning } from "../lifecycle/proc.ts";
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { parseConfig, type Config } from "../config/config.ts";
import { createLog, type Logger } from "../log.ts";
import type { Clock } from "../clock.ts";
import type { RunCommand } from "../tmux/tmux.ts";
import type { StatusSnapshot } from "../state/status.ts";
import type { OperatorControl } from "../control/control.ts";
import { transcriptPath } from "../claude/home.ts";
import { writeSimAccountLogin } from "./sim-login.ts";

/** What the demo needs from the binary: the same wiring `run` uses. */
export interface DemoHost {
  version: string;
  wire(config: Readonly<Config>, deps: { run: RunCommand; clock: Clock; fetch: typeof fetch; log: Logger; self: string[]; tmuxArgs?: string[] }): {
    start(): Promise<void>; stop(reason: string): Promise<void>; control: OperatorControl; url(): string;
  };
  realDeps(config: Pick<Config, "log_level">): { run: RunCommand; clock: Clock; fetch: typeof fetch; log: Logger; self: string[] };
  selfArgv(): string[];
}

/** Demo options. */
export interface DemoOptions {
  /** Stop after this many seconds (0 = run until Ctrl-C, after the scenario). */
  seconds: number;
  /** HTTP port (0 = pick a free one). */
  port: number;
  /** Keep the demo folder (state, logs, transcripts) after the run. @default false */
  keep?: boolean;
  /** Where narration goes. @default stdout */
  print?: (line: string) => void;
}

/** How long the cleanup waits for the agents and hook commands of the demo to end before it removes the folder. */
const LINGER_WAIT_MS = 5_000;

const TASKS = [
  "Write a haiku about tmux sessions",
  "Summarise what a 5-hour usage limit means for a fleet of agents",
  "List three ways to keep a conversation across accounts",
  "Explain why a 529 Overloaded error is not a quota limit",
];

/** Runs the demo; returns the exit code. */
export async function runDemo(host: DemoHost, options: DemoOptions): Promise<number> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), "claude-failover-demo-"));
  const socket = `cf-demo-${process.pid}`;
  const token = randomBytes(12).toString("hex");
  const port = options.port || (await freePort());
  const self = host.selfArgv();
  const config = parseConfig(demoConfig(dir, socket, port, self), join(dir, "config.yaml"), { env: { CLAUDE_FAILOVER_DEMO_TOKEN: token }, home: dir });
  for (const name of ["demo-a", "demo-b"]) writeSimAccountLogin(join(dir, "accounts", name), name);
  const deps = host.realDeps(config);
  const logFile = Bun.file(join(dir, "daemon.log")).writer();
  const daemon = host.wire(config, { ...deps, log: createLog({ level: "info", write: (line) => void logFile.write(line + "\n") }) });
  const tmux = (...args: string[]) => deps.run(["tmux", "-L", socket, ...args]);
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    print("\n■ Cleaning up: stopping the daemon, the private tmux server and removing the demo folder");
    await daemon.stop("demo finished").catch(() => undefined);
    await tmux("kill-server");
    rmSync(join(tmpdir(), `tmux-${process.getuid?.() ?? 0}`, socket), { force: true });
    // The simulated agents and their hook commands (which spool into the demo folder when the daemon is gone) end a
    // moment after the tmux server: removing the folder before they have would leave it recreated behind us.
    for (const until = Date.now() + LINGER_WAIT_MS; processesMentioning(dir).length > 0 && Date.now() < until;) await Bun.sleep(50);
    await logFile.end();
    if (options.keep) print(`  kept ${dir} (daemon log: ${join(dir, "daemon.log")})`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    print(`▶ claude-failover ${host.version} demo`);
    print(`  folder ${dir}\n  private tmux server: tmux -L ${socket} attach -t ccl-auto-11`);
    mkdirSync(join(dir, "work", "dedicated"), { recursive: true });
    // A foreign session in the range of no owned name: the daemon must never touch it.
    await tmux("new-session", "-d", "-s", "ccl-0", "-c", dir, "sh", "-c", "echo operator session; exec sleep 86400");
    const foreignPid = (await tmux("display-message", "-p", "-t", "=ccl-0:", "#{pane_pid}")).stdout.trim();
    await daemon.start();
    print(`▶ Dashboard ${daemon.url()}  (API token for the buttons: ${token})`);
    print("▶ Waiting for the pool ccl-auto-11…13 and the dedicated session ccl-1-demo to start Claude Code (simulated)");
    const ready = await waitFor(() => {
      const s = daemon.control.status();
      return s.sessions.filter((x) => x.state === "idle").length >= 4 ? s : null;
    }, 30_000);
    if (!ready) throw new Error("the sessions did not start within 30 s");
    for (const s of ready.sessions) print(`  ${s.name.padEnd(12)} ${s.kind.padEnd(9)} on ${s.account}  conversation ${s.session_id}`);
    print("▶ A person types into the dedicated session ccl-1-demo (its conversation must survive the swap too)");
    await tmux("send-keys", "-t", "=ccl-1-demo:", "-l", "[sim:work=1s] Review the deployment checklist with me");
    await tmux("send-keys", "-t", "=ccl-1-demo:", "Enter");
    const before = new Map(ready.sessions.map((s) => [s.name, s.session_id]));

    print("▶ Dropping 4 tasks into the inbox");
    for (const [i, prompt] of TASKS.entries()) {
      const added = await daemon.control.addTask({ project: "demo", name: `task-${i + 1}.md`, prompt: `[sim:work=${4 + i}s] ${prompt}` });
      if (!added.ok) throw new Error(`cannot add a task: ${added.message}`);
    }
    const busy = await waitFor(() => {
      const running = daemon.control.status().queue.filter((t) => t.state === "running");
      return running.length >= 2 ? running : null;
    }, 20_000);
    print(`  running: ${(busy ?? []).map((t) => `${t.session} ← ${t.file}`).join(", ")}`);

    print("▶ Account demo-a runs out of quota (the simulated Claude Code now answers with its real limit message)");
    writeFileSync(join(dir, "accounts", "demo-a", "sim-quota"), "");
    const swapped = await waitFor(() => {
      const s = daemon.control.status();
      return s.last_swap && (s.last_swap.step === "done" || s.last_swap.step === "failed") ? s : null;
    }, 60_000);
    if (!swapped?.last_swap) throw new Error("no swap happened within 60 s");
    const swap = swapped.last_swap;
    print(`▶ Swap ${swap.step}: ${swap.from} → ${swap.to}  (trigger ${swap.trigger_session}, signal ${swap.signal})`);
    print(`  matched "${swap.pattern}": "${swap.snippet}"`);
    print(`  ~/.claude link (demo): ${safeReadlink(join(dir, "claude-link"))}`);
    const after = await waitFor(() => {
      const s = daemon.control.status();
      return s.sessions.every((x) => x.account === "demo-b" && (x.state === "idle" || x.state === "working")) ? s : null;
    }, 30_000) ?? daemon.control.status();
    let resumed = 0;
    for (const s of after.sessions) {
      const same = s.session_id !== null && s.session_id === before.get(s.name);
      const onDisk = s.session_id !== null && existsSync(transcriptPath(join(dir, "state", "homes", "fleet"), s.workdir, s.session_id));
      if (same && onDisk) resumed++;
      print(`  ${s.name.padEnd(12)} on ${s.account}  ${same ? "same conversation" : "NEW conversation"} ${s.session_id}${onDisk ? "" : " (transcript missing!)"}`);
    }
    print(`▶ Conversations resumed on demo-b: ${resumed}/${after.sessions.length}`);
    const foreignAfter = (await tmux("display-message", "-p", "-t", "=ccl-0:", "#{pane_pid}")).stdout.trim();
    print(`▶ Foreign session ccl-0 ${foreignAfter === foreignPid ? "untouched" : "CHANGED"} (pid ${foreignPid})`);
    const done = await waitFor(() => {
      const t = daemon.control.status().tasks;
      return t.done + t.failed >= TASKS.length ? t : null;
    }, 60_000);
    const t = done ?? daemon.control.status().tasks;
    print(`▶ Tasks: ${t.done} done, ${t.failed} failed, ${t.queued} queued, ${t.running} running`);
    const success = swap.step === "done" && resumed === after.sessions.length && foreignAfter === foreignPid;
    print(success ? "✓ Failover complete: every conversation resumed on the account with quota" : "✗ The failover did not complete as expected (see daemon.log)");
    if (options.seconds > 0) await Bun.sleep(Math.max(0, options.seconds * 1000 - performance.now()));
    else if (process.stdin.isTTY) {
      print(`\nThe daemon keeps running: open ${daemon.url()}/ or attach with tmux -L ${socket} attach. Ctrl-C to stop.`);
      await new Promise(() => undefined);
    }
    return success ? 0 : 1;
  } catch (error) {
    print(`✗ Demo failed: ${(error as Error).message}`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
}

/** The embedded config: two accounts, a pool of 3 plus one dedicated session, fast intervals. */
export function demoConfig(dir: string, socket: string, port: number, self: string[]): string {
  const [command, ...args] = self;
  return `# claude-failover demo (generated)
state_dir: ${dir}/state
log_level: info
http: { listen: "127.0.0.1:${port}", token_env: CLAUDE_FAILOVER_DEMO_TOKEN }
tmux: { socket: ${socket} }
claude:
  command: ${JSON.stringify(command)}
  args: ${JSON.stringify([...args, "sim-claude", "--dangerously-skip-permissions"])}
  link: ${dir}/claude-link
accounts:
  - { name: demo-a, home: ${dir}/accounts/demo-a }
  - { name: demo-b, home: ${dir}/accounts/demo-b }
autonomous: { prefix: ccl-auto-, start_index: 11, min: 3, max: 3, workdir: ${dir}/work }
dedicated:
  - { session: ccl-1-demo, workdir: ${dir}/work/dedicated }
lifecycle: { reconcile_interval: 3s }
quota: { poll_interval: 1s, reactivate_cooldown: 10s, confirm_polls: 2 }
switcher: { relaunch_stagger: 300ms, verify_timeout: 30s }
watcher: { poll_interval: 1s, task_timeout: 10m }
dispatcher: { rescan_interval: 5s }
janitor: { interval: 1h, retention: 7d }
`;
}

async function waitFor<T>(probe: () => T | null, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value) return value;
    await Bun.sleep(250);
  }
  return null;
}

/** A loopback port free right now (the OS picks it; there is a small window before the caller binds it). */
export async function freePort(): Promise<number> {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port ?? 0;
  await server.stop(true);
  return port;
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "(not created)";
  }
}

export type { StatusSnapshot };
