/**
 * @module bench/dispatch
 * Figures for the task queue, printed (not a test): `bun bench/dispatch.ts`.
 * 1. Throughput: 1,000 task files already in an inbox → ingest → dispatch to a fake session layer (20 sessions that
 *    finish at once), with a file-backed store. Reports tasks/s and ms in total.
 * 2. Latency: inbox file appears (atomic rename) → deliver() called, through the real fs.watch, over 50 files 100 ms apart, for a
 *    freshly written file and for a file whose mtime is already old (both arrive whole: the inbox rule's rename path).
 */
import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, systemClock, type Clock } from "../internal/clock.ts";
import { createLog } from "../internal/log.ts";
import { openStore } from "../internal/state/state.ts";
import { createTaskQueue, DEFAULT_SETTLE_MS } from "../internal/dispatcher/queue.ts";
import { createDispatcher } from "../internal/dispatcher/dispatcher.ts";

const THROUGHPUT_TASKS = 1_000;
const THROUGHPUT_SESSIONS = 20;
const LATENCY_FILES = 50;
const LATENCY_TIMEOUT_MS = 5_000;
/** Gap between probes: more than the 50 ms watch coalescing window, so each file is measured on its own. */
const LATENCY_PACE_MS = 100;
const quiet = createLog({ level: "error", write: () => {} });

function setup(clock: Clock, sessions: string[], onDeliver: (prompt: string) => void) {
  const root = mkdtempSync(join(tmpdir(), "cf-bench-"));
  const store = openStore(join(root, "state.db"));
  const queue = createTaskQueue({ queueDir: join(root, "queue"), maxTaskBytes: 256 * 1024, log: quiet, clock });
  queue.ensureProject("bench");
  const dispatcher = createDispatcher({
    store, queue, clock, log: quiet,
    freeSessions: () => sessions.filter((s) => !store.tasks(["running"]).some((t) => t.session === s)),
    deliver: async (task) => { onDeliver(task.prompt); return { kind: "typed" as const }; },
    gate: () => ({ open: true }),
    notify: () => {},
  }, { defaultWorkdir: root, projects: { bench: { workdir: root } }, idleAlertAfterMs: 60_000, rescanIntervalMs: 30_000 });
  const inbox = join(root, "queue", "bench", "inbox");
  return { root, store, dispatcher, inbox, close: () => { store.close(); rmSync(root, { recursive: true, force: true }); } };
}

async function throughput() {
  // Files written in place: the first scan sees them, the one a settle time later reads them (both are timed).
  const sessions = Array.from({ length: THROUGHPUT_SESSIONS }, (_, i) => `pool-${i}`);
  let delivered = 0;
  const clock = createFakeClock(Date.now());
  const b = setup(clock, sessions, () => delivered++);
  for (let i = 0; i < THROUGHPUT_TASKS; i++) writeFileSync(join(b.inbox, `task-${i}.md`), `---\npriority: ${i % 3}\n---\nPrompt number ${i}\n`);
  const t0 = performance.now();
  await b.dispatcher.ingest();
  await clock.advance(DEFAULT_SETTLE_MS);
  const queued = await b.dispatcher.ingest();
  const t1 = performance.now();
  while (delivered < THROUGHPUT_TASKS) {
    if ((await b.dispatcher.dispatch()) === 0) throw new Error("dispatch stalled");
    for (const t of b.store.tasks(["running"])) b.dispatcher.complete(t.id, null);
  }
  const t2 = performance.now();
  b.close();
  return { queued, ingestMs: t1 - t0, dispatchMs: t2 - t1, totalMs: t2 - t0 };
}

async function latency(preAged: boolean) {
  const sessions = Array.from({ length: LATENCY_FILES + 1 }, (_, i) => `pool-${i}`);
  const seen = new Map<string, number>();
  const b = setup(systemClock, sessions, (prompt) => seen.set(prompt, performance.now()));
  const abort = new AbortController();
  b.dispatcher.start(abort.signal);
  await Bun.sleep(100);
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_FILES; i++) {
    const prompt = `Latency probe ${i}`;
    const tmp = join(b.inbox, `.probe-${i}.md.tmp`);
    writeFileSync(tmp, prompt);
    if (preAged) utimesSync(tmp, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const start = performance.now();
    renameSync(tmp, join(b.inbox, `probe-${i}.md`));
    while (!seen.has(prompt) && performance.now() - start < LATENCY_TIMEOUT_MS) await Bun.sleep(1);
    samples.push((seen.get(prompt) ?? Number.NaN) - start);
    await Bun.sleep(LATENCY_PACE_MS);
  }
  abort.abort();
  b.close();
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { n: sorted.length, missed: samples.length - sorted.length, median: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? Number.NaN };
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const tp = await throughput();
process.stdout.write(`throughput: ${THROUGHPUT_TASKS} tasks, ${THROUGHPUT_SESSIONS} sessions, file-backed store\n`);
process.stdout.write(`  ingest ${fmt(tp.ingestMs)} (${tp.queued} queued), dispatch+complete ${fmt(tp.dispatchMs)}, total ${fmt(tp.totalMs)}, ${Math.round(THROUGHPUT_TASKS / (tp.totalMs / 1000))} tasks/s\n`);
for (const preAged of [false, true]) {
  const l = await latency(preAged);
  process.stdout.write(`latency (${preAged ? "file with an old mtime: watch + ingest + dispatch only" : "fresh file: renamed in whole"}), ${l.n}/${LATENCY_FILES} files\n`);
  process.stdout.write(`  median ${fmt(l.median)}, p95 ${fmt(l.p95)}, max ${fmt(l.max)}${l.missed ? `, ${l.missed} MISSED` : ""}\n`);
}
