/**
 * @module watcher/task-ledger
 * Reads, for each running task, the part of its conversation's transcript that follows the task's delivery intent
 * (the byte offset stored before typing), and reduces it to {@link LedgerFacts}: the turn the expected prompt opened,
 * how it ended, and any later turn. Reads incrementally: each poll reads only what was appended since the last one.
 * Owns no decision (watcher/follow.ts) and writes nothing.
 */
import { pasteSafe } from "../tmux/tmux.ts";
import { readLedger, samePrompt, turnAfter, type LedgerEntry } from "../claude/transcript.ts";
import type { TaskRow } from "../state/state.ts";
import type { LedgerFacts } from "./follow.ts";

/** The ledger view of running tasks. */
export interface TaskLedger {
  /** What the transcript shows of `task`'s current delivery. */
  facts(task: TaskRow): LedgerFacts;
  /** Drops what was read for tasks that are no longer running. */
  retain(taskIds: ReadonlySet<number>): void;
}

interface Cursor {
  key: string;
  end: number;
  exists: boolean;
  entries: LedgerEntry[];
}

/** Creates a {@link TaskLedger}. */
export function createTaskLedger(): TaskLedger {
  const cursors = new Map<number, Cursor>();
  return {
    facts(task) {
      if (!task.transcript || task.ledgerOffset === null || task.expect === null) return { exists: false, turn: null, nextTurn: null };
      const key = `${task.transcript}\u0000${task.ledgerOffset}`;
      let cursor = cursors.get(task.id);
      if (!cursor || cursor.key !== key) {
        cursor = { key, end: task.ledgerOffset, exists: false, entries: [] };
        cursors.set(task.id, cursor);
      }
      for (;;) {
        const read = readLedger(task.transcript, cursor.end);
        cursor.exists = read.exists;
        if (read.end === cursor.end) break;
        cursor.entries.push(...read.entries);
        cursor.end = read.end;
      }
      return reduce(cursor.entries, task, cursor.exists);
    },
    retain(taskIds) {
      for (const id of cursors.keys()) if (!taskIds.has(id)) cursors.delete(id);
    },
  };
}

/** The expected prompt's turn, and the first turn after it ended. */
function reduce(entries: readonly LedgerEntry[], task: TaskRow, exists: boolean): LedgerFacts {
  const expect = pasteSafe(task.expect ?? "");
  const matches = (p: Extract<LedgerEntry, { kind: "prompt" }>) =>
    (task.promptId !== null && p.promptId === task.promptId) || samePrompt(p.text, expect);
  const turn = turnAfter(entries, matches);
  if (!turn?.end) return { exists, turn, nextTurn: null };
  const start = entries.findIndex((e) => e.offset === turn.offset);
  const endIndex = entries.findIndex((e, i) => i > start && (e.kind === "api-error" || e.kind === "turn-end" || e.kind === "prompt"));
  const rest = endIndex === -1 ? [] : entries.slice(entries[endIndex]!.kind === "prompt" ? endIndex : endIndex + 1);
  // Records the CLI writes after an error inside the same turn (a second error line, turn_duration) are not a turn.
  const nextTurn = turnAfter(rest, () => true);
  return { exists, turn, nextTurn };
}
