/**
 * @module watcher/follow
 * The life of a running task, decided from facts: {@link nextTaskStep} takes the task row (its delivery ledger),
 * what its session, pane and Claude Code's transcript show now, and returns the one step to take. Pure: no I/O,
 * time comes in as `now`. The transcript is the truth; hooks only make the same steps happen sooner (the supervisor
 * applies a matching `Stop` or `UserPromptSubmit` at once), and a hook can never make a step the ledger contradicts.
 *
 * Rules (DESIGN.md "Tasks: exactly once"):
 * - A prompt is typed once per intent. Until the transcript shows it, nothing is typed again: a prompt left in the
 *   input box gets Enter once more; a prompt that never reached the conversation goes back to the queue.
 * - A task ends with its own turn (matched by text after the intent's offset, then by `promptId`).
 * - A turn cut by a limit waits for an account with quota, then gets one continue (which disarms Claude Code's own
 *   automatic continue; one that already fired is adopted, never doubled); one cut by a server error is continued after a pause, a
 *   bounded number of times; a task whose agent was relaunched (crash, tmux server gone, swap) continues at once in
 *   the resumed conversation, or goes back to the queue when the conversation could not be resumed.
 */
import type { TaskRow } from "../state/state.ts";
import type { TurnView } from "../claude/transcript.ts";

/** What the session running the task looks like now. */
export interface SessionFacts {
  /** The tmux session exists and its pane is alive. */
  alive: boolean;
  /** When Claude Code was last (re)started in it. */
  launchedAt: number | null;
  /** Conversation id it runs now. */
  conversation: string | null;
  /** Its account can take requests (not cooling, disabled or removed). */
  accountUsable: boolean;
  /** The daemon relaunches it if it dies (false for a retiring session: it left the owned names). */
  relaunchable: boolean;
}

/** What the pane shows on this poll. */
export interface PaneFacts {
  /** `idle` prompt, `busy` turn, a `dialog` (never typed into), or anything else. */
  activity: "idle" | "busy" | "dialog" | "other";
  /** Text in the input box (`""` when empty), null when no input box is visible. */
  input: string | null;
  /** Claude Code's own continue after a limit's reset has started ("Usage limit reset · Continuing automatically"). */
  autoContinueFiring: boolean;
}

/** The task's turn as the transcript shows it, from the intent's offset. */
export interface LedgerFacts {
  /** The transcript file exists. */
  exists: boolean;
  /** The turn opened by the expected prompt, when the transcript holds it. */
  turn: TurnView | null;
  /** A later prompt (Claude Code's own continue, or a person) after the task's turn ended, if any. */
  nextTurn: TurnView | null;
}

/** A turn-end hook (`Stop`/`StopFailure`) being handled now: a hint, applied only to the turn it names. */
export interface HookEnd {
  /** The hook's `prompt_id`; null from versions that send none. */
  promptId: string | null;
  end: NonNullable<TurnView["end"]>;
}

/** Everything {@link nextTaskStep} looks at. */
export interface TaskFacts {
  task: TaskRow;
  session: SessionFacts | null;
  pane: PaneFacts | null;
  ledger: LedgerFacts;
  /** The hook that triggered this decision, if any. */
  hook?: HookEnd | null;
  /** A swap is moving sessions: nothing is typed. */
  swapRunning: boolean;
  now: number;
  timeoutMs: number;
}

/**
 * Why a task's turn stopped without finishing it: a limit, a lost login (`authentication_failed`: like a limit, it
 * waits for a usable account, then continues), a server error, or its agent restarted mid-turn.
 */
export type EndKind = "quota" | "login" | "transient" | "restart";

/** The one step to take for a running task. */
export type TaskStep =
  | { kind: "wait" }
  | { kind: "confirm"; promptId: string | null; offset: number }
  | { kind: "done"; result: string | null; promptId: string | null }
  | { kind: "ended"; endKind: EndKind; line: string; promptId: string | null; resetsAt?: number | null }
  | { kind: "continue"; reason: string }
  | { kind: "nudge" }
  | { kind: "close-dialog" }
  | { kind: "retype-continue"; reason: string }
  | { kind: "requeue"; reason: string; typed: boolean }
  | { kind: "fail"; reason: string; interrupt: boolean };

/** Time for a typed prompt to show in the transcript before the input box is checked. */
export const CONFIRM_MS = 10_000;
/** After a restart, time for an intent written just before the crash to show in the transcript. */
export const INTENT_GRACE_MS = 15_000;
/** Pause before continuing a turn that ended on a server error (Claude Code already retried it for minutes). */
export const API_ERROR_PAUSE_MS = 30_000;
/** Turns of one task that may end on a server error before it fails. */
export const MAX_API_ERRORS = 3;
/** Continue prompts for one task (errors, limits, relaunches) before it fails. */
export const MAX_CONTINUES = 6;

/** Decides the next step of a running task. */
export function nextTaskStep(facts: TaskFacts): TaskStep {
  const { task, session, pane, ledger, now } = facts;
  const startedAt = task.startedAt ?? now;
  if (now - startedAt > facts.timeoutMs) {
    return { kind: "fail", reason: `timed out after ${Math.round((now - startedAt) / 60_000)} min without finishing; the session was interrupted`, interrupt: true };
  }
  const isContinue = task.continues > 0 && task.expect !== null && task.expect !== task.prompt;
  const relaunched = session !== null && session.launchedAt !== null && task.typedAt !== null && session.launchedAt > task.typedAt;
  const turn = withHookEnd(ledger.turn, task, facts.hook ?? null);
  // Nobody will bring this session back (it retired and then died): only what its transcript holds counts.
  if (session && !session.alive && !session.relaunchable && !turn?.end && !ledger.nextTurn) {
    return { kind: "requeue", reason: "its session left the pool and stopped before the task finished", typed: task.delivery !== "intent" };
  }

  switch (task.delivery) {
    case "intent":
    case "typed": {
      if (turn) return turn.end ? endStep(turn) : { kind: "confirm", promptId: turn.promptId, offset: turn.offset };
      const sinceTyped = now - (task.typedAt ?? startedAt);
      if (relaunched || session === null || !session.alive) {
        if (sinceTyped < CONFIRM_MS && !relaunched) return { kind: "wait" };
        return notDelivered(isContinue, task.delivery === "typed", relaunched ? "the session restarted before the prompt reached the conversation" : "the session is gone");
      }
      if (!ledger.exists && task.delivery === "typed" && pane?.activity === "busy") return { kind: "confirm", promptId: null, offset: task.ledgerOffset ?? 0 };
      // The daemon may have stopped between writing the intent and typing, or between the paste and Enter: keys
      // already sent get time to land, and text left in the input box gets Enter once (never a second paste).
      if (sinceTyped < (task.delivery === "intent" ? INTENT_GRACE_MS : CONFIRM_MS)) return { kind: "wait" };
      if (task.nudgedAt === null && pane?.activity === "idle" && pane.input) return { kind: "nudge" };
      if (task.nudgedAt !== null && now - task.nudgedAt < CONFIRM_MS) return { kind: "wait" };
      if (pane?.activity === "busy") return { kind: "wait" };
      if (task.delivery === "intent" && task.nudgedAt === null) return notDelivered(isContinue, false, "it was never typed (the daemon stopped first)");
      return notDelivered(isContinue, true, "the prompt never reached the conversation");
    }
    case "confirmed": {
      if (turn?.end) return endStep(turn);
      if (relaunched && session) {
        if (session.conversation !== null && task.conversation !== null && session.conversation !== task.conversation) {
          return { kind: "requeue", reason: "its conversation could not be resumed after the session restarted", typed: true };
        }
        return { kind: "ended", endKind: "restart", line: "the session restarted while the task ran", promptId: task.promptId };
      }
      return { kind: "wait" };
    }
    case "ended": {
      if (ledger.nextTurn) {
        const next = ledger.nextTurn;
        return next.end ? endStep(next) : { kind: "confirm", promptId: next.promptId, offset: next.offset };
      }
      if (task.continues >= MAX_CONTINUES) return { kind: "fail", reason: `continued ${task.continues} times without finishing`, interrupt: false };
      if (session && relaunched && session.conversation !== null && task.conversation !== null && session.conversation !== task.conversation) {
        return { kind: "requeue", reason: "its conversation could not be resumed after the session restarted", typed: true };
      }
      if (task.endedKind === "restart") return readyToType(facts) ?? { kind: "continue", reason: "the session restarted while the task ran" };
      if (task.endedKind === "transient") {
        if (task.apiErrors >= MAX_API_ERRORS) {
          return { kind: "fail", reason: `the turn kept ending on an API error (${task.apiErrors} times)`, interrupt: false };
        }
        if (now - (task.endedAt ?? now) < API_ERROR_PAUSE_MS) return { kind: "wait" };
        return readyToType(facts) ?? { kind: "continue", reason: "after an API error" };
      }
      // A limit or a lost login: continue once the session's account is usable again (a swap moved it, the reset
      // came, or the operator logged it in again).
      if (!session?.accountUsable) return { kind: "wait" };
      // Left on the same account, Claude Code 2.1.330 continues by itself 30-90 s after the reset. The daemon's own
      // continue, typed as soon as the account is usable, disarms that one; if the CLI's has already started, its turn
      // is adopted from the ledger (nextTurn above) instead of doubling it.
      if (!relaunched && pane?.autoContinueFiring) return { kind: "wait" };
      if (pane?.activity === "dialog" && !facts.swapRunning) return { kind: "close-dialog" };
      return readyToType(facts) ?? { kind: "continue", reason: task.endedKind === "login" ? "after a lost login" : "after a usage limit" };
    }
    default:
      return { kind: "wait" };
  }
}

/**
 * The ledger's turn, ended by the hook when the hook names that turn (Claude Code writes `turn_duration` only after
 * its Stop hooks returned). A hook naming another turn (a late or duplicated one) changes nothing.
 */
function withHookEnd(turn: TurnView | null, task: TaskRow, hook: HookEnd | null): TurnView | null {
  if (!hook || turn?.end) return turn;
  // A hook with no prompt id, from a version whose transcript has them, cannot say which turn it ends.
  if (turn) return (hook.promptId === null ? turn.promptId === null : hook.promptId === turn.promptId) ? { ...turn, end: hook.end } : turn;
  // No readable transcript: the prompt id confirmed by UserPromptSubmit is the only way to know the turn.
  if (task.delivery === "confirmed" && task.promptId !== null && hook.promptId === task.promptId) {
    return { promptId: task.promptId, offset: task.ledgerOffset ?? 0, end: hook.end };
  }
  return null;
}

/** The step for a turn that has ended. */
function endStep(turn: TurnView): TaskStep {
  const end = turn.end!;
  if (end.kind === "done") return { kind: "done", result: end.reply, promptId: turn.promptId };
  const endKind: EndKind = end.quota ? "quota" : end.error === "authentication_failed" ? "login" : "transient";
  return { kind: "ended", endKind, line: end.text, promptId: turn.promptId, resetsAt: end.quota?.resetsAt ?? null };
}

/** Null when a continue prompt may be typed now; otherwise the step that waits. */
function readyToType(facts: TaskFacts): TaskStep | null {
  if (facts.swapRunning || !facts.session?.alive) return { kind: "wait" };
  if (facts.pane?.activity === "dialog") return { kind: "close-dialog" };
  if (facts.pane?.activity !== "idle" || facts.pane.input) return { kind: "wait" };
  return null;
}

/** Steps that only record a fact: the applier decides again at once after them. */
export function recordsOnly(step: TaskStep): boolean {
  return step.kind === "confirm" || step.kind === "ended";
}

function notDelivered(isContinue: boolean, typed: boolean, why: string): TaskStep {
  return isContinue ? { kind: "retype-continue", reason: `continue prompt not delivered: ${why}` } : { kind: "requeue", reason: `not delivered: ${why}`, typed };
}
