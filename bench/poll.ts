/**
 * @module bench/poll
 * Cost of one supervisor poll for 20, 100 and 200 owned sessions, printed (not a test): `bun bench/poll.ts`.
 * Wires the whole daemon in this process (as test/support/daemon.ts does) on a private tmux server, with pool
 * min = max = N of a cheap stand-in instead of the simulator: `sh -c "printf <an idle prompt box>; exec sleep 86400"`
 * (the `--session-id <uuid> --settings <file>` that buildLaunchArgv appends become unused positional args of sh).
 * Poll interval 1 s, reconcile every hour (so the only tmux traffic is the poll's). The poll loop is timed through
 * the injected clock: a poll runs from the moment its `sleep(poll_interval)` resolves to the next such call. Per poll:
 * wall ms, daemon CPU ms (process.cpuUsage), tmux processes spawned (a counting RunCommand) and their wall time;
 * over the window also the CPU of those tmux clients and of the tmux server. 10 polls after one warm-up poll.
 */
import { join } from "node:path";
import { systemClock, type Clock } from "../internal/clock.ts";
import { ROOT, configText, countingRun, cpuSeconds, freePort, main, ms, privateTmux, say, startInProcess, stats, summary, tempDir, until, type SummaryRow } from "./support.ts";

const SIZES = [20, 100, 200];
const POLL_MS = 1_000;
const WARMUP = 1;
const MEASURED = 10;
const STAND_IN = ["-c", "printf '──────\\n❯ \\n──────\\n  ? for shortcuts\\n'; exec sleep 86400", "sh"];

interface Poll { start: number; end: number; cpuMs: number }

/** A real clock that records when the poll loop's polls start and end (its sleeps are the only ones of POLL_MS with a signal). */
function pollTimingClock() {
  const polls: Poll[] = [];
  let current: { start: number; cpu: NodeJS.CpuUsage } | null = null;
  const clock: Clock = {
    now: systemClock.now,
    sleep(wait, signal) {
      if (wait !== POLL_MS || !signal) return systemClock.sleep(wait, signal);
      if (current) {
        const cpu = process.cpuUsage(current.cpu);
        polls.push({ start: current.start, end: performance.now(), cpuMs: (cpu.user + cpu.system) / 1000 });
        current = null;
      }
      return systemClock.sleep(wait, signal).then(() => {
        if (!signal.aborted) current = { start: performance.now(), cpu: process.cpuUsage() };
      });
    },
  };
  return { clock, polls };
}

async function measure(n: number): Promise<SummaryRow[]> {
  const dir = tempDir(`poll-${n}`);
  const server = privateTmux(dir);
  const counting = countingRun(server.run);
  const timing = pollTimingClock();
  const text = configText({
    dir, socket: server.socket, port: await freePort(), command: "sh", args: STAND_IN, pool: { min: n, max: n },
    quota: `{ poll_interval: ${POLL_MS}ms }`, watcher: `{ poll_interval: ${POLL_MS}ms }`, lifecycle: "{ reconcile_interval: 1h, login_spacing: 0 }",
  });
  const t0 = performance.now();
  const daemon = await startInProcess(text, dir, server, { run: counting.run, clock: timing.clock, self: [process.execPath, join(ROOT, "cmd", "claude-failover.ts")] });
  await until(`${n} idle sessions`, () => daemon.control.status().sessions.filter((s) => s.state === "idle").length === n, 60_000, 100);
  const ready = performance.now();
  say(`${n} sessions: created and idle ${ms(ready - t0)} after start`);
  const tmuxPid = await server.serverPid();
  const fresh = () => timing.polls.filter((p) => p.start > ready);
  await until(`${WARMUP} warm-up poll`, () => fresh().length >= WARMUP, 30_000);
  const from = { tmux: tmuxPid ? cpuSeconds(tmuxPid).self : NaN, clients: cpuSeconds(process.pid).children, at: fresh().length };
  await until(`${MEASURED} polls`, () => fresh().length >= WARMUP + MEASURED, (MEASURED + 5) * (POLL_MS + 2_000));
  const to = { tmux: tmuxPid ? cpuSeconds(tmuxPid).self : NaN, clients: cpuSeconds(process.pid).children };
  const polls = fresh().slice(WARMUP, WARMUP + MEASURED);
  await daemon.stop("bench done");
  await server.kill();

  const inPoll = (p: Poll) => counting.calls.filter((c) => c.at >= p.start && c.at <= p.end);
  const wall = stats(polls.map((p) => p.end - p.start));
  const cpu = stats(polls.map((p) => p.cpuMs));
  const spawned = stats(polls.map((p) => inPoll(p).length));
  const kinds = [...new Set(polls.flatMap((p) => inPoll(p).map((c) => c.command)))].join(", ");
  const tmuxWall = stats(polls.map((p) => inPoll(p).reduce((sum, c) => sum + c.ms, 0)));
  const perPoll = (seconds: number) => (1000 * seconds) / polls.length;
  const clientsMs = perPoll(to.clients - from.clients);
  const serverMs = perPoll(to.tmux - from.tmux);
  say(`  ${polls.length} polls: wall median ${ms(wall.median)}, p95 ${ms(wall.p95)}; daemon CPU median ${ms(cpu.median)}, p95 ${ms(cpu.p95)}`);
  say(`  tmux per poll: ${spawned.median} processes (${kinds}), waiting on them ${ms(tmuxWall.median)} (median); CPU of those clients ${ms(clientsMs)}, of the tmux server ${ms(serverMs)}`);
  return [
    { figure: `poll, ${n} sessions: wall`, median: ms(wall.median), p95: ms(wall.p95), runs: polls.length },
    { figure: `  CPU/poll: daemon · tmux clients · tmux server`, median: `${ms(cpu.median)} · ${ms(clientsMs)} · ${ms(serverMs)}`, runs: polls.length },
    { figure: `  tmux processes per poll (${n} sessions)`, median: String(spawned.median), p95: String(spawned.p95), runs: polls.length, target: "2", met: spawned.p95 === 2 },
  ];
}

await main(async () => {
  const rows: SummaryRow[] = [];
  for (const n of SIZES) rows.push(...(await measure(n)));
  summary("poll", rows);
});
