/**
 * @module dispatcher/task-file
 * Pure validation of one task file: its name ({@link isValidTaskName}) and its bytes ({@link parseTaskFile}):
 * size limit, binary detection, optional YAML front matter (`workdir`, `priority`, `timeout`, `host`) and the prompt body.
 * Owns no I/O and no defaults that depend on config: resolving a relative `workdir` against the project's
 * workdir and applying the default timeout is the dispatcher's job.
 */
import { parseDocument } from "yaml";
import { FLEET_HOST_NAME, parseDuration } from "../config/schema.ts";

/** Longest task file name accepted, in characters (leaves room for `-<epoch ms>` and `.error.txt` under NAME_MAX). */
export const MAX_TASK_NAME_CHARS = 200;

/** Front-matter keys a task file may set. */
export const FRONT_MATTER_KEYS = ["workdir", "priority", "timeout", "host"] as const;

/** Settings a task file may carry in its front matter; absent keys are left to the dispatcher's defaults. */
export interface TaskFrontMatter {
  /** Absolute, or relative to the project's workdir. */
  workdir?: string;
  /** Higher runs first. @default 0 (applied by the dispatcher) */
  priority?: number;
  /** From `timeout: "30m"`; absent means the watcher's `task_timeout`. */
  timeoutMs?: number;
  /** The fleet host (`fleet.host` of one daemon) that must run it; absent: any host (docs/fleet.md). */
  host?: string;
}

/** The reason given for a file over the size limit (also used before reading a large file). */
export function oversizeReason(bytes: number, maxBytes: number): string {
  return `file is ${bytes} bytes, over the ${maxBytes}-byte limit`;
}

/** Outcome of {@link parseTaskFile}: the prompt and settings, or why the file is refused. */
export type TaskFileResult =
  | { ok: true; prompt: string; frontMatter: TaskFrontMatter }
  | { ok: false; reason: string };

const OPENING_LINE = /^---[ \t]*\r?\n/;
const CLOSING_LINE = /^---[ \t]*(?:\r?\n|$)/m;
// Control characters: C0, DEL and C1.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Whether `name` is a plain `*.md` file name that cannot escape its folder or hide itself. */
export function isValidTaskName(name: string): boolean {
  return (
    typeof name === "string" &&
    name.length > ".md".length &&
    name.length <= MAX_TASK_NAME_CHARS &&
    name.endsWith(".md") &&
    !name.startsWith(".") &&
    !name.includes("/") &&
    !name.includes("\\") &&
    !name.includes("..") &&
    !CONTROL_CHARS.test(name)
  );
}

/** Why `name` is not a valid task file name (see {@link isValidTaskName}). */
export function invalidNameReason(file: string): string {
  return `invalid task file name ${JSON.stringify(file)}: must be a plain *.md name (no leading dot, no '..', no '/', no control characters, at most 200 characters)`;
}

/**
 * Validates a task file's bytes and splits them into front matter and prompt.
 * The prompt is the body with surrounding whitespace trimmed; everything else (escape sequences, tmux key
 * names) is kept exactly, since delivery is literal.
 */
export function parseTaskFile(bytes: Uint8Array, opts: { maxBytes: number }): TaskFileResult {
  if (bytes.length > opts.maxBytes) {
    return { ok: false, reason: oversizeReason(bytes.length, opts.maxBytes) };
  }
  if (bytes.includes(0)) return { ok: false, reason: "binary file (contains NUL bytes)" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, reason: "binary file (not valid UTF-8)" };
  }

  let body = text;
  let frontMatter: TaskFrontMatter = {};
  const opening = OPENING_LINE.exec(text);
  if (opening) {
    const rest = text.slice(opening[0].length);
    const closing = CLOSING_LINE.exec(rest);
    if (!closing) return { ok: false, reason: "front matter is not closed: no second --- line" };
    const parsed = parseFrontMatter(rest.slice(0, closing.index));
    if (!parsed.ok) return parsed;
    frontMatter = parsed.frontMatter;
    body = rest.slice(closing.index + closing[0].length);
  }

  const prompt = body.trim();
  if (prompt === "") return { ok: false, reason: "empty prompt" };
  return { ok: true, prompt, frontMatter };
}

/** Parses the YAML between the `---` lines; line numbers in reasons count from the top of the file. */
function parseFrontMatter(yamlText: string): { ok: true; frontMatter: TaskFrontMatter } | { ok: false; reason: string } {
  const doc = parseDocument(yamlText, { uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    // +1 for the opening `---` line.
    const pos = error.linePos?.[0] ?? { line: 1, col: 1 };
    const message = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    return { ok: false, reason: `invalid YAML front matter at line ${pos.line + 1}, column ${pos.col}: ${message}` };
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return { ok: true, frontMatter: {} };
  if (typeof data !== "object" || Array.isArray(data)) {
    return { ok: false, reason: "invalid front matter: expected key: value lines (workdir, priority, timeout, host)" };
  }

  const frontMatter: TaskFrontMatter = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    switch (key) {
      case "workdir":
        if (typeof value !== "string" || value.trim() === "" || CONTROL_CHARS.test(value)) {
          return { ok: false, reason: "invalid front matter: workdir must be a non-empty path on one line" };
        }
        if (value.startsWith("~")) {
          return { ok: false, reason: "invalid front matter: workdir must be absolute or relative to the project's workdir (~ is not expanded)" };
        }
        frontMatter.workdir = value.trim();
        break;
      case "priority":
        if (typeof value !== "number" || !Number.isSafeInteger(value)) {
          return { ok: false, reason: `invalid front matter: priority must be an integer, got ${JSON.stringify(value)}` };
        }
        frontMatter.priority = value;
        break;
      case "timeout": {
        const ms = typeof value === "string" ? parseDuration(value) : undefined;
        if (ms === undefined || ms <= 0) {
          return { ok: false, reason: `invalid front matter: timeout must be a duration like "30m" or "2h", got ${JSON.stringify(value)}` };
        }
        frontMatter.timeoutMs = ms;
        break;
      }
      case "host":
        if (typeof value !== "string" || !FLEET_HOST_NAME.test(value)) {
          return { ok: false, reason: `invalid front matter: host must be a fleet host name (1 to 63 letters, digits, '.', '_' or '-'), got ${JSON.stringify(value)}` };
        }
        frontMatter.host = value;
        break;
      default:
        return { ok: false, reason: `unknown front-matter key "${key}" (allowed: ${FRONT_MATTER_KEYS.join(", ")})` };
    }
  }
  return { ok: true, frontMatter };
}
