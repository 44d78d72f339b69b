/**
 * @module bench/startup
 * Start-up of the compiled binary, printed (not a test): `bun bench/startup.ts`.
 * Spawns `claude-failover run --config <tmp>` (one temp folder, one account, a free loopback port, a private tmux
 * socket) and polls `GET /health` every 5 ms, measuring from just before the spawn, to the first HTTP answer and to
 * the first 200 (given up 1 s after a first non-200 answer). /health fails while no tmux server answers on the socket
 * (unless the daemon owns no session), so three cases are measured, 10 runs each, round-robin with the floors below:
 *   1. no tmux server, pool 0;
 *   2. no tmux server, pool 1: the 200 includes the daemon creating the server and the first session (its tmux calls
 *      go through a PATH wrapper adding `-f /dev/null`, about 1 ms each);
 *   3. the usual restart: the tmux server (started here with `-f /dev/null`) and the pool session are already running
 *      and the daemon adopts the session; pool 1.
 * Two floors put the figures in context: `claude-failover version` (spawn → exit: runtime start and module load) and
 * a compiled Bun hello server (spawn → first 200), measured the same way. The binary is built first when missing
 * (`bun run build`). Also prints its size.
 */
import { chmodSync, closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { childEnv } from "../internal/tmux/runner.ts";
import { TOKEN, TOKEN_ENV, configText, ensureBinary, freePort, main, ms, privateTmux, say, sizeMb, stats, summary, tempDir, type BenchTmux } from "./support.ts";

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 10);
const POLL_MS = 5;
const GIVE_UP_MS = 10_000;
/** After a first answer that is not 200, how long to keep polling for a 200 before calling it "never". */
const NOT_OK_GRACE_MS = 1_000;
const TARGET_MS = 150;

interface Sample { firstMs: number; firstStatus: number; okMs: number; failing?: string }

/** One start: spawn, poll /health until 200 (giving up 1 s after a first non-200 answer), stop with SIGTERM. */
async function once(binary: string, config: string, env: Record<string, string>, port: number, log: string): Promise<Sample> {
  const fd = openSync(log, "a");
  const t0 = performance.now();
  const proc = Bun.spawn([binary, "run", "--config", config], { env, stdin: "ignore", stdout: "ignore", stderr: fd });
  const sample: Sample = { firstMs: Number.NaN, firstStatus: 0, okMs: Number.NaN };
  while (performance.now() - t0 < GIVE_UP_MS && proc.exitCode === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json().catch(() => null)) as { failing?: string[]; checks?: Record<string, { detail?: string }> } | null;
      const at = performance.now() - t0;
      if (!sample.firstStatus) [sample.firstMs, sample.firstStatus] = [at, res.status];
      if (res.status !== 200) sample.failing = (body?.failing ?? []).map((name) => `${name}: ${body?.checks?.[name]?.detail ?? "failing"}`).join("; ");
      if (res.status === 200) {
        sample.okMs = at;
        break;
      }
      if (at - sample.firstMs > NOT_OK_GRACE_MS) break;
    } catch {
      // not listening yet
    }
    await Bun.sleep(POLL_MS);
  }
  proc.kill("SIGTERM");
  await Promise.race([proc.exited, Bun.sleep(10_000)]);
  if (proc.exitCode === null) proc.kill("SIGKILL");
  await proc.exited;
  closeSync(fd);
  return sample;
}

/** One measured case: its own folder, environment and socket (a fresh socket per run for the cold cases). */
function startCase(label: string, binary: string, poolMin: number, server: () => BenchTmux, done: (s: BenchTmux) => Promise<void>, pathPrefix?: string) {
  const dir = tempDir("startup");
  const env: Record<string, string> = { ...childEnv({ ...process.env, HOME: dir }), [TOKEN_ENV]: TOKEN };
  if (pathPrefix) env.PATH = `${pathPrefix}:${env.PATH}`;
  const samples: Sample[] = [];
  return {
    label, samples,
    async runOnce(record = true) {
      const s = server();
      const port = await freePort();
      const config = join(dir, "config.yaml");
      writeFileSync(config, configText({ dir, socket: s.socket, port, command: binary, args: ["sim-claude"], pool: { min: poolMin, max: poolMin }, accounts: 1, logLevel: "warn" }));
      const sample = await once(binary, config, env, port, join(dir, "daemon.log"));
      if (record) samples.push(sample);
      await done(s);
    },
    report() {
      const first = stats(samples.map((x) => x.firstMs));
      const ok = stats(samples.map((x) => x.okMs));
      const statuses = [...new Set(samples.map((x) => x.firstStatus || "none"))].join("/");
      say(`${label}: ${samples.length} runs`);
      say(`  first HTTP answer (status ${statuses}): median ${ms(first.median)}, p95 ${ms(first.p95)}, min ${ms(first.min)}, max ${ms(first.max)}`);
      say(ok.n ? `  /health 200: median ${ms(ok.median)}, p95 ${ms(ok.p95)}, min ${ms(ok.min)}, max ${ms(ok.max)}${ok.n < samples.length ? `, ${samples.length - ok.n} runs never got 200` : ""}`
        : `  /health never answered 200 (within ${NOT_OK_GRACE_MS} ms of the first answer): ${samples[0]?.failing ?? "?"}`);
      return { first, ok, statuses };
    },
  };
}

/** Floors: spawn → exit of `version`, and spawn → first 200 of a compiled hello server (one sample each per call). */
function floors(binary: string) {
  const version: number[] = [];
  const hello: number[] = [];
  const dir = tempDir("hello");
  writeFileSync(join(dir, "hello.ts"), `Bun.serve({ hostname: "127.0.0.1", port: Number(process.argv[2]), fetch: () => new Response("ok") });\n`);
  const build = Bun.spawnSync([process.execPath, "build", join(dir, "hello.ts"), "--compile", "--production", "--minify", "--bytecode", "--format=esm", "--outfile", join(dir, "hello")], { stdout: "ignore", stderr: "pipe" });
  return {
    async runOnce() {
      let t0 = performance.now();
      await Bun.spawn([binary, "version"], { stdout: "ignore", stderr: "ignore" }).exited;
      version.push(performance.now() - t0);
      if (build.exitCode !== 0) return;
      const port = await freePort();
      t0 = performance.now();
      const proc = Bun.spawn([join(dir, "hello"), String(port)], { stdout: "ignore", stderr: "ignore" });
      while (performance.now() - t0 < GIVE_UP_MS) {
        const ok = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text().then(() => true), () => false);
        if (ok) break;
        await Bun.sleep(POLL_MS);
      }
      hello.push(performance.now() - t0);
      proc.kill();
      await proc.exited;
    },
    report() {
      const v = stats(version);
      const h = stats(hello);
      say(`floors: \`claude-failover version\` spawn → exit median ${ms(v.median)} (p95 ${ms(v.p95)}); compiled Bun hello server spawn → 200 median ${ms(h.median)} (p95 ${ms(h.p95)}), ${v.n} runs each`);
      return { v, h };
    },
  };
}

await main(async () => {
  const binary = await ensureBinary();
  say(`binary: ${binary.path} (${sizeMb(binary.path).toFixed(1)} MB)${binary.note ? `\n  ${binary.note}` : ""}`);
  const floor = floors(binary.path);
  // Case 1: the socket never gets a server (with nothing to own, /health may or may not need one).
  const cold0 = startCase("no tmux server, pool 0", binary.path, 0, () => privateTmux(tempDir("home")), (s) => s.kill());
  // Case 2: the daemon starts the tmux server itself (new-session of the first pool session).
  const wrapperDir = tempDir("tmux-wrapper");
  mkdirSync(join(wrapperDir, "bin"));
  writeFileSync(join(wrapperDir, "bin", "tmux"), `#!/bin/sh\nexec ${Bun.which("tmux") ?? "/usr/bin/tmux"} -f /dev/null "$@"\n`);
  chmodSync(join(wrapperDir, "bin", "tmux"), 0o755);
  const cold1 = startCase("no tmux server, pool 1 (daemon creates server + session)", binary.path, 1, () => privateTmux(tempDir("home")), (s) => s.kill(), join(wrapperDir, "bin"));
  // Case 3: the usual restart: tmux outlives the daemon, and the daemon adopts its running session (an unmeasured
  // first start creates it).
  const warmServer = privateTmux(tempDir("home"));
  await warmServer.raw("new-session", "-d", "-s", "cf-bench-keeper", "sleep", "86400");
  const warm = startCase("restart: tmux server and the pool session already running, pool 1", binary.path, 1, () => warmServer, async () => {});
  await warm.runOnce(false);

  // Round-robin, so a burst of load from elsewhere on the machine hits every case alike.
  for (let i = 0; i < RUNS; i++) {
    for (const c of [floor, cold0, cold1, warm]) await c.runOnce();
  }
  const f = floor.report();
  const results = { cold0: cold0.report(), cold1: cold1.report(), warm: warm.report() };

  const met = (v: number) => (Number.isFinite(v) ? v < TARGET_MS : false);
  const okRow = (what: string, r: ReturnType<(typeof warm)["report"]>) => ({
    figure: `start → /health 200 (${what})`, median: r.ok.n ? ms(r.ok.median) : `never (${r.statuses})`, p95: r.ok.n ? ms(r.ok.p95) : undefined,
    runs: r.ok.n || RUNS, target: `< ${TARGET_MS} ms`, met: met(r.ok.median),
  });
  summary("startup", [
    okRow("restart: tmux + its pool session already up, pool 1", results.warm),
    okRow("no tmux server, pool 0", results.cold0),
    { figure: `start → first HTTP answer (no tmux server, pool 1: ${results.cold1.statuses})`, median: ms(results.cold1.first.median), p95: ms(results.cold1.first.p95), runs: results.cold1.first.n },
    okRow("no tmux server, pool 1: daemon starts tmux + the session", results.cold1),
    { figure: "floor: `version` spawn → exit / Bun hello server → 200", median: `${ms(f.v.median)} / ${ms(f.h.median)}`, p95: `${ms(f.v.p95)} / ${ms(f.h.p95)}`, runs: f.v.n },
    { figure: "binary size", median: `${sizeMb(binary.path).toFixed(1)} MB`, runs: 1 },
  ]);
});
