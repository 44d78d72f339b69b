/**
 * @module test/support/daemon
 * Boots the whole daemon through `wire()` exactly as `run` does, but on a private tmux socket, in a temp folder,
 * with the simulated Claude Code, two accounts, a free loopback port and an in-memory log. Tests reach it through
 * `control`, HTTP and the files it writes.
 */
import { mkdirSync, rmSync } from "node:fs";
import { writeSimAccountLogin } from "../../internal/demo/sim-login.ts";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { parseConfig, type Config } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { systemClock } from "../../internal/clock.ts";
import { wire, type Daemon, type WireDeps } from "../../cmd/claude-failover.ts";
import { privateTmux, tempDir, type PrivateTmux } from "./tmux.ts";
import { freePort } from "../../internal/demo/demo.ts";

export const SIM = join(import.meta.dir, "sim-claude-bin.ts");
export const TOKEN = "test-token-0123456789";

/** A daemon under test and its surroundings. */
export interface TestDaemon {
  dir: string;
  server: PrivateTmux;
  config: Readonly<Config>;
  daemon: Daemon;
  log: ReturnType<typeof memoryLog>;
  home(account: "a" | "b"): string;
  /** The config home the daemon's sessions run in (`failover` placement). */
  fleet: string;
  /** A second daemon on the same folder and socket (restart). */
  restart(extra?: Partial<WireDeps>): Promise<Daemon>;
  cleanup(): Promise<void>;
}


/**
 * Config text for a test daemon; `extra` is appended YAML (top-level keys not already present). `pool` may be a
 * function of the temp folder, for a pool whose `workdir` must lie inside it (`(dir) => \`{ …, workdir: ${dir}/work }\``).
 */
export function testConfigText(dir: string, socket: string, port: number, extra: { yaml?: string; pool?: string | ((dir: string) => string); quota?: string; switcher?: string; watcher?: string } = {}): string {
  const pool = typeof extra.pool === "function" ? extra.pool(dir) : extra.pool;
  return `state_dir: ${dir}/state
log_level: debug
http: { listen: "127.0.0.1:${port}", token_env: CF_TEST_TOKEN }
tmux: { socket: ${socket} }
claude: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(SIM)}, "--dangerously-skip-permissions"], link: ${dir}/claude-link }
accounts:
  - { name: a, home: ${dir}/homes/a }
  - { name: b, home: ${dir}/homes/b }
autonomous: ${pool ?? `{ prefix: ccl-auto-, start_index: 11, min: 2, max: 2, workdir: ${dir}/work }`}
dedicated:
  - { session: ccl-1-ded, workdir: ${dir}/work/ded }
lifecycle: { reconcile_interval: 1s }
quota: ${extra.quota ?? "{ poll_interval: 300ms, reactivate_cooldown: 1h, confirm_polls: 2 }"}
switcher: ${extra.switcher ?? "{ relaunch_stagger: 100ms, verify_timeout: 20s }"}
watcher: ${extra.watcher ?? "{ poll_interval: 300ms, task_timeout: 10m }"}
dispatcher: { rescan_interval: 2s }
${extra.yaml ?? ""}`;
}

/**
 * Gives each test account (`<dir>/homes/a`, `…/b`) a login as `claude /login` leaves it (token `sk-ant-oat01-SIM-<name>`);
 * `<account home>/sim-quota` is then the account's quota wherever its login is used (sim-login.ts).
 */
export function seedAccountHomes(dir: string, accounts: readonly string[] = ["a", "b"]): void {
  for (const name of accounts) writeSimAccountLogin(join(dir, "homes", name), name);
}

/** Starts a test daemon (and its sessions); `foreign` sessions are created first on the same server. */
export async function startTestDaemon(options: {
  foreign?: string[]; extra?: Parameters<typeof testConfigText>[3]; deps?: Partial<WireDeps>;
  /** Runs on the private server before the daemon starts (e.g. sessions an older daemon left running). */
  before?: (dir: string, server: PrivateTmux) => Promise<void>;
} = {}): Promise<TestDaemon> {
  const temp = tempDir("cf-e2e-");
  const dir = temp.path;
  mkdirSync(join(dir, "work", "ded"), { recursive: true });
  seedAccountHomes(dir);
  const server = privateTmux("e2e");
  for (const name of options.foreign ?? []) await server.raw("new-session", "-d", "-s", name, "sleep", "3600");
  await options.before?.(dir, server);
  const port = await freePort();
  const config = parseConfig(testConfigText(dir, server.socket, port, options.extra), join(dir, "config.yaml"), { env: { CF_TEST_TOKEN: TOKEN }, home: dir });
  const log = memoryLog();
  const deps = (): WireDeps => ({ run: server.run, clock: systemClock, fetch, log, self: [process.execPath, join(import.meta.dir, "../../cmd/claude-failover.ts")], tmuxArgs: ["-f", "/dev/null"] });
  const daemon = wire(config, { ...deps(), ...options.deps });
  await daemon.start();
  const handle: TestDaemon = {
    dir, server, config, daemon, log,
    home: (account) => join(dir, "homes", account),
    fleet: join(dir, "state", "homes", "fleet"),
    async restart(extra) {
      handle.daemon = wire(config, { ...deps(), ...extra });
      await handle.daemon.start();
      return handle.daemon;
    },
    async cleanup() {
      await handle.daemon.stop("test done").catch(() => undefined);
      await server.kill();
      temp.cleanup();
    },
  };
  return handle;
}

/** Panes of the private server: name, pid, start command. */
export async function listPanes(server: PrivateTmux) {
  const out = await server.raw("list-panes", "-a", "-F", "#{session_name}\t#{pane_pid}\t#{pane_dead}\t#{pane_start_command}");
  return out.stdout.split("\n").filter(Boolean).map((line) => {
    const [name, pid, dead, command] = line.split("\t");
    return { name: name!, pid: Number(pid), dead: dead === "1", command: command ?? "" };
  });
}

export { rmSync, tmpdir };

/** Waits until the session shows an idle prompt, then types `text` and Enter (as a person would). */
export async function typePrompt(server: PrivateTmux, session: string, text: string): Promise<void> {
  const { eventually } = await import("./tmux.ts");
  const { paneActivity } = await import("../../internal/quota/classify.ts");
  await eventually(async () => paneActivity((await server.tmux.capture([session])).get(session) ?? []) === "idle", 15_000);
  await server.tmux.sendText(session, text);
  await server.tmux.sendKeys(session, "Enter");
}

export { freePort };

/**
 * The crash seam of a swap step: `freeze` holds the swap right after `step` was persisted until the daemon stops, so
 * nothing of the step runs, as if the process had been killed with SIGKILL at that point; `frozen()` says it happened.
 */
export function freezeAtStep(step: string): { freeze: NonNullable<WireDeps["beforeSwapStep"]>; frozen(): boolean } {
  let frozen = false;
  return {
    frozen: () => frozen,
    freeze(_id, at, halted) {
      if (at !== step) return;
      frozen = true;
      return new Promise<void>((resolve) => halted.addEventListener("abort", () => resolve(), { once: true }));
    },
  };
}
