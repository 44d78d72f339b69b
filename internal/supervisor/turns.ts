/**
 * @module supervisor/turns
 * Which turn a `Stop` belongs to. Every `UserPromptSubmit` opens a turn, tagged with the task it carries (or none:
 * a person typing, or a turn the daemon did not start); every `Stop`/`StopFailure` closes the oldest open turn. Hooks
 * run as separate processes, so a `Stop` can arrive before its `UserPromptSubmit`: it is kept and pairs with the next
 * one. A late `Stop` of somebody else's turn therefore never completes the task delivered after it, and a session with
 * an open turn is not free. Pure bookkeeping: no I/O.
 */

/** One open turn. */
export interface Turn {
  taskId: number | null;
  startedAt: number;
}

/** A turn-end event as the hook delivered it. */
export type TurnEnd = Record<string, unknown>;

/** The turn ledger of every owned session. */
export interface TurnBook {
  /** A turn started; returns the end that already arrived for it (out-of-order hooks), if any. */
  start(session: string, taskId: number | null, at: number): { turn: Turn; earlyEnd: TurnEnd | null };
  /** A turn ended; returns the turn it closes, or null when the end came first (kept for the next start). */
  end(session: string, payload: TurnEnd, at: number): Turn | null;
  /** True when the session has a turn open. */
  busy(session: string): boolean;
  /** Seeds a turn for a task that was already running when the daemon started (its start hook came before). */
  adopt(session: string, taskId: number, at: number): void;
  /** Forgets a session's turns (relaunch, or a pane idle long enough that its end hook was clearly lost). */
  clear(session: string): void;
  /** The oldest open turn of a session. */
  oldest(session: string): Turn | null;
}

/** An end this old that found no turn is dropped: its start will not come. */
const EARLY_END_TTL_MS = 10_000;

/** Creates an empty {@link TurnBook}. */
export function createTurnBook(): TurnBook {
  const open = new Map<string, Turn[]>();
  const early = new Map<string, { payload: TurnEnd; at: number }>();
  return {
    start(session, taskId, at) {
      const turns = open.get(session) ?? [];
      const adopted = taskId !== null ? turns.find((t) => t.taskId === taskId) : undefined;
      const turn = adopted ?? { taskId, startedAt: at };
      const pending = early.get(session);
      if (pending && at - pending.at <= EARLY_END_TTL_MS) {
        early.delete(session);
        if (adopted) turns.splice(turns.indexOf(adopted), 1);
        open.set(session, turns);
        return { turn, earlyEnd: pending.payload };
      }
      early.delete(session);
      if (!adopted) turns.push(turn);
      open.set(session, turns);
      return { turn, earlyEnd: null };
    },
    end(session, payload, at) {
      const turns = open.get(session) ?? [];
      const turn = turns.shift() ?? null;
      if (!turn) early.set(session, { payload, at });
      open.set(session, turns);
      return turn;
    },
    busy: (session) => (open.get(session)?.length ?? 0) > 0,
    adopt(session, taskId, at) {
      const turns = open.get(session) ?? [];
      if (!turns.some((t) => t.taskId === taskId)) turns.push({ taskId, startedAt: at });
      open.set(session, turns);
    },
    clear(session) {
      open.delete(session);
      early.delete(session);
    },
    oldest: (session) => open.get(session)?.[0] ?? null,
  };
}
