// The whole daemon as wire() builds it, with an in-memory tmux (test/support/fake-tmux.ts) whose panes write Claude
// Code's ledger records, a fake clock and a fetch that refuses every call: a task file goes in, is typed once, and
// lands in done/ with the turn's result; a daemon stopped right after typing and started again does not type it twice.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { parseConfig, type Config } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { freePort } from "../../internal/demo/demo.ts";
import { wire, type Daemon } from "../../cmd/claude-failover.ts";
import { createFakeTmux, type FakeTmux } from "../support/fake-tmux.ts";
import { tempDir } from "../support/tmux.ts";
import { pollCount, seedAccountHomes } from "../support/daemon.ts";
import { HOOK_TOKEN_FILE } from "../../internal/hook/hook.ts";
import { openStore } from "../../internal/state/state.ts";
import { HOOK_HEADER } from "../../internal/server/server.ts";
import { classifyErrorText } from "../../internal/demo/sim-screen.ts";

const SESSION = "ccl-auto-11";
const fetchRefused = (async () => {
  throw new Error("fetch is not allowed in this test");
}) as unknown as typeof fetch;

interface World {
  dir: string;
  clock: FakeClock;
  fake: FakeTmux;
  config: Readonly<Config>;
  log: ReturnType<typeof memoryLog>;
  daemon: Daemon;
  boot(): Promise<Daemon>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function world(quota = "{ poll_interval: 1s }"): Promise<World> {
  const temp = tempDir("cf-wire-");
  cleanups.push(() => temp.cleanup());
  const dir = temp.path;
  mkdirSync(join(dir, "work"), { recursive: true });
  const text = `state_dir: ${dir}/state
log_level: debug
http: { listen: "127.0.0.1:${await freePort()}", token_env: CF_WIRE_TOKEN }
tmux: { socket: cf-wire-fake }
claude: { command: claude, args: [], link: ${dir}/claude-link }
accounts:
  - { name: a, home: ${dir}/homes/a }
autonomous: { prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: ${dir}/work }
dedicated: []
watcher: { poll_interval: 1s, task_timeout: 10m }
quota: ${quota}
dispatcher: { rescan_interval: 1s, settle: 500ms, projects: { demo: { workdir: ${dir}/work } } }
`;
  seedAccountHomes(dir, ["a"]);
  const config = parseConfig(text, join(dir, "config.yaml"), { env: { CF_WIRE_TOKEN: "wire-token-0123456789" }, home: dir });
  const clock = createFakeClock();
  const fake = createFakeTmux({ now: () => clock.now() });
  const log = memoryLog();
  const w: World = {
    dir, clock, fake, config, log, daemon: null as unknown as Daemon,
    async boot() {
      const daemon = wire(config, { run: fake.run, clock, fetch: fetchRefused, log, self: ["/bin/false"] });
      cleanups.push(() => daemon.stop("test done"));
      await daemon.start();
      w.daemon = daemon;
      return daemon;
    },
  };
  return w;
}

/** Advances the fake clock in 250 ms steps until `done()` holds; fails after `maxSteps` steps of fake time. */
async function driveUntil(w: World, what: string, done: () => boolean | Promise<boolean>, maxSteps = 400): Promise<void> {
  for (let step = 0; step < maxSteps; step++) {
    if (await done()) return;
    await w.clock.advance(250);
    // Let the work the clock woke (a poll pass, a delivery's store writes) run to its next sleep.
    await Bun.sleep(1);
  }
  if (!(await done())) throw new Error(`still waiting for ${what} after ${maxSteps * 250} ms of fake time`);
}

const queueDir = (w: World, folder: string) => join(w.config.dispatcher.queue_dir, "demo", folder);
/** Posts a hook as Claude Code's hook command does, with the daemon's hook token. */
async function postHook(w: World, event: string, payload: Record<string, unknown>): Promise<number> {
  const token = readFileSync(join(w.config.state_dir, HOOK_TOKEN_FILE), "utf8").trim();
  const res = await fetch(new URL(`/hooks/${event}?session=${SESSION}`, w.daemon.url()), {
    method: "POST", headers: { [HOOK_HEADER]: token, "Content-Type": "application/json" }, body: JSON.stringify({ hook_event_name: event, ...payload }),
  });
  return res.status;
}

/** `user` prompt records per prompt text over every transcript the fake's panes wrote. */
const prompts = (w: World) => [...w.fake.promptCounts()];

describe("wire() with an in-memory tmux and a fake clock", () => {
  test("a task file is typed once into the pool session and its turn's reply lands in done/", async () => {
    const w = await world();
    await w.boot();
    expect(w.fake.panes.has(SESSION)).toBe(true);
    const added = await w.daemon.control.addTask({ project: "demo", name: "hello.md", prompt: "Say hello to the ledger" });
    expect(added).toMatchObject({ ok: true });

    await driveUntil(w, "the prompt's user record", () => prompts(w).length === 1);
    expect(prompts(w)).toEqual([["Say hello to the ledger", 1]]);
    await driveUntil(w, "the delivery to be confirmed", () => w.daemon.control.tasks()[0]?.delivery === "confirmed");

    w.fake.endTurn(SESSION, "Hello, ledger.");
    await driveUntil(w, "done/hello.result.md", () => existsSync(join(queueDir(w, "done"), "hello.result.md")));
    expect(readFileSync(join(queueDir(w, "done"), "hello.result.md"), "utf8")).toContain("Hello, ledger.");
    expect(w.daemon.control.tasks()[0]).toMatchObject({ state: "done", attempts: 1 });
    expect(prompts(w)).toEqual([["Say hello to the ledger", 1]]);
    expect(w.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("a daemon stopped right after typing keeps following the task after a restart and never types it again", async () => {
    const w = await world();
    await w.boot();
    writeFileSync(join(queueDir(w, "inbox"), "restart.md"), "Survive a restart\n");
    await driveUntil(w, "the prompt's user record", () => prompts(w).length === 1);
    await w.daemon.stop("restart");

    // The turn ends while no daemon runs; the next one reads it from the transcript.
    w.fake.endTurn(SESSION, "Survived.");
    await w.boot();
    await driveUntil(w, "done/restart.result.md", () => existsSync(join(queueDir(w, "done"), "restart.result.md")));
    expect(readFileSync(join(queueDir(w, "done"), "restart.result.md"), "utf8")).toContain("Survived.");
    expect(prompts(w)).toEqual([["Survive a restart", 1]]);
    expect(w.daemon.control.tasks().find((t) => t.file === "restart.md")).toMatchObject({ state: "done", attempts: 1 });
    expect(w.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("a daemon killed between a task's end and its session's release: after the restart the next task is typed into that session", async () => {
    const w = await world();
    await w.boot();
    await w.daemon.control.addTask({ project: "demo", name: "first.md", prompt: "First task" });
    await driveUntil(w, "the first delivery to be confirmed", () => w.daemon.control.tasks()[0]?.delivery === "confirmed");
    await w.daemon.stop("kill -9");
    w.fake.endTurn(SESSION, "First result");
    // What a kill -9 inside dispatcher.complete() leaves: the task done (its first write: a single host's task ends
    // through the fleet bridge on state.db, the local row finishing and the shared row's finish in the outbox), its
    // session not released (still naming the task). The bridge sends the finish and moves the file; the row's stale
    // task id must not keep the session from tasks.
    const store = openStore(join(w.config.state_dir, "state.db"));
    const first = store.tasks(["running"])[0]!;
    const at = w.clock.now();
    store.updateTask(first.id, { state: "done", finishedAt: at, error: null, fleetState: "finishing" });
    store.bridge.push("finish", { kind: "finish", taskId: first.id, fleetId: first.fleetId, claim: first.fleetClaim, outcome: { state: "done", at, result: "First result" } }, at);
    expect(store.session(SESSION)).toMatchObject({ taskId: first.id, state: "working" });
    store.close();

    await w.boot();
    await w.daemon.control.addTask({ project: "demo", name: "second.md", prompt: "Second task" });
    await driveUntil(w, "the second prompt", () => w.fake.panes.get(SESSION)!.busy);
    w.fake.endTurn(SESSION, "Second result");
    await driveUntil(w, "done/second.result.md", () => existsSync(join(queueDir(w, "done"), "second.result.md")));
    expect(readFileSync(join(queueDir(w, "done"), "second.result.md"), "utf8")).toContain("Second result");
    expect(existsSync(join(queueDir(w, "done"), "first.md"))).toBe(true);
    expect(prompts(w)).toEqual([["First task", 1], ["Second task", 1]]);
    expect(w.daemon.control.status().sessions.find((s) => s.name === SESSION)).toMatchObject({ state: "idle", task: null });
  });

  test("a late copy of one task's Stop hook does not finish the next task typed into the same session", async () => {
    const w = await world();
    await w.boot();
    const pane = () => w.fake.panes.get(SESSION)!;
    await w.daemon.control.addTask({ project: "demo", name: "first.md", prompt: "First task" });
    await driveUntil(w, "the first prompt", () => pane().busy);
    const first = { session_id: pane().conversation, transcript_path: pane().transcript, prompt_id: pane().promptId, last_assistant_message: "First result" };
    w.fake.reply(SESSION, "First result");
    expect(await postHook(w, "Stop", first)).toBe(202);
    w.fake.endTurn(SESSION, null);
    await driveUntil(w, "done/first.result.md", () => existsSync(join(queueDir(w, "done"), "first.result.md")));

    await w.daemon.control.addTask({ project: "demo", name: "second.md", prompt: "Second task" });
    await driveUntil(w, "the second prompt", () => pane().busy);
    expect(await postHook(w, "Stop", first)).toBe(202);
    // The duplicate was queued before these polls ran: two whole polls later, the second task still runs.
    const polls = await pollCount(w.daemon.url());
    await driveUntil(w, "two more polls", async () => (await pollCount(w.daemon.url())) >= polls + 3);
    expect(w.daemon.control.tasks().find((t) => t.file === "second.md")).toMatchObject({ state: "running" });
    expect(existsSync(join(queueDir(w, "done"), "second.result.md"))).toBe(false);

    w.fake.endTurn(SESSION, "Second result");
    await driveUntil(w, "done/second.result.md", () => existsSync(join(queueDir(w, "done"), "second.result.md")));
    expect(readFileSync(join(queueDir(w, "done"), "second.result.md"), "utf8")).toContain("Second result");
    expect(prompts(w)).toEqual([["First task", 1], ["Second task", 1]]);
  });
  test("an Opus limit with on_model_limit fallback: the same account, --model sonnet with the conversation resumed, the cut task continued once, the default model back after the reset", async () => {
    const w = await world("{ poll_interval: 1s, on_model_limit: fallback, fallback_model: sonnet }");
    await w.boot();
    const pane = () => w.fake.panes.get(SESSION)!;
    const model = () => { const argv = pane().argv; return argv.includes("--model") ? argv[argv.indexOf("--model") + 1] : null; };
    await w.daemon.control.addTask({ project: "demo", name: "notes.md", prompt: "Write the release notes" });
    await driveUntil(w, "the delivery to be confirmed", () => w.daemon.control.tasks()[0]?.delivery === "confirmed");
    const conversation = pane().conversation;
    // The turn ends on the limit as 2.1.330 ends it: the API-error record, the turn's end, then StopFailure.
    const line = "You've hit your Opus limit · resets 3pm (UTC)";
    const promptId = pane().promptId;
    pane().ledger!.apiError(line, classifyErrorText(line), Date.UTC(2026, 10, 23, 15));
    pane().ledger!.turnEnded(1_000, []);
    Object.assign(pane(), { busy: false, promptId: null });
    await postHook(w, "StopFailure", { error: "rate_limit", last_assistant_message: line, prompt_id: promptId, session_id: conversation });
    await driveUntil(w, "the relaunch with --model sonnet", () => model() === "sonnet");
    expect(pane().argv.slice(pane().argv.indexOf("--model"), pane().argv.indexOf("--model") + 4)).toEqual(["--model", "sonnet", "--resume", conversation]);
    await driveUntil(w, "the continue prompt", () => pane().busy);
    w.fake.endTurn(SESSION, "Notes written.");
    await driveUntil(w, "the task done", () => w.daemon.control.tasks()[0]?.state === "done");
    expect(prompts(w)).toEqual([["Write the release notes", 1], ["Continue where you left off.", 1]]);
    const status = w.daemon.control.status();
    expect(status.accounts.map((a) => [a.name, a.state, a.models])).toEqual([["a", "available", [{ model: "opus", reset_at: "2026-11-23T15:00:00.000Z" }]]]);
    expect(status.swaps).toEqual([]);

    // A restarted daemon knows the session's model and the limit: nothing is relaunched until the reset.
    const pid = pane().pid;
    await w.daemon.stop("restart");
    await w.boot();
    // Until the reset the session stays on sonnet; at the reset it goes back to the default model, same conversation.
    await w.clock.set(Date.UTC(2026, 10, 23, 14, 59));
    const polls = await pollCount(w.daemon.url());
    await driveUntil(w, "two polls at 2:59pm", async () => (await pollCount(w.daemon.url())) >= polls + 2);
    expect({ model: model(), pid: pane().pid }).toEqual({ model: "sonnet", pid });
    await w.clock.set(Date.UTC(2026, 10, 23, 15));
    await driveUntil(w, "the default model back", () => model() === null);
    expect(pane().conversation).toBe(conversation);
    expect(w.daemon.control.status().accounts[0]!.models).toEqual([]);
    expect(prompts(w)).toEqual([["Write the release notes", 1], ["Continue where you left off.", 1]]);
  });
});
