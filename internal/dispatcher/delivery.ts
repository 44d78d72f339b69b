/**
 * @module dispatcher/delivery
 * Types prompts into pool sessions, exactly once per intent. Before any key is sent, the delivery intent is written
 * to the store: the task, the conversation it goes into, that conversation's transcript and its size (the prompt's
 * own record will come after that offset). Then the prompt is pasted (bracketed paste, so text never acts as keys)
 * and Enter pressed. Whether it arrived is not decided here: the task follower reads the transcript
 * (watcher/follow.ts). Never types into a pane that is not idle with an empty input box (a dialog, a person's text).
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
  /** Types the continue prompt for a running task whose turn was cut; counted in `continues`. */
  typeContinue(task: TaskRow, reason: string): Promise<DeliveryOutcome>;
}

const PANE_POLL_MS = 200;

/** Creates the {@link Delivery}. */
export function createDelivery(deps: DeliveryDeps, options: DeliveryOptions): Delivery {
  const { store, tmux, lifecycle, clock, log } = deps;
  const settleMs = options.pasteSettleMs ?? 150;

  /** The pane right now: typing is allowed only into an idle prompt with an empty input box. */
  const readiness = async (session: string): Promise<string | null> => {
    const screen = (await tmux.capture([session])).get(session);
    if (!screen) return "the pane could not be read";
    const activity = paneActivity(screen);
    if (activity !== "idle") return activity === "waiting" || activity === "dialog" ? "a dialog is open" : `the session is ${activity}`;
    const input = inputText(screen);
    if (input) return "its input box holds text";
    return null;
  };

  const waitReady = async (session: string, timeoutMs: number) => {
    const deadline = clock.now() + timeoutMs;
    while (clock.now() < deadline) {
      if ((await readiness(session)) === null) return true;
      await clock.sleep(PANE_POLL_MS);
    }
    return false;
  };

  /** Writes the intent, types `text`, and marks it typed unless a hook already confirmed it. */
  const type = async (task: TaskRow, row: SessionRow, text: string, patch: Partial<TaskRow>): Promise<DeliveryOutcome> => {
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
    try {
      await tmux.paste(row.name, text);
      await clock.sleep(settleMs);
      await tmux.sendKeys(row.name, "Enter");
    } catch (error) {
      // Whether any key arrived is unknown: the follower reads the transcript and decides; nothing is retyped here.
      log.warn("typing failed", { session: row.name, task_id: task.id, error });
    }
    if (store.task(task.id)?.delivery === "intent") store.updateTask(task.id, { delivery: "typed" });
    return { kind: "typed" };
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

    async typeContinue(task, reason) {
      const row = task.session ? store.session(task.session) : null;
      if (!row) return { kind: "not-ready", reason: "the session is gone" };
      const notReady = await readiness(row.name);
      if (notReady) return { kind: "not-ready", reason: notReady };
      log.info("task continues", { session: row.name, task_id: task.id, reason, continues: task.continues + 1 });
      return type(task, row, options.continuePrompt, { continues: task.continues + 1 });
    },
  };
}
