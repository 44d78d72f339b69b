/**
 * @module bench/rss
 * Memory and CPU of the idle daemon with a pool of 20, printed (not a test): `bun bench/rss.ts`.
 * Starts the compiled binary (`bun cmd/claude-failover.ts run` when no binary can be built) with pool min = max = 20 of
 * the simulated Claude Code (`claude.command` = the binary, args `["sim-claude"]`) and the default 5 s poll interval,
 * on a private tmux server started here with `-f /dev/null`. Waits until `GET /status` shows 20 idle sessions, lets it
 * settle 5 s, then samples the DAEMON process only over `BENCH_IDLE_SECONDS` (default 60): VmRSS every second, and
 * CPU time (utime+stime from /proc/<pid>/stat) at both ends, as % of one core. The simulated sessions are not counted;
 * for context it also prints the CPU of the tmux clients the daemon spawned (its reaped children) and of the tmux server.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, TOKEN, TOKEN_ENV, api, configText, cpuSeconds, defer, ensureBinary, freePort, main, ms, privateTmux, rssMb, say, stats, summary, tempDir, until } from "./support.ts";

const POOL = 20;
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const SETTLE_MS = 5_000;
const RSS_TARGET_MB = 80;
const CPU_TARGET_PCT = 1;

/** `claude_failover_poll_duration_seconds` count and sum from /metrics. */
async function pollMetric(url: string) {
  const text = await (await fetch(new URL("metrics", url))).text();
  const read = (suffix: string) => Number(new RegExp(`^claude_failover_poll_duration_seconds_${suffix}(?:\\{\\})? (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return { count: read("count"), sum: read("sum") };
}

await main(async () => {
  let argv: string[];
  try {
    const binary = await ensureBinary();
    argv = [binary.path];
    if (binary.note) say(`binary: ${binary.note}`);
  } catch (error) {
    say(`no binary (${(error as Error).message.slice(0, 200)}); running from source instead`);
    argv = [process.execPath, join(ROOT, "cmd", "claude-failover.ts")];
  }
  const dir = tempDir("rss");
  const server = privateTmux(dir);
  // The server exists before the daemon, so it runs with -f /dev/null; the keeper is a foreign session the daemon ignores.
  await server.raw("new-session", "-d", "-s", "cf-bench-keeper", "sleep", "86400");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = join(dir, "config.yaml");
  writeFileSync(config, configText({ dir, socket: server.socket, port, command: argv[0]!, args: [...argv.slice(1), "sim-claude"], pool: { min: POOL, max: POOL } }));
  const log = openSync(join(dir, "daemon.log"), "a");
  const t0 = performance.now();
  const daemon = Bun.spawn([...argv, "run", "--config", config], { env: { ...server.env, [TOKEN_ENV]: TOKEN }, stdin: "ignore", stdout: "ignore", stderr: log });
  defer(async () => {
    daemon.kill("SIGTERM");
    await Promise.race([daemon.exited, Bun.sleep(10_000)]);
    if (daemon.exitCode === null) daemon.kill("SIGKILL");
    closeSync(log);
  });

  await until(`${POOL} idle sessions`, async () => {
    const { json } = await api<{ sessions: Array<{ state: string }> }>(url, "status");
    return json.sessions.filter((s) => s.state === "idle").length === POOL;
  }, 120_000, 500).catch((error) => {
    process.stderr.write(readFileSync(join(dir, "daemon.log"), "utf8").split("\n").slice(-20).join("\n"));
    throw error;
  });
  say(`${POOL} simulated sessions idle ${ms(performance.now() - t0)} after the daemon started; settling ${SETTLE_MS / 1000} s`);
  await Bun.sleep(SETTLE_MS);

  const tmuxPid = await server.serverPid();
  const before = { at: performance.now(), cpu: cpuSeconds(daemon.pid), tmux: tmuxPid ? cpuSeconds(tmuxPid).self : NaN, polls: await pollMetric(url) };
  const rss: number[] = [];
  say(`sampling the daemon (pid ${daemon.pid}) for ${IDLE_SECONDS} s`);
  for (let i = 0; i < IDLE_SECONDS; i++) {
    rss.push(rssMb(daemon.pid));
    await Bun.sleep(1_000);
  }
  const after = { at: performance.now(), cpu: cpuSeconds(daemon.pid), tmux: tmuxPid ? cpuSeconds(tmuxPid).self : NaN, polls: await pollMetric(url) };
  const wall = (after.at - before.at) / 1000;
  const pct = (seconds: number) => (100 * seconds) / wall;
  const own = pct(after.cpu.self - before.cpu.self);
  const children = pct(after.cpu.children - before.cpu.children);
  const tmuxServer = pct(after.tmux - before.tmux);
  const polls = after.polls.count - before.polls.count;
  const pollMs = (1000 * (after.polls.sum - before.polls.sum)) / polls;
  const r = stats(rss);
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1]) / 1024;
  const still = (await api<{ sessions: Array<{ state: string }> }>(url, "status")).json.sessions.filter((s) => s.state === "idle").length;

  say(`daemon RSS over ${r.n} samples: median ${r.median.toFixed(1)} MB, max ${r.max.toFixed(1)} MB, first ${rss[0]?.toFixed(1)} MB, last ${rss.at(-1)?.toFixed(1)} MB, peak since start (VmHWM) ${hwm.toFixed(1)} MB`);
  say(`daemon CPU over ${wall.toFixed(1)} s: ${own.toFixed(2)} % of one core (${polls} polls, mean ${ms(pollMs)} each)`);
  say(`  for context, not counted: tmux clients it spawned ${children.toFixed(2)} %, tmux server ${tmuxServer.toFixed(2)} %; ${still}/${POOL} sessions still idle at the end`);
  summary("rss", [
    { figure: `daemon RSS, pool ${POOL} idle`, median: `${r.median.toFixed(1)} MB`, p95: `${r.p95.toFixed(1)} MB`, runs: `${r.n} samples / ${IDLE_SECONDS} s`, target: `< ${RSS_TARGET_MB} MB`, met: r.median < RSS_TARGET_MB },
    { figure: `daemon CPU, pool ${POOL} idle (5 s poll)`, median: `${own.toFixed(2)} % of a core`, runs: `${IDLE_SECONDS} s, ${polls} polls`, target: `< ${CPU_TARGET_PCT} %`, met: own < CPU_TARGET_PCT },
    { figure: "  + tmux clients / tmux server CPU (not counted)", median: `${children.toFixed(2)} % / ${tmuxServer.toFixed(2)} %`, runs: `${IDLE_SECONDS} s` },
  ]);
});
