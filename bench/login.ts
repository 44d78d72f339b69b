/**
 * @module bench/login
 * The lost-login figure, printed (not a test): `bun bench/login.ts`. Each run wires a fresh daemon in this process on a
 * private tmux server with 6 pool and 1 dedicated sessions of the simulated Claude Code (the compiled binary's
 * `sim-claude`, which re-reads its login per request, so the move is in place), polling every 250 ms. 6 tasks are
 * typed, each told to end its turn at the same moment (`[sim:until=…]`); meanwhile account a's token becomes refused
 * (`<home a>/sim-auth`: the 403 "OAuth token revoked" of reference/real-claude.md §13.3), so all 6 turns end on
 * `OAuth token revoked · Please run /login` together. Figures, from the first `authentication_failed` transcript record
 * (written as the line is drawn: "seen"):
 *   - seen → the operator told (the `login_lost` event in the daemon's event log, which the channels send at once);
 *   - seen → the sessions moved (the swap with reason `login` done: login written, rows moved, verified);
 *   - seen → every cut task typing again on b (its continue prompt submitted, from the simulator's request log);
 *   - a `needs_login`, one `login_lost` message, every continue sent with b's token from the same process.
 * `BENCH_LOGIN_RUNS` (default 5) runs.
 */
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { continuesOf, fleetWithCutTasks, main, ms, repeatRuns, simRequests, stats, summary, swapReader, until, type SummaryRow } from "./support.ts";

const POOL = 6;
const DEDICATED = 1;
const RUNS = Number(process.env.BENCH_LOGIN_RUNS ?? 5);
const CONTINUE = "Continue where you left off.";
/** Time to type the tasks before their turns end together. */
const CUT_AFTER_MS = 6_000;

interface Sample { toldMs: number; movedMs: number; typingMs: number; cut: number; continued: number; told: number; needsLogin: boolean; samePids: boolean }

/** Epoch ms of the first `authentication_failed` record in the fleet home's transcripts. */
function firstRefusal(fleet: string): number | null {
  const projects = join(fleet, "projects");
  if (!existsSync(projects)) return null;
  let first: number | null = null;
  for (const file of new Bun.Glob("**/*.jsonl").scanSync({ cwd: projects })) {
    for (const line of readFileSync(join(projects, file), "utf8").split("\n")) {
      if (!line.includes(`"authentication_failed"`)) continue;
      const at = Date.parse((JSON.parse(line) as { timestamp: string }).timestamp);
      first = first === null ? at : Math.min(first, at);
    }
  }
  return first;
}

async function runOnce(binary: string, run: number): Promise<Sample> {
  const fleet = await fleetWithCutTasks(binary, `login-${run}`, POOL, DEDICATED, CUT_AFTER_MS);
  const { dir, daemon: d } = fleet;
  writeFileSync(join(dir, "homes", "a", "sim-auth"), "revoked\n");
  const swaps = swapReader(d.config.state_dir);
  const swap = await until("the login swap to finish", () => {
    const s = swaps.last();
    return s && s.reason === "login" && (s.step === "done" || s.step === "failed") ? s : null;
  }, 60_000, 5).finally(() => swaps.close());
  if (swap.step === "failed") throw new Error(`swap failed: ${swap.error}`);
  const seen = firstRefusal(join(dir, "state", "homes", "fleet"));
  if (seen === null) throw new Error("no authentication_failed record in the transcripts");
  const db = new Database(join(dir, "state", "state.db"), { readonly: true });
  const row = db.query("SELECT updated_at FROM swaps WHERE id = ?").get(swap.id) as { updated_at: number };
  const told = db.query("SELECT at FROM events WHERE kind = 'login_lost' ORDER BY id").all() as Array<{ at: number }>;
  db.close();
  const cut = simRequests(dir).filter((r) => r.prompt.includes("bench task") && r.token.endsWith("SIM-a"));
  const continues = await continuesOf(dir, cut, CONTINUE, 60_000);
  const sample: Sample = {
    toldMs: (told[0]?.at ?? Number.NaN) - seen, movedMs: row.updated_at - seen,
    typingMs: Math.max(...continues.map((r) => Date.parse(r.at))) - seen, cut: cut.length,
    continued: continues.filter((r) => r.token.endsWith("SIM-b")).length, told: told.length,
    needsLogin: d.control.status().accounts.find((a) => a.name === "a")?.state === "needs_login",
    samePids: await fleet.samePids(),
  };
  await fleet.stop();
  return sample;
}

await main(async () => {
  const samples = await repeatRuns(RUNS, runOnce, (s) => [
    `told after ${ms(s.toldMs)}, moved after ${ms(s.movedMs)}, every cut task typing again after ${ms(s.typingMs)}; ${s.cut} cut, ${s.continued} continued as b; ${s.told} message(s); a needs_login ${s.needsLogin ? "yes" : "NO"}; no process restarted ${s.samePids ? "yes" : "NO"}`,
  ]);
  const told = stats(samples.map((s) => s.toldMs));
  const moved = stats(samples.map((s) => s.movedMs));
  const typing = stats(samples.map((s) => s.typingMs));
  const ok = samples.every((s) => s.needsLogin && s.samePids && s.told === 1 && s.continued === s.cut && s.cut === POOL);
  const rows: SummaryRow[] = [
    { figure: `lost login (403 revoked) on screen → operator told, ${POOL}+${DEDICATED} sessions (poll 250 ms)`, median: ms(told.median), p95: ms(told.p95), runs: told.n },
    { figure: "lost login on screen → sessions moved to b (in-place swap done)", median: ms(moved.median), p95: ms(moved.p95), runs: moved.n },
    { figure: "lost login on screen → every cut task typing again on b", median: ms(typing.median), p95: ms(typing.p95), runs: typing.n },
    { figure: "lost login: a needs_login, told once, one continue per cut task as b, same processes", median: ok ? "yes" : "NO", runs: samples.length, target: "yes", met: ok },
  ];
  summary("login", rows);
});
