/**
 * @module bench/real-cli
 * Figures with the real Claude Code (the pinned release installed by `scripts/setup.sh --claude`), printed (not a
 * test): `bun bench/real-cli.ts`. Uses the conformance harness (test/conformance/support/): the whole daemon on a
 * private tmux server, account homes pointed at the project's API stand-ins on loopback.
 * 1. Launch → idle: from the daemon's `session launched` to /status showing the session idle (BENCH_REAL_LAUNCHES, 5).
 * 2. Limit 429 → swap requested: from the stand-in answering the quota 429 to the daemon's `swap requested` log line
 *    (the StopFailure hook path), one fresh daemon per sample (BENCH_REAL_LIMITS, 6), p50/p95.
 * 3. Limit → every cut session typing again on the new account, for 12 pool sessions whose turns one 5-hour 429 cuts
 *    at the same moment (the stand-in holds the twelve requests, then answers them all), with `relaunch_stagger` 0
 *    and the default 2 s: from the first 429 to each cut session's first request on account b (p50/p95/max; the last
 *    session is the max), with the daemon's milestones (swap requested, swap done, each continue typed).
 *    In place (`switcher.mode: auto`, which picks in-place for 2.1.330) no CLI starts; the figure is split into the
 *    CLI's own first part (the 429 → its limit record in the transcript, by the record's own timestamp and by the
 *    moment the file held it, seen by a watcher process) and the daemon's share (that record → the session's continue
 *    typed, the daemon's log line before the keys; → its keys sent, after the paste, pause and Enter), then Claude Code
 *    taking the typed prompt. With `BENCH_REAL_IDLE_WATCH=1`, also at the moment each pane
 *    shows its prompt again (see IDLE_WATCH). With `switcher.mode: restart` it is split into the CLI's own start-up
 *    (relaunch → its prompt box on screen) and the daemon's share (prompt box → the continue prompt reaching the API),
 *    itself split into the daemon's own wait (prompt box → continue typed) and Claude Code taking the typed prompt (→ at the API: a freshly
 *    resumed CLI finishes starting, runs its SessionStart and UserPromptSubmit hooks first).
 *    `BENCH_REAL_FLEET_MODES` (default `in-place,restart`) picks the modes, `BENCH_REAL_STAGGERS` (default `0s,2s`)
 *    the staggers. The hooks run the compiled binary, as installed (`BENCH_REAL_HOOKS=source`: Bun on the sources).
 *    `BENCH_REAL_DUMP=<dir>` writes each run's daemon log, stand-in requests, final screens and each session's limit
 *    record on disk (epoch ms) there.
 */
import { claudeInstalled, CLAUDE_BIN } from "../test/conformance/support/claude.ts";
import { startConformance, type Conformance } from "../test/conformance/support/harness.ts";
import { eventually } from "../test/support/tmux.ts";
import { paneActivity } from "../internal/quota/classify.ts";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { transcriptPath } from "../internal/claude/home.ts";
import { recordTime } from "../internal/claude/transcript-tail.ts";
import { ensureBinary } from "./support.ts";
import { join } from "node:path";
import { setPriority } from "node:os";

const LAUNCHES = Number(process.env.BENCH_REAL_LAUNCHES ?? 5);
const LIMITS = Number(process.env.BENCH_REAL_LIMITS ?? 6);
const FLEET = 12;
/**
 * The program Claude Code's hooks run in the fleet runs: the compiled binary, as users run it (bench/support.ts
 * ensureBinary; `BENCH_REAL_HOOKS=source` keeps Bun on cmd/main.ts, about 30 ms of CPU per hook event).
 */
let HOOK_SELF: string[] | undefined;
/**
 * `BENCH_REAL_IDLE_WATCH=1`: in place, a process of its own captures the twelve panes every 50 ms to tell when each
 * shows its prompt again after the cut (bench/idle-watch.ts), splitting the figure at that moment. Off by default: those
 * captures load the tmux server the daemon's own captures and keys go through, and its swap took 1.8-2.6 s instead of
 * 0.6-1.5 s with it on.
 */
const IDLE_WATCH = process.env.BENCH_REAL_IDLE_WATCH === "1";
/**
 * `BENCH_REAL_POLL`: the fleet runs' `quota.poll_interval` and `watcher.poll_interval`. @default 500ms, the tests' (a
 * poll every half second keeps the daemon's serial queue busy); the shipped default is 5s.
 */
const POLL = process.env.BENCH_REAL_POLL ?? "500ms";
/**
 * `BENCH_REAL_DAEMON_SHARE` (default 1; 0 = off): this process, which holds the daemon (and the stand-ins, which play a
 * remote API), gets the CPU share the shipped systemd unit gives the daemon against its agents (`CPUWeight=1000`
 * against the tmux service's 100; scripts/claude-failover.service). No systemd here: Linux shares the CPU between
 * sessions (autogroup), and each Claude Code runs in its pane's own session, so twelve busy CLIs leave the daemon a
 * thirteenth of the two cores unless its session's group is raised: `-10` is written to /proc/self/autogroup (root).
 */
const DAEMON_SHARE = process.env.BENCH_REAL_DAEMON_SHARE !== "0";
/** When set, each fleet run's daemon log and stand-in requests are written there as JSON (to see where time goes). */
const DUMP = process.env.BENCH_REAL_DUMP ?? "";

const ms = (v: number) => `${Math.round(v)} ms`;
function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? NaN };
}
const logAt = (c: Conformance, msg: string, match: (r: Record<string, unknown>) => boolean = () => true) =>
  c.t.log.records.filter((r) => r.msg === msg && match(r)).map((r) => Date.parse(String(r.ts)));

async function launchToIdle(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < LAUNCHES; i++) {
    const c = await startConformance({ pool: 1 });
    try {
      await eventually(() => c.status().sessions[0]?.state === "idle", 60_000, 20);
      const idleAt = Date.now();
      out.push(idleAt - logAt(c, "session launched")[0]!);
    } finally {
      await c.cleanup();
    }
  }
  return out;
}

async function limitToSwapRequested(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < LIMITS; i++) {
    const c = await startConformance({ pool: 1 });
    try {
      await c.allIdle();
      c.api.a.setMode({ mode: "five_hour", times: 1 });
      c.task(`cut-${i}`, "Count to three");
      await eventually(() => logAt(c, "swap requested").length > 0, 60_000, 20);
      const hit = c.api.a.turns().find((r) => r.status === 429)!;
      out.push(logAt(c, "swap requested")[0]! - hit.at);
    } finally {
      await c.cleanup();
    }
  }
  return out;
}

type SwapMode = "in-place" | "restart";

/**
 * One cut session's times, in ms from the first 429 (`startup`/`back` only after a restart); `recorded`: its CLI wrote the
 * limit's record into its transcript (the CLI's own share before the daemon can know).
 */
interface FleetRow { total: number; requested: number; done: number; typed: number; sent: number; recorded: number; onDisk: number; idle: number; startup?: number; back?: number }

/**
 * A watcher process of the bench's own: it prints one JSON line `{ "key", "at" }` per thing it saw (epoch ms) and exits
 * when anything arrives on its stdin; `stop()` ends it and returns what it saw. `nice`: its priority, when allowed.
 */
function watcherProcess(argv: string[], what: string, nice?: number): { stop(): Promise<Map<string, number>> } {
  const child = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe" });
  if (nice !== undefined) {
    try {
      setPriority(child.pid, nice);
    } catch {
      console.log(`  (the ${what} watcher runs at the CLIs' priority: its times may be late)`);
    }
  }
  return {
    async stop() {
      child.stdin.write("x");
      await child.stdin.end();
      const out = await new Response(child.stdout).text();
      return new Map(out.split("\n").filter(Boolean).map((line) => {
        const { key, at } = JSON.parse(line) as { key: string; at: number };
        return [key, at];
      }));
    },
  };
}

/** When each of `names` first shows an idle prompt (bench/idle-watch.ts), as epoch ms by session name. */
const watchIdle = (socket: string, names: string[]) =>
  watcherProcess([process.execPath, join(import.meta.dir, "idle-watch.ts"), socket, names.join(",")], "idle prompt");

/**
 * When each transcript under `projects` first held a limit record on disk (conversation id → epoch ms): the moment the
 * write event that first shows the record reaches a watcher process of its own, run at nice -10 so twelve busy CLIs
 * do not make it late (a late watcher would date the record by a later write; the file's mtime has the same flaw).
 * Without the right to raise its priority (not root) the figure says so and may be late.
 */
function watchLimitWrites(projects: string): { stop(): Promise<Map<string, number>> } {
  const script = `
    const { watch, readFileSync } = require("node:fs");
    const seen = new Set();
    watch(${JSON.stringify(projects)}, { recursive: true }, (_e, f) => {
      const at = Date.now();
      if (!f || !f.endsWith(".jsonl") || seen.has(f)) return;
      try {
        if (!readFileSync(${JSON.stringify(projects)} + "/" + f, "utf8").includes('"usage_limit_reached"')) return;
        seen.add(f);
        console.log(JSON.stringify({ key: f.split("/").at(-1).replace(/\\.jsonl$/, ""), at }));
      } catch {}
    });
    process.stdin.on("data", () => process.exit(0));`;
  return watcherProcess([process.execPath, "-e", script], "limit-record", -10);
}

/** When the CLI wrote the limit (`usage_limit_reached`) record of this conversation (epoch ms), NaN when none. */
function limitRecordedAt(c: Conformance, workdir: string, sessionId: string): number {
  const path = transcriptPath(join(c.t.config.state_dir, "homes", "fleet"), workdir, sessionId);
  if (!existsSync(path)) return NaN;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.includes('"usage_limit_reached"')) continue;
    const at = recordTime(JSON.parse(line));
    if (at !== null) return at;
  }
  return NaN;
}

/**
 * One fleet failover: every session's turn cut by the same limit. Each task's request to account a is held by the
 * stand-in until all twelve are in flight, then all get the 5-hour 429 at once. Per cut session: first 429 → its first
 * request on b (`total`), with the daemon's milestones (swap requested, swap done, its continue typed) and, after a
 * restart, its CLI's start-up (relaunch → prompt box on screen).
 */
async function fleet(stagger: string, mode: SwapMode): Promise<FleetRow[]> {
  const c = await startConformance({ pool: FLEET, self: HOOK_SELF, poll: POLL, switcherYaml: `{ relaunch_stagger: ${stagger}, verify_timeout: 120s, mode: ${mode === "restart" ? "restart" : "auto"} }` });
  try {
    await c.allIdle(240_000);
    const onDisk = watchLimitWrites(join(c.t.config.state_dir, "homes", "fleet", "projects"));
    c.api.a.setMode({ mode: "five_hour" });
    const gate = c.api.a.hold();
    for (let i = 0; i < FLEET; i++) c.task(`t${i}`, `Task ${i}: count to three`);
    await eventually(() => gate.waiting() >= FLEET, 120_000, 20);
    gate.release();
    // In place: when each pane shows its prompt again after the cut (the earliest a continue can be typed into it).
    const idle = mode === "in-place" && IDLE_WATCH ? watchIdle(c.t.server.socket, c.status().sessions.map((s) => s.name)) : null;
    // After a restart: each pane's prompt box once it was relaunched on b, watched from now on (not after the swap).
    const ready = new Map<string, number>();
    const watching = mode === "restart" ? watchReady(c, ready) : Promise.resolve();
    await eventually(() => logAt(c, "swap done").length > 0, 240_000, 50);
    const used = c.t.log.records.find((r) => r.msg === "swap mode")?.mode;
    if (used !== mode) throw new Error(`the swap ran in mode ${String(used)}, not ${mode}`);
    const hits = c.api.a.turns().filter((r) => r.status === 429);
    const firstHit = Math.min(...hits.map((r) => r.answeredAt));
    const cut = new Set(hits.map((r) => r.sessionId));
    const names = c.status().sessions.filter((s) => cut.has(s.session_id)).map((s) => s.name);
    await watching;
    // A cut session whose continue never reaches b within two minutes is reported, not waited for.
    await eventually(() => [...cut].every((id) => c.api.b.turns().some((r) => r.sessionId === id)), 120_000, 50).catch(() => undefined);
    const idOf = (name: string) => c.status().sessions.find((s) => s.name === name)!.session_id;
    const typed = (name: string) => c.api.b.turns().some((r) => r.sessionId === idOf(name));
    const lost = names.filter((n) => !typed(n));
    if (lost.length) console.log(`  ${mode}, stagger ${stagger}: cut but never continued on b: ${lost.join(", ")}`);
    const requested = logAt(c, "swap requested")[0]! - firstHit;
    const done = logAt(c, "swap done")[0]! - firstHit;
    const written = await onDisk.stop();
    if (DUMP) {
      mkdirSync(DUMP, { recursive: true });
      const requests = { a: c.api.a.requests(), b: c.api.b.requests() };
      const screens = Object.fromEntries(await c.t.server.tmux.capture(names));
      const sessions = c.status().sessions.map((s) => ({ ...s, limit_on_disk: written.get(s.session_id!) ?? null }));
      writeFileSync(join(DUMP, `fleet-${mode}-${stagger}.json`), JSON.stringify({ firstHit, names, sessions, ready: [...ready], log: c.t.log.records, requests, screens, queue: c.status().queue }, null, 1));
    }
    const idleAt = (await idle?.stop()) ?? new Map<string, number>();
    return names.filter(typed).map((name) => {
      const onB = c.api.b.turns().find((r) => r.sessionId === idOf(name))!.at;
      const session = c.status().sessions.find((s) => s.name === name)!;
      const row: FleetRow = {
        total: onB - firstHit, requested, done, typed: (logAt(c, "task continues", (r) => r.session === name)[0] ?? NaN) - firstHit,
        sent: (logAt(c, "continue keys sent", (r) => Array.isArray(r.sessions) && r.sessions.includes(name))[0] ?? NaN) - firstHit,
        recorded: limitRecordedAt(c, session.workdir, session.session_id!) - firstHit,
        onDisk: (written.get(session.session_id!) ?? NaN) - firstHit,
        idle: (idleAt.get(name) ?? NaN) - firstHit,
      };
      if (mode === "restart") {
        const launchedAt = logAt(c, "session launched", (r) => r.session === name && r.account === "b")[0]!;
        row.startup = ready.get(name)! - launchedAt;
        row.back = ready.get(name)! - firstHit;
      }
      return row;
    });
  } finally {
    await c.cleanup();
  }
}

/** Records in `ready` when each pane relaunched on b first shows its prompt box (idle or busy); polls every 50 ms. */
async function watchReady(c: Conformance, ready: Map<string, number>): Promise<void> {
  await eventually(async () => {
    const launched = new Set(c.t.log.records.filter((r) => r.msg === "session launched" && r.account === "b").map((r) => String(r.session)));
    const screens = await c.t.server.tmux.capture([...launched].filter((n) => !ready.has(n)));
    for (const [name, lines] of screens) if (paneActivity(lines) === "idle" || paneActivity(lines) === "busy") ready.set(name, Date.now());
    return ready.size === FLEET;
  }, 300_000, 50);
}

/** The fleet figure's lines: in place the daemon's share is the whole; after a restart, start-up and daemon apart. */
function report(mode: SwapMode, stagger: string, rows: FleetRow[]): void {
  const f = (values: number[]) => { const s = stats(values); return `p50 ${ms(s.p50)} p95 ${ms(s.p95)} max ${ms(s.max)}`; };
  const total = stats(rows.map((r) => r.total));
  console.log(`[${mode}, stagger ${stagger}, polls ${POLL}] limit → ${rows.length} of ${FLEET} cut sessions typing again on b: last ${ms(total.max)}; ${f(rows.map((r) => r.total))}`
    + (mode === "in-place" ? " (no CLI start-up: all of it is the daemon's share)" : ""));
  console.log(`  milestones from the first 429: swap requested ${ms(rows[0]?.requested ?? NaN)}, swap done ${ms(rows[0]?.done ?? NaN)}; continue typed ${f(rows.map((r) => r.typed))}`);
  console.log(`  the CLI's own, first: 429 → its limit record in the transcript ${f(rows.map((r) => r.recorded))}; the daemon's share: that record → its continue typed ${f(rows.map((r) => r.typed - r.recorded))}`);
  console.log(`  the limit record on disk (from the 429) ${f(rows.map((r) => r.onDisk))}; on disk → continue typed ${f(rows.map((r) => r.typed - r.onDisk))}`);
  if (mode === "in-place" && IDLE_WATCH) {
    console.log(`  the CLI's own, all of it: 429 → its prompt idle again on screen (turn ended, hooks run, redrawn) ${f(rows.map((r) => r.idle))}; the daemon's share: prompt idle → continue typed ${f(rows.map((r) => r.typed - r.idle))}`);
  }
  console.log(`  continue typed → its keys sent (the paste, a 150 ms pause, Enter, through the loaded tmux server) ${f(rows.map((r) => r.sent - r.typed))}; on disk → keys sent ${f(rows.map((r) => r.sent - r.onDisk))}`);
  console.log(`  keys sent → at the API (Claude Code taking the prompt: its UserPromptSubmit hook, a busy CPU) ${f(rows.map((r) => r.total - r.sent))}`);
  if (mode === "restart") {
    console.log(`  CLI start-up (relaunch → prompt box) ${f(rows.map((r) => r.startup!))}; prompt box on screen (from the 429) ${f(rows.map((r) => r.back!))}`);
    console.log(`  after the prompt box: daemon share (→ continue at the API) ${f(rows.map((r) => r.total - r.back!))}; of it the daemon's own wait (→ continue typed) ${f(rows.map((r) => r.typed - r.back!))}`);
  }
}

/** Raises this process's session group to nice -10 (see DAEMON_SHARE); says what it did. */
function raiseDaemonShare(): string {
  const path = "/proc/self/autogroup";
  if (!existsSync(path)) return "as the kernel gives it (no /proc/self/autogroup: the kernel does not group by session)";
  try {
    // The group is the session's (the shell that ran the bench): set back when the bench exits.
    const before = /nice (-?\d+)/.exec(readFileSync(path, "utf8"))?.[1] ?? "0";
    writeFileSync(path, "-10");
    process.on("exit", () => writeFileSync(path, before));
    return `its session's group raised: ${readFileSync(path, "utf8").trim()}, set back to ${before} at exit (as the systemd unit's CPUWeight=1000)`;
  } catch (error) {
    return `as the kernel gives it (${path} not writable: ${(error as Error).message})`;
  }
}

if (import.meta.main) {
  if (!claudeInstalled()) {
    console.log(`real-cli: SKIPPED: Claude Code is not installed at ${CLAUDE_BIN} (sh scripts/setup.sh --claude)`);
    process.exit(0);
  }
  if (LAUNCHES > 0) {
    const launch = stats(await launchToIdle());
    console.log(`launch → idle (real CLI, ${launch.n} runs): p50 ${ms(launch.p50)}, p95 ${ms(launch.p95)}, max ${ms(launch.max)}`);
  }
  if (LIMITS > 0) {
    const limit = stats(await limitToSwapRequested());
    console.log(`limit 429 → swap requested (hook, ${limit.n} runs): p50 ${ms(limit.p50)}, p95 ${ms(limit.p95)}, max ${ms(limit.max)}`);
  }
  console.log(`the daemon's CPU share: ${DAEMON_SHARE ? raiseDaemonShare() : "as the kernel gives it (BENCH_REAL_DAEMON_SHARE=0)"}`);
  if (process.env.BENCH_REAL_HOOKS !== "source") {
    const binary = await ensureBinary();
    HOOK_SELF = [binary.path];
    console.log(`hooks of the fleet runs: ${binary.note}`);
  }
  const modes = (process.env.BENCH_REAL_FLEET_MODES ?? "in-place,restart").split(",").filter(Boolean) as SwapMode[];
  for (const mode of modes) {
    for (const stagger of (process.env.BENCH_REAL_STAGGERS ?? "0s,2s").split(",").filter(Boolean)) report(mode, stagger, await fleet(stagger, mode));
  }
}
