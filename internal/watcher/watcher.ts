/**
 * @module watcher
 * Knows when a session's task is done, stalled or timed out, from what each poll shows. The `Stop` hook is the
 * primary "done" signal (handled by the supervisor); this module is the fallback for sessions whose hooks never
 * arrive (an idle pane for `idle_polls` consecutive polls), the timeout clock, and the stall detector (a working
 * pane whose screen has not changed for a long time). Pure bookkeeping: no I/O, time comes in as `now`.
 */
import type { PaneActivity } from "../quota/classify.ts";

/** What the watcher concludes about one session on one poll. */
export type WatchVerdict =
  | { kind: "none" }
  | { kind: "done-idle" }
  | { kind: "timeout"; afterMs: number }
  | { kind: "stalled"; quietMs: number };

/** One poll's view of a session. */
export interface WatchInput {
  session: string;
  activity: PaneActivity;
  /** The visible screen, used to notice change. */
  screen: string[];
  now: number;
  /** The running task, if any. */
  task: { id: number; startedAt: number | null; timeoutMs: number | null } | null;
  /** True once hook events reach the daemon: then `Stop` decides completion, not idleness. */
  hooksWork: boolean;
  /** The pane shows a limit or error line: idle, but not done. */
  blocked?: boolean;
}

/** Options from config. */
export interface WatcherOptions {
  idlePolls: number;
  taskTimeoutMs: number;
  /** A working session whose screen is unchanged this long is stalled. @default 10 min */
  stallAfterMs?: number;
}

/** The watcher. */
export interface Watcher {
  observe(input: WatchInput): WatchVerdict;
  /** Forgets a session's counters (new task or relaunch). */
  forget(session: string): void;
}

const DEFAULT_STALL_AFTER_MS = 10 * 60_000;

/** Creates a {@link Watcher}. */
export function createWatcher(options: WatcherOptions): Watcher {
  const idleStreak = new Map<string, number>();
  const lastChange = new Map<string, { hash: string; at: number }>();
  const stallAfter = options.stallAfterMs ?? DEFAULT_STALL_AFTER_MS;

  return {
    observe(input) {
      const hash = Bun.hash(input.screen.join("\n")).toString(36);
      const seen = lastChange.get(input.session);
      if (!seen || seen.hash !== hash) lastChange.set(input.session, { hash, at: input.now });
      const task = input.task;
      if (!task) {
        idleStreak.delete(input.session);
        return { kind: "none" };
      }
      const timeout = task.timeoutMs ?? options.taskTimeoutMs;
      if (task.startedAt !== null && input.now - task.startedAt > timeout) return { kind: "timeout", afterMs: input.now - task.startedAt };
      if (input.activity === "idle" && !input.blocked) {
        const streak = (idleStreak.get(input.session) ?? 0) + 1;
        idleStreak.set(input.session, streak);
        if (!input.hooksWork && streak >= options.idlePolls) return { kind: "done-idle" };
      } else {
        idleStreak.delete(input.session);
      }
      const quietMs = input.now - (lastChange.get(input.session)?.at ?? input.now);
      if (input.activity === "busy" && quietMs >= stallAfter) return { kind: "stalled", quietMs };
      return { kind: "none" };
    },
    forget(session) {
      idleStreak.delete(session);
      lastChange.delete(session);
    },
  };
}
