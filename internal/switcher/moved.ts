/**
 * @module switcher/moved
 * Which account a late limit event belongs to after an in-place swap. With session homes a hook's `transcript_path`
 * no longer names the account (every account's turns are in the same home), and an in-place swap is fast: the
 * `StopFailure` hook of the turn the limit cut (a process of its own, hundreds of ms to start), or the transcript
 * record of a request sent before the move, can arrive after the session row already says the new account. The
 * `moving` step records, per session, the account it left and the old account's limit line (store flag
 * `moved_in_place`); a limit event soon after that was written before the move, or carries that line, is the old
 * account's, and so is any limit event received before the move but handled after it. A restart swap records its
 * relaunches the same way, so a late prompt of the replaced process is told
 * apart too. Decides nothing else.
 */
import type { Store } from "../state/state.ts";

/** How long after a move a late event with the same limit line is still taken as the old account's. */
export const LATE_EVENT_MS = 120_000;
const FLAG = "moved_in_place";

interface Move {
  from: string;
  /** The session was relaunched (restart swap), not moved in place. */
  restart?: boolean;
  /** The limit line the session showed, else the one that triggered the swap; null when neither is known. */
  line: string | null;
  at: number;
}

const normalize = (text: string) => text.replace(/\s+/g, " ").trim();

function read(store: Store): Record<string, Move> {
  try {
    return JSON.parse(store.getFlag(FLAG) ?? "{}") as Record<string, Move>;
  } catch {
    return {};
  }
}

/** Records that `session` left account `from` at `at` with `line` (its limit line) on screen. */
export function recordMove(store: Store, session: string, move: Move): void {
  const moves = read(store);
  for (const [name, old] of Object.entries(moves)) if (move.at - old.at > LATE_EVENT_MS) delete moves[name];
  store.setFlag(FLAG, JSON.stringify({ ...moves, [session]: { ...move, line: move.line ? normalize(move.line) : null } }));
}

/**
 * The account a limit event of `session` belongs to when it is a late event of the account it left in an in-place
 * move, within {@link LATE_EVENT_MS}: a transcript record written (`writtenAt`) before the move, or an event carrying
 * the old account's limit line (a request sent before the move, answered after it). Null when it is not.
 */
export function accountOfLateEvent(store: Store, session: string, text: unknown, at: number, writtenAt?: number): string | null {
  const move = read(store)[session];
  if (!move || at - move.at > LATE_EVENT_MS) return null;
  // Written before the move (also when the poll reading it began before the move was recorded), or received before it
  // and handled after it (a hook queued behind others while the swap moved the row): the old account's.
  const written = writtenAt !== undefined && Number.isFinite(writtenAt) ? writtenAt : at;
  if (Math.min(written, at) < move.at) return move.from;
  return typeof text === "string" && move.line && normalize(text).includes(move.line) ? move.from : null;
}

/** The last move recorded for `session` (the account it left and when), null when none is kept. */
export function lastMove(store: Store, session: string): { from: string; at: number } | null {
  const move = read(store)[session];
  return move ? { from: move.from, at: move.at } : null;
}

/** When an in-place swap last moved `session` (kept {@link LATE_EVENT_MS}); null when none, or when a restart swap relaunched it. */
export function movedInPlaceAt(store: Store, session: string): number | null {
  const move = read(store)[session];
  return move && !move.restart ? move.at : null;
}

/**
 * Whether a `UserPromptSubmit` of `session` arriving at `at` is a late one of the process a restart swap replaced:
 * the session was relaunched within {@link LATE_EVENT_MS} and its new process has not reported `SessionStart` yet
 * (`startedAt`, the last one received). Such a prompt is not a turn of the relaunched conversation.
 */
export function isLatePrompt(store: Store, session: string, at: number, startedAt: number | null): boolean {
  const move = read(store)[session];
  return !!move?.restart && at >= move.at && at - move.at <= LATE_EVENT_MS && (startedAt ?? 0) < move.at;
}
