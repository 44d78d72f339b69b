/**
 * @module bench/core
 * 1,000 tasks through the exactly-once core (issue 10), printed (not a test): `bun bench/core.ts`.
 * The real modules — task queue, dispatcher (ingest, claim), delivery (the intent written before typing, then the
 * paste), session tracker, task follower (watcher/tasks.ts over watcher/follow.ts) and the file-backed store — with
 * an in-memory tmux (test/support/fake-tmux.ts) whose panes append Claude Code's ledger records: a `user` record with
 * its `promptId` on Enter, a reply and a `turn_duration` when the bench ends the turn. So it measures the daemon, not
 * tmux. 20 sessions; each round: dispatch (claim + intent + paste + Enter), capture, follow (confirm from the
 * transcript), end every turn, capture, follow (done from `turn_duration`, result to done/). Real clock; the paste's
 * settle pause is 0 here (it is 150 ms in the daemon, spent waiting, not working). Reports tasks/s overall and the
 * time spent in each phase, and checks every prompt is in the transcripts exactly once.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../internal/clock.ts";
import { createLog } from "../internal/log.ts";
import { openStore } from "../internal/state/state.ts";
import { createTaskQueue } from "../internal/dispatcher/queue.ts";
import { createDispatcher } from "../internal/dispatcher/dispatcher.ts";
import { createDelivery } from "../internal/dispatcher/delivery.ts";
import { createLifecycle } from "../internal/lifecycle/lifecycle.ts";
import { createSessionTracker } from "../internal/watcher/sessions.ts";
import { ownedNames } from "../internal/lifecycle/names.ts";
import { createTaskWork } from "../internal/watcher/tasks.ts";
import { createTmux } from "../internal/tmux/tmux.ts";
import { createFakeTmux } from "../test/support/fake-tmux.ts";
import { main, ms, say, summary, tempDir } from "./support.ts";

const TASKS = 1_000;
const SESSIONS = 20;
const quiet = createLog({ level: "error", write: (line) => process.stderr.write(`  [core] ${line}\n`) });

async function run() {
  const dir = tempDir("core");
  const work = join(dir, "work");
  const account = { name: "a", home: join(dir, "homes", "a") };
  for (const path of [work, account.home]) mkdirSync(path, { recursive: true });
  const clock = systemClock;
  const fake = createFakeTmux();
  const tmux = createTmux(fake.run, { socket: "fake" });
  const store = openStore(join(dir, "state", "state.db"));
  store.syncAccounts([{ ...account, priority: 1 }], clock.now());
  const queue = createTaskQueue({ queueDir: join(dir, "queue"), maxTaskBytes: 256 * 1024, settleMs: 0, log: quiet, clock });
  const pool = { prefix: "pool-", startIndex: 1, min: SESSIONS, max: SESSIONS, workdir: work };
  const sessions = createSessionTracker({ store, names: ownedNames(pool, []) });
  const lifecycle = createLifecycle({ tmux, store, clock, log: quiet, sessions }, {
    pool, dedicated: [],
    claude: { command: "claude", args: [] }, stripEnv: [], hooksDir: join(dir, "hooks"),
    hook: { self: ["/bin/false"], url: "http://127.0.0.1:1", spoolDir: join(dir, "spool"), tokenFile: join(dir, "hook-token") },
  });
  const delivery = createDelivery({
    store, tmux, lifecycle, clock, log: quiet, activeAccount: () => account, homeOf: () => account.home, sessions,
  }, { continuePrompt: "continue", pasteSettleMs: 0 });
  const dispatcher = createDispatcher({
    store, queue, clock, log: quiet, gate: () => ({ open: true }), notify: () => {},
    freeSessions: () => sessions.freeSessions(), deliver: (task) => delivery.deliver(task),
  }, { defaultWorkdir: work, projects: { bench: { workdir: work } }, idleAlertAfterMs: 3_600_000, rescanIntervalMs: 3_600_000 });
  const follower = createTaskWork({
    store, tmux, lifecycle, dispatcher, delivery, sessions, clock, log: quiet, taskTimeoutMs: 3_600_000,
    swapRunning: () => false, gateOpen: () => true, activeAccount: () => account, limitRecorded: () => undefined,
  });
  await lifecycle.reconcile(account);
  const names = lifecycle.ownedNames();
  // What the poll does when it first sees a launched session's idle prompt.
  for (const name of names) store.upsertSession(name, "pool", { state: "idle" }, clock.now());
  const look = async () => {
    const screens = await tmux.capture(names);
    for (const name of names) sessions.sighted(name, true, screens.get(name) ?? null, clock.now());
  };
  await look();

  queue.ensureProject("bench");
  const inbox = join(dir, "queue", "bench", "inbox");
  for (let i = 0; i < TASKS; i++) writeFileSync(join(inbox, `task-${i}.md`), `---\npriority: ${i % 3}\n---\nCore task number ${i}\n`);

  const phase = { ingest: 0, dispatch: 0, confirm: 0, finish: 0 };
  const timed = async <T>(key: keyof typeof phase, fn: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const value = await fn();
    phase[key] += performance.now() - t;
    return value;
  };
  const t0 = performance.now();
  const queued = await timed("ingest", () => dispatcher.ingest());
  let rounds = 0;
  let typed = 0;
  while (store.taskCounts().queued > 0 || store.tasks(["running"]).length > 0) {
    if (++rounds > TASKS) throw new Error(`no progress after ${rounds} rounds: ${JSON.stringify(store.taskCounts())}`);
    const sent = await timed("dispatch", () => dispatcher.dispatch());
    if (sent === 0 && store.tasks(["running"]).length === 0) throw new Error("dispatch stalled: no task was typed");
    typed += sent;
    await timed("confirm", async () => {
      await look();
      await follower.follow();
    });
    for (const name of names) fake.endTurn(name, `Done with the task in ${name}.`);
    await timed("finish", async () => {
      await look();
      await follower.follow();
    });
  }
  const totalMs = performance.now() - t0;
  const counts = store.taskCounts();
  const prompts = fake.promptCounts();
  const doubles = [...prompts.values()].filter((n) => n > 1).length;
  const results = readdirSync(join(dir, "queue", "bench", "done")).filter((f) => f.endsWith(".result.md")).length;
  store.close();
  return { queued, rounds, typed, totalMs, phase, counts, prompts: prompts.size, doubles, results };
}

await main(async () => {
  const r = await run();
  say(`core: ${TASKS} tasks, ${SESSIONS} sessions, ${r.rounds} rounds, file-backed store, in-memory tmux writing the ledger`);
  say(`  ingest ${ms(r.phase.ingest)} (${r.queued} queued), dispatch (claim + intent + type) ${ms(r.phase.dispatch)}, confirm ${ms(r.phase.confirm)}, finish ${ms(r.phase.finish)}`);
  say(`  total ${ms(r.totalMs)}, ${Math.round(TASKS / (r.totalMs / 1000))} tasks/s; done ${r.counts.done}, failed ${r.counts.failed}, results in done/ ${r.results}`);
  say(`  prompts in the transcripts: ${r.prompts} distinct, ${r.doubles} typed more than once`);
  const ok = r.counts.done === TASKS && r.results === TASKS && r.prompts === TASKS && r.doubles === 0;
  summary("core", [
    { figure: `${TASKS} tasks through the core (ingest → claim → intent → typed → confirmed from the transcript → done from turn_duration), 20 sessions`, median: `${Math.round(TASKS / (r.totalMs / 1000))} tasks/s (${ms(r.totalMs)} total)`, runs: 1 },
    { figure: "  time per phase: ingest · dispatch (claim+intent+type) · confirm · finish", median: `${ms(r.phase.ingest)} · ${ms(r.phase.dispatch)} · ${ms(r.phase.confirm)} · ${ms(r.phase.finish)}`, runs: 1 },
    { figure: "  every task done, typed exactly once (user records per prompt, all transcripts)", median: `${r.counts.done} done, ${r.counts.failed} failed, ${r.doubles} doubles`, runs: 1, target: `${TASKS} done, 0 doubles`, met: ok },
  ]);
  if (!ok) throw new Error(`core bench: not every task done exactly once (${JSON.stringify(r.counts)}, ${r.doubles} doubles)`);
});
