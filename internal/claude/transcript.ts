/**
 * @module claude/transcript
 * Claude Code's transcript read as the ledger of what really happened in a conversation
 * (`<home>/projects/<encoded cwd>/<uuid>.jsonl`, reference/real-claude.md §5). Each human prompt is a `user` record
 * with a `promptId`; the turn it opens ends with a `system` record `subtype: "turn_duration"`, or with an API-error
 * `assistant` record (`isApiErrorMessage`; a real limit adds `apiError: "usage_limit_reached"` and
 * `apiErrorParams.rate_limit_info.resetsAt`). Tool results are `user` records too, but they are not prompts.
 *
 * {@link readLedger} reads complete records from a byte offset; {@link ledgerEntry} turns one record into what the
 * daemon cares about; {@link turnAfter} finds the turn a given prompt opened and whether it has ended. Reading only:
 * deciding what a turn means for a task is the task follower's job.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";

/** What one transcript record tells the daemon. */
export type LedgerEntry =
  | { kind: "prompt"; offset: number; promptId: string | null; text: string }
  | { kind: "reply"; offset: number; text: string }
  | { kind: "api-error"; offset: number; text: string; error: string; quota: { resetsAt: number | null; limitType: string | null } | null }
  | { kind: "turn-end"; offset: number };

/** Complete records read from a transcript, and where the next read starts. */
export interface LedgerRead {
  entries: LedgerEntry[];
  /** Byte offset after the last complete line read. */
  end: number;
  /** False when the file does not exist (yet). */
  exists: boolean;
}

/** Largest chunk read at once; a longer ledger is read in several calls. */
export const LEDGER_READ_MAX_BYTES = 4 * 1024 * 1024;

/** Size of a transcript in bytes; 0 when it does not exist yet. */
export function transcriptSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Parsed JSONL records of a transcript from a byte offset, each with the offset of its line. */
export interface RecordRead {
  records: Array<{ offset: number; record: unknown }>;
  /** Byte offset after the last complete line read (a partial last line is left for the next read). */
  end: number;
  /** False when the file does not exist (yet). */
  exists: boolean;
}

/** Reads the complete JSONL records of `path` from byte `offset`, at most `maxBytes` at once; bad lines are skipped. */
export function readRecords(path: string, offset: number, maxBytes = LEDGER_READ_MAX_BYTES): RecordRead {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { records: [], end: offset, exists: false };
  }
  if (size <= offset) return { records: [], end: Math.min(offset, size), exists: true };
  const length = Math.min(size - offset, maxBytes);
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, "r");
  try {
    readSync(fd, buffer, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  const records: RecordRead["records"] = [];
  let start = 0;
  for (;;) {
    const newline = buffer.indexOf(10, start);
    if (newline === -1) break;
    const line = buffer.toString("utf8", start, newline);
    const at = offset + start;
    start = newline + 1;
    if (!line.trim()) continue;
    try {
      records.push({ offset: at, record: JSON.parse(line) });
    } catch {
      // a torn or foreign line: not a record
    }
  }
  return { records, end: offset + start, exists: true };
}

/** Reads the ledger entries of `path` from byte `offset` (see {@link readRecords}). */
export function readLedger(path: string, offset: number, maxBytes = LEDGER_READ_MAX_BYTES): LedgerRead {
  const read = readRecords(path, offset, maxBytes);
  const entries = read.records.map((r) => ledgerEntry(r.record, r.offset)).filter((e): e is LedgerEntry => e !== null);
  return { entries, end: read.end, exists: read.exists };
}

/** One record as a {@link LedgerEntry}; null for records that say nothing about turns. */
export function ledgerEntry(record: unknown, offset = 0): LedgerEntry | null {
  if (typeof record !== "object" || record === null) return null;
  const r = record as Record<string, unknown>;
  if (r.isSidechain === true) return null;
  if (r.type === "system" && r.subtype === "turn_duration") return { kind: "turn-end", offset };
  if (r.type === "assistant") {
    const text = contentText(r);
    if (r.isApiErrorMessage === true) {
      const info = rateLimitInfo(r);
      const quota = r.apiError === "usage_limit_reached" ? info : null;
      return { kind: "api-error", offset, text, error: typeof r.error === "string" ? r.error : "unknown", quota };
    }
    return text ? { kind: "reply", offset, text } : null;
  }
  if (r.type === "user" && r.isMeta !== true && isHumanPrompt(r)) {
    return { kind: "prompt", offset, promptId: typeof r.promptId === "string" ? r.promptId : null, text: contentText(r) };
  }
  return null;
}

/** The turn a prompt opened, as the ledger shows it. */
export interface TurnView {
  promptId: string | null;
  /** Offset of the prompt's own record. */
  offset: number;
  /** How it ended, or null while it runs. */
  end: null | { kind: "done"; reply: string | null } | { kind: "api-error"; error: string; text: string; quota: { resetsAt: number | null; limitType: string | null } | null };
}

/**
 * The first turn in `entries` whose prompt matches `matches` (by text or id), and how it ended: a `turn-end`, an
 * API-error record, or (older versions with no `turn_duration`) the next prompt. Null when no such prompt is there.
 */
export function turnAfter(entries: readonly LedgerEntry[], matches: (prompt: Extract<LedgerEntry, { kind: "prompt" }>) => boolean): TurnView | null {
  const start = entries.findIndex((e) => e.kind === "prompt" && matches(e));
  if (start === -1) return null;
  const prompt = entries[start] as Extract<LedgerEntry, { kind: "prompt" }>;
  let reply: string | null = null;
  for (const entry of entries.slice(start + 1)) {
    switch (entry.kind) {
      case "reply":
        reply = entry.text;
        break;
      case "api-error":
        return { promptId: prompt.promptId, offset: prompt.offset, end: { kind: "api-error", error: entry.error, text: entry.text, quota: entry.quota } };
      case "turn-end":
        return { promptId: prompt.promptId, offset: prompt.offset, end: { kind: "done", reply } };
      case "prompt":
        // A prompt queued while the turn ran is written after it ends; one without a turn-end before it means an
        // older Claude Code that writes no turn_duration: the turn ended when the next one began.
        return { promptId: prompt.promptId, offset: prompt.offset, end: { kind: "done", reply } };
    }
  }
  return { promptId: prompt.promptId, offset: prompt.offset, end: null };
}

/** True when the last prompt in `entries` has not ended yet (a turn is open). */
export function turnOpen(entries: readonly LedgerEntry[]): boolean {
  for (let i = entries.length - 1; i >= 0; i--) {
    const kind = entries[i]!.kind;
    if (kind === "turn-end" || kind === "api-error") return false;
    if (kind === "prompt") return true;
  }
  return false;
}

/** A prompt as compared: runs of whitespace (the paste's line ends, Claude Code's own) made one space, ends trimmed. */
export function normalizePrompt(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Prompts compare as Claude Code records them: whitespace collapsed and trimmed. */
export function samePrompt(recorded: string, typed: string): boolean {
  const a = normalizePrompt(recorded);
  const b = normalizePrompt(typed);
  return a === b || (b.length > 0 && a.endsWith(b));
}

function isHumanPrompt(r: Record<string, unknown>): boolean {
  const message = r.message as Record<string, unknown> | undefined;
  const content = message?.content;
  if (typeof content === "string") return true;
  if (!Array.isArray(content)) return false;
  return content.length > 0 && content.every((part) => typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text");
}

function contentText(r: Record<string, unknown>): string {
  const message = r.message as Record<string, unknown> | undefined;
  const content = message?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part): part is { type: "text"; text: string } => typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text" && typeof (part as { text?: unknown }).text === "string")
    .map((part) => part.text)
    .join("\n");
}

function rateLimitInfo(r: Record<string, unknown>): { resetsAt: number | null; limitType: string | null } {
  const params = r.apiErrorParams as { rate_limit_info?: { resetsAt?: unknown; rateLimitType?: unknown } } | undefined;
  const info = params?.rate_limit_info;
  const resetsAt = typeof info?.resetsAt === "number" && info.resetsAt > 0 ? info.resetsAt * 1000 : null;
  return { resetsAt, limitType: typeof info?.rateLimitType === "string" ? info.rateLimitType : null };
}
