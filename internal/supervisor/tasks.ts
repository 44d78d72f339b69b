/**
 * @module supervisor/tasks
 * The task side of owned sessions, used by the supervisor: which pool sessions are free, delivering a prompt (in the
 * task's workdir, as a bracketed paste, confirmed by the session turning busy or the UserPromptSubmit hook), finishing
 * or releasing a task, continuing after an API error, and growing the pool when tasks wait. Decides nothing about
 * accounts or swaps.
 */
import type { Clock } from "../clock.ts";
import type { Account, Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import { realWorkdir, type Lifecycle } from "../lifecycle/lifecycle.ts";
import { paneActivity, type PaneActivity } from "../quota/classify.ts";
import type { Store, TaskRow } from "../state/state.ts";
import type { Tmux } from "../tmux/tmux.ts";
import type { Watcher } from "../watcher/watcher.ts";
import type { Dispatcher } from "../dispatcher/dispatcher.ts";
import { pasteSafe } from "../tmux/tmux.ts";
import type { TurnBook } from "./turns.ts";

/** What the supervisor has seen of each session, shared with this module. */
export interface SessionSightings {
  /** Activity on the last poll. */
  activity: Map<string, PaneActivity>;
  /** Last UserPromptSubmit hook, epoch ms. */
  promptSeenAt: Map<string, number>;
  /** Open turns per session. */
  turns: TurnBook;
}

/** What task handling touches. */
export interface TaskWorkDeps {
  config: Readonly<Config>;
  store: Store;
  tmux: Tmux;
  lifecycle: Lifecycle;
  dispatcher: Dispatcher;
  watcher: Watcher;
  clock: Clock;
  log: Logger;
  sightings: SessionSightings;
  activeHome(): Account;
  gateOpen(): boolean;
  swapRunning(): boolean;
  /** True once hook events reach the daemon: delivery is then confirmed only by the prompt's own UserPromptSubmit. */
  hooksWork(): boolean;
}

/** Task handling for owned sessions. */
export interface TaskWork {
  runningTaskOf(session: string): TaskRow | null;
  /** The running task a submitted prompt belongs to: its own prompt, or the continue prompt sent for it; else null. */
  taskOfPrompt(session: string, prompt: unknown): number | null;
  /** Idle pool sessions with no task, lowest index first (never dedicated or foreign). */
  freeSessions(): string[];
  deliver(session: string, prompt: string, workdir: string): Promise<boolean | "not-ready">;
  /** The task is done: file to done/ with `result`, session freed. */
  finish(session: string, taskId: number, result: string | null): void;
  /** Frees the session of its task (the task was failed or moved elsewhere). */
  release(session: string): void;
  /** After an API error ended a task's turn: wait, ask to continue, a bounded number of times; then fail the task. */
  continueAfterApiError(session: string, taskId: number, line: string): Promise<void>;
  /** Tasks wait and no pool session is free: start the next pool session (one per call, up to `max`). */
  growIfNeeded(): Promise<void>;
  /** Asks every idle session that still holds a running task to continue (after its account's quota came back). */
  continueParked(): Promise<void>;
}

const DELIVERY_CONFIRM_MS = 10_000;
const WORKDIR_READY_MS = 30_000;
const PASTE_SETTLE_MS = 150;
const PANE_POLL_MS = 200;
/** Continues asked of a task whose turns end on API errors before it fails. */
const API_ERROR_RETRIES = 2;
const API_ERROR_RETRY_DELAY_MS = 30_000;

/** Creates the {@link TaskWork}. */
export function createTaskWork(deps: TaskWorkDeps): TaskWork {
  const { config, store, tmux, lifecycle, dispatcher, watcher, clock, log, sightings } = deps;
  const apiErrorRetries = new Map<number, number>();
  const runningTaskOf = (session: string) => store.tasks(["running"]).find((t) => t.session === session) ?? null;

  /** Polls one pane until `ok(activity)` or `extra()` holds, or `timeoutMs` passes. */
  const waitFor = async (session: string, ok: (a: PaneActivity) => boolean, timeoutMs: number, extra?: () => boolean) => {
    const deadline = clock.now() + timeoutMs;
    while (clock.now() < deadline) {
      if (extra?.()) return true;
      const screen = (await tmux.capture([session])).get(session);
      if (screen && ok(paneActivity(screen))) return true;
      await clock.sleep(PANE_POLL_MS);
    }
    return extra?.() ?? false;
  };

  const work: TaskWork = {
    runningTaskOf,

    taskOfPrompt(session, prompt) {
      const task = runningTaskOf(session);
      if (!task) return null;
      // Older Claude Code versions send no prompt text: a turn started while a task runs is that task's.
      if (typeof prompt !== "string") return task.id;
      const said = normalizePrompt(prompt);
      // `includes`: text left in the input box by an earlier, unconfirmed paste is submitted together with this one.
      return said.includes(normalizePrompt(task.prompt)) || said === normalizePrompt(config.switcher.continue_prompt) ? task.id : null;
    },

    freeSessions() {
      const busy = new Set(store.tasks(["running"]).map((t) => t.session));
      return lifecycle.ownedNames().filter((name) => {
        if (lifecycle.kindOf(name) !== "pool" || busy.has(name) || sightings.turns.busy(name)) return false;
        const row = store.session(name);
        return row?.state === "idle" && row.taskId === null && sightings.activity.get(name) === "idle";
      });
    },

    async deliver(session, prompt, workdir) {
      const row = store.session(session);
      if (!row || lifecycle.kindOf(session) !== "pool") return false;
      // A swap (or a pause) may have begun since the task was claimed: nothing is typed into a parked pane.
      if (!deps.gateOpen()) return "not-ready";
      if (row.workdir !== realWorkdir(workdir)) {
        // Claude Code's working directory is fixed per process: a task elsewhere gets a fresh conversation there.
        await lifecycle.launch(session, { account: deps.activeHome(), workdir });
        if (!(await waitFor(session, (a) => a === "idle", WORKDIR_READY_MS))) return false;
      }
      // The last poll may be seconds old: the session must be idle, with no turn open, right before typing into it.
      const screen = (await tmux.capture([session])).get(session);
      const now = screen ? paneActivity(screen) : "unknown";
      if (now !== "idle" || sightings.turns.busy(session)) {
        // What the last poll saw is stale: record what the pane shows now, so the session is not offered again at once.
        sightings.activity.set(session, now === "idle" ? "busy" : now);
        return "not-ready";
      }
      const task = runningTaskOf(session);
      await tmux.paste(session, prompt);
      await clock.sleep(PASTE_SETTLE_MS);
      await tmux.sendKeys(session, "Enter");
      // Confirmed by this prompt's own turn (UserPromptSubmit tagged with the task). Without hooks, by the idle pane
      // turning busy (a person pressing Enter at the same instant could fool that, which hooks rule out).
      const ownTurn = () => task !== null && sightings.turns.oldest(session)?.taskId === task.id;
      const paneSaysBusy = (a: PaneActivity) => !deps.hooksWork() && a === "busy";
      const confirmed = await waitFor(session, paneSaysBusy, DELIVERY_CONFIRM_MS, ownTurn);
      if (!confirmed) return false;
      watcher.forget(session);
      store.upsertSession(session, "pool", { state: "working", taskId: task?.id ?? null, activityAt: clock.now() }, clock.now());
      return true;
    },

    finish(session, taskId, result) {
      dispatcher.complete(taskId, result);
      apiErrorRetries.delete(taskId);
      work.release(session);
    },

    release(session) {
      watcher.forget(session);
      sightings.turns.clear(session);
      const task = runningTaskOf(session);
      if (task) apiErrorRetries.delete(task.id);
      const kind = lifecycle.kindOf(session);
      if (kind) store.upsertSession(session, kind, { taskId: null, state: "idle" }, clock.now());
    },

    async continueAfterApiError(session, taskId, line) {
      const tries = (apiErrorRetries.get(taskId) ?? 0) + 1;
      apiErrorRetries.set(taskId, tries);
      if (tries > API_ERROR_RETRIES) {
        log.warn("task failed after api errors", { session, task: taskId, line: line.slice(0, 120) });
        dispatcher.fail(taskId, `the turn kept ending on an API error (${API_ERROR_RETRIES} continues tried): ${line.slice(0, 300)}`);
        apiErrorRetries.delete(taskId);
        work.release(session);
        return;
      }
      log.info("task continues after api error", { session, task: taskId, attempt: tries, line: line.slice(0, 120) });
      await clock.sleep(API_ERROR_RETRY_DELAY_MS);
      if (runningTaskOf(session)?.id !== taskId || deps.swapRunning()) return;
      await tmux.paste(session, config.switcher.continue_prompt).catch(() => undefined);
      await tmux.sendKeys(session, "Enter").catch(() => undefined);
    },

    async continueParked() {
      for (const task of store.tasks(["running"])) {
        if (!task.session || sightings.activity.get(task.session) !== "idle") continue;
        log.info("task continues after the quota came back", { session: task.session, task: task.id });
        await tmux.paste(task.session, config.switcher.continue_prompt).catch(() => undefined);
        await tmux.sendKeys(task.session, "Enter").catch(() => undefined);
      }
    },

    async growIfNeeded() {
      if (!deps.gateOpen() || store.taskCounts().queued === 0 || work.freeSessions().length > 0) return;
      if (store.sessions().some((s) => s.kind === "pool" && s.state === "starting")) return;
      const grown = await lifecycle.grow(deps.activeHome());
      if (grown) log.info("pool grown for waiting tasks", { session: grown });
    },
  };
  return work;
}

/** Prompts compare as the session received them: pasted safely, whitespace collapsed. */
function normalizePrompt(text: string): string {
  return pasteSafe(text).replace(/\s+/g, " ").trim();
}
