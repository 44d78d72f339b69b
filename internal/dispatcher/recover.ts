/**
 * @module dispatcher/recover
 * Start-up recovery of the task queue ({@link recoverQueue}), run once before the dispatcher starts: keeps every task
 * whose prompt may have been typed (the task follower reads its transcript and decides: done, still running, or
 * never typed), requeues claims that never reached typing, finishes file moves a crash interrupted (inbox/ →
 * processing/), and settles strays in processing/ (held again, moved to their final folder, or sent back to inbox/).
 * The store is the truth; files are made to follow it (see the dispatcher module comment for where files live).
 * It does not claim, deliver or complete tasks (the dispatcher does), and it does not move files itself: it calls
 * the dispatcher's `moveFile`, so every file move records its final name the same way.
 * With a fleet bridge, a claim never typed (running or still waiting) goes back to the shared queue (`fleet.release`),
 * fleet rows' files are never moved, and this host's own exported tasks keep their files in processing/ (they wait
 * for the shared row to end).
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { NO_DELIVERY, type Store, type TaskRow } from "../state/state.ts";
import type { QueueFolder, TaskQueue } from "./queue.ts";
import { inFleet, taskOfFile, type DispatcherFleet } from "./fleet.ts";

/** Task states that still have work to do. */
export const ACTIVE = ["queued", "running", "stalled"] as const;
/** Task states whose file has left the inbox. */
export const STARTED = ["running", "stalled"] as const;
/** "Every row" for store queries that take a limit. */
export const ALL_ROWS = 1_000_000;

/** What {@link recoverQueue} touches; `log` and `moveFile` are the dispatcher's own. */
export interface RecoverDeps {
  store: Store;
  queue: TaskQueue;
  clock: Clock;
  log: Logger;
  /** Moves a task's file and records its final name; false (logged) when the file is missing. */
  moveFile(task: TaskRow, from: QueueFolder, to: QueueFolder, extra?: { error?: string; result?: string }): boolean;
  /** The dispatcher's fleet bridge, if any. */
  fleet?: DispatcherFleet;
}

/** What one {@link recoverQueue} pass did; also logged as `dispatcher recovered`. */
export interface RecoveryCounts {
  /** Running tasks with a delivery intent, kept for the task follower to settle from the transcript. */
  adopted: number;
  /** Running tasks claimed but never typed (no intent), back to queued (their file stays in processing/). */
  requeued: number;
  /** Interrupted claims finished: a file moved inbox/ → processing/, or a queued task marked as held there. */
  moved: number;
  /** Files of done/failed tasks moved out of processing/ to their final folder. */
  finished: number;
  /** Files in processing/ no task owns, sent back to inbox/ to be ingested again. */
  strays: number;
}

/**
 * Puts the queue right after a restart; call once, before the dispatcher starts. Nothing is requeued merely because
 * the daemon restarted: a task with a delivery intent stays running until its transcript says what happened.
 */
export function recoverQueue(deps: RecoverDeps): RecoveryCounts {
  const { store, queue, clock, log, moveFile, fleet } = deps;
  const byFile = (project: string, file: string) => taskOfFile(store, fleet, project, file);
  const inProcessing = (t: TaskRow) => t.startedAt !== null;
  const counts: RecoveryCounts = { adopted: 0, requeued: 0, moved: 0, finished: 0, strays: 0 };
  for (const task of store.tasks([...STARTED], ALL_ROWS)) {
    if (task.session && task.delivery !== null) { counts.adopted++; continue; }
    if (inFleet(task, fleet)) {
      void fleet.release(task.id, "requeued at restart: claimed but never typed");
      counts.requeued++;
      continue;
    }
    store.updateTask(task.id, { state: "queued", session: null, error: "requeued at restart: claimed but never typed", ...NO_DELIVERY });
    counts.requeued++;
  }
  // Claims held while the daemon was down may have expired and gone to another host: given back, claimed afresh.
  for (const task of fleet ? store.bridge.tasksInFleetState(["claimed"]).filter((t) => t.state === "queued" && t.delivery === null) : []) {
    void fleet!.release(task.id, "released at restart: claimed, not started");
    counts.requeued++;
  }
  const active = store.tasks([...ACTIVE], ALL_ROWS);
  for (const task of active.filter((t) => inProcessing(t) && !inFleet(t, fleet))) {
    // A crash between "store: running" and the rename leaves the file in inbox/; finish the move.
    if (queue.onlyIn(task.project, task.file, "inbox", "processing") && byFile(task.project, task.file)?.id === task.id) {
      if (moveFile(task, "inbox", "processing")) counts.moved++;
    }
  }
  // This host's own fleet tasks keep their file in processing/ until the shared row ends (whichever host runs it).
  const exported = fleet ? store.bridge.tasksInFleetState(["exported", "claimed", "finishing", "released", "superseded"]).filter((t) => t.originHost === fleet.host) : [];
  const held = new Set([...store.tasks([...ACTIVE], ALL_ROWS).filter((t) => inProcessing(t) && !inFleet(t, fleet)), ...exported].map((t) => `${t.project}/${t.file}`));
  for (const project of queue.projects()) {
    for (const file of queue.list(project, "processing")) {
      if (held.has(`${project}/${file}`)) continue;
      const last = byFile(project, file);
      const read = queue.readTaskSync(project, "processing", file);
      const same = last && read?.ok && read.prompt === last.prompt;
      if (last && same && last.state === "queued") {
        store.updateTask(last.id, { startedAt: clock.now() }); // its claim was interrupted: now held in processing/
        counts.moved++;
      } else if (last && same && (last.state === "done" || last.state === "failed")) {
        moveFile(last, "processing", last.state, last.state === "failed" ? { error: last.error ?? "failed" } : undefined);
        counts.finished++;
      } else {
        try {
          queue.moveTo(project, file, "processing", "inbox"); // nobody owns it: ingest validates and queues it again
          counts.strays++;
        } catch (error) {
          log.error("cannot move task file", { project, file, from: "processing", to: "inbox", error });
        }
      }
    }
  }
  log.info("dispatcher recovered", { ...counts });
  return counts;
}
