/**
 * @module supervisor/signals
 * Reads the two file-borne signals: new records appended to each session's transcript (read from where the last
 * read stopped, never from the start, so an old error in a transcript never triggers anything after a restart),
 * and hook events spooled to disk by `claude-failover hook` when the daemon did not answer.
 * Only reads and parses; deciding is the supervisor's job.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { isValidUuid } from "../claude/home.ts";
import { transcriptPath } from "../claude/home.ts";
import { readRecords, transcriptSize } from "../claude/transcript.ts";

/** Largest transcript chunk read per poll per session. */
const TRANSCRIPT_READ_MAX_BYTES = 1024 * 1024;

/** Follows transcript files, returning complete new JSONL records. */
export interface TranscriptTail {
  /** New records of `path` since the last call; on the first call for a path, starts at its current end. */
  read(path: string): unknown[];
  forget(path: string): void;
}

/** Creates a {@link TranscriptTail}. */
export function createTranscriptTail(log: Logger): TranscriptTail {
  const offsets = new Map<string, number>();
  return {
    read(path) {
      const size = transcriptSize(path);
      const offset = offsets.get(path);
      if (offset === undefined || size < offset) {
        offsets.set(path, size);
        return [];
      }
      if (size === offset) return [];
      const read = readRecords(path, offset, TRANSCRIPT_READ_MAX_BYTES);
      if (read.end === offset && size - offset >= TRANSCRIPT_READ_MAX_BYTES) {
        // One line longer than a whole read: skip it rather than stall on it forever.
        log.debug("transcript line skipped", { path });
        offsets.set(path, size);
        return [];
      }
      offsets.set(path, read.end);
      return read.records.map((r) => r.record);
    },
    forget(path) {
      offsets.delete(path);
    },
  };
}

/** Follows the transcript of each session's current conversation. */
export interface TranscriptFollower {
  /** New records of the session's transcript; a new conversation (or account) starts a new file at its end. */
  read(session: string, row: { account: string | null; workdir: string; sessionId: string | null }): unknown[];
}

/** Creates a {@link TranscriptFollower}; `homeOf` gives the config home a session on an account runs in. */
export function createTranscriptFollower(homeOf: (account: string, session: string) => string | undefined, log: Logger): TranscriptFollower {
  const tail = createTranscriptTail(log);
  const following = new Map<string, string>();
  return {
    read(session, row) {
      const home = row.account ? homeOf(row.account, session) : undefined;
      if (!home || !isValidUuid(row.sessionId)) return [];
      const path = transcriptPath(home, row.workdir, row.sessionId);
      const previous = following.get(session);
      if (previous !== path) {
        if (previous) tail.forget(previous);
        following.set(session, path);
      }
      return tail.read(path);
    },
  };
}

/** One hook event as the hook subcommand spools it. */
export interface SpooledHook {
  event: string;
  session: string | null;
  payload: Record<string, unknown>;
  at: number;
}

/** Reads and removes every spooled hook event, oldest first. Unreadable files are removed and logged. */
export function drainSpool(dir: string, log: Logger): SpooledHook[] {
  if (!existsSync(dir)) return [];
  const out: SpooledHook[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
    const path = join(dir, name);
    try {
      const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<SpooledHook>;
      if (typeof parsed.event === "string" && parsed.payload && typeof parsed.payload === "object") {
        out.push({ event: parsed.event, session: typeof parsed.session === "string" ? parsed.session : null, payload: parsed.payload, at: Number(parsed.at) || 0 });
      }
    } catch (error) {
      log.warn("spooled hook unreadable", { file: name, error });
    }
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  return out;
}
