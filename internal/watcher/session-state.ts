/**
 * @module watcher/session-state
 * The one writer of session state. Every change to a row of the store's `sessions` table is a {@link SessionFact}
 * (a launch, a hook, a screen, a typed task, a swap step, a reload), and {@link nextSessionState} is the rule book
 * saying what each fact changes: a patch, or nothing. {@link createSessionWriter} applies the facts; no other module
 * calls `store.upsertSession` or `store.deleteSession` (test/watcher/session-state.test.ts checks the source tree).
 */
import type { PaneActivity } from "../quota/classify.ts";
import type { SessionKind, SessionPatch, SessionRow, Store } from "../state/state.ts";

/** Something that happened to a session, as the module that saw it reports it. `at` is epoch ms. */
export type SessionFact =
  // lifecycle
  /** Claude Code was (re)started in the pane; a new conversation (not resumed) carries no task. */
  | { kind: "launched"; at: number; sessionId: string; account: string; home: string; workdir: string; resumed: boolean }
  /** A running pane the store did not know (a new state folder), taken over as it is. */
  | { kind: "adopted"; at: number; workdir: string; account: string; home: string; sessionId: string | null }
  /** Claude Code stopped for a swap, a holding pane in its place. */
  | { kind: "held"; at: number }
  /** The launch just recorded ran with `--model <model>` (null: Claude Code's default model). */
  | { kind: "model"; at: number; model: string | null }
  /** A pane left `dead` runs again. */
  | { kind: "revived"; at: number }
  /** Claude Code keeps exiting right after launch: left `dead`. */
  | { kind: "gave-up"; at: number }
  /** A reload left the session outside the owned names (`retiring`), or took it back (`kept`). */
  | { kind: "retiring"; at: number }
  | { kind: "kept"; at: number }
  // hooks and polls
  /** SessionStart hook (a session still starting stays so until its screen shows the prompt). */
  | { kind: "started"; at: number; sessionId: string | null; hasTask: boolean }
  /** UserPromptSubmit hook; `current` unless it is a late hook of a turn before the last launch or move. */
  | { kind: "prompted"; at: number; current: boolean }
  /** Stop hook: the turn ended. */
  | { kind: "turn-ended"; at: number; hasTask: boolean }
  /** A poll saw the screen busy: the first turn since the launch, when none was seen yet. Holds during swaps too. */
  | { kind: "turn-seen"; at: number }
  /** A poll outside a swap: what the screen shows; `hasTask`: a task runs on the session (the task table). */
  | { kind: "screen"; at: number; activity: PaneActivity; hasTask: boolean }
  /** The watcher found the working screen of a session with a task frozen. */
  | { kind: "froze"; at: number }
  // tasks
  /** A task (or a continue prompt for it) is being typed into the session. */
  | { kind: "task-typed"; at: number; taskId: number }
  /** The session's task ended or left it. */
  | { kind: "task-released"; at: number }
  // swaps
  /** An in-place swap moved the session to `account`; `stale` when its screen still shows the old account's limit. */
  | { kind: "moved"; at: number; account: string; stale: boolean }
  /** A swap could not bring the session back. */
  | { kind: "swap-lost"; at: number }
  /** A swap brought the session back (resumed), with or without a task to continue. */
  | { kind: "swap-back"; at: number; midTask: boolean };

/** What `fact` changes on `row` (null when there is no row yet); null when it changes nothing. */
export function nextSessionState(row: SessionRow | null, fact: SessionFact): SessionPatch | null {
  const at = fact.at;
  switch (fact.kind) {
    case "launched":
      return {
        state: "starting", sessionId: fact.sessionId, account: fact.account, home: fact.home, workdir: fact.workdir,
        launchedAt: at, activityAt: at, ...(fact.resumed ? {} : { taskId: null }),
      };
    case "adopted":
      return row ? null : {
        state: "idle", workdir: fact.workdir, account: fact.account, home: fact.home, activityAt: at,
        ...(fact.sessionId ? { sessionId: fact.sessionId } : {}),
      };
    case "model":
      return (row?.model ?? null) === fact.model ? null : { model: fact.model };
    case "held":
      return { state: "starting" };
    case "revived":
      return row?.state === "dead" ? { state: "idle" } : null;
    case "gave-up":
      return row?.state === "dead" ? null : { state: "dead" };
    case "retiring":
      return row && row.retiringAt === null ? { retiringAt: at } : null;
    case "kept":
      return row && row.retiringAt !== null ? { retiringAt: null } : null;
    case "started": {
      // Claude Code fires SessionStart before it draws its prompt: a session still starting becomes idle when a poll
      // sees the prompt (the `screen` fact), not at the hook.
      const state = fact.hasTask ? "working" : row?.state === "starting" ? "starting" : "idle";
      return { state, activityAt: at, ...(fact.sessionId ? { sessionId: fact.sessionId } : {}) };
    }
    case "prompted":
      return { state: "working", activityAt: at, ...(fact.current ? { turnAt: at } : {}) };
    case "turn-ended":
      return fact.hasTask ? null : { state: "idle", activityAt: at };
    case "turn-seen":
      return row && (row.turnAt ?? 0) <= (row.launchedAt ?? 0) ? { turnAt: at } : null;
    case "screen": {
      if (!row || row.state === "dead") return null;
      const next = fact.activity === "busy" ? "working" : fact.activity === "idle" && !fact.hasTask ? "idle" : row.state;
      // No task runs on the session (the task table is the truth): a task id left on the row is one whose end was
      // recorded but whose release was not (a kill -9 between the two); kept, it would bar the session from every task.
      const released = !fact.hasTask && row.taskId !== null;
      if (next === row.state) return released ? { taskId: null } : null;
      return { state: next, activityAt: at, ...(released ? { taskId: null } : {}) };
    }
    case "froze":
      return row && row.state !== "stalled" && row.state !== "dead" ? { state: "stalled" } : null;
    case "task-typed":
      return { state: "working", taskId: fact.taskId, activityAt: at };
    case "task-released":
      return row ? { state: "idle", taskId: null } : null;
    case "moved":
      return { account: fact.account, ...(fact.stale ? { launchedAt: at } : {}) };
    case "swap-lost":
      return { state: "dead" };
    case "swap-back":
      return { state: fact.midTask ? "working" : "idle", activityAt: at };
  }
}

/** Applies session facts to the store. */
export interface SessionWriter {
  /** Records `fact` about `name`; returns the row after it (null for a session neither stored nor owned). */
  apply(name: string, fact: SessionFact): SessionRow | null;
  /** Drops the row of a session that is not the daemon's any more. */
  forget(name: string): void;
}

/** Creates the {@link SessionWriter}; `kindOf` names the kind of an owned session that has no row yet. */
export function createSessionWriter(store: Store, kindOf: (name: string) => SessionKind | null): SessionWriter {
  return {
    apply(name, fact) {
      const row = store.session(name);
      const kind: SessionKind | null = row?.kind ?? kindOf(name);
      if (!kind) return null;
      const patch = nextSessionState(row, fact);
      return patch ? store.upsertSession(name, kind, patch, fact.at) : row;
    },
    forget(name) {
      store.deleteSession(name);
    },
  };
}
