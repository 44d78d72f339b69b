/**
 * @module watcher/tasks
 * Follows every running task to its end and applies what watcher/follow.ts decides: confirm a delivery, finish the
 * task with its own turn's result, record a cut turn, type one counted continue prompt, press Enter again for a
 * prompt left unsent, close a dialog, requeue what never reached its conversation, fail what cannot finish. Also
 * grows the pool while tasks wait. Runs inside the supervisor's serial queue, so a hook and a poll never decide
 * about the same task at once. Typing is dispatcher/delivery.ts; what panes show is watcher/sessions.ts.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import type { SessionRow, Store, TaskRow } from "../state/state.ts";
import type { Tmux } from "../tmux/tmux.ts";
import type { Dispatcher } from "../dispatcher/dispatcher.ts";
import type { Delivery } from "../dispatcher/delivery.ts";
import { nextTaskStep, type HookEnd, type TaskStep } from "./follow.ts";
import { createTaskLedger } from "./task-ledger.ts";
import type { SessionTracker } from "./sessions.ts";
import { normalizePrompt, type TurnView } from "../claude/transcript.ts";

/** What task following touches. */
export interface TaskWorkDeps {
  store: Store;
  tmux: Tmux;
  lifecycle: Lifecycle;
  dispatcher: Dispatcher;
  delivery: Delivery;
  sessions: SessionTracker;
  clock: Clock;
  log: Logger;
  /** Default task timeout (`watcher.task_timeout`). */
  taskTimeoutMs: number;
  /** A swap still moves `session` (the task's): nothing is typed into it. */
  swapRunning(session: string | null): boolean;
  /** Whether new tasks may be handed out (not paused, no swap, not exhausted, no cooldown). */
  gateOpen(): boolean;
  activeAccount(): { name: string; home: string };
  /** The session runs a model its account may not use now and waits to be relaunched on another (supervisor/models.ts). */
  modelBlocked?(row: SessionRow): boolean;
  /**
   * A cut turn's limit record gave its exact reset (epoch ms): the account whose home holds `transcript` (with session
   * homes: the account `session` ran on when `line` cut its turn) may have been cooled from a screen line rounded to
   * the minute before this record was read.
   */
  limitRecorded(transcript: string | null, resetsAt: number, cut: { session: string; line: string; at: number } | null): void;
  /**
   * When an in-place swap last moved `session` (null: never, or a restart swap relaunched it). The move sets the row's
   * `launchedAt` so the old account's limit line on screen is old news until the next turn, but no process started:
   * a prompt typed before it is not lost to a restart.
   */
  movedInPlaceAt?(session: string): number | null;
}

/** Task following for owned sessions. */
export interface TaskWork {
  /**
   * Decides and acts for every running task. `seen`: screens the calling pass just read, by session, with nothing
   * observed or typed since; a continue typed into one of them does not read it again.
   */
  follow(seen?: ReadonlyMap<string, string[]>): Promise<void>;
  /** A UserPromptSubmit hook: confirms the delivery it belongs to at once. */
  promptSubmitted(session: string, promptId: string | null, prompt: string | null): Promise<void>;
  /** A Stop/StopFailure hook (or, with `null`, a transcript that grew): decides for the session's task at once. */
  turnEnded(session: string, hook: HookEnd | null): Promise<void>;
  runningTaskOf(session: string): TaskRow | null;
  /** Tasks wait and no pool session is free: start the next pool session (one per call, up to `max`). */
  growIfNeeded(): Promise<void>;
}

/** Creates the {@link TaskWork}. */
export function createTaskWork(deps: TaskWorkDeps): TaskWork {
  const { store, tmux, lifecycle, dispatcher, delivery, sessions, clock, log } = deps;
  const ledger = createTaskLedger();
  const runningTaskOf = (session: string) => store.tasks(["running", "stalled"]).find((t) => t.session === session) ?? null;

  const accountUsable = (row: SessionRow) => {
    const account = store.accounts().find((a) => a.name === row.account);
    return account !== undefined && account.state === "available" && !deps.modelBlocked?.(row);
  };

  const release = (session: string | null) => {
    if (!session) return;
    sessions.apply(session, { kind: "task-released", at: clock.now() });
  };

  /** The row's `launchedAt` unless an in-place move set it (then no launch since the move is known: null). */
  const processLaunchedAt = (row: SessionRow) => (row.launchedAt !== null && deps.movedInPlaceAt?.(row.name) === row.launchedAt ? null : row.launchedAt);

  const decide = (task: TaskRow, hook: HookEnd | null): TaskStep => {
    const row = task.session ? store.session(task.session) : null;
    return nextTaskStep({
      task, hook, now: clock.now(), swapRunning: deps.swapRunning(task.session), timeoutMs: task.timeoutMs ?? deps.taskTimeoutMs,
      ledger: ledger.facts(task),
      pane: row ? sessions.pane(row.name) : null,
      session: row ? {
        alive: sessions.alive(row.name), launchedAt: processLaunchedAt(row), conversation: row.sessionId, accountUsable: accountUsable(row),
        relaunchable: lifecycle.kindOf(row.name) !== null,
      } : null,
    });
  };

  /** Applies one step; returns true when it only recorded a fact (decide again). */
  const apply = async (task: TaskRow, step: TaskStep, seen?: ReadonlyMap<string, string[]>): Promise<boolean> => {
    const now = clock.now();
    const session = task.session;
    switch (step.kind) {
      case "wait":
        return false;
      case "confirm":
        log.info("task prompt confirmed", { task_id: task.id, session, prompt_id: step.promptId, continue: task.expect !== task.prompt });
        store.updateTask(task.id, { delivery: "confirmed", promptId: step.promptId, ledgerOffset: step.offset });
        return true;
      case "done":
        dispatcher.complete(task.id, step.result);
        release(session);
        return false;
      case "ended":
        log.info("task turn cut", { task_id: task.id, session, why: step.endKind, line: step.line.slice(0, 120) });
        store.updateTask(task.id, {
          delivery: "ended", endedKind: step.endKind, endedAt: now, promptId: step.promptId ?? task.promptId,
          apiErrors: task.apiErrors + (step.endKind === "transient" ? 1 : 0),
        });
        if (step.resetsAt) deps.limitRecorded(task.transcript, step.resetsAt, session ? { session, line: step.line, at: now } : null);
        return true;
      case "continue":
        // Typed beside the serial queue (capture, paste, pause, Enter: most of a second on a loaded machine), so hooks
        // and transcript records are read meanwhile; the intent it writes is what the next pass sees.
        void delivery.typeContinue(task, step.reason, session ? seen?.get(session) : undefined);
        return false;
      case "retype-continue":
        log.warn("continue prompt not delivered", { task_id: task.id, session, reason: step.reason });
        store.updateTask(task.id, { delivery: "ended", endedKind: task.endedKind ?? "restart", endedAt: now, typedAt: now });
        return false;
      case "nudge":
        log.info("prompt left in the input box; pressing Enter", { task_id: task.id, session });
        store.updateTask(task.id, { nudgedAt: now });
        if (session) await tmux.sendKeys(session, "Enter").catch((error) => log.warn("cannot press Enter", { session, error }));
        return false;
      case "close-dialog":
        log.info("closing a dialog before continuing", { task_id: task.id, session });
        if (session) await tmux.sendKeys(session, "Escape").catch((error) => log.warn("cannot close dialog", { session, error }));
        return false;
      case "requeue":
        // A prompt that never reached the conversation gives its attempt back.
        if (!step.typed) store.updateTask(task.id, { attempts: Math.max(0, task.attempts - 1) });
        dispatcher.requeue(task.id, step.reason);
        release(session);
        return false;
      case "fail":
        if (step.interrupt && session) await tmux.sendKeys(session, "Escape").catch((error) => log.warn("cannot interrupt", { session, error }));
        dispatcher.fail(task.id, step.reason);
        release(session);
        return false;
    }
  };

  /** Decides and applies until a step acts or waits (at most a few recorded facts in a row). */
  const settle = async (taskId: number, hook: HookEnd | null, seen?: ReadonlyMap<string, string[]>) => {
    for (let i = 0; i < 4; i++) {
      const task = store.task(taskId);
      if (!task || (task.state !== "running" && task.state !== "stalled") || task.delivery === null) return;
      if (!(await apply(task, decide(task, i === 0 ? hook : null), seen))) return;
    }
  };

  return {
    async follow(seen) {
      const running = store.tasks(["running", "stalled"]);
      ledger.retain(new Set(running.map((t) => t.id)));
      // Each task has its own session: after a swap, every cut session gets its continue at the same time.
      await Promise.all(running.map((task) => settle(task.id, null, seen).catch((error) => log.error("task follow failed", { task_id: task.id, error }))));
    },

    async promptSubmitted(session, promptId, prompt) {
      const task = runningTaskOf(session);
      if (!task || (task.delivery !== "intent" && task.delivery !== "typed")) return;
      // The hook is a hint: it confirms only when the transcript agrees or cannot be read.
      const facts = ledger.facts(task);
      const turn: TurnView | null = facts.turn ?? (!facts.exists && prompt !== null && normalizePrompt(prompt) === normalizePrompt(task.expect ?? "") ? { promptId, offset: task.ledgerOffset ?? 0, end: null } : null);
      if (!turn || (promptId !== null && turn.promptId !== null && turn.promptId !== promptId)) return;
      await apply(task, { kind: "confirm", promptId: turn.promptId ?? promptId, offset: turn.offset });
    },

    async turnEnded(session, hook) {
      const task = runningTaskOf(session);
      if (task) await settle(task.id, hook);
    },

    runningTaskOf,

    async growIfNeeded() {
      if (!deps.gateOpen() || store.taskCounts().queued === 0 || sessions.freeSessions().length > 0) return;
      if (store.sessions().some((s) => s.kind === "pool" && s.state === "starting")) return;
      const grown = await lifecycle.grow(deps.activeAccount());
      if (grown) log.info("pool grown for waiting tasks", { session: grown });
    },

  };
}
