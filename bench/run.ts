/**
 * @module bench/run
 * `bun run bench`: runs every bench in sequence, each in its own `bun` process with its output shown as it comes,
 * then prints a compact markdown summary and writes it, with the date, the machine (CPUs, memory, Bun and tmux
 * versions, load average) and the tree's commit, to bench/RESULTS.md (its table overwritten; the written `## `
 * sections after it, such as the real Claude Code runs, kept). `bun bench/run.ts core ledger`
 * runs only the benches named: their rows in RESULTS.md are replaced, the others kept, and a line records that
 * partial run (date, commit, load average). Each bench reports its rows as
 * JSON lines into the file named by `BENCH_SUMMARY`; bench/dispatch.ts prints only text, so its figures are read from
 * its output. The compiled binary is built once here (when missing or older than the sources) and passed on.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT, ensureBinary, sizeMb, type SummaryRow } from "./support.ts";

const BENCHES = ["startup", "rss", "capture", "poll", "detection", "swap", "hot-swap", "hook", "login", "warning", "dispatch", "core", "ledger", "fleet"];
/** Benches that run the compiled binary (built once, when one of them runs). */
const NEED_BINARY = new Set(["startup", "rss", "detection", "swap", "hot-swap", "hook", "login"]);
/** A bench still running after this is stopped (SIGTERM: it cleans up), then killed. */
const LIMIT_MS = 240_000;

type Row = SummaryRow & { bench: string };

/** Runs one bench, echoing its stdout; returns that output, its exit code and wall time. */
async function runBench(name: string, env: Record<string, string | undefined>) {
  const t0 = performance.now();
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, `${name}.ts`)], { cwd: ROOT, env, stdout: "pipe", stderr: "inherit" });
  const timer = setTimeout(() => {
    process.stdout.write(`\n${name}: still running after ${LIMIT_MS / 1000} s, stopping it\n`);
    proc.kill("SIGTERM");
    setTimeout(() => proc.kill("SIGKILL"), 15_000).unref();
  }, LIMIT_MS);
  let out = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stdout) {
    const text = decoder.decode(chunk, { stream: true });
    out += text;
    process.stdout.write(text);
  }
  const code = await proc.exited;
  clearTimeout(timer);
  return { out, code, seconds: (performance.now() - t0) / 1000 };
}

/** bench/dispatch.ts prints text only: its throughput and latency lines become rows. */
function dispatchRows(out: string): Row[] {
  const rows: Row[] = [];
  const tp = /total ([\d.]+ ms), (\d+) tasks\/s/.exec(out);
  const tasks = /throughput: ([\d,]+) tasks/.exec(out)?.[1] ?? "?";
  if (tp) rows.push({ bench: "dispatch", figure: `dispatch throughput (${tasks} queued tasks → delivered)`, median: `${tp[2]} tasks/s (${tp[1]} total)`, runs: 1 });
  for (const m of out.matchAll(/latency \((fresh file|file with an old mtime)[^)]*\), (\d+)\/(\d+) files\n\s+median ([\d.]+ ms), p95 ([\d.]+ ms)/g)) {
    rows.push({ bench: "dispatch", figure: `dispatch latency, inbox file → deliver (${m[1] === "fresh file" ? "fresh file, renamed in whole" : "old mtime"})`, median: m[4]!, p95: m[5]!, runs: `${m[2]}/${m[3]}` });
  }
  return rows;
}

function sh(argv: string[]): string {
  const r = Bun.spawnSync(argv, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : "?";
}

const cell = (text: string | number | undefined) => String(text ?? "").replaceAll("|", "\\|");
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

const only = process.argv.slice(2);
const unknown = only.filter((name) => !BENCHES.includes(name));
if (unknown.length) {
  process.stderr.write(`Cannot run bench ${unknown.join(", ")}: unknown (known: ${BENCHES.join(", ")})\n`);
  process.exit(2);
}
const names = only.length ? BENCHES.filter((name) => only.includes(name)) : BENCHES;
const started = new Date();
const loadStart = load();
const binary = names.some((name) => NEED_BINARY.has(name)) ? await ensureBinary() : null;
if (binary) process.stdout.write(`binary: ${binary.path} (${sizeMb(binary.path).toFixed(1)} MB) — ${binary.note}\n`);
const scratch = mkdtempSync(join(tmpdir(), "cf-bench-run-"));
const rows: Row[] = [];
const runs: string[] = [];
const t0 = performance.now();
for (const name of names) {
  const file = join(scratch, `${name}.jsonl`);
  writeFileSync(file, "");
  const before = load();
  process.stdout.write(`\n=== ${name} (load average ${before}) ===\n`);
  const r = await runBench(name, { ...process.env, BENCH_SUMMARY: file, BENCH_BINARY: binary?.path, BENCH_BINARY_NOTE: binary?.note });
  const got = name === "dispatch" ? dispatchRows(r.out) : readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Row);
  if (r.code !== 0) got.push({ bench: name, figure: `${name} FAILED (exit ${r.code}), figures above may be partial`, median: "–", runs: "–", met: false });
  rows.push(...got);
  runs.push(`${name} ${r.seconds.toFixed(0)} s (load ${before.split(" ")[0]} → ${load().split(" ")[0]})`);
}
rmSync(scratch, { recursive: true, force: true });
const totalMin = (performance.now() - t0) / 60_000;

const TABLE_HEAD = ["| bench | figure | median | p95 | runs | target | met |", "|---|---|---|---|---|---|---|"];
const line = (r: Row) => `| ${cell(r.bench)} | ${cell(r.figure)} | ${cell(r.median)} | ${cell(r.p95 ?? "–")} | ${cell(r.runs)} | ${cell(r.target ?? "–")} | ${r.met === true ? "yes" : r.met === false ? "**NO**" : "–"} |`;
const commit = sh(["git", "rev-parse", "--short", "HEAD"]);
const dirty = sh(["git", "status", "--porcelain"]) ? " + uncommitted changes" : "";
const resultsPath = join(import.meta.dir, "RESULTS.md");
const previous = existsSync(resultsPath) ? readFileSync(resultsPath, "utf8").split("\n") : [];
const isBenchRow = (l: string) => BENCHES.some((name) => l.startsWith(`| ${name} |`));
/**
 * The written sections after the table (`## …`: the real-CLI runs, which no bench here writes), kept by every run.
 * A bench row found among them (a partial run used to append its rows after them) goes back into the table.
 */
const sectionsAt = previous.findIndex((l) => l.startsWith("## "));
const sections = sectionsAt === -1 ? [] : previous.slice(sectionsAt).filter((l) => !isBenchRow(l));
while (sections.at(-1) === "") sections.pop();
const tail = sections.length ? ["", ...sections, ""] : [""];
let doc: string;
if (only.length) {
  // A partial run: replace the rows of the benches that ran, keep the others, note the run above the table.
  const ranRow = (l: string) => names.some((name) => l.startsWith(`| ${name} |`));
  const before = sectionsAt === -1 ? previous : previous.slice(0, sectionsAt);
  const headAt = before.indexOf(TABLE_HEAD[0]!);
  const head = headAt === -1 ? before.filter((l) => !isBenchRow(l)) : before.slice(0, headAt);
  while (head.at(-1) === "") head.pop();
  const keptRows = previous.filter((l) => isBenchRow(l) && !ranRow(l));
  const note = `- Partial run (${names.join(", ")}): ${started.toISOString()}, commit ${commit}${dirty}; load average (1/5/15 min) at start ${loadStart}, at end ${load()}; ${runs.join("; ")}`;
  doc = [...head, note, "", ...TABLE_HEAD, ...keptRows, ...rows.map(line), ...tail].join("\n");
} else {
  const header = [
    "# Benchmark results",
    "",
    "Written by `bun run bench` (bench/run.ts); each figure is explained in the `@module` comment of its bench file.",
    "",
    `- Date: ${started.toISOString()}`,
    `- Machine: ${sh(["nproc"])} CPUs (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, Linux ${release()}`,
    `- Bun ${Bun.version}, ${sh(["tmux", "-V"])}`,
    `- Tree: commit ${commit}${dirty}; binary ${binary?.note ?? "not needed"}${binary ? `, ${sizeMb(binary.path).toFixed(1)} MB` : ""}`,
    `- Load average (1/5/15 min) at start ${loadStart}, at end ${load()}; total ${totalMin.toFixed(1)} min`,
    `- Wall time per bench: ${runs.join("; ")}`,
    "",
  ].join("\n");
  doc = `${header}\n${[...TABLE_HEAD, ...rows.map(line), ...tail].join("\n")}`;
}
writeFileSync(resultsPath, doc);
process.stdout.write(`\n${doc}\nwritten to bench/RESULTS.md\n`);
process.exit(rows.some((r) => /FAILED/.test(r.figure)) ? 1 : 0);
