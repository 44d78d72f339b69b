/**
 * @module bench/support
 * What every bench shares (not a bench itself): private tmux servers (`-L cf-bench-<pid>-<rand>`, `-f /dev/null`,
 * scrubbed environment with HOME in a temp dir, `kill-server` and socket removal at the end), temp dirs, the compiled
 * binary (built when missing), config text for a daemon, an in-process daemon through `wire()`, statistics, cleanup
 * on signals, and the summary rows `bench/run.ts` collects (JSON lines in the file named by `BENCH_SUMMARY`).
 */
import { SIM_REQUEST_LOG, writeSimAccountLogin } from "../internal/demo/sim-login.ts";
import { Database } from "bun:sqlite";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createTmux, type RunCommand, type Tmux } from "../internal/tmux/tmux.ts";
import { childEnv, createBunRun } from "../internal/tmux/runner.ts";
import { parseConfig } from "../internal/config/config.ts";
import { createLog, type LogLevel } from "../internal/log.ts";
import { systemClock, type Clock } from "../internal/clock.ts";
import { wire, type Daemon } from "../cmd/claude-failover.ts";
import { freePort } from "../internal/demo/demo.ts";

export const ROOT = resolve(import.meta.dir, "..");
/** Bearer token of every bench daemon, read from the variable named by `http.token_env`. */
export const TOKEN = "bench-token-0123456789abcdef";
export const TOKEN_ENV = "CF_BENCH_TOKEN";

// ---- cleanup -----------------------------------------------------------------------------------------------------

const cleanups: Array<() => unknown> = [];
/** Registers `fn` to run at {@link cleanup} (last registered runs first), also on SIGINT/SIGTERM. */
export function defer(fn: () => unknown): void {
  cleanups.push(fn);
}
/** Runs every deferred cleanup once, newest first; errors are printed, not thrown. */
export async function cleanup(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()!();
    } catch (error) {
      process.stderr.write(`cleanup failed: ${(error as Error).message}\n`);
    }
  }
  // A process that was still finishing (a pane program, a stopped daemon's last write) can recreate a folder: sweep again.
  await Bun.sleep(250);
  for (const path of tempDirs.splice(0)) rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void cleanup().finally(() => process.exit(130)));
}

const tempDirs: string[] = [];
/** A temp dir removed at cleanup. */
export function tempDir(label: string): string {
  const path = mkdtempSync(join(tmpdir(), `cf-bench-${label}-`));
  tempDirs.push(path);
  defer(() => rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  return path;
}

// ---- tmux --------------------------------------------------------------------------------------------------------

/** A private tmux server handle (the server starts with its first session). */
export interface BenchTmux {
  socket: string;
  /** The scrubbed environment tmux (and every pane it starts) gets. */
  env: Record<string, string>;
  run: RunCommand;
  tmux: Tmux;
  raw(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** PID of the server process, null when none runs. */
  serverPid(): Promise<number | null>;
  kill(): Promise<void>;
}

/** A fresh socket name: `cf-bench-<pid>-<rand>`. */
export function benchSocket(): string {
  return `cf-bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Path of a `-L` socket file. */
export function socketPath(socket: string): string {
  return `${process.env.TMUX_TMPDIR || "/tmp"}/tmux-${process.getuid?.() ?? 0}/${socket}`;
}

/** A handle on a new private socket; `home` becomes HOME of the server and its panes. Killed at cleanup. */
export function privateTmux(home: string): BenchTmux {
  const socket = benchSocket();
  const env = childEnv({ ...process.env, HOME: home });
  const run = createBunRun(env);
  const base = ["tmux", "-L", socket, "-f", "/dev/null"];
  const raw = (...args: string[]) => run([...base, ...args]);
  let killed = false;
  const serverPid = async () => {
    const r = await run([...base, "display-message", "-p", "#{pid}"], { timeoutMs: 5_000 });
    return r.code === 0 ? Number(r.stdout.trim()) || null : null;
  };
  const kill = async () => {
    if (killed) return;
    killed = true;
    const pid = await serverPid();
    await run([...base, "kill-server"], { timeoutMs: 10_000 });
    // Under heavy load kill-server can time out; the server is ours, so end it by its pid.
    if (pid && (await Bun.sleep(200), isAlive(pid))) process.kill(pid, "SIGTERM");
    rmSync(socketPath(socket), { force: true });
  };
  defer(kill);
  return {
    socket, env, run, raw, kill,
    tmux: createTmux(run, { socket, extraArgs: ["-f", "/dev/null"] }),
    serverPid,
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Wraps a runner to count and time every tmux invocation by its first command word. */
export function countingRun(inner: RunCommand) {
  const calls: Array<{ command: string; at: number; ms: number }> = [];
  const run: RunCommand = async (argv, options) => {
    const command = argv.find((a, i) => i > 0 && !a.startsWith("-") && argv[i - 1] !== "-L" && argv[i - 1] !== "-f") ?? "?";
    const at = performance.now();
    const result = await inner(argv, options);
    calls.push({ command, at, ms: performance.now() - at });
    return result;
  };
  return { run, calls };
}

// ---- the binary ---------------------------------------------------------------------------------------------------

/** The compiled daemon and how it was obtained. */
export interface Binary {
  path: string;
  note: string;
}

/**
 * `dist/claude-failover`, built with `bun run build` when missing. When that build fails, the same flags plus
 * `--format=esm` are tried into a temp folder (the note says so). `BENCH_BINARY` (set by run.ts) skips all of it.
 */
export async function ensureBinary(): Promise<Binary> {
  if (process.env.BENCH_BINARY && existsSync(process.env.BENCH_BINARY)) {
    return { path: process.env.BENCH_BINARY, note: process.env.BENCH_BINARY_NOTE ?? "" };
  }
  const dist = join(ROOT, "dist", "claude-failover");
  const stale = existsSync(dist) && newestSource() > statSync(dist).mtimeMs;
  if (existsSync(dist) && !stale) return { path: dist, note: "dist/claude-failover (existing, newer than every source file)" };
  const build = Bun.spawnSync([process.execPath, "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode === 0 && existsSync(dist)) return { path: dist, note: `dist/claude-failover (${stale ? "older than the sources: rebuilt" : "built"} by \`bun run build\`)` };
  const why = `${build.stderr.toString()}${build.stdout.toString()}`.trim().split("\n").filter((l) => /error/i.test(l)).slice(0, 2).join(" / ");
  const script = (await Bun.file(join(ROOT, "package.json")).json()).scripts.build as string;
  const dir = join(tmpdir(), `cf-bench-build-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "claude-failover");
  const argv = script.split(/\s+/).filter(Boolean).map((a, i) => (i === 0 && a === "bun" ? process.execPath : a === "dist/claude-failover" ? out : a));
  const retry = Bun.spawnSync([...argv, "--format=esm"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (retry.exitCode !== 0 || !existsSync(out)) {
    throw new Error(`Cannot build the binary: \`bun run build\` failed (${why}) and so did the retry with --format=esm: ${retry.stderr.toString().trim().slice(0, 300)}`);
  }
  return { path: out, note: `\`bun run build\` FAILED (${why}); built with the same flags plus --format=esm into ${out}` };
}

/** mtime (ms) of the newest file under cmd/ and internal/, and of package.json. */
function newestSource(): number {
  let newest = statSync(join(ROOT, "package.json")).mtimeMs;
  for (const dir of ["cmd", "internal"]) {
    for (const file of new Bun.Glob("**/*").scanSync({ cwd: join(ROOT, dir) })) newest = Math.max(newest, statSync(join(ROOT, dir, file)).mtimeMs);
  }
  return newest;
}

/** Size of a file in MB (10^6 bytes). */
export function sizeMb(path: string): number {
  return statSync(path).size / 1e6;
}

// ---- config and daemons --------------------------------------------------------------------------------------------

/** What a bench daemon's config says; durations and blocks are YAML flow text. */
export interface ConfigSpec {
  dir: string;
  socket: string;
  port: number;
  command: string;
  args: string[];
  pool: { min: number; max: number };
  /** Number of dedicated sessions `ccl-<i>-ded`. @default 0 */
  dedicated?: number;
  /** 1: account a only; 2: accounts a and b. @default 2 */
  accounts?: 1 | 2;
  quota?: string;
  switcher?: string;
  watcher?: string;
  lifecycle?: string;
  logLevel?: string;
}

/** Config YAML for a daemon living entirely in `spec.dir` (accounts a and b unless told, loopback HTTP). */
export function configText(spec: ConfigSpec): string {
  const { dir } = spec;
  for (const p of ["homes/a", "homes/b", "work"]) mkdirSync(join(dir, p), { recursive: true });
  // Each account home holds a login, as after `claude /login`: a swap writes it into the session home.
  for (const name of ["a", "b"]) writeSimAccountLogin(join(dir, "homes", name), name);
  // The daemon refuses to launch into a missing workdir: each dedicated session's exists, as an operator's would.
  for (let i = 1; i <= (spec.dedicated ?? 0); i++) mkdirSync(join(dir, "work", `ded-${i}`), { recursive: true });
  const dedicated = Array.from({ length: spec.dedicated ?? 0 }, (_, i) => `  - { session: ccl-${i + 1}-ded, workdir: ${dir}/work/ded-${i + 1} }`);
  return `state_dir: ${dir}/state
log_level: ${spec.logLevel ?? "warn"}
http: { listen: "127.0.0.1:${spec.port}", token_env: ${TOKEN_ENV} }
tmux: { socket: ${spec.socket} }
claude: { command: ${JSON.stringify(spec.command)}, args: ${JSON.stringify(spec.args)}, link: ${dir}/claude-link }
accounts:
  - { name: a, home: ${dir}/homes/a }${spec.accounts === 1 ? "" : `\n  - { name: b, home: ${dir}/homes/b }`}
autonomous: { prefix: ccl-auto-, start_index: 11, min: ${spec.pool.min}, max: ${spec.pool.max}, workdir: ${dir}/work }
dedicated:${dedicated.length ? `\n${dedicated.join("\n")}` : " []"}
lifecycle: ${spec.lifecycle ?? "{ login_spacing: 0 }"}
quota: ${spec.quota ?? "{}"}
switcher: ${spec.switcher ?? "{}"}
watcher: ${spec.watcher ?? "{}"}
`;
}


/** A daemon wired in this process (as test/support/daemon.ts does), on `server`, stopped at cleanup. */
export async function startInProcess(text: string, dir: string, server: BenchTmux, opts: { run?: RunCommand; clock?: Clock; self: string[]; onLog?: (line: string) => void }): Promise<Daemon> {
  const config = parseConfig(text, join(dir, "config.yaml"), { env: { [TOKEN_ENV]: TOKEN }, home: dir });
  // `BENCH_DAEMON_LOG=info` prints the daemon's log too (e.g. to see where a swap's time goes). @default error
  // `onLog` gets every line from info up (a bench times a swap's steps from its log, with no polling in between).
  const printed = process.env.BENCH_DAEMON_LOG;
  const level = (printed === "debug" ? "debug" : opts.onLog ? "info" : printed ?? "error") as LogLevel;
  const log = createLog({
    level,
    write: (line) => {
      opts.onLog?.(line);
      if (printed) process.stderr.write(`  [daemon] ${line}\n`);
    },
  });
  const baseRun = opts.run ?? server.run;
  // `BENCH_TMUX_TIMES=1` prints each tmux invocation's start and duration (to see where a swap's time goes).
  const run: RunCommand = process.env.BENCH_TMUX_TIMES ? async (argv, o) => {
    const start = performance.now();
    const r = await baseRun(argv, o);
    process.stderr.write(`  [tmux] ${new Date(Date.now() - (performance.now() - start)).toISOString()} +${(performance.now() - start).toFixed(0)} ms ${argv.slice(argv.indexOf("/dev/null") + 1).join(" ").slice(0, 80)}\n`);
    return r;
  } : baseRun;
  const daemon = wire(config, { run, clock: opts.clock ?? systemClock, fetch, log, self: opts.self, tmuxArgs: ["-f", "/dev/null"] });
  const realStop = daemon.stop.bind(daemon);
  let stopped = false;
  const stop = async (reason = "bench done") => {
    if (stopped) return;
    stopped = true;
    await realStop(reason);
  };
  defer(stop);
  await daemon.start();
  return Object.assign(daemon, { stop });
}

/**
 * Waits for the daemon's last swap to end, then makes every account but the active one available again (disable then
 * enable: enabling a cooling account is a no-op), so the next run can swap away from the active one. Returns the status.
 */
export async function afterLastSwap(d: Daemon) {
  const s = await until("the previous swap to finish", () => {
    const st = d.control.status();
    return !st.swapping && (!st.last_swap || st.last_swap.step === "done" || st.last_swap.step === "failed") ? st : null;
  }, 30_000, 20);
  for (const account of s.accounts) {
    if (account.name === s.active_account || account.state === "available") continue;
    d.control.setAccountEnabled(account.name, false);
    d.control.setAccountEnabled(account.name, true);
  }
  return s;
}

/** JSON from the daemon's HTTP API (`POST` with the bearer token when `body` is given). */
export async function api<T = unknown>(url: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const init: RequestInit = body === undefined ? {} : {
    method: "POST", body: JSON.stringify(body), headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
  };
  const res = await fetch(new URL(path, url), init);
  return { status: res.status, json: (await res.json().catch(() => null)) as T };
}

/** Polls `probe` every `stepMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T> | T, timeoutMs: number, stepMs = 50): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await Bun.sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** The newest swap row as a bench reads it: the fields the benches look at. */
export interface SwapSeen { id: number; step: string; reason: string; from: string | null; to: string | null; signal: string | null; error: string | null; at: number }

/**
 * A reader of the daemon's newest swap row straight from its state.db (read-only, one indexed row). The benches poll
 * it every few milliseconds: polling `control.status()` that often (every account's usage, every session, 20 swaps)
 * took a third of the in-process daemon's CPU and slowed the very swap being timed.
 */
export function swapReader(stateDir: string): { last(): SwapSeen | null; close(): void } {
  const db = new Database(join(stateDir, "state.db"), { readonly: true });
  const query = db.query("SELECT id, step, reason, from_account AS \"from\", to_account AS \"to\", signal, error, requested_at AS at FROM swaps ORDER BY id DESC LIMIT 1");
  return { last: () => (query.get() as SwapSeen | null) ?? null, close: () => db.close() };
}

// ---- /proc -------------------------------------------------------------------------------------------------------

let clkTck = 0;
/** CPU seconds of a process from /proc/<pid>/stat: its own (utime+stime) and its waited-for children's. */
export function cpuSeconds(pid: number): { self: number; children: number } {
  if (!clkTck) clkTck = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  // After "pid (comm) ", f[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
  return { self: (f[11]! + f[12]!) / clkTck, children: (f[13]! + f[14]!) / clkTck };
}

/** Resident set size of a process in MB (VmRSS, 2^20 bytes). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

// ---- statistics and reporting ------------------------------------------------------------------------------------

/** Median, p95 (nearest rank), min, max and count of finite samples. */
export function stats(samples: number[]) {
  const s = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return { n: s.length, median: s.length % 2 ? at(0.5) : ((s[s.length / 2 - 1] ?? NaN) + (s[s.length / 2] ?? NaN)) / 2, p95: at(0.95), min: s[0] ?? NaN, max: s.at(-1) ?? NaN };
}

/** `12.3 ms` (or `1.23 s` from 10 s up). */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value >= 10_000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

/** Prints one line. */
export function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** One line of the summary table. */
export interface SummaryRow {
  figure: string;
  median: string;
  p95?: string;
  runs: string | number;
  target?: string;
  /** true = target met, false = missed, null = no target. */
  met?: boolean | null;
}

/** Records rows for run.ts (when it asked) and prints them. */
export function summary(bench: string, rows: SummaryRow[]): void {
  say(`\nsummary (${bench}):`);
  for (const r of rows) say(`  ${r.figure}: ${r.median}${r.p95 ? ` (p95 ${r.p95})` : ""}, runs ${r.runs}${r.target ? `, target ${r.target} ${r.met === false ? "MISSED" : r.met ? "met" : ""}` : ""}`);
  const file = process.env.BENCH_SUMMARY;
  if (file) for (const r of rows) appendFileSync(file, JSON.stringify({ bench, ...r }) + "\n");
}

/** Runs a bench body, always cleans up, exits non-zero on failure. */
export async function main(body: () => Promise<void>): Promise<void> {
  let code = 0;
  try {
    await body();
  } catch (error) {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    code = 1;
  }
  await cleanup();
  process.exit(code);
}

export { freePort };

/** A daemon whose pool sessions each run a bench task, every turn ending at the same moment (see {@link fleetWithCutTasks}). */
export interface CutFleet {
  dir: string; server: BenchTmux; daemon: Daemon; pids: Map<string, number>;
  /** When every task's turn ends (epoch ms): the moment of the limit. */
  cutAt: number;
  /** Whether every pane still runs the process it ran before the tasks (no restart). */
  samePids(): Promise<boolean>;
  /** Stops the daemon and the tmux server. */
  stop(): Promise<void>;
}

/**
 * A fresh in-process daemon (poll 250 ms) with `pool` + `dedicated` idle sessions of the binary's `sim-claude`, then one
 * task per pool session (`bench task <i>`), each told to end its turn `cutAfterMs` from now (`[sim:until=…]`); resolves
 * once every task was typed, before the turns end. `pids` are the panes' processes then.
 */
export async function fleetWithCutTasks(binary: string, label: string, pool: number, dedicated: number, cutAfterMs: number, onLog?: (line: string) => void): Promise<CutFleet> {
  const dir = tempDir(label);
  const server = privateTmux(dir);
  const port = await freePort();
  const text = configText({
    dir, socket: server.socket, port, command: binary, args: ["sim-claude"], pool: { min: pool, max: pool }, dedicated,
    quota: "{ poll_interval: 250ms, reactivate_cooldown: 1h }", watcher: "{ poll_interval: 250ms }",
  }) + "dispatcher: { rescan_interval: 1s }\n";
  const daemon = await startInProcess(text, dir, server, { self: [binary], onLog });
  await until(`${pool + dedicated} idle sessions`, () => daemon.control.status().sessions.filter((s) => s.state === "idle").length === pool + dedicated, 60_000);
  const pids = new Map((await server.tmux.listPanes()).map((p) => [p.session, p.pid]));
  const cutAt = Date.now() + cutAfterMs;
  for (let i = 1; i <= pool; i++) {
    const added = await daemon.control.addTask({ project: "bench", name: `task-${i}.md`, prompt: `[sim:until=${cutAt}] bench task ${i}` });
    if (!added.ok) throw new Error(`cannot add a task: ${added.message}`);
  }
  await until("every task typed", () => daemon.control.status().queue.filter((t) => t.state === "running").length === pool, cutAfterMs, 20);
  return {
    dir, server, daemon, pids, cutAt,
    samePids: async () => (await server.tmux.listPanes()).every((p) => pids.get(p.session) === p.pid),
    async stop() {
      await daemon.stop("run done");
      await server.kill();
    },
  };
}

/** Builds (if needed) the binary, then runs `run` `n` times in a row, printing each sample's lines; resolves to the samples. */
export async function repeatRuns<S>(n: number, run: (binary: string, i: number) => Promise<S>, describe: (sample: S) => string[]): Promise<S[]> {
  const binary = (await ensureBinary()).path;
  const samples: S[] = [];
  for (let i = 1; i <= n; i++) {
    const sample = await run(binary, i);
    describe(sample).forEach((line, j) => say(j === 0 ? `run ${i}: ${line}` : `  ${line}`));
    samples.push(sample);
  }
  return samples;
}

/** One request of the simulated Claude Code, from `<fleet home>/sim-requests.jsonl`. */
export interface SimRequest { at: string; token: string; prompt: string; session_id: string }

/** The requests the simulated Claude Code of the bench daemon in `dir` has sent so far (its fleet home's request log). */
export function simRequests(dir: string): SimRequest[] {
  const log = join(dir, "state", "homes", "fleet", SIM_REQUEST_LOG);
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as SimRequest) : [];
}

/** Waits until each `cut` task's session has sent the continue prompt `text`; resolves to every such request. */
export function continuesOf(dir: string, cut: SimRequest[], text: string, timeoutMs: number): Promise<SimRequest[]> {
  return until(`a continue in each of the ${cut.length} cut sessions`, () => {
    const sent = simRequests(dir).filter((r) => r.prompt === text);
    return cut.every((c) => sent.some((r) => r.session_id === c.session_id)) ? sent : null;
  }, timeoutMs, 20);
}
