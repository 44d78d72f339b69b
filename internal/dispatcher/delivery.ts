/**
 * @module dispatcher/delivery
 * Types prompts into pool sessions, exactly once per intent. Before any key is sent, the delivery intent is written
 * to the store: the task, the conversation it goes into, that conversation's transcript and its size (the prompt's
 * own record will come after that offset). Then the prompt is pasted (bracketed paste, so text never acts as keys)
 * and Enter pressed. Whether it arrived is not decided here: the task follower reads the transcript
 * (watcher/follow.ts). Never types into a pane that is not idle with an empty input box (a dialog, a person's text).
 * Continue prompts asked for together (a swap releases a fleet's cut tasks at once) are typed as one batch.
 */
import type { SessionWriter } from "../watcher/session-state.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import { realWorkdir } from "../lifecycle/lifecycle.ts";
import { inputText, paneActivity } from "../quota/classify.ts";
import type { SessionRow, Store, TaskRow } from "../state/state.ts";
import type { Tmux } from "../tmux/tmux.ts";
import { isValidUuid, transcriptPath } from "../claude/home.ts";
import { transcriptSize } from "../claude/transcript.ts";

/** What delivery touches. */
export interface DeliveryDeps {
  store: Store;
  tmux: Tmux;
  lifecycle: Lifecycle;
  clock: Clock;
  log: Logger;
  /** The config home a session's Claude Code runs in (where its transcripts are). */
  homeOf(session: SessionRow): string | null;
  /** The account new conversations start on. */
  activeAccount(): { name: string; home: string };
  /** Where a typed task is recorded on its session (the session tracker). */
  sessions: Pick<SessionWriter, "apply">;
}

/** Settings of {@link createDelivery}. */
export interface DeliveryOptions {
  continuePrompt: string;
  /** Pause between the paste and Enter, so the input box has taken the text. @default 150 */
  pasteSettleMs?: number;
  /** How long a session relaunched in a task's workdir may take to show its prompt. @default 30000 */
  workdirReadyMs?: number;
}

/** What a delivery did. */
export type DeliveryOutcome =
  | { kind: "typed" }
  /** Nothing was typed: the session is busy, shows a dialog or has text in its input box. */
  | { kind: "not-ready"; reason: string };

/** Typing into pool sessions. */
export interface Delivery {
  /** Types a claimed task (state running, `session` set) into its session. */
  deliver(task: TaskRow): Promise<DeliveryOutcome>;
  /**
   * Types the continue prompt for a running task whose turn was cut; counted in `continues`. Calls made in the same
   * turn of the event loop are typed together (one capture, then one tmux invocation pastes, pauses and presses Enter
   * for all their sessions).
   * `seen`: the session's screen as the observation pass that asks read it, nothing observed or typed since (the look
   * after a swap): it is checked instead of a new capture.
   */
  typeContinue(task: TaskRow, reason: string, seen?: string[]): Promise<DeliveryOutcome>;
  /** Resolves once no continue prompt is being typed (the daemon stops after it). */
  idle(): Promise<void>;
}

const PANE_POLL_MS = 200;

/** One continue prompt asked for, waiting for its batch. */
interface ContinueAsk {
  task: TaskRow;
  reason: string;
  /** The session's screen, read by the observation pass that asked (nothing else observed or typed since). */
  seen?: string[];
  resolve(outcome: DeliveryOutcome): void;
}

/** Creates the {@link Delivery}. */
export function createDelivery(deps: DeliveryDeps, options: DeliveryOptions): Delivery {
  const { store, tmux, lifecycle, clock, log } = deps;
  const settleMs = options.pasteSettleMs ?? 150;

  /** Why nothing may be typed into a pane showing `screen` (null: an idle prompt with an empty input box). */
  const readinessOf = (screen: string[] | undefined): string | null => {
    if (!screen) return "the pane could not be read";
    const activity = paneActivity(screen);
    if (activity !== "idle") return activity === "waiting" || activity === "dialog" ? "a dialog is open" : `the session is ${activity}`;
    const input = inputText(screen);
    if (input) return "its input box holds text";
    return null;
  };

  /** The pane right now: typing is allowed only into an idle prompt with an empty input box. */
  const readiness = async (session: string): Promise<string | null> => readinessOf((await tmux.capture([session])).get(session));

  const waitReady = async (session: string, timeoutMs: number) => {
    const deadline = clock.now() + timeoutMs;
    while (clock.now() < deadline) {
      if ((await readiness(session)) === null) return true;
      await clock.sleep(PANE_POLL_MS);
    }
    return false;
  };

  /** Writes the delivery intent of `text` into `row`'s conversation: the step before any key is sent. */
  const writeIntent = (task: TaskRow, row: SessionRow, text: string, patch: Partial<TaskRow>) => {
    const home = deps.homeOf(row);
    const path = home && isValidUuid(row.sessionId) ? transcriptPath(home, row.workdir, row.sessionId) : null;
    const now = clock.now();
    store.updateTask(task.id, {
      ...patch, delivery: "intent", conversation: row.sessionId, transcript: path, ledgerOffset: path ? transcriptSize(path) : 0,
      expect: text, promptId: null, typedAt: now, nudgedAt: null,
    });
    // `turnAt` is left to the turn itself (its UserPromptSubmit or a busy screen): set at typing, it would make the
    // limit line still on screen count as a new hit before Claude Code has redrawn.
    deps.sessions.apply(row.name, { kind: "task-typed", at: now, taskId: task.id });
  };

  /** After the keys: `typed`, unless a hook already confirmed it. */
  const markTyped = (taskId: number) => {
    if (store.task(taskId)?.delivery === "intent") store.updateTask(taskId, { delivery: "typed" });
  };

  /** Writes the intent, types `text`, and marks it typed unless a hook already confirmed it. */
  const type = async (task: TaskRow, row: SessionRow, text: string, patch: Partial<TaskRow>): Promise<DeliveryOutcome> => {
    writeIntent(task, row, text, patch);
    try {
      const entered = await tmux.pasteThenKeys([row.name], text, settleMs, "Enter");
      if (!entered.has(row.name)) log.warn("typing failed", { session: row.name, task_id: task.id, error: "the pane vanished" });
    } catch (error) {
      // Whether any key arrived is unknown: the follower reads the transcript and decides; nothing is retyped here.
      log.warn("typing failed", { session: row.name, task_id: task.id, error });
    }
    markTyped(task.id);
    return { kind: "typed" };
  };

  /**
   * Types the continue prompt into every session of `asks` that is ready, together: one capture (none when the asking
   * pass's screens are passed), then one tmux invocation pastes, pauses and presses Enter for all (a swap releases a
   * fleet's cut tasks at once). Each ask resolves to its own outcome.
   */
  const typeContinues = async (asks: ContinueAsk[]) => {
    const ready: Array<{ ask: ContinueAsk; row: SessionRow }> = [];
    const sessionsSeen = new Set<string>();
    const rows = asks.map((ask) => (ask.task.session ? store.session(ask.task.session) : null));
    // A screen the asking pass just read is not read again (one tmux round trip less; under load that is most of a second).
    const screens = new Map(asks.flatMap((ask, i) => (ask.seen && rows[i] ? [[rows[i]!.name, ask.seen] as [string, string[]]] : [])));
    const names = [...new Set(rows.flatMap((row) => (row && !screens.has(row.name) ? [row.name] : [])))];
    if (names.length) for (const [name, lines] of await tmux.capture(names)) screens.set(name, lines);
    asks.forEach((ask, i) => {
      const row = rows[i];
      if (!row) return ask.resolve({ kind: "not-ready", reason: "the session is gone" });
      // The follower does not wait for the keys: a hook or a transcript record may have moved the task on meanwhile.
      const now = store.task(ask.task.id);
      if (!now || (now.state !== "running" && now.state !== "stalled") || now.delivery !== "ended" || now.continues !== ask.task.continues) {
        return ask.resolve({ kind: "not-ready", reason: "the task moved on while its screen was read" });
      }
      const notReady = sessionsSeen.has(row.name) ? "a continue is being typed into it" : readinessOf(screens.get(row.name));
      if (notReady) return ask.resolve({ kind: "not-ready", reason: notReady });
      sessionsSeen.add(row.name);
      log.info("task continues", { session: row.name, task_id: ask.task.id, reason: ask.reason, continues: ask.task.continues + 1 });
      writeIntent(ask.task, row, options.continuePrompt, { continues: ask.task.continues + 1 });
      ready.push({ ask, row });
    });
    if (!ready.length) return;
    let entered = new Set<string>();
    let failure: unknown = "the pane vanished";
    try {
      entered = await tmux.pasteThenKeys(ready.map((r) => r.row.name), options.continuePrompt, settleMs, "Enter");
    } catch (error) {
      failure = error;
    }
    if (entered.size) log.debug("continue keys sent", { sessions: [...entered] });
    for (const { ask, row } of ready) {
      // Whether any key arrived is unknown: the follower reads the transcript and decides; nothing is retyped here.
      if (!entered.has(row.name)) log.warn("typing failed", { session: row.name, task_id: ask.task.id, error: failure });
      markTyped(ask.task.id);
      ask.resolve({ kind: "typed" });
    }
  };

  let pendingContinues: ContinueAsk[] | null = null;
  /** Continues asked for and not typed yet, by task id. */
  const continuing = new Map<number, Promise<DeliveryOutcome>>();
  const flushContinues = () => {
    const asks = pendingContinues ?? [];
    pendingContinues = null;
    typeContinues(asks).catch((error) => {
      log.error("continue prompts not typed", { error });
      for (const ask of asks) ask.resolve({ kind: "not-ready", reason: `typing failed: ${(error as Error).message}` });
    });
  };

  return {
    async deliver(task) {
      const row = task.session ? store.session(task.session) : null;
      if (!row || lifecycle.kindOf(row.name) !== "pool") return { kind: "not-ready", reason: "not a pool session" };
      let current = row;
      if (row.workdir !== realWorkdir(task.workdir)) {
        // Claude Code's working directory is fixed per process: a task elsewhere gets a fresh conversation there.
        current = await lifecycle.launch(row.name, { account: deps.activeAccount(), workdir: task.workdir });
        if (!(await waitReady(row.name, options.workdirReadyMs ?? 30_000))) return { kind: "not-ready", reason: "the session did not start in the task's workdir" };
      }
      // The last poll may be seconds old: check the pane right before typing.
      const notReady = await readiness(row.name);
      if (notReady) return { kind: "not-ready", reason: notReady };
      return type(task, store.session(row.name) ?? current, task.prompt, { attempts: task.attempts + 1 });
    },

    typeContinue(task, reason, seen) {
      // One continue per task at a time: the follower asks again on every pass until the intent is written.
      const inFlight = continuing.get(task.id);
      if (inFlight) return inFlight;
      // Asked in the same turn of the event loop (the follower asks for every cut task at once): typed together.
      const outcome = new Promise<DeliveryOutcome>((resolve) => {
        if (!pendingContinues) {
          pendingContinues = [];
          setImmediate(flushContinues);
        }
        pendingContinues.push({ task, reason, seen, resolve });
      });
      continuing.set(task.id, outcome);
      void outcome.finally(() => continuing.delete(task.id));
      return outcome;
    },

    async idle() {
      while (continuing.size) await Promise.all(continuing.values());
    },
  };
}
