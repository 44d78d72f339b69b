/**
 * @module claude/transcript-tail
 * Follows each session's transcript as it grows: new complete records since the last read, never from the start, so
 * an old error in a transcript never triggers anything after a restart. Where each transcript was read up to is kept
 * in the store ({@link storedOffsets}): after a restart, the records written while the daemon was down are handed
 * back apart (`missed`), for counting only (usage turns), never for deciding. Only reads and parses; deciding is the
 * supervisor's job.
 */
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";
import { isValidUuid, transcriptPath } from "./home.ts";
import { readRecords, transcriptSize } from "./transcript.ts";

/** Largest transcript chunk read per poll per session. */
const TRANSCRIPT_READ_MAX_BYTES = 1024 * 1024;
/** Largest backlog read for the records written while the daemon was down; a longer one is skipped. */
const MISSED_READ_MAX_BYTES = 16 * 1024 * 1024;
/** Store flag holding {@link OffsetMemory}: transcript path → byte offset read up to. */
const OFFSETS_FLAG = "transcript_offsets";

/** New records of a transcript, and those written while no daemon followed it (after a restart; counted, not acted on). */
export interface TailRead {
  records: unknown[];
  missed: unknown[];
}

/** A read that found nothing new. */
const NOTHING: TailRead = { records: [], missed: [] };

/** Where each followed transcript was read up to, kept across restarts. */
export interface OffsetMemory {
  load(): Record<string, number>;
  save(offsets: Record<string, number>): void;
}

/** An {@link OffsetMemory} in the store's flags (a small JSON map: only the transcripts followed now). */
export function storedOffsets(store: Pick<Store, "getFlag" | "setFlag">, log: Logger): OffsetMemory {
  return {
    load() {
      try {
        return JSON.parse(store.getFlag(OFFSETS_FLAG) ?? "{}") as Record<string, number>;
      } catch (error) {
        log.warn("transcript offsets unreadable", { error });
        return {};
      }
    },
    save: (offsets) => store.setFlag(OFFSETS_FLAG, Object.keys(offsets).length ? JSON.stringify(offsets) : null),
  };
}

/** When a transcript record was written (its `timestamp`), epoch ms; null when it has none. */
export function recordTime(record: unknown): number | null {
  const at = Date.parse(String((record as { timestamp?: unknown } | null)?.timestamp));
  return Number.isFinite(at) ? at : null;
}

/** Follows transcript files, returning complete new JSONL records. */
export interface TranscriptTail {
  /**
   * New records of `path` since the last call. On the first call for a path, starts at its current end; the records
   * after the offset `memory` kept for it from an earlier run (the daemon was down) come back as `missed`.
   */
  read(path: string): TailRead;
  forget(path: string): void;
}

/** Creates a {@link TranscriptTail}; `memory` (optional) keeps the offsets across restarts. */
export function createTranscriptTail(log: Logger, memory?: OffsetMemory): TranscriptTail {
  const offsets = new Map<string, number>();
  const saved = new Map(Object.entries(memory?.load() ?? {}));
  // Written as soon as an offset moves, before the records are handed out: a crash then never counts a turn twice.
  const remember = () => memory?.save(Object.fromEntries(offsets));
  /** The complete records from `from` on, and the offset after the last one (a line still being written is left). */
  const readFrom = (path: string, from: number, size: number): { missed: unknown[]; end: number } => {
    const missed: unknown[] = [];
    let at = from;
    while (at < size) {
      const read = readRecords(path, at, TRANSCRIPT_READ_MAX_BYTES);
      if (read.end === at) break;
      missed.push(...read.records.map((r) => r.record));
      at = read.end;
    }
    return { missed, end: at };
  };
  return {
    read(path) {
      const size = transcriptSize(path);
      const offset = offsets.get(path);
      if (offset === undefined || size < offset) {
        const was = offset === undefined ? saved.get(path) : undefined;
        saved.delete(path);
        if (was !== undefined && was < size && size - was <= MISSED_READ_MAX_BYTES) {
          const { missed, end } = readFrom(path, was, size);
          offsets.set(path, end);
          remember();
          return { records: [], missed };
        }
        if (was !== undefined && size - was > MISSED_READ_MAX_BYTES) log.warn("transcript backlog skipped", { path, bytes: size - was });
        offsets.set(path, size);
        remember();
        return NOTHING;
      }
      if (size === offset) return NOTHING;
      const read = readRecords(path, offset, TRANSCRIPT_READ_MAX_BYTES);
      if (read.end === offset && size - offset >= TRANSCRIPT_READ_MAX_BYTES) {
        // One line longer than a whole read: skip it rather than stall on it forever.
        log.debug("transcript line skipped", { path });
        offsets.set(path, size);
        remember();
        return NOTHING;
      }
      offsets.set(path, read.end);
      if (read.end !== offset) remember();
      return { records: read.records.map((r) => r.record), missed: [] };
    },
    forget(path) {
      if (offsets.delete(path)) remember();
    },
  };
}

/** Follows the transcript of each session's current conversation. */
export interface TranscriptFollower {
  /** New records of the session's transcript; a new conversation (or account) starts a new file at its end. */
  read(session: string, row: { account: string | null; workdir: string; sessionId: string | null }): TailRead;
}

/** Creates a {@link TranscriptFollower}; `homeOf` gives the config home a session on an account runs in. */
export function createTranscriptFollower(homeOf: (account: string, session: string) => string | undefined, log: Logger, memory?: OffsetMemory): TranscriptFollower {
  const tail = createTranscriptTail(log, memory);
  const following = new Map<string, string>();
  return {
    read(session, row) {
      const home = row.account ? homeOf(row.account, session) : undefined;
      if (!home || !isValidUuid(row.sessionId)) return NOTHING;
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
