/**
 * @module bench/hot-swap
 * The in-place swap's figure, printed (not a test): `bun bench/hot-swap.ts`. Goal: limit → every cut session typing
 * again, 12 sessions, under 1 s. Each run wires a fresh daemon in this process on a private tmux server with 10 pool and
 * 2 dedicated sessions of the simulated Claude Code (the compiled binary's `sim-claude`, which re-reads its login per
 * request, so `switcher.mode: auto` swaps in place), polls every 250 ms. 10 tasks are typed, each told to end its turn
 * at the same moment (`[sim:until=…]`); account a runs out meanwhile, so all 10 turns end on the limit together and
 * the daemon swaps to b. Figures, from the daemon's swap row and the simulator's
 * request log (`<fleet home>/sim-requests.jsonl`, one line per prompt submitted, with its token):
 *   - swap requested → swap done (login written, screens closed, rows moved, verified);
 *   - swap requested → the last cut session's continue prompt submitted (typing again), and → the first;
 *   - the limit (the moment every turn ends on it, `[sim:until=…]`) → swap requested, and → the last cut session's
 *     continue submitted: the goal's figure;
 *   - every continue went out with account b's token, once per cut task, from the same process (no restart).
 * `BENCH_HOT_SWAP_RUNS` (default 3) runs.
 */
import { Database } from "bun:sqlite";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { continuesOf, fleetWithCutTasks, main, ms, repeatRuns, simRequests, stats, summary, type SummaryRow } from "./support.ts";

const POOL = 10;
const DEDICATED = 2;
const RUNS = Number(process.env.BENCH_HOT_SWAP_RUNS ?? 3);
const CONTINUE = "Continue where you left off.";
const GOAL_MS = 1_000;
/** Time to type the 10 tasks before their turns end together. */
const CUT_AFTER_MS = 8_000;

interface Sample { steps: string; doneMs: number; firstMs: number; lastMs: number; requestedMs: number; limitLastMs: number; cut: number; continued: number; onB: boolean; samePids: boolean }

async function runOnce(binary: string, run: number): Promise<Sample> {
  // Every task's turn ends at the same moment, on the limit: all 10 are cut before the swap starts.
  // The swap's steps are timed from the daemon's own log lines: nothing polls the daemon while it swaps.
  const steps = new Map<string, number>();
  let ended: ((swap: { id: number; step: string; error?: string }) => void) | null = null;
  const end = new Promise<{ id: number; step: string; error?: string }>((resolve) => (ended = resolve));
  const onLog = (line: string) => {
    if (!line.includes('"module":"switcher"')) return;
    const entry = JSON.parse(line) as { msg: string; swap?: number; step?: string; error?: string };
    if (entry.msg === "swap step" && entry.step && !steps.has(entry.step)) steps.set(entry.step, Date.now());
    if (entry.msg === "swap done" || entry.msg === "swap failed") ended?.({ id: entry.swap ?? 0, step: entry.msg === "swap done" ? "done" : "failed", error: entry.error });
  };
  const fleet = await fleetWithCutTasks(binary, `hot-swap-${run}`, POOL, DEDICATED, CUT_AFTER_MS, onLog);
  const { dir, daemon: d } = fleet;
  writeFileSync(join(dir, "homes", "a", "sim-quota"), "You've hit your 5-hour limit · resets 11pm (UTC)\n");
  const swap = await Promise.race([end, Bun.sleep(60_000).then(() => {
    throw new Error("timed out after 60000 ms waiting for the swap to finish");
  })]);
  if (swap.step === "failed") throw new Error(`swap failed: ${swap.error}`);
  const db = new Database(join(dir, "state", "state.db"), { readonly: true });
  const row = db.query("SELECT requested_at, updated_at FROM swaps WHERE id = ?").get(swap.id) as { requested_at: number; updated_at: number };
  db.close();
  // Cut = its task prompt went out as a before the swap was requested.
  const cut = simRequests(dir).filter((r) => r.prompt.includes("bench task") && r.token.endsWith("SIM-a") && Date.parse(r.at) <= row.requested_at);
  const continues = await continuesOf(dir, cut, CONTINUE, 30_000);
  const times = continues.map((r) => Date.parse(r.at) - row.requested_at);
  const sample: Sample = {
    steps: [...steps].map(([step, at]) => `${step} ${at - row.requested_at}`).join(", "),
    doneMs: row.updated_at - row.requested_at, firstMs: Math.min(...times), lastMs: Math.max(...times), cut: cut.length,
    requestedMs: row.requested_at - fleet.cutAt, limitLastMs: Math.max(...times) + row.requested_at - fleet.cutAt,
    continued: continues.filter((r) => r.token.endsWith("SIM-b")).length,
    onB: d.control.status().sessions.every((s) => s.account === "b"),
    samePids: await fleet.samePids(),
  };
  await fleet.stop();
  return sample;
}

await main(async () => {
  const samples = await repeatRuns(RUNS, runOnce, (s) => [
    `limit → swap requested ${ms(s.requestedMs)}, → last typing again ${ms(s.limitLastMs)}; swap done after ${ms(s.doneMs)}; ${s.cut} cut, ${s.continued} continued as b; first typing again after ${ms(s.firstMs)}, last after ${ms(s.lastMs)}; all on b ${s.onB ? "yes" : "NO"}; no process restarted ${s.samePids ? "yes" : "NO"}`,
    `step first seen at (ms after the request, from the daemon's log): ${s.steps}`,
  ]);
  const done = stats(samples.map((s) => s.doneMs));
  const last = stats(samples.map((s) => s.lastMs));
  const first = stats(samples.map((s) => s.firstMs));
  const requested = stats(samples.map((s) => s.requestedMs));
  const limitLast = stats(samples.map((s) => s.limitLastMs));
  const ok = samples.every((s) => s.onB && s.samePids && s.continued === s.cut && s.cut > 0);
  const rows: SummaryRow[] = [
    { figure: `in-place swap ${POOL}+${DEDICATED} sessions: request → done`, median: ms(done.median), p95: ms(done.p95), runs: done.n },
    { figure: "in-place swap: request → first cut session typing again (poll 250 ms)", median: ms(first.median), p95: ms(first.p95), runs: first.n },
    { figure: "in-place swap: request → every cut session typing again (poll 250 ms)", median: ms(last.median), p95: ms(last.p95), runs: last.n },
    { figure: `in-place swap ${POOL}+${DEDICATED} sessions: limit → swap requested`, median: ms(requested.median), p95: ms(requested.p95), runs: requested.n },
    { figure: `in-place swap ${POOL}+${DEDICATED} sessions: limit → every cut session typing again`, median: ms(limitLast.median), p95: ms(limitLast.p95), runs: limitLast.n, target: `< ${GOAL_MS} ms`, met: limitLast.p95 < GOAL_MS },
    { figure: "in-place swap: one continue per cut task, as b, same processes", median: ok ? "yes" : "NO", runs: samples.length, target: "yes", met: ok },
  ];
  summary("hot-swap", rows);
});
