/**
 * @module bench/swap
 * Time from a swap request to every session relaunched and verified, printed (not a test): `bun bench/swap.ts`.
 * This is the restart swap (`switcher.mode: restart`); the in-place swap has bench/hot-swap.ts.
 * Wires the whole daemon in this process (as test/support/daemon.ts does) on a private tmux server with 10 pool and
 * 2 dedicated sessions of the simulated Claude Code (the compiled binary's `sim-claude`), types one prompt into each
 * (so every swap copies and resumes a conversation), waits until all 12 are idle, then triggers `POST /swap {"account": <other>}` with the bearer token, alternating a→b and b→a, 3 runs. The figures
 * come from the daemon's own swap row (opened read-only in SQLite once the swap is done): `requested_at` → the last
 * session's `relaunchedAt` in the plan (every relaunch command issued) and → `updated_at` of step `done` (every session
 * verified back; verification polls every 500 ms). Also checks that /status shows all 12 on the target account.
 * First with `relaunch_stagger: 0`, then the same daemon folder rewired with the default 2 s stagger
 * (`BENCH_SWAP_STAGGER_RUNS`, default 3), reported raw and minus 11 × 2 s.
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { transcriptPath } from "../internal/claude/home.ts";
import type { Daemon } from "../cmd/claude-failover.ts";
import { api, configText, countingRun, ensureBinary, freePort, main, ms, privateTmux, say, startInProcess, stats, summary, tempDir, until, type BenchTmux, type SummaryRow } from "./support.ts";

const POOL = 10;
const DEDICATED = 2;
const RUNS = 3;
const STAGGER_RUNS = Number(process.env.BENCH_SWAP_STAGGER_RUNS ?? 3);
const STAGGER_MS = 2_000;
const TOTAL = POOL + DEDICATED;

interface Sample { relaunchedMs: number; doneMs: number; resumed: number; onTarget: number; tmux: string; steps: string }
type Calls = ReturnType<typeof countingRun>["calls"];

/** One swap to the other account; returns its timings from the store and the tmux calls the daemon made meanwhile. */
async function swapOnce(d: Daemon, stateDb: string, calls: Calls): Promise<Sample> {
  const ready = await until(`${TOTAL} idle sessions and no swap`, () => {
    const s = d.control.status();
    return !s.swapping && s.sessions.filter((x) => x.state === "idle").length === TOTAL ? s : null;
  }, 60_000, 50);
  const to = ready.active_account === "a" ? "b" : "a";
  const previous = ready.last_swap?.id ?? 0;
  const firstCall = calls.length;
  const t0 = performance.now();
  const res = await api(d.url(), "swap", { account: to });
  if (res.status !== 200) throw new Error(`swap refused: ${res.status} ${JSON.stringify(res.json)}`);
  const steps = new Map<string, number>();
  const last = await until("the swap to finish", () => {
    const s = d.control.status().last_swap;
    if (s && s.id > previous && !steps.has(s.step)) steps.set(s.step, performance.now() - t0);
    return s && s.id > previous && (s.step === "done" || s.step === "failed") ? s : null;
  }, 120_000, 5);
  if (last.step === "failed") throw new Error(`swap failed: ${last.error}`);
  const db = new Database(stateDb, { readonly: true });
  const row = db.query("SELECT requested_at, updated_at, plan FROM swaps WHERE id = ?").get(last.id) as { requested_at: number; updated_at: number; plan: string };
  db.close();
  const plan = JSON.parse(row.plan) as { sessions: Array<{ relaunchedAt?: number; outcome?: string }> };
  const lastRelaunch = Math.max(...plan.sessions.map((s) => s.relaunchedAt ?? Number.NaN));
  const onTarget = d.control.status().sessions.filter((s) => s.account === to).length;
  const byCommand = new Map<string, { n: number; ms: number }>();
  for (const c of calls.slice(firstCall)) {
    const entry = byCommand.get(c.command) ?? { n: 0, ms: 0 };
    byCommand.set(c.command, { n: entry.n + 1, ms: entry.ms + c.ms });
  }
  const tmux = [...byCommand].map(([command, e]) => `${e.n} ${command} ${ms(e.ms)}`).join(", ");
  const stepList = [...steps].map(([step, at]) => `${step} ${Math.round(at)}`).join(", ");
  return { relaunchedMs: lastRelaunch - row.requested_at, doneMs: row.updated_at - row.requested_at, resumed: plan.sessions.filter((s) => s.outcome === "resumed").length, onTarget, tmux, steps: stepList };
}

async function phase(label: string, d: Daemon, stateDb: string, runs: number, calls: Calls) {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await swapOnce(d, stateDb, calls);
    say(`  ${label} run ${i + 1}: all relaunched after ${ms(s.relaunchedMs)}, done after ${ms(s.doneMs)} (${s.resumed}/${TOTAL} resumed, ${s.onTarget}/${TOTAL} on the target account)`);
    say(`    step first seen at (ms after POST /swap, status read every 5 ms): ${s.steps}`);
    say(`    tmux calls until done (count, command, summed wall time): ${s.tmux}`);
    samples.push(s);
  }
  return samples;
}

await main(async () => {
  const binary = (await ensureBinary()).path;
  const dir = tempDir("swap");
  const server: BenchTmux = privateTmux(dir);
  const port = await freePort();
  const text = (staggerMs: number) => configText({
    dir, socket: server.socket, port, command: binary, args: ["sim-claude"], pool: { min: POOL, max: POOL }, dedicated: DEDICATED,
    switcher: `{ relaunch_stagger: ${staggerMs}ms, verify_timeout: 60s, mode: restart }`,
  });
  const stateDb = join(dir, "state", "state.db");
  const counting = countingRun(server.run);

  const fast = await startInProcess(text(0), dir, server, { run: counting.run, self: [binary] });
  // One turn in each session, so every swap has a conversation (transcript) to copy and resume.
  const names = (await until(`${TOTAL} idle sessions`, () => {
    const s = fast.control.status().sessions;
    return s.filter((x) => x.state === "idle").length === TOTAL ? s : null;
  }, 60_000)).map((s) => s.name);
  for (const name of names) {
    await server.tmux.sendText(name, `[sim:work=0s] hello from ${name}`);
    await server.tmux.sendKeys(name, "Enter");
  }
  await until("a transcript in every session", () => names.every((name) => {
    const row = fast.control.status().sessions.find((s) => s.name === name);
    return row?.session_id && existsSync(transcriptPath(join(dir, "state", "homes", "fleet"), row.workdir, row.session_id));
  }), 30_000, 100);
  say(`${POOL} pool + ${DEDICATED} dedicated sessions of the simulated Claude Code, relaunch_stagger 0:`);
  const zero = await phase("stagger 0", fast, stateDb, RUNS, counting.calls);
  await fast.stop("rewire with stagger");

  // Same folder and socket: the new daemon adopts the 12 running sessions.
  const slow = await startInProcess(text(STAGGER_MS), dir, server, { run: counting.run, self: [binary] });
  say(`same sessions, relaunch_stagger ${STAGGER_MS / 1000} s:`);
  const staggered = await phase(`stagger ${STAGGER_MS / 1000} s`, slow, stateDb, STAGGER_RUNS, counting.calls);

  const z = { rel: stats(zero.map((s) => s.relaunchedMs)), done: stats(zero.map((s) => s.doneMs)) };
  const g = { rel: stats(staggered.map((s) => s.relaunchedMs)), done: stats(staggered.map((s) => s.doneMs)) };
  const gaps = (TOTAL - 1) * STAGGER_MS;
  const allOnTarget = [...zero, ...staggered].every((s) => s.onTarget === TOTAL);
  say(`stagger 0: relaunched median ${ms(z.rel.median)}, done median ${ms(z.done.median)}; stagger ${STAGGER_MS / 1000} s: done median ${ms(g.done.median)}, minus ${TOTAL - 1} × ${STAGGER_MS / 1000} s = ${ms(g.done.median - gaps)}`);
  say(`  note: the switcher also sleeps the stagger after the LAST session, so ${TOTAL} × ${STAGGER_MS / 1000} s are spent waiting; minus ${TOTAL} × = ${ms(g.done.median - TOTAL * STAGGER_MS)}`);
  const rows: SummaryRow[] = [
    { figure: `swap ${POOL}+${DEDICATED} sessions, stagger 0: request → all relaunched`, median: ms(z.rel.median), p95: ms(z.rel.p95), runs: z.rel.n },
    { figure: `swap ${POOL}+${DEDICATED} sessions, stagger 0: request → done (verified)`, median: ms(z.done.median), p95: ms(z.done.p95), runs: z.done.n },
    { figure: `swap, stagger ${STAGGER_MS / 1000} s: request → done, raw / minus ${TOTAL - 1}×${STAGGER_MS / 1000} s`, median: `${ms(g.done.median)} / ${ms(g.done.median - gaps)}`, runs: g.done.n },
    { figure: "swap: every session on the target account afterwards", median: allOnTarget ? "yes" : "NO", runs: zero.length + staggered.length, target: "yes", met: allOnTarget },
  ];
  summary("swap", rows);
});
