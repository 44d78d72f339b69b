/**
 * @module watcher/sessions
 * What the daemon has seen of each session since it started: the last screen of its pane (alive or dead) and the
 * time of its last SessionStart hook. From that it answers the questions other modules ask: which pool sessions are
 * free for a task, what a pane shows now (idle, busy, a dialog, text left in its input box, Claude Code's own
 * continue after a reset), when a session last started. Memory only: the store keeps what must survive a restart.
 * It is also the daemon's one writer of session state: every module reports what happened to a session through
 * {@link SessionTracker.apply}, which session-state.ts turns into the stored row.
 */
import { inputText, paneActivity, type PaneActivity } from "../quota/classify.ts";
import type { Store } from "../state/state.ts";
import type { OwnedNames } from "../lifecycle/names.ts";
import type { PaneFacts } from "./follow.ts";
import { createSessionWriter, type SessionWriter } from "./session-state.ts";

/** The session tracker. */
export interface SessionTracker extends SessionWriter {
  /** Records what a poll saw of a session at `at`: its pane is alive (with `lines` on screen) or dead/gone. */
  sighted(session: string, alive: boolean, lines: string[] | null, at: number): void;
  /** Records a SessionStart hook. */
  started(session: string, at: number): void;
  /** Time of the last SessionStart hook, if any since the daemon started. */
  startedAt(session: string): number | null;
  /** The pane as the last poll saw it; null when it was not seen alive. */
  pane(session: string): PaneFacts | null;
  /** Activity on the last poll; null when the pane was not seen alive. */
  activity(session: string): PaneActivity | null;
  /** True unless the last poll saw the pane dead or missing. */
  alive(session: string): boolean;
  /** Idle pool sessions with no task and an empty input box, lowest index first (never dedicated, retiring or foreign). */
  freeSessions(): string[];
}

/** Creates a {@link SessionTracker}. */
export function createSessionTracker(deps: { store: Store; names: Pick<OwnedNames, "ownedNames" | "kindOf"> }): SessionTracker {
  const { store, names } = deps;
  const writer = createSessionWriter(store, (name) => names.kindOf(name));
  const screens = new Map<string, { alive: boolean; lines: string[]; at: number }>();
  const starts = new Map<string, number>();

  const pane = (session: string): PaneFacts | null => {
    const seen = screens.get(session);
    if (!seen?.alive || seen.lines.length === 0) return null;
    const activity = paneActivity(seen.lines);
    return {
      activity: activity === "idle" ? "idle" : activity === "busy" ? "busy" : activity === "waiting" || activity === "dialog" ? "dialog" : "other",
      input: inputText(seen.lines),
      autoContinueFiring: /Usage limit reset · Continuing automatically/.test(seen.lines.slice(-12).join("\n")),
    };
  };

  return {
    apply(name, fact) {
      // A screen seen before a (re)launch shows the program that was replaced: nothing is decided from it any more.
      if (fact.kind === "launched") screens.delete(name);
      return writer.apply(name, fact);
    },
    forget: writer.forget,
    sighted(session, alive, lines, at) {
      screens.set(session, { alive, lines: lines ?? [], at });
    },
    started(session, at) {
      starts.set(session, at);
    },
    startedAt: (session) => starts.get(session) ?? null,
    pane,
    activity(session) {
      const seen = screens.get(session);
      return seen?.alive ? paneActivity(seen.lines) : null;
    },
    alive: (session) => screens.get(session)?.alive ?? true,
    freeSessions() {
      const busy = new Set(store.tasks(["running", "stalled"]).map((t) => t.session));
      return names.ownedNames().filter((name) => {
        if (names.kindOf(name) !== "pool" || busy.has(name)) return false;
        const row = store.session(name);
        const seen = pane(name);
        if (row?.state !== "idle" || row.taskId !== null || !seen) return false;
        // A turn that ended (Stop hook, ledger) after the last poll: the screen is older than the row. Delivery checks
        // the pane again right before typing, so a stale "busy" does not keep the lowest session from its next task.
        const stale = seen.activity === "busy" && row.updatedAt > (screens.get(name)?.at ?? 0);
        return (seen.activity === "idle" || stale) && (seen.input === "" || seen.input === null);
      });
    },
  };
}
