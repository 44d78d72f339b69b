/**
 * @module bench/warning
 * Switching before the limit, printed (not a test): `bun bench/warning.ts`. One daemon wired in this process on a
 * private tmux server, 4 pool + 1 dedicated sessions of the simulated Claude Code (from source: `bun
 * cmd/claude-failover.ts sim-claude`, which draws 2.1.330's usage warning right-aligned above its input box ~5 s after
 * a reply, for 8 s, once per text), both accounts `switch_at: 90`, the default `poll_interval: 5s` (so the 3 s warning
 * glance is what sees it), `relaunch_stagger: 0`. Each run writes a new warning text (`You've used <90–99>% of your
 * 5-hour limit · resets <hour> (UTC) · /upgrade to keep using Claude Code`) into the active account's `sim-usage`,
 * types a prompt into `ccl-auto-11`, and watches that pane (a capture every 20 ms) for the warning; from the moment it
 * is on screen it measures:
 *   - warning on screen → swap requested (reason `warning`): the detection, glance phase included;
 *   - warning on screen → sessions moved (the swap done, every session row on the other account).
 * Runs alternate a → b → a: before each (once the last warning has left the screen), the account the last run left is
 * made available again (disable + enable).
 * `BENCH_WARNING_RUNS` (default 15) runs.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Daemon } from "../cmd/claude-failover.ts";
import { ROOT, afterLastSwap, configText, freePort, main, ms, privateTmux, say, startInProcess, stats, summary, swapReader, tempDir, until, type BenchTmux, type SummaryRow } from "./support.ts";
import { usageWarningText } from "../internal/demo/sim-screen.ts";
import { paneActivity } from "../internal/quota/classify.ts";

const RUNS = Number(process.env.BENCH_WARNING_RUNS ?? 15);
const SESSION = "ccl-auto-11";
const SELF = [process.execPath, join(ROOT, "cmd", "claude-failover.ts")];

/** Waits for the last swap to end and the accounts to be ready: the id of that swap and the active account. */
async function readyForNext(d: Daemon): Promise<{ previous: number; active: string }> {
  const s = await afterLastSwap(d);
  return { previous: s.last_swap?.id ?? 0, active: s.active_account ?? "a" };
}

const screenOf = async (server: BenchTmux, session: string) => ((await server.tmux.capture([session])).get(session) ?? []).join("\n");

async function runAll() {
  const dir = tempDir("warning");
  const server = privateTmux(dir);
  const text = configText({
    dir, socket: server.socket, port: await freePort(), command: process.execPath, args: [join(ROOT, "cmd", "claude-failover.ts"), "sim-claude"],
    pool: { min: 4, max: 4 }, dedicated: 1, switcher: "{ relaunch_stagger: 0ms, verify_timeout: 20s, max_swaps_per_hour: 1000 }",
  }).replace(/(home: \S+\/homes\/[ab]) \}/g, "$1, switch_at: 90 }");
  const d = await startInProcess(text, dir, server, { self: SELF });
  await until("5 idle sessions", () => d.control.status().sessions.filter((s) => s.state === "idle").length === 5, 60_000);
  const detect: number[] = [];
  const moved: number[] = [];
  const swaps = swapReader(d.config.state_dir);
  for (let i = 0; i < RUNS; i++) {
    const { previous, active } = await readyForNext(d);
    const other = active === "a" ? "b" : "a";
    const now = new Date();
    const reset = new Date((Math.floor(now.getTime() / 3_600_000) + 2 + (i % 20)) * 3_600_000);
    const percent = 90 + (i % 10);
    const line = usageWarningText(percent, "five_hour", reset, now, "UTC");
    rmSync(join(dir, "homes", other, "sim-usage"), { force: true });
    writeFileSync(join(dir, "homes", active, "sim-usage"), `${line}\n`);
    await until("an idle prompt", async () => paneActivity((await screenOf(server, SESSION)).split("\n")) === "idle" && !d.control.status().swapping, 20_000, 50);
    await server.tmux.sendText(SESSION, `[sim:work=100ms] bench warning ${i}`);
    await server.tmux.sendKeys(SESSION, "Enter");
    await until("the warning on screen", async () => (await screenOf(server, SESSION)).includes(`You've used ${percent}% of your 5-hour limit`), 20_000, 20);
    const t0 = performance.now();
    const requested = await until("the swap request", () => {
      const last = swaps.last();
      return last && last.id > previous ? last : null;
    }, 15_000, 5);
    detect.push(performance.now() - t0);
    if (requested.reason !== "warning" || requested.from !== active) throw new Error(`unexpected swap: ${JSON.stringify(requested)}`);
    // The swap row first (cheap, every 5 ms), then the sessions once it is done.
    await until("the sessions moved", () => {
      const last = swaps.last();
      return last?.id === requested.id && last.step === "done" && d.control.status().sessions.every((s) => s.account === other);
    }, 30_000, 5);
    moved.push(performance.now() - t0);
    // The warning stays on screen for its 8 s: the next run re-enables the account it named only once it is gone.
    await until("the warning gone", async () => !(await screenOf(server, SESSION)).includes(`You've used ${percent}%`), 20_000, 100);
    say(`  run ${i + 1}: ${active} → ${other}, seen → requested ${ms(detect.at(-1)!)}, seen → moved ${ms(moved.at(-1)!)}`);
  }
  swaps.close();
  await d.stop("bench done");
  return { detect: stats(detect), moved: stats(moved) };
}

await main(async () => {
  const r = await runAll();
  say(`warning on screen → swap requested, ${r.detect.n} runs (poll 5 s, glance 3 s): median ${ms(r.detect.median)}, p95 ${ms(r.detect.p95)}, max ${ms(r.detect.max)}`);
  say(`warning on screen → sessions moved (5 sessions, in place), ${r.moved.n} runs: median ${ms(r.moved.median)}, p95 ${ms(r.moved.p95)}, max ${ms(r.moved.max)}`);
  const rows: SummaryRow[] = [
    { figure: "usage warning on screen → swap requested (poll 5 s, glance 3 s)", median: ms(r.detect.median), p95: ms(r.detect.p95), runs: r.detect.n, target: "p95 < 3.5 s", met: r.detect.p95 < 3_500 },
    { figure: "usage warning on screen → 5 sessions moved in place (switch_at)", median: ms(r.moved.median), p95: ms(r.moved.p95), runs: r.moved.n, target: "p95 < 8 s (while it shows)", met: r.moved.p95 < 8_000 },
  ];
  summary("warning", rows);
});
