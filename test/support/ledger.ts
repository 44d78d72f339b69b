/**
 * @module test/support/ledger
 * What fault tests assert, read from the outside world only: the prompts Claude Code recorded in its transcripts
 * (the ledger; a conversation copied to another home by a swap counts once, by record uuid) and where each task file
 * ended in the queue folders. Also writes task files the way producers do.
 */
import { expect } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { eventually } from "./tmux.ts";

/** One `user` record: a prompt Claude Code received. */
export interface Prompt {
  uuid: string;
  promptId: string | undefined;
  /** The conversation (transcript file name). */
  conversation: string;
  text: string;
}

/** Every `.jsonl` file under `root`. */
function jsonlFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .map((e) => join(e.parentPath, e.name));
}

/** The prompts of every transcript under `homesRoot`, each record once. */
export function prompts(homesRoot: string): Prompt[] {
  const seen = new Map<string, Prompt>();
  for (const file of jsonlFiles(homesRoot)) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      let rec: { type?: string; uuid?: string; promptId?: string; message?: { content?: unknown } };
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (rec.type !== "user" || typeof rec.message?.content !== "string" || !rec.uuid) continue;
      seen.set(rec.uuid, { uuid: rec.uuid, promptId: rec.promptId, conversation: basename(file, ".jsonl"), text: rec.message.content });
    }
  }
  return [...seen.values()];
}

/** True once a transcript holds the user record containing `marker` followed by its turn's `turn_duration`. */
export function turnEnded(homesRoot: string, marker: string): boolean {
  for (const file of jsonlFiles(homesRoot)) {
    let typed = false;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!typed) typed = line.includes('"type":"user"') && line.includes(JSON.stringify(marker).slice(1, -1));
      else if (line.includes('"subtype":"turn_duration"')) return true;
      else if (line.includes('"type":"user"') && line.includes('"promptId"')) typed = false;
    }
  }
  return false;
}

/** How many times `marker` was typed into any conversation (twice in one glued prompt counts twice). */
export function typedTimes(homesRoot: string, marker: string): number {
  return prompts(homesRoot).reduce((n, p) => n + p.text.split(marker).length - 1, 0);
}

/** Claude Code's reply to the continue prompt in the simulator. */
export const CONTINUE_PROMPT = "Continue where you left off.";

/** What the task's `.result.md` must hold: its own reply, or the reply to a continue prompt when that was typed last. */
export function expectedResult(homesRoot: string, task: TestTask): string {
  const all = prompts(homesRoot);
  const conversation = all.find((p) => p.text.includes(task.marker))?.conversation;
  return all.filter((p) => p.conversation === conversation).at(-1)?.text === CONTINUE_PROMPT ? `Done: ${CONTINUE_PROMPT}` : task.result;
}

/** A task for the simulated Claude Code: a unique marker, how long its turn works and the reply it ends with. */
export interface TestTask {
  /** File name in the inbox, `<name>.md`. */
  file: string;
  name: string;
  body: string;
  /** Text that appears once in the prompt and nowhere else. */
  marker: string;
  /** What its `.result.md` must hold. */
  result: string;
}

/** Builds a task; `directives` are extra `[sim:…]` markers (the turn works `work`, default 1s). */
export function makeTask(name: string, options: { work?: string; directives?: string } = {}): TestTask {
  const marker = `Task ${name}:`;
  const result = `result of ${name}`;
  const body = `${marker} do the ${name} job [sim:work=${options.work ?? "1s"}] [sim:reply=${result}]${options.directives ? ` ${options.directives}` : ""}\n`;
  return { file: `${name}.md`, name, body, marker, result };
}

/** Drops `content` as `<inbox>/<file>` atomically (temp file + rename), as a well-behaved producer does. */
export function dropFile(inbox: string, file: string, content: string): void {
  mkdirSync(inbox, { recursive: true });
  const tmp = join(inbox, `.${file}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, join(inbox, file));
}

const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** Waits until the task file is in done/ or failed/ and in no other folder; returns which. */
export async function waitSettled(queue: (folder: "inbox" | "processing" | "done" | "failed") => string, task: TestTask,
  timeoutMs = 60_000): Promise<"done" | "failed"> {
  return eventually(() => {
    if (listing(queue("inbox")).includes(task.file) || listing(queue("processing")).includes(task.file)) return null;
    if (listing(queue("done")).includes(task.file)) return "done" as const;
    if (listing(queue("failed")).includes(task.file)) return "failed" as const;
    return null;
  }, timeoutMs, 100);
}

/** What a case allows: counted continue prompts, the expected outcome, a result other than the task's own reply. */
export interface OnceOptions {
  /** Continue prompts allowed in the task's conversation (default 0). */
  continues?: number;
  continuePrompt?: string;
  outcome?: "done" | "failed";
  /** A continue prompt typed last in the conversation makes its reply the expected result (see {@link expectedResult}). */
}

/**
 * The closing assertion of every fault case: the task was typed exactly once (plus at most `continues` counted
 * continue prompts in its conversation), and it ended in done/ with its own result, or in failed/ with a reason.
 */
export function expectExactlyOnce(homesRoot: string, queue: (folder: "inbox" | "processing" | "done" | "failed") => string,
  task: TestTask, options: OnceOptions = {}): void {
  const all = prompts(homesRoot);
  const conversation = all.find((p) => p.text.includes(task.marker))?.conversation;
  expect({ task: task.name, typed: typedTimes(homesRoot, task.marker) }).toEqual({ task: task.name, typed: 1 });
  const continuePrompt = options.continuePrompt ?? CONTINUE_PROMPT;
  const continues = all.filter((p) => p.conversation === conversation && p.text === continuePrompt).length;
  expect(continues).toBeLessThanOrEqual(options.continues ?? 0);
  const done = listing(queue("done")).includes(task.file);
  const failed = listing(queue("failed")).includes(task.file);
  expect({ task: task.name, in: [done && "done", failed && "failed"].filter(Boolean) })
    .toEqual({ task: task.name, in: [options.outcome ?? (done ? "done" : "failed")] });
  if (done) expect(readFileSync(join(queue("done"), `${task.name}.result.md`), "utf8")).toContain(expectedResult(homesRoot, task));
  else expect(readFileSync(join(queue("failed"), `${task.name}.error.txt`), "utf8").trim()).not.toBe("");
}
