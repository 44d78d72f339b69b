/**
 * @module bench/detection
 * Latency from a quota signal to the swap request, printed (not a test): `bun bench/detection.ts`.
 * Wires the whole daemon in this process (as test/support/daemon.ts does) on a private tmux server with pool
 * min = max = 1, `quota.poll_interval: 1s`, `reactivate_cooldown: 1s`, `max_swaps_per_hour: 1000`, stagger 0.
 *   (a) hook: the simulated Claude Code runs in the pane; a StopFailure event with a dated limit line is POSTed to
 *       `/hooks/StopFailure?session=ccl-auto-11` with the hook token; measured until the swap row exists.
 *   (b) pane only: the pool program is a plain shell stand-in that draws an idle prompt box and sends no hooks. Each run
 *       types `clear; cat busy.txt` (a running turn, so the limit line counts as new), waits until a poll has seen
 *       it (session state "working"), waits a random 0–1 s (to land anywhere in the poll interval), then types
 *       `clear; cat limit.txt` and measures until the swap row exists.
 * Each run waits for the previous swap to finish, the 1 s cooldown to pass, and sets the account it left back to
 * available (disable then enable: enabling an account that is cooling is a no-op). 20 runs each (`BENCH_DETECTION_RUNS`).
 * The swap row is read from state.db (one row, read-only) every 5 ms.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Daemon } from "../cmd/claude-failover.ts";
import { afterLastSwap, configText, ensureBinary, freePort, main, ms, privateTmux, say, startInProcess, stats, summary, swapReader, tempDir, until, type BenchTmux, type SummaryRow } from "./support.ts";

const RUNS = Number(process.env.BENCH_DETECTION_RUNS ?? 20);
const SESSION = "ccl-auto-11";
const POLL_MS = 1_000;
const COOLDOWN_MS = 1_000;
const LINE = "You've hit your 5-hour limit · resets 11pm (Europe/Paris)";
const RULE = "─".repeat(80);
const IDLE = `● Ready when you are.\n\n${RULE}\n❯ \n${RULE}\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n`;
const BUSY = `✻ Working… (3s · esc to interrupt)\n\n${RULE}\n❯ \n${RULE}\n  ⏵⏵ bypass permissions on · esc to interrupt\n`;
const LIMIT = `● Working on it\n  ⎿ \u00a0${LINE}\n     /upgrade to increase your usage limit.\n\n${RULE}\n❯ \n${RULE}\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n`;

interface Booted { dir: string; server: BenchTmux; daemon: Daemon }

async function boot(label: string, command: string, args: string[], self: string[]): Promise<Booted> {
  const dir = tempDir(label);
  const server = privateTmux(dir);
  const text = configText({
    dir, socket: server.socket, port: await freePort(), command, args, pool: { min: 1, max: 1 },
    quota: `{ poll_interval: ${POLL_MS}ms, reactivate_cooldown: ${COOLDOWN_MS}ms }`, watcher: `{ poll_interval: ${POLL_MS}ms }`,
    switcher: "{ relaunch_stagger: 0ms, verify_timeout: 20s, max_swaps_per_hour: 1000 }",
  });
  const daemon = await startInProcess(text, dir, server, { self });
  await until("the pool session to be idle", () => daemon.control.status().sessions.some((s) => s.name === SESSION && s.state === "idle"), 30_000);
  return { dir, server, daemon };
}

/** Waits for the last swap to end and the cooldown to pass, and makes every account but the active one available. */
async function readyForNext(d: Daemon): Promise<number> {
  const s = await afterLastSwap(d);
  const since = s.last_swap ? Date.now() - Date.parse(s.last_swap.at) : Infinity;
  if (since < COOLDOWN_MS + 100) await Bun.sleep(COOLDOWN_MS + 100 - since);
  return s.last_swap?.id ?? 0;
}

/** Milliseconds from `t0` until a swap newer than `previous` exists; also its signal. */
async function swapAfter(d: Daemon, previous: number, t0: number) {
  const swaps = swapReader(d.config.state_dir);
  const swap = await until("the swap request", () => {
    const last = swaps.last();
    return last && last.id > previous ? last : null;
  }, 10_000, 5).finally(() => swaps.close());
  return { ms: performance.now() - t0, signal: swap.signal ?? "?", to: swap.to };
}

async function hookPath(binary: string) {
  const b = await boot("detect-hook", binary, ["sim-claude"], [binary]);
  const token = readFileSync(join(b.daemon.config.state_dir, "hook-token"), "utf8").trim();
  const samples: number[] = [];
  const http: number[] = [];
  const signals = new Set<string>();
  for (let i = 0; i < RUNS; i++) {
    const previous = await readyForNext(b.daemon);
    const sessionId = b.daemon.control.status().sessions.find((s) => s.name === SESSION)?.session_id;
    const t0 = performance.now();
    const res = await fetch(`${b.daemon.url()}hooks/StopFailure?session=${SESSION}`, {
      method: "POST", headers: { "X-Claude-Failover-Hook": token, "Content-Type": "application/json" },
      body: JSON.stringify({ hook_event_name: "StopFailure", session_id: sessionId, error: "rate_limit", last_assistant_message: LINE }),
    });
    http.push(performance.now() - t0);
    if (res.status !== 202) throw new Error(`hook refused: ${res.status}`);
    const got = await swapAfter(b.daemon, previous, t0);
    samples.push(got.ms);
    signals.add(got.signal);
  }
  await readyForNext(b.daemon);
  return { s: stats(samples), http: stats(http), signals: [...signals].join(",") };
}

async function panePath() {
  const dir = tempDir("detect-screens");
  const files = { idle: join(dir, "idle.txt"), busy: join(dir, "busy.txt"), limit: join(dir, "limit.txt") };
  writeFileSync(files.idle, IDLE);
  writeFileSync(files.busy, BUSY);
  writeFileSync(files.limit, LIMIT);
  // `exec sh` gives an interactive shell on the pane's terminal; the launch flags become unused positional args.
  const b = await boot("detect-pane", "sh", ["-c", `cat ${files.idle}; exec sh`, "sh"], ["/bin/false"]);
  const type = (command: string) => b.server.raw("send-keys", "-t", `=${SESSION}:`, command, "Enter");
  const samples: number[] = [];
  const signals = new Set<string>();
  for (let i = 0; i < RUNS; i++) {
    await readyForNext(b.daemon);
    await type(`clear; cat ${files.busy}`);
    await until("a poll to see the busy screen", () => b.daemon.control.status().sessions.some((s) => s.name === SESSION && s.state === "working"), 10_000, 20);
    const previous = await readyForNext(b.daemon);
    // Seeing "working" is in phase with the poll loop; a random delay spreads the limit line over the poll interval.
    await Bun.sleep(Math.random() * POLL_MS);
    const t0 = performance.now();
    await type(`clear; cat ${files.limit}`);
    const got = await swapAfter(b.daemon, previous, t0);
    samples.push(got.ms);
    signals.add(got.signal);
  }
  await readyForNext(b.daemon);
  return { s: stats(samples), signals: [...signals].join(",") };
}

await main(async () => {
  const binary = (await ensureBinary()).path;
  const hook = await hookPath(binary);
  say(`(a) hook → swap request, ${hook.s.n} runs (signal ${hook.signals}): median ${ms(hook.s.median)}, p95 ${ms(hook.s.p95)}, max ${ms(hook.s.max)}; the POST itself answered 202 in median ${ms(hook.http.median)}`);
  const pane = await panePath();
  say(`(b) limit line on the pane → swap request, ${pane.s.n} runs (signal ${pane.signals}, poll every ${POLL_MS} ms): median ${ms(pane.s.median)}, p95 ${ms(pane.s.p95)}, min ${ms(pane.s.min)}, max ${ms(pane.s.max)}`);
  const rows: SummaryRow[] = [
    { figure: "detection: StopFailure hook → swap request", median: ms(hook.s.median), p95: ms(hook.s.p95), runs: hook.s.n, target: "p95 < 1 s", met: hook.s.p95 < 1_000 },
    { figure: `detection: pane text only → swap request (poll ${POLL_MS / 1000} s)`, median: ms(pane.s.median), p95: ms(pane.s.p95), runs: pane.s.n, target: `p95 < ${(POLL_MS + 1_000) / 1000} s`, met: pane.s.p95 < POLL_MS + 1_000 },
  ];
  summary("detection", rows);
});
