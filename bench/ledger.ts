/**
 * @module bench/ledger
 * The whole daemon (`wire()`, real clock, real HTTP, real inbox watch, file-backed store) on an in-memory tmux
 * (test/support/fake-tmux.ts) whose panes write Claude Code's ledger records, so the figures are the daemon's own
 * time, not tmux's or an agent's. Printed (not a test): `bun bench/ledger.ts`.
 * 1. Inbox file → prompt typed: a task file renamed into the inbox → its `user` record written by the pane (the
 *    moment Enter reached it), over 40 files, 5 pool sessions, a 5 s poll (so the inbox watch does the work). Includes
 *    the delivery's 150 ms pause between the paste and Enter. Goal: p95 under 300 ms.
 * 2. Stop hook → task done: the reply record is written, the `Stop` hook is POSTed with the turn's `prompt_id`, and
 *    the time runs until `done/<task>.result.md` exists (`turn_duration` is written after the hook returned, as Claude
 *    Code does), same 40 tasks.
 * 3. Restart with 20 tasks in flight: 20 sessions, 20 tasks; 6 pastes are lost (the daemon "died" before the keys
 *    arrived), 14 prompts reach their conversations; the daemon stops; 7 of those turns end while it is down; a new
 *    daemon starts. Time from start() until every task is accounted for: done, failed, or running with its prompt
 *    confirmed in the transcript (the 6 never delivered are requeued once their confirm window (10 s after typing) has
 *    passed, and typed again). Then every turn ends and each prompt's `user` records are counted over all transcripts:
 *    zero doubles is the target.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parseConfig, type Config } from "../internal/config/config.ts";
import { createLog } from "../internal/log.ts";
import { systemClock } from "../internal/clock.ts";
import { HOOK_TOKEN_FILE } from "../internal/hook/hook.ts";
import { HOOK_HEADER } from "../internal/server/server.ts";
import { wire, type Daemon } from "../cmd/claude-failover.ts";
import { createFakeTmux, type FakeTmux } from "../test/support/fake-tmux.ts";
import { TOKEN, TOKEN_ENV, defer, freePort, main, ms, say, stats, summary, tempDir, until } from "./support.ts";

const PROBES = 40;
const IN_FLIGHT = 20;
const LOST = 6;
const ENDED_WHILE_DOWN = 7;

/** A config for a daemon in `dir` with one account and `pool` sessions `ccl-auto-11…`. */
async function config(dir: string, pool: number, poll: string): Promise<Readonly<Config>> {
  const work = join(dir, "work");
  for (const path of [work, join(dir, "homes", "a")]) mkdirSync(path, { recursive: true });
  const text = `state_dir: ${dir}/state
log_level: error
http: { listen: "127.0.0.1:${await freePort()}", token_env: ${TOKEN_ENV} }
tmux: { socket: cf-bench-fake }
claude: { command: claude, args: [], link: ${dir}/claude-link }
accounts:
  - { name: a, home: ${dir}/homes/a }
autonomous: { prefix: ccl-auto-, start_index: 11, min: ${pool}, max: ${pool}, workdir: ${work} }
dedicated: []
lifecycle: { login_spacing: 0 }
quota: { poll_interval: ${poll} }
watcher: { poll_interval: ${poll}, task_timeout: 1h }
dispatcher: { projects: { bench: { workdir: ${work} } } }
`;
  return parseConfig(text, join(dir, "config.yaml"), { env: { [TOKEN_ENV]: TOKEN }, home: dir });
}

/** Starts a daemon for `cfg` on the fake tmux; stopped at cleanup (a no-op when stopped before). */
async function boot(cfg: Readonly<Config>, fake: FakeTmux): Promise<Daemon> {
  const log = createLog({ level: "error", write: (line) => process.stderr.write(`  [daemon] ${line}\n`) });
  const daemon = wire(cfg, { run: fake.run, clock: systemClock, fetch, log, self: ["/bin/false"] });
  defer(() => daemon.stop("bench done"));
  await daemon.start();
  return daemon;
}

/** Drops a task file into the inbox whole (written aside, then renamed). */
function drop(cfg: Readonly<Config>, name: string, prompt: string): void {
  const inbox = join(cfg.dispatcher.queue_dir, "bench", "inbox");
  writeFileSync(join(inbox, `.${name}.tmp`), `${prompt}\n`);
  renameSync(join(inbox, `.${name}.tmp`), join(inbox, name));
}

const doneFile = (cfg: Readonly<Config>, name: string) => join(cfg.dispatcher.queue_dir, "bench", "done", name.replace(/\.md$/, ".result.md"));

async function typedAndDone() {
  const dir = tempDir("ledger");
  const cfg = await config(dir, 5, "5s");
  const submitted = new Map<string, { at: number; session: string; promptId: string }>();
  const fake = createFakeTmux({ onSubmit: (pane, text, promptId) => submitted.set(text, { at: performance.now(), session: pane.session, promptId }) });
  const daemon = await boot(cfg, fake);
  const hookToken = readFileSync(join(cfg.state_dir, HOOK_TOKEN_FILE), "utf8").trim();
  const typed: number[] = [];
  const done: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const prompt = `Ledger probe ${i}`;
    const name = `probe-${i}.md`;
    const t0 = performance.now();
    drop(cfg, name, prompt);
    const seen = await until(`probe ${i} typed`, () => submitted.get(prompt), 10_000, 1);
    typed.push(seen.at - t0);
    // Claude Code's order at the end of a turn: the reply record, the Stop hooks, then turn_duration.
    fake.reply(seen.session, `Answer to probe ${i}`);
    const pane = fake.panes.get(seen.session)!;
    const t1 = performance.now();
    const res = await fetch(new URL(`/hooks/Stop?session=${seen.session}`, daemon.url()), {
      method: "POST", headers: { [HOOK_HEADER]: hookToken, "Content-Type": "application/json" },
      body: JSON.stringify({ hook_event_name: "Stop", session_id: pane.conversation, transcript_path: pane.transcript, prompt_id: seen.promptId, last_assistant_message: `Answer to probe ${i}` }),
    });
    if (res.status !== 202) throw new Error(`Stop hook refused: ${res.status} ${await res.text()}`);
    fake.endTurn(seen.session, null);
    await until(`probe ${i} done`, () => existsSync(doneFile(cfg, name)), 10_000, 1);
    done.push(performance.now() - t1);
  }
  await daemon.stop("bench done");
  return { typed: stats(typed), done: stats(done) };
}

async function restart() {
  const dir = tempDir("ledger-restart");
  const cfg = await config(dir, IN_FLIGHT, "1s");
  const lost = new Set<string>();
  const fake = createFakeTmux({
    dropPaste: (pane) => {
      if (lost.size >= LOST || lost.has(pane.session) || Number(pane.session.slice(-2)) % 3 !== 0) return false;
      lost.add(pane.session);
      return true;
    },
  });
  const first = await boot(cfg, fake);
  const prompts = Array.from({ length: IN_FLIGHT }, (_, i) => `In flight ${i}`);
  prompts.forEach((prompt, i) => drop(cfg, `flight-${i}.md`, prompt));
  await until("every task claimed and typed", () => first.control.tasks().filter((t) => t.delivery === "typed" || t.delivery === "confirmed").length === IN_FLIGHT, 30_000);
  if (lost.size !== LOST) throw new Error(`expected ${LOST} lost pastes, got ${lost.size}`);
  await first.stop("restart");

  const busy = [...fake.panes.values()].filter((p) => p.busy);
  for (const pane of busy.slice(0, ENDED_WHILE_DOWN)) fake.endTurn(pane.session, `Finished while the daemon was down (${pane.session}).`);
  const t0 = performance.now();
  const second = await boot(cfg, fake);
  const accounted = () => {
    const tasks = second.control.tasks();
    const running = tasks.filter((t) => t.state === "running" && t.delivery === "confirmed").length;
    const done = tasks.filter((t) => t.state === "done").length;
    const failed = tasks.filter((t) => t.state === "failed").length;
    return { running, done, failed, all: running + done + failed === IN_FLIGHT };
  };
  const known = await until("the ended and running tasks accounted for", () => {
    const a = accounted();
    return a.done >= ENDED_WHILE_DOWN && a.running >= busy.length - ENDED_WHILE_DOWN ? a : null;
  }, 60_000, 5);
  const knownMs = performance.now() - t0;
  const all = await until("every task accounted for", () => (accounted().all ? accounted() : null), 60_000, 5);
  const allMs = performance.now() - t0;
  const requeued = second.control.tasks().filter((t) => t.attempts > 1).length;

  // Finish every turn and check no prompt was typed twice.
  const finishing = setInterval(() => { for (const pane of fake.panes.values()) fake.endTurn(pane.session, "Finished."); }, 100);
  defer(() => clearInterval(finishing));
  await until("every task done", () => second.control.tasks().filter((t) => t.state === "done" || t.state === "failed").length === IN_FLIGHT, 60_000);
  clearInterval(finishing);
  const counts = fake.promptCounts();
  const doubles = prompts.filter((p) => (counts.get(p) ?? 0) > 1).length;
  const missing = prompts.filter((p) => !counts.has(p)).length;
  const final = accounted();
  await second.stop("bench done");
  return { known, knownMs, all, allMs, requeued, doubles, missing, final };
}

await main(async () => {
  const a = await typedAndDone();
  say(`inbox file → prompt typed, ${a.typed.n} files: median ${ms(a.typed.median)}, p95 ${ms(a.typed.p95)}, max ${ms(a.typed.max)}`);
  say(`Stop hook → task done (result in done/), ${a.done.n} tasks: median ${ms(a.done.median)}, p95 ${ms(a.done.p95)}, max ${ms(a.done.max)}`);
  const r = await restart();
  say(`restart with ${IN_FLIGHT} in flight (${LOST} pastes lost, ${ENDED_WHILE_DOWN} turns ended while down):`);
  say(`  ledger-known tasks accounted for after ${ms(r.knownMs)}: ${r.known.done} done, ${r.known.running} running (confirmed), ${r.known.failed} failed`);
  say(`  all accounted for after ${ms(r.allMs)}: ${r.all.done} done, ${r.all.running} running, ${r.all.failed} failed; ${r.requeued} typed again after being requeued`);
  say(`  after every turn ended: ${r.final.done} done, ${r.final.failed} failed; prompts typed twice ${r.doubles}, never typed ${r.missing}`);
  const exact = r.doubles === 0 && r.missing === 0 && r.final.done === IN_FLIGHT;
  summary("ledger", [
    { figure: "inbox file → prompt typed (whole daemon, in-memory tmux; incl. the 150 ms paste pause)", median: ms(a.typed.median), p95: ms(a.typed.p95), runs: a.typed.n, target: "p95 < 300 ms", met: a.typed.p95 < 300 },
    { figure: "Stop hook → task done (result in done/)", median: ms(a.done.median), p95: ms(a.done.p95), runs: a.done.n },
    { figure: `restart, ${IN_FLIGHT} in flight: ${ENDED_WHILE_DOWN} ended while down + ${IN_FLIGHT - LOST - ENDED_WHILE_DOWN} still running → done/running`, median: `${ms(r.knownMs)} (${r.known.done} done, ${r.known.running} running)`, runs: 1 },
    { figure: `restart, ${IN_FLIGHT} in flight: all accounted for (${LOST} never delivered: requeued after the 10 s confirm window, typed again)`, median: `${ms(r.allMs)} (${r.all.done} done, ${r.all.running} running, ${r.all.failed} failed)`, runs: 1 },
    { figure: "restart: prompts typed twice / never typed (user records over all transcripts)", median: `${r.doubles} / ${r.missing}`, runs: 1, target: "0 / 0", met: exact },
  ]);
  if (!exact) throw new Error("restart bench: a prompt was typed twice or never");
});
