import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterPolls, listPanes, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually, tempDir } from "../support/tmux.ts";
import type { TaskRow } from "../../internal/state/state.ts";

// Real tmux (private socket), the simulated Claude Code and the whole daemon (wire()): task files dropped into
// `<queue_dir>/demo/inbox/` travel inbox → processing → done, typed into pool sessions only, each exactly once.

const PROJECT = "demo";
type Folder = "inbox" | "processing" | "done" | "failed";

const folder = (t: TestDaemon, f: Folder) => join(t.config.dispatcher.queue_dir, PROJECT, f);
const list = (t: TestDaemon, f: Folder) => {
  try {
    return readdirSync(folder(t, f)).filter((n) => !n.startsWith(".")).sort();
  } catch {
    return [];
  }
};

/**
 * Drops a task file the way a well-behaved producer does: write `.<name>.x.tmp` in the inbox, then rename.
 * `mtime` back-dates the file so the queue takes it as settled on first sight.
 */
function drop(t: TestDaemon, name: string, content: string, mtime?: Date): void {
  const inbox = folder(t, "inbox");
  mkdirSync(inbox, { recursive: true });
  const tmp = join(inbox, `.${name}.x.tmp`);
  writeFileSync(tmp, content);
  if (mtime) utimesSync(tmp, mtime, mtime);
  renameSync(tmp, join(inbox, name));
}

const tasks = (t: TestDaemon): TaskRow[] => t.daemon.control.tasks();
const taskByFile = (t: TestDaemon, file: string) => tasks(t).filter((row) => row.file === file);
const sessions = (t: TestDaemon) => t.daemon.control.status().sessions;
const sessionIdOf = (t: TestDaemon, name: string) => sessions(t).find((s) => s.name === name)?.session_id ?? null;

/** Every `*.jsonl` transcript under the session home and both account homes. */
function transcriptFiles(t: TestDaemon): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith(".jsonl")) out.push(join(dir, e.name));
    }
  };
  for (const home of [t.fleet, t.home("a"), t.home("b")]) walk(join(home, "projects"));
  return out;
}

/** The user records (typed prompts) of every transcript, with the pool/dedicated session they belong to. */
function userRecords(t: TestDaemon): Array<{ session: string | null; text: string }> {
  const byId = new Map(sessions(t).filter((s) => s.session_id).map((s) => [s.session_id!, s.name]));
  const out: Array<{ session: string | null; text: string }> = [];
  for (const file of transcriptFiles(t)) {
    const session = byId.get(basename(file, ".jsonl")) ?? null;
    // Complete lines only: a transcript may be appended to while it is read.
    for (const line of readFileSync(file, "utf8").split("\n").slice(0, -1)) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line) as { type?: string; message?: { content?: unknown } };
      if (rec.type === "user" && typeof rec.message?.content === "string") out.push({ session, text: rec.message.content });
    }
  }
  return out;
}

const recordsOf = (t: TestDaemon, text: string) => userRecords(t).filter((r) => r.text === text);

/** A mark in every transcript: {@link userRecordsSince} returns the user records written after it. */
function transcriptMark(t: TestDaemon): Map<string | null, number> {
  const mark = new Map<string | null, number>();
  for (const r of userRecords(t)) mark.set(r.session, (mark.get(r.session) ?? 0) + 1);
  return mark;
}
function userRecordsSince(t: TestDaemon, mark: Map<string | null, number>): Array<{ session: string | null; text: string }> {
  const seen = new Map<string | null, number>();
  return userRecords(t).filter((r) => {
    const n = (seen.get(r.session) ?? 0) + 1;
    seen.set(r.session, n);
    return n > (mark.get(r.session) ?? 0);
  });
}

/** The assistant replies of every transcript, with the time each was written. */
function assistantRecords(t: TestDaemon): Array<{ text: string; at: number }> {
  const out: Array<{ text: string; at: number }> = [];
  for (const file of transcriptFiles(t)) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(0, -1)) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line) as { type?: string; timestamp?: string; message?: { content?: Array<{ type?: string; text?: string }> } };
      const text = Array.isArray(rec.message?.content) ? rec.message.content.filter((c) => c.type === "text").map((c) => c.text).join("") : "";
      if (rec.type === "assistant" && text) out.push({ text, at: Date.parse(rec.timestamp ?? "") });
    }
  }
  return out;
}

async function screen(t: TestDaemon, session: string): Promise<string> {
  return ((await t.server.tmux.capture([session])).get(session) ?? []).join("\n");
}

/** The text in a session's prompt box (what would be glued onto the next prompt typed there). */
async function inputBox(t: TestDaemon, session: string): Promise<string> {
  const lines = (await screen(t, session)).split("\n");
  const at = lines.findLastIndex((l) => l.startsWith("❯"));
  const end = lines.findIndex((l, i) => i > at && l.startsWith("─"));
  return lines.slice(at, end < 0 ? undefined : end).join("\n").replace(/^❯/, "").trim();
}

/** Waits until the file is in done/ and its row says done; returns the row. */
async function waitDone(t: TestDaemon, file: string, timeoutMs = 15_000): Promise<TaskRow> {
  return eventually(() => {
    const row = taskByFile(t, file).find((r) => r.state === "done");
    return row && existsSync(join(folder(t, "done"), file)) ? row : null;
  }, timeoutMs, 50);
}

/** Waits until `count` owned sessions (pool + dedicated) are idle with no task in the store. */
async function allIdle(t: TestDaemon, count: number, timeoutMs = 20_000): Promise<void> {
  await eventually(() => sessions(t).filter((s) => s.state === "idle" && s.task === null).length === count, timeoutMs);
}

/** Asserts that `file` ended in done/ exactly once and nowhere else. */
function expectOnlyInDone(t: TestDaemon, file: string): void {
  const stem = file.slice(0, -3);
  expect(list(t, "done").filter((n) => n === file || (n.startsWith(`${stem}-`) && n.endsWith(".md") && !n.endsWith(".result.md")))).toEqual([file]);
  expect(list(t, "inbox")).not.toContain(file);
  expect(list(t, "processing")).not.toContain(file);
  expect(list(t, "failed").filter((n) => n.startsWith(stem))).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------------------
describe("a pool of 3 next to a foreign session and a dedicated one", () => {
  let t: TestDaemon;
  let foreignPid = 0;
  /** Every prompt handed to the daemon in this block: none may reach ccl-0 or ccl-1-ded. */
  const sent: string[] = [];

  beforeAll(async () => {
    t = await startTestDaemon({ foreign: ["ccl-0"], extra: { pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: 3, max: 3, workdir: ${dir}/work }` } });
    foreignPid = (await listPanes(t.server)).find((p) => p.name === "ccl-0")!.pid;
    await allIdle(t, 4);
  }, 30_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  test("a dropped task goes to the lowest free pool session, completes through the Stop hook and lands in done/ with its result", async () => {
    const prompt = "[sim:work=1s] Fix the typo in README.md";
    sent.push(prompt);
    drop(t, "fix-typo.md", `---\npriority: 2\ntimeout: 5m\n---\n\n${prompt}\n\n`);
    const row = await waitDone(t, "fix-typo.md");
    expect(row).toMatchObject({ project: PROJECT, state: "done", session: "ccl-auto-11", priority: 2, timeoutMs: 300_000, attempts: 1, prompt, error: null });
    expect(taskByFile(t, "fix-typo.md")).toHaveLength(1);
    expect(readFileSync(join(folder(t, "done"), "fix-typo.result.md"), "utf8")).toBe("Done: Fix the typo in README.md");
    expectOnlyInDone(t, "fix-typo.md");
    // What the session received is the body without front matter, trimmed: one user record, in ccl-auto-11.
    expect(recordsOf(t, prompt)).toEqual([{ session: "ccl-auto-11", text: prompt }]);
    expect(t.log.records.filter((r) => r.msg === "task delivered" && r.file === "fix-typo.md").map((r) => r.session)).toEqual(["ccl-auto-11"]);
    await allIdle(t, 4);
  }, 20_000);

  test("with ccl-auto-11 busy on a task, the next task goes to ccl-auto-12", async () => {
    const long = "[sim:work=2s] First of two";
    const short = "[sim:work=0.5s] Second of two";
    sent.push(long, short);
    drop(t, "first.md", `${long}\n`);
    await eventually(() => taskByFile(t, "first.md")[0]?.state === "running" && recordsOf(t, long).length === 1, 10_000, 50);
    drop(t, "second.md", `${short}\n`);
    const second = await waitDone(t, "second.md");
    expect(second.session).toBe("ccl-auto-12");
    const first = await waitDone(t, "first.md");
    expect(first.session).toBe("ccl-auto-11");
    expect(recordsOf(t, long)).toEqual([{ session: "ccl-auto-11", text: long }]);
    expect(recordsOf(t, short)).toEqual([{ session: "ccl-auto-12", text: short }]);
    await allIdle(t, 4);
  }, 20_000);

  test("tmux key names, escape-sequence text and shell syntax are delivered literally", async () => {
    const prompt = "C-c Enter Escape \\x1b[201~ $(rm -rf /) ; `id` && echo \"#{session_name}\" 'q' \\e[200~ ^C Enter";
    sent.push(prompt);
    drop(t, "hostile.md", `---\npriority: 1\n---\n\n  ${prompt}  \n\n`);
    const row = await waitDone(t, "hostile.md");
    expect(row.prompt).toBe(prompt);
    expectOnlyInDone(t, "hostile.md");
    // Exactly that text, once, as one prompt: no key name was pressed, no shell ran it, nothing was split off.
    expect(recordsOf(t, prompt)).toEqual([{ session: row.session, text: prompt }]);
    expect(userRecords(t).filter((r) => r.text.includes("rm -rf"))).toHaveLength(1);
    expect(readFileSync(join(folder(t, "done"), "hostile.result.md"), "utf8")).toBe(`Done: ${Array.from(prompt).slice(0, 60).join("")}`);
    await allIdle(t, 4);
  }, 20_000);

  test("while paused a dropped file stays queued; after resume it is delivered", async () => {
    expect(t.daemon.control.pause().ok).toBe(true);
    const prompt = "[sim:work=0.5s] Wait for resume";
    sent.push(prompt);
    drop(t, "paused.md", `${prompt}\n`);
    // Ingest still runs while paused: the row appears, queued and never started.
    await eventually(() => taskByFile(t, "paused.md")[0]?.state === "queued", 5_000, 50);
    // Three whole polls later it is still queued, still in inbox/, and no session saw it.
    await afterPolls(t.daemon.url(), 3);
    expect(taskByFile(t, "paused.md")[0]).toMatchObject({ state: "queued", startedAt: null, session: null, attempts: 0 });
    expect(list(t, "inbox")).toContain("paused.md");
    expect(recordsOf(t, prompt)).toEqual([]);
    expect(t.log.records.some((r) => r.msg === "dispatch paused" && r.reason === "paused by the operator")).toBe(true);
    expect(t.daemon.control.resume().ok).toBe(true);
    const row = await waitDone(t, "paused.md");
    expect(row.session).toBe("ccl-auto-11");
    expect(recordsOf(t, prompt)).toHaveLength(1);
    await allIdle(t, 4);
  }, 20_000);

  test("nothing is ever typed into the dedicated session or a foreign one, even with more tasks than pool sessions", async () => {
    const burst = Array.from({ length: 5 }, (_, i) => `[sim:work=1s] Burst task ${i + 1}`);
    sent.push(...burst);
    burst.forEach((prompt, i) => drop(t, `burst-${i + 1}.md`, `${prompt}\n`));
    for (let i = 1; i <= 5; i++) await waitDone(t, `burst-${i}.md`, 20_000);
    for (const prompt of burst) expect(recordsOf(t, prompt).map((r) => r.session)).toEqual([expect.stringMatching(/^ccl-auto-1[123]$/)]);
    expect(tasks(t).every((row) => row.session === null || /^ccl-auto-1[123]$/.test(row.session))).toBe(true);

    // The dedicated session: no user record in its transcript, none of the prompts on its screen.
    const dedId = sessionIdOf(t, "ccl-1-ded");
    expect(dedId).not.toBeNull();
    expect(userRecords(t).filter((r) => r.session === "ccl-1-ded")).toEqual([]);
    const dedScreen = await screen(t, "ccl-1-ded");
    // The foreign session: same pane and process, nothing echoed by its terminal.
    const foreign = (await listPanes(t.server)).find((p) => p.name === "ccl-0")!;
    expect(foreign).toMatchObject({ pid: foreignPid, dead: false });
    expect(foreign.command).toContain("sleep 3600");
    const foreignScreen = await screen(t, "ccl-0");
    expect(foreignScreen.trim()).toBe("");
    for (const prompt of sent) {
      const words = prompt.replace(/\[sim:[^\]]*\]/g, "").trim().slice(0, 12);
      expect(dedScreen).not.toContain(words);
      expect(foreignScreen).not.toContain(words);
    }
    expect(sessions(t).map((s) => s.name)).not.toContain("ccl-0");
  }, 40_000);

  // Last in this block on purpose: with the bug it leaves text in the prompt box of the session that got it.
  test("an escape sequence in a task file cannot end the bracketed paste and have the rest typed as keys", async () => {
    const mark = transcriptMark(t);
    const prompt = "Summarize the log \x1b[201~\r then, as keys: rm -rf / \x1b[200~ end of task";
    drop(t, "raw-escape.md", `${prompt}\n`);
    const row = await waitDone(t, "raw-escape.md");
    await allIdle(t, 4);
    const fresh = userRecordsSince(t, mark);
    // One task file is one prompt: submitted once and whole (its visible text in order, whatever becomes of the
    // control bytes), with nothing left in the prompt box to be glued onto the next task.
    expect({
      prompts: fresh.map((r) => r.session),
      whole: fresh.length === 1 && /^Summarize the log[^]*then, as keys: rm -rf \/[^]*end of task$/.test(fresh[0]!.text),
      leftInBox: await inputBox(t, row.session!),
      resultCoversWholePrompt: readFileSync(join(folder(t, "done"), "raw-escape.result.md"), "utf8").includes("as keys"),
    }).toEqual({ prompts: [row.session], whole: true, leftInBox: "", resultCoversWholePrompt: true });
  }, 20_000);
});

// ---------------------------------------------------------------------------------------------------------------
describe("ten tasks on five pool sessions", () => {
  let t: TestDaemon;

  beforeAll(async () => {
    t = await startTestDaemon({ extra: { pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: 5, max: 5, workdir: ${dir}/work }` } });
    await allIdle(t, 6);
  }, 30_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  test("all ten are done, each exactly once, none lost or duplicated, spread over the pool", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `job-${String(i + 1).padStart(2, "0")}.md`);
    const prompts = names.map((_, i) => `[sim:work=1s] Job number ${i + 1}`);
    names.forEach((name, i) => drop(t, name, `${prompts[i]}\n`));
    await eventually(() => names.every((n) => existsSync(join(folder(t, "done"), n))) && tasks(t).filter((r) => r.state === "done").length >= 10, 30_000, 100);
    await allIdle(t, 6);

    expect(list(t, "inbox")).toEqual([]);
    expect(list(t, "processing")).toEqual([]);
    expect(list(t, "failed")).toEqual([]);
    expect(list(t, "done")).toEqual(names.flatMap((n) => [n.replace(/\.md$/, ".result.md"), n]).sort());
    const rows = tasks(t);
    expect(rows).toHaveLength(10);
    const perSession = new Map<string, number>();
    names.forEach((name, i) => {
      const mine = rows.filter((r) => r.file === name);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ state: "done", attempts: 1, prompt: prompts[i] });
      expect(readFileSync(join(folder(t, "done"), name.replace(/\.md$/, ".result.md")), "utf8")).toBe(`Done: Job number ${i + 1}`);
      const seen = recordsOf(t, prompts[i]!);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.session).toBe(mine[0]!.session!);
      perSession.set(seen[0]!.session!, (perSession.get(seen[0]!.session!) ?? 0) + 1);
    });
    // Five sessions, ten tasks of equal length: every session worked, none got more than its share.
    expect([...perSession.keys()].sort()).toEqual(["ccl-auto-11", "ccl-auto-12", "ccl-auto-13", "ccl-auto-14", "ccl-auto-15"]);
    for (const count of perSession.values()) expect(count).toBeLessThanOrEqual(2);
    expect(t.log.records.filter((r) => r.msg === "task delivered")).toHaveLength(10);
    expect(userRecords(t).filter((r) => r.session === "ccl-1-ded")).toEqual([]);
  }, 45_000);
});

// ---------------------------------------------------------------------------------------------------------------
describe("daemon restart with tasks in processing/", () => {
  let t: TestDaemon;

  beforeAll(async () => {
    t = await startTestDaemon();
    await allIdle(t, 3);
  }, 30_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  test("a running task survives a restart: adopted, not re-delivered, done once", async () => {
    const prompt = "[sim:work=8s] A long refactoring";
    drop(t, "long.md", `${prompt}\n`);
    // Running: claimed, moved to processing/, typed, and the session row carries the task.
    const row = await eventually(() => {
      const r = taskByFile(t, "long.md")[0];
      return r?.state === "running" && sessions(t).find((s) => s.name === r.session)?.task === `${PROJECT}/long.md` ? r : null;
    }, 10_000, 50);
    expect(list(t, "processing")).toEqual(["long.md"]);
    await eventually(() => recordsOf(t, prompt).length === 1, 10_000, 50);
    const session = row.session!;
    const panesBefore = (await listPanes(t.server)).filter((p) => p.name.startsWith("ccl-")).map((p) => `${p.name}:${p.pid}`).sort();

    await t.daemon.stop("test: restart");
    // tmux outlives the daemon: the agent is still in its turn.
    expect((await listPanes(t.server)).filter((p) => p.name.startsWith("ccl-")).map((p) => `${p.name}:${p.pid}`).sort()).toEqual(panesBefore);
    await t.restart();
    expect(t.log.records.filter((r) => r.msg === "dispatcher recovered").at(-1)).toMatchObject({ adopted: 1, requeued: 0, strays: 0 });
    expect(taskByFile(t, "long.md")[0]).toMatchObject({ state: "running", session, attempts: 1 });

    const done = await waitDone(t, "long.md", 15_000);
    expect(done).toMatchObject({ session, attempts: 1 });
    expect(taskByFile(t, "long.md")).toHaveLength(1);
    expectOnlyInDone(t, "long.md");
    expect(readFileSync(join(folder(t, "done"), "long.result.md"), "utf8")).toBe("Done: A long refactoring");
    expect(recordsOf(t, prompt)).toEqual([{ session, text: prompt }]);
    expect(t.log.records.filter((r) => r.msg === "task delivered" && r.file === "long.md")).toHaveLength(1);
    // The same panes, never relaunched.
    expect((await listPanes(t.server)).filter((p) => p.name.startsWith("ccl-")).map((p) => `${p.name}:${p.pid}`).sort()).toEqual(panesBefore);
    await allIdle(t, 3);
  }, 40_000);

  test("a stray file in processing/ without a store row is recovered at start and done once", async () => {
    await t.daemon.stop("test: restart");
    const prompt = "[sim:work=0.5s] Found in processing";
    mkdirSync(folder(t, "processing"), { recursive: true });
    writeFileSync(join(folder(t, "processing"), "stray.md"), `${prompt}\n`);
    await t.restart();
    expect(t.log.records.filter((r) => r.msg === "dispatcher recovered").at(-1)).toMatchObject({ strays: 1 });
    const row = await waitDone(t, "stray.md");
    expect(row).toMatchObject({ attempts: 1, prompt });
    expect(taskByFile(t, "stray.md")).toHaveLength(1);
    expectOnlyInDone(t, "stray.md");
    expect(recordsOf(t, prompt)).toHaveLength(1);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------------------------
// Turns the daemon did not start (a person attached to a pool session and typed). Every hook goes through a wrapper
// that can hold an event back (a loaded machine; the hook timeout is 5 s) and then logs that it reached the daemon.

/** `self` for WireDeps: `claude-failover hook <event>` run after `delays[event]` ms, appending the event to `log`. */
function slowHooks(log: string, delays: Record<string, number>): string[] {
  const cases = Object.entries(delays).map(([event, ms]) => `${event}) sleep ${ms / 1000};;`).join(" ");
  const script = `case "$3" in ${cases} esac; "$0" "$@"; rc=$?; echo "$3" >> ${log}; exit $rc`;
  return ["/bin/sh", "-c", script, process.execPath, join(import.meta.dir, "../../cmd/main.ts")];
}
const landed = (log: string, event: string) => {
  try {
    return readFileSync(log, "utf8").split("\n").filter((l) => l === event).length;
  } catch {
    return 0;
  }
};
const onePool = (dir: string) => `{ prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: ${dir}/work }`;

describe("a person's turn in a pool session, whose Stop hook lands late", () => {
  const STOP_DELAY_MS = 2_000;
  let t: TestDaemon;
  const hooks = tempDir("cf-hooks-");
  const hookLog = join(hooks.path, "landed.log");

  beforeAll(async () => {
    t = await startTestDaemon({ extra: { pool: onePool }, deps: { self: slowHooks(hookLog, { Stop: STOP_DELAY_MS }) } });
    await allIdle(t, 2);
  }, 30_000);

  afterAll(async () => {
    await t?.cleanup();
    await hooks.cleanup();
  });

  test("its late Stop does not complete the task delivered once the pane went idle", async () => {
    const person = "[sim:work=1s] A person's own turn";
    const prompt = "[sim:work=3s] Task queued behind a person's turn";
    const reply = "Done: Task queued behind a person's turn";
    await typePrompt(t.server, "ccl-auto-11", person);
    // The daemon knows the session is busy before the task arrives, so the task waits for it.
    await eventually(() => sessions(t).find((s) => s.name === "ccl-auto-11")?.state === "working", 5_000, 20);
    drop(t, "behind.md", `${prompt}\n`);
    await eventually(() => taskByFile(t, "behind.md")[0]?.state === "queued", 5_000, 20);
    // The person's turn ends; the pane is idle before its Stop lands (2 s later), so the task is typed in that gap.
    await eventually(() => recordsOf(t, prompt).length === 1, 10_000, 50);
    const row = await waitDone(t, "behind.md", 20_000);
    const own = assistantRecords(t).find((r) => r.text === reply);
    // Done only once its own turn ended, with its own reply as the result (not the person's).
    expect({
      result: readFileSync(join(folder(t, "done"), "behind.result.md"), "utf8"),
      ownReplyWrittenBeforeDone: own !== undefined && own.at <= row.finishedAt!,
    }).toEqual({ result: reply, ownReplyWrittenBeforeDone: true });
    expect(row).toMatchObject({ session: "ccl-auto-11", attempts: 1 });
    expect(recordsOf(t, prompt)).toHaveLength(1);
  }, 30_000);
});

describe("a person's turn in a pool session, between two polls", () => {
  let t: TestDaemon;
  const hooks = tempDir("cf-hooks-");
  const hookLog = join(hooks.path, "landed.log");
  const polls = async () => Number(/^claude_failover_poll_duration_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(await (await fetch(`${t.daemon.url()}metrics`)).text())?.[1] ?? 0);

  beforeAll(async () => {
    // Production poll intervals (5 s); UserPromptSubmit lands 1 s late, so only the screen could tell the turn began.
    t = await startTestDaemon({
      extra: { pool: onePool, quota: "{ poll_interval: 5s, reactivate_cooldown: 1h, confirm_polls: 2 }", watcher: "{ poll_interval: 5s, task_timeout: 10m }" },
      deps: { self: slowHooks(hookLog, { UserPromptSubmit: 1_000 }) },
    });
    await allIdle(t, 2);
  }, 30_000);

  afterAll(async () => {
    await t?.cleanup();
    await hooks.cleanup();
  });

  test("a task is not typed into a session whose turn began after the last poll", async () => {
    const person = "[sim:work=1s] A person's own turn";
    const prompt = "[sim:work=0.5s] Task dropped as the person pressed Enter";
    const reply = "Done: Task dropped as the person pressed Enter";
    // Right after a poll (the next is 5 s away): the person submits a prompt and, at once, a task file arrives
    // (already settled, so the daemon claims it as soon as it sees it).
    mkdirSync(folder(t, "inbox"), { recursive: true });
    const seen = await polls();
    await eventually(async () => (await polls()) > seen, 10_000, 20);
    await typePrompt(t.server, "ccl-auto-11", person);
    drop(t, "now.md", `${prompt}\n`, new Date(Date.now() - 10_000));
    const row = await waitDone(t, "now.md", 25_000);
    // It ran as a prompt of its own, after the person's turn, and its result is its own reply.
    expect({
      submitted: recordsOf(t, prompt).length,
      result: readFileSync(join(folder(t, "done"), "now.result.md"), "utf8"),
      leftInBox: await inputBox(t, "ccl-auto-11"),
    }).toEqual({ submitted: 1, result: reply, leftInBox: "" });
    expect(row).toMatchObject({ session: "ccl-auto-11", attempts: 1 });
  }, 40_000);
});
