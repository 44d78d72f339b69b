/**
 * @module bench/capture
 * Cost of capturing many panes, printed (not a test): `bun bench/capture.ts`.
 * On a private tmux server, N detached 200x50 sessions each run a loop printing a line every 0.2 s: a perl loop, because
 * the obvious `sh` loop around `sleep 0.2` costs a fork+exec per line, and 100 of them (500 execs/s) saturated both
 * cores of the 2-core VM this was written on (run queue 50-85) and with them every figure. For N = 20 and 100,
 * 7 reps each of one full capture of the N visible screens:
 *   - through the client: `createTmux(...).capture(paneIds)`, one chained tmux invocation;
 *   - one `tmux capture-pane -p -J -t <id>` process per pane, spawned sequentially;
 *   - the same, all spawned at once (Promise.all).
 * Reports ms per full capture (median, p95) and the ratios, and counts tmux processes per poll-shaped round
 * (`listPanes()` + `capture()` through a counting runner).
 */
import { countingRun, main, ms, privateTmux, say, stats, summary, tempDir, type BenchTmux } from "./support.ts";
import { createTmux } from "../internal/tmux/tmux.ts";

const REPS = 7;
const SIZES = [20, 100];
/** A line every 0.2 s without a fork per line (see the module comment). */
const LOOP = ["perl", "-e", '$| = 1; my $i = 0; while (1) { print "line ", ++$i, "\\n"; select(undef, undef, undef, 0.2) }'];
const TARGET_RATIO = 10;

async function timed(fn: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Grows the server to `n` looping sessions and returns their pane ids. */
async function grow(server: BenchTmux, dir: string, n: number): Promise<string[]> {
  const have = (await server.tmux.listPanes()).length;
  for (let i = have; i < n; i++) await server.tmux.newSession(`cap-${i}`, { cwd: dir, argv: LOOP }, { width: 200, height: 50 });
  await Bun.sleep(1_500); // some output on every screen
  return (await server.tmux.listPanes()).map((p) => p.paneId);
}

await main(async () => {
  const dir = tempDir("capture");
  const server = privateTmux(dir);
  const base = ["tmux", "-L", server.socket, "-f", "/dev/null"];
  const rows = [];
  for (const n of SIZES) {
    const ids = await grow(server, dir, n);
    let captured = 0;
    const batched = stats(await timed(async () => (captured = (await server.tmux.capture(ids)).size)));
    const sequential = stats(await timed(async () => {
      for (const id of ids) await server.run([...base, "capture-pane", "-p", "-J", "-t", id]);
    }));
    const parallel = stats(await timed(() => Promise.all(ids.map((id) => server.run([...base, "capture-pane", "-p", "-J", "-t", id])))));
    const counting = countingRun(server.run);
    const client = createTmux(counting.run, { socket: server.socket, extraArgs: ["-f", "/dev/null"] });
    const t0 = performance.now();
    const panes = await client.listPanes();
    const tList = performance.now() - t0;
    await client.capture(panes.map((p) => p.paneId));
    const processes = counting.calls.length;
    say(`${n} panes (${captured} captured per chained call), ${REPS} reps each:`);
    say(`  one chained invocation: median ${ms(batched.median)}, p95 ${ms(batched.p95)}`);
    say(`  one process per pane, sequential: median ${ms(sequential.median)}, p95 ${ms(sequential.p95)} (${(sequential.median / batched.median).toFixed(1)}x)`);
    say(`  one process per pane, parallel: median ${ms(parallel.median)}, p95 ${ms(parallel.p95)} (${(parallel.median / batched.median).toFixed(1)}x)`);
    say(`  poll-shaped round: ${processes} tmux processes (${counting.calls.map((c) => c.command).join(" + ")}); list-panes alone ${ms(tList)}`);
    const ratio = Math.min(sequential.median, parallel.median) / batched.median;
    rows.push(
      { figure: `capture ${n} panes, one chained call`, median: ms(batched.median), p95: ms(batched.p95), runs: REPS },
      { figure: `capture ${n} panes, 1 process/pane seq / parallel`, median: `${ms(sequential.median)} / ${ms(parallel.median)}`, p95: `${ms(sequential.p95)} / ${ms(parallel.p95)}`, runs: REPS,
        ...(n === 100 ? { target: `chained ≥ ${TARGET_RATIO}x cheaper`, met: ratio >= TARGET_RATIO } : {}) },
      { figure: `  ratio (best of seq/parallel ÷ chained), ${n} panes`, median: `${ratio.toFixed(1)}x`, runs: REPS },
    );
    if (n === SIZES.at(-1)) rows.push({ figure: "tmux processes per poll (list-panes + capture chain)", median: String(processes), runs: 1, target: "2", met: processes === 2 });
  }
  summary("capture", rows);
});
