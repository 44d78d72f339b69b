/**
 * @module bench/real-cli
 * Figures with the real Claude Code (the pinned release installed by `scripts/setup.sh --claude`), printed (not a
 * test): `bun bench/real-cli.ts`. Uses the conformance harness (test/conformance/support/): the whole daemon on a
 * private tmux server, account homes pointed at the project's API stand-ins on loopback.
 * 1. Launch → idle: from the daemon's `session launched` to /status showing the session idle (BENCH_REAL_LAUNCHES, 5).
 * 2. Limit 429 → swap requested: from the stand-in answering the quota 429 to the daemon's `swap requested` log line
 *    (the StopFailure hook path), one fresh daemon per sample (BENCH_REAL_LIMITS, 6), p50/p95.
 * 3. Limit → every cut session typing again on the new account, for 12 pool sessions each cut mid-task, with
 *    `relaunch_stagger` 0 and the default 2 s: from the first 429 to each session's first request on account b, split
 *    into the CLI's own start-up (relaunch → its prompt box on screen) and the daemon's share (prompt box → the
 *    continue prompt reaching the API).
 */
import { claudeInstalled, CLAUDE_BIN } from "../test/conformance/support/claude.ts";
import { startConformance, type Conformance } from "../test/conformance/support/harness.ts";
import { eventually } from "../test/support/tmux.ts";
import { paneActivity } from "../internal/quota/classify.ts";

const LAUNCHES = Number(process.env.BENCH_REAL_LAUNCHES ?? 5);
const LIMITS = Number(process.env.BENCH_REAL_LIMITS ?? 6);
const FLEET = 12;

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

/** One fleet failover: every session cut by the limit; per session, start-up and daemon share after the swap. */
async function fleet(stagger: string) {
  const c = await startConformance({ pool: FLEET, switcherYaml: `{ relaunch_stagger: ${stagger}, verify_timeout: 120s }` });
  try {
    await c.allIdle(240_000);
    c.api.a.setMode({ mode: "five_hour" });
    for (let i = 0; i < FLEET; i++) c.task(`t${i}`, `Task ${i}: count to three`);
    await eventually(() => c.api.a.turns().filter((r) => r.status === 429).length >= FLEET || c.status().active_account === "b", 240_000, 50);
    const firstHit = Math.min(...c.api.a.turns().filter((r) => r.status === 429).map((r) => r.at));
    // Watch each pane for its prompt box after its relaunch on b.
    const ready = new Map<string, number>();
    const names = Array.from({ length: FLEET }, (_, i) => `ccl-auto-${11 + i}`);
    await eventually(async () => {
      const launched = new Set(c.t.log.records.filter((r) => r.msg === "session launched" && r.account === "b").map((r) => String(r.session)));
      const screens = await c.t.server.tmux.capture(names.filter((n) => launched.has(n) && !ready.has(n)));
      for (const [name, lines] of screens) if (paneActivity(lines) !== "unknown" && paneActivity(lines) !== "shell") ready.set(name, Date.now());
      return ready.size === FLEET;
    }, 300_000, 100);
    await eventually(() => new Set(c.api.b.turns().map((r) => r.sessionId)).size >= FLEET, 300_000, 100);
    const rows = names.map((name) => {
      const row = c.status().sessions.find((s) => s.name === name)!;
      const launchedAt = logAt(c, "session launched", (r) => r.session === name && r.account === "b")[0]!;
      const typedAt = c.api.b.turns().find((r) => r.sessionId === row.session_id)!.at;
      return { total: typedAt - firstHit, startup: ready.get(name)! - launchedAt, daemon: typedAt - ready.get(name)! };
    });
    return rows;
  } finally {
    await c.cleanup();
  }
}

if (import.meta.main) {
  if (!claudeInstalled()) {
    console.log(`real-cli: SKIPPED: Claude Code is not installed at ${CLAUDE_BIN} (sh scripts/setup.sh --claude)`);
    process.exit(0);
  }
  const launch = stats(await launchToIdle());
  console.log(`launch → idle (real CLI, ${launch.n} runs): p50 ${ms(launch.p50)}, p95 ${ms(launch.p95)}, max ${ms(launch.max)}`);
  const limit = stats(await limitToSwapRequested());
  console.log(`limit 429 → swap requested (hook, ${limit.n} runs): p50 ${ms(limit.p50)}, p95 ${ms(limit.p95)}, max ${ms(limit.max)}`);
  for (const stagger of ["0s", "2s"]) {
    const rows = await fleet(stagger);
    const total = stats(rows.map((r) => r.total));
    const startup = stats(rows.map((r) => r.startup));
    const daemon = stats(rows.map((r) => r.daemon));
    console.log(`limit → ${FLEET} cut sessions typing again on b, stagger ${stagger}: last ${ms(total.max)} (p50 ${ms(total.p50)}); `
      + `CLI start-up p50 ${ms(startup.p50)} max ${ms(startup.max)}; daemon share after the session is back p50 ${ms(daemon.p50)} max ${ms(daemon.max)}`);
  }
}
