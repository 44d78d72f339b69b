/**
 * @module bench/hook
 * What one hook event costs, printed (not a test): `bun bench/hook.ts`. Claude Code runs `claude-failover hook
 * <event>` for every hook event of every session; when a limit ends a dozen turns at once, a dozen run together on a
 * machine whose cores the CLIs already fill. Each run pipes a StopFailure payload into the command, which posts it to
 * a loopback stand-in of the daemon's hook sink (answers 202); measured per event, from the process's own rusage: CPU
 * (user + system) and wall (spawn → exit). Four programs, `BENCH_HOOK_RUNS` (default 30) runs each, round-robin:
 *   1. the compiled binary (its entry, cmd/main.ts, loads only internal/hook for `hook`): what users run;
 *   2. the same flags with cmd/claude-failover.ts as the entry (the whole daemon loaded for every event), built into a
 *      temp folder: the cost before the light entry, for comparison;
 *   3. Bun on the sources (`bun cmd/main.ts hook`), what the test suite's simulated sessions run, and 4. the same with
 *      cmd/claude-failover.ts (what they ran before).
 */
import { join } from "node:path";
import { ROOT, ensureBinary, main, ms, say, stats, summary, tempDir } from "./support.ts";

const RUNS = Number(process.env.BENCH_HOOK_RUNS ?? 30);
const PAYLOAD = JSON.stringify({ session_id: "00000000-0000-4000-8000-000000000000", hook_event_name: "StopFailure", error: "server_error", last_assistant_message: "API Error: 500" });

interface Sample { cpuMs: number; wallMs: number }

/** One hook event through `argv`, posted to `url`; fails loudly when it did not reach the stand-in. */
async function once(argv: string[], url: string, spool: string, received: () => number): Promise<Sample> {
  const before = received();
  const t0 = performance.now();
  const proc = Bun.spawn([...argv, "hook", "StopFailure", "--session", "ccl-auto-11", "--url", url, "--spool", spool], { stdin: new Blob([PAYLOAD]), stdout: "ignore", stderr: "ignore" });
  await proc.exited;
  const wallMs = performance.now() - t0;
  if (received() !== before + 1) throw new Error(`${argv.join(" ")}: the event did not reach the stand-in`);
  const usage = proc.resourceUsage()!;
  return { cpuMs: Number(usage.cpuTime.user + usage.cpuTime.system) / 1000, wallMs };
}

/** The compiled binary with cmd/claude-failover.ts as its entry (the build script's flags), into `dir`. */
async function wholeDaemonBinary(dir: string): Promise<string> {
  const script = (await Bun.file(join(ROOT, "package.json")).json()).scripts.build as string;
  const out = join(dir, "whole-daemon");
  const argv = script.split(/\s+/).map((word) => (word === "./cmd/main.ts" ? "./cmd/claude-failover.ts" : word));
  argv[argv.indexOf("--outfile") + 1] = out;
  if (argv[0] === "bun") argv[0] = process.execPath;
  const build = Bun.spawnSync(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`cannot build ${out}: ${build.stderr.toString().slice(0, 300)}`);
  return out;
}

await main(async () => {
  const dir = tempDir("hook");
  let count = 0;
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (req) => (await req.text(), count++, new Response(null, { status: 202 })) });
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const binary = await ensureBinary();
    say(`binary: ${binary.note}`);
    const programs: Array<{ name: string; argv: string[] }> = [
      { name: "compiled binary (entry cmd/main.ts)", argv: [binary.path] },
      { name: "compiled with cmd/claude-failover.ts as entry (whole daemon loaded)", argv: [await wholeDaemonBinary(dir)] },
      { name: "bun cmd/main.ts (the sources, as the tests run it)", argv: [process.execPath, join(ROOT, "cmd", "main.ts")] },
      { name: "bun cmd/claude-failover.ts (the sources, whole daemon loaded)", argv: [process.execPath, join(ROOT, "cmd", "claude-failover.ts")] },
    ];
    const samples = programs.map(() => [] as Sample[]);
    for (const program of programs) await once(program.argv, url, join(dir, "spool"), () => count); // warm the page cache
    for (let i = 0; i < RUNS; i++) {
      for (const [j, program] of programs.entries()) samples[j]!.push(await once(program.argv, url, join(dir, "spool"), () => count));
    }
    summary("hook", programs.flatMap((program, j) => {
      const cpu = stats(samples[j]!.map((s) => s.cpuMs));
      const wall = stats(samples[j]!.map((s) => s.wallMs));
      return [
        { figure: `one hook event, CPU (user + system): ${program.name}`, median: ms(cpu.median), p95: ms(cpu.p95), runs: cpu.n },
        { figure: `one hook event, spawn → exit: ${program.name}`, median: ms(wall.median), p95: ms(wall.p95), runs: wall.n },
      ];
    }));
  } finally {
    await server.stop(true);
  }
});
