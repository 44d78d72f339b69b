/**
 * @module claude/transcript-tail
 * Follows each session's transcript as it grows: new complete records since the last read, never from the start, so
 * an old error in a transcript never triggers anything after a restart. Only reads and parses; deciding is the
 * supervisor's job.
 */
import type { Logger } from "../log.ts";
import { isValidUuid, transcriptPath } from "./home.ts";
import { readRecords, transcriptSize } from "./transcript.ts";

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
