/**
 * @module test/support/daemon
 * Boots the whole daemon through `wire()` exactly as `run` does, but on a private tmux socket, in a temp folder,
 * with the simulated Claude Code, two accounts, a free loopback port and an in-memory log. Tests reach it through
 * `control`, HTTP and the files it writes.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
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
  home(account: string): string;
  /** The config home the daemon's sessions run in (`failover` placement). */
  fleet: string;
  /** A second daemon on the same folder and socket (restart); `reconfigure` edits the config text first (a reload). */
  restart(extra?: Partial<WireDeps>, reconfigure?: (text: string) => string): Promise<Daemon>;
  cleanup(): Promise<void>;
}


/**
 * Config text for a test daemon; `extra` is appended YAML (top-level keys not already present). `pool` may be a
 * function of the temp folder (so may `claude` and `dedicated`), for a pool whose `workdir` must lie inside it (`(dir) => \`{ …, workdir: ${dir}/work }\``).
 * Launches are not spaced (`login_spacing: 0`) unless `lifecycle` says otherwise: tests of other behaviours find
 * every session started when `start()` returns.
 */
export function testConfigText(dir: string, socket: string, port: number, extra: { yaml?: string; pool?: string | ((dir: string) => string); quota?: string; switcher?: string; lifecycle?: string; watcher?: string; claude?: string | ((dir: string) => string); dedicated?: string | ((dir: string) => string); accounts?: (dir: string) => string; accountNames?: readonly string[] } = {}): string {
  const [pool, claude, dedicated] = [extra.pool, extra.claude, extra.dedicated].map((v) => (typeof v === "function" ? v(dir) : v));
  return `state_dir: ${dir}/state
log_level: debug
http: { listen: "127.0.0.1:${port}", token_env: CF_TEST_TOKEN }
tmux: { socket: ${socket} }
claude: ${claude ?? `{ command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(SIM)}, "--dangerously-skip-permissions"], link: ${dir}/claude-link }`}
accounts:${extra.accounts?.(dir) ?? `
${(extra.accountNames ?? ["a", "b"]).map((name) => `  - { name: ${name}, home: ${dir}/homes/${name} }`).join("\n")}`}
autonomous: ${pool ?? `{ prefix: ccl-auto-, start_index: 11, min: 2, max: 2, workdir: ${dir}/work }`}
dedicated:${dedicated ?? `
  - { session: ccl-1-ded, workdir: ${dir}/work/ded }`}
lifecycle: ${extra.lifecycle ?? "{ reconcile_interval: 1s, login_spacing: 0 }"}
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

/**
 * Starts a test daemon (and its sessions); `foreign` sessions are created first on the same server; `before` runs on
 * the temp folder and the private server before the daemon starts (e.g. to write account homes).
 */
export async function startTestDaemon(options: {
  foreign?: string[]; extra?: Parameters<typeof testConfigText>[3]; deps?: Partial<WireDeps>;
  /** Runs on the private server before the daemon starts (e.g. sessions an older daemon left running). */
  before?: (dir: string, server: PrivateTmux) => Promise<void>;
} = {}): Promise<TestDaemon> {
  const temp = tempDir("cf-e2e-");
  const dir = temp.path;
  mkdirSync(join(dir, "work", "ded"), { recursive: true });
  seedAccountHomes(dir, options.extra?.accountNames);
  const server = privateTmux("e2e");
  for (const name of options.foreign ?? []) await server.raw("new-session", "-d", "-s", name, "sleep", "3600");
  await options.before?.(dir, server);
  const port = await freePort();
  const text = testConfigText(dir, server.socket, port, options.extra);
  const parse = (yaml: string) => parseConfig(yaml, join(dir, "config.yaml"), { env: { CF_TEST_TOKEN: TOKEN }, home: dir });
  const config = parse(text);
  const log = memoryLog();
  const deps = (): WireDeps => ({ run: server.run, clock: systemClock, fetch, log, self: [process.execPath, join(import.meta.dir, "../../cmd/main.ts")], tmuxArgs: ["-f", "/dev/null"] });
  const daemon = wire(config, { ...deps(), ...options.deps });
  let cleaned = false;
  const cleanup = async () => {
    cleaned = true;
    await handle.daemon.stop("test done").catch(() => undefined);
    // Returns once the agents (and the hook commands they run as they end) are gone: none spools into the folder after it.
    await server.kill();
    await temp.cleanup();
  };
  const handle: TestDaemon = {
    dir, server, config, daemon, log,
    home: (account) => join(dir, "homes", account),
    fleet: join(dir, "state", "homes", "fleet"),
    async restart(extra, reconfigure) {
      // A timed-out test runs on after its cleanup: a daemon started then would outlive it.
      if (cleaned) throw new Error("Cannot restart the test daemon: it was cleaned up (the test timed out?)");
      if (reconfigure) handle.config = parse(reconfigure(text));
      handle.daemon = wire(handle.config, { ...deps(), ...extra });
      await handle.daemon.start();
      return handle.daemon;
    },
    cleanup,
  };
  try {
    await daemon.start();
  } catch (error) {
    await cleanup();
    throw error;
  }
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

/** The notifications of `kind` the daemon stored (its events table), as their fields, oldest first. */
export function storedEvents(t: Pick<TestDaemon, "config">, kind: string): Array<Record<string, unknown>> {
  const db = new Database(join(t.config.state_dir, "state.db"), { readonly: true });
  try {
    const rows = db.query("SELECT fields FROM events WHERE kind = $kind ORDER BY id").all({ kind }) as Array<{ fields: string | null }>;
    return rows.map((r) => JSON.parse(r.fields ?? "{}") as Record<string, unknown>);
  } finally {
    db.close();
  }
}

/** Waits until the session shows an idle prompt, then types `text` and Enter (as a person would). */
export async function typePrompt(server: PrivateTmux, session: string, text: string): Promise<void> {
  const { eventually } = await import("./tmux.ts");
  const { paneActivity } = await import("../../internal/quota/classify.ts");
  await eventually(async () => paneActivity((await server.tmux.capture([session])).get(session) ?? []) === "idle", 15_000);
  await server.tmux.sendText(session, text);
  await server.tmux.sendKeys(session, "Enter");
}

/** Polls the daemon at `url` has finished so far: `claude_failover_poll_duration_seconds_count` on `GET /metrics`. */
export async function pollCount(url: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", url))).text();
  return Number(/^claude_failover_poll_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * Waits until the daemon at `url` has finished `n` more whole polls than when called (a poll already running when
 * called is not counted), so that "nothing happened" is asserted after the daemon has looked, not after some wall time.
 */
export async function afterPolls(url: string, n: number, timeoutMs = 30_000): Promise<void> {
  const target = (await pollCount(url)) + n + 1;
  const { eventually } = await import("./tmux.ts");
  await eventually(async () => (await pollCount(url).catch(() => 0)) >= target, timeoutMs, 50);
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

/** What {@link giveConversations} saw: each owned session as `/status` showed it, and the foreign panes' pids. */
export interface Conversations {
  before: Map<string, { session_id: string | null; workdir: string }>;
  foreign: Map<string, number>;
}

/** Waits for `owned` to be idle, types a first prompt in each and waits for its answer in the session home. */
export async function giveConversations(t: TestDaemon, owned: string[], foreignNames: string[]): Promise<Conversations> {
  const { eventually } = await import("./tmux.ts");
  const { transcriptPath } = await import("../../internal/claude/home.ts");
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === owned.length, 20_000);
  await Promise.all(owned.map((name) => typePrompt(t.server, name, `[sim:work=0s] hello from ${name}`)));
  const before = new Map(t.daemon.control.status().sessions.map((s) => [s.name, s]));
  // Each first turn has been answered: a limit set up afterwards cannot land on it.
  for (const s of before.values()) {
    const path = transcriptPath(t.fleet, s.workdir, s.session_id!);
    await eventually(() => existsSync(path) && readFileSync(path, "utf8").includes(`"type":"assistant"`));
  }
  const foreign = new Map((await listPanes(t.server)).filter((p) => foreignNames.includes(p.name)).map((p) => [p.name, p.pid]));
  return { before, foreign };
}

/**
 * Every owned session was relaunched in the session home on account b's login, resumed with its own conversation
 * (the first prompt is in its transcript); the foreign panes are the same processes; no other pane exists.
 */
export async function expectResumedOnB(t: TestDaemon, owned: string[], { before, foreign }: Conversations): Promise<void> {
  const { expect } = await import("bun:test");
  const { transcriptPath } = await import("../../internal/claude/home.ts");
  const panes = await listPanes(t.server);
  expect(panes.map((p) => p.name).sort()).toEqual([...foreign.keys(), ...owned].sort());
  for (const name of owned) {
    const was = before.get(name)!;
    const pane = panes.find((p) => p.name === name)!;
    expect(pane.command).toContain(`CLAUDE_CONFIG_DIR=${t.fleet}`);
    expect(pane.command).toContain(`--resume ${was.session_id}`);
    expect(t.daemon.control.status().sessions.find((s) => s.name === name)!.session_id).toBe(was.session_id);
    const moved = transcriptPath(t.fleet, was.workdir, was.session_id!);
    expect(existsSync(moved) && readFileSync(moved, "utf8")).toContain(`hello from ${name}`);
  }
  for (const [name, pid] of foreign) expect(panes.find((p) => p.name === name)?.pid).toBe(pid);
  const { readLogin } = await import("../../internal/claude/login.ts");
  expect(readLogin(t.fleet)?.oauth.accessToken).toBe("sk-ant-oat01-SIM-b");
}
