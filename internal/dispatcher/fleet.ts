/**
 * @module dispatcher/fleet
 * The fleet bridge as the dispatcher sees it ({@link DispatcherFleet}, docs/fleet.md "Wiring"), and the row queries
 * that change when one is given: which queued rows the dispatcher may take (only those this host holds a claim on),
 * and which row owns a file name on this host (rows of other hosts' tasks have no file here).
 * It decides nothing about the shared queue: the bridge (internal/fleet/bridge.ts) does.
 */
import { isAbsolute, resolve } from "node:path";
import type { TaskOutcome } from "../fleet/store.ts";
import type { Store, TaskRow } from "../state/state.ts";

/** What the dispatcher asks of the fleet bridge; absent, the dispatcher runs every queued row itself (no bridge). */
export interface DispatcherFleet {
  /** `fleet.host`: rows whose `originHost` is another host have no file here. */
  host: string;
  /**
   * A fleet row run here ended: the bridge ends the local row and stores the finish together before it returns (a kill
   * after that loses nothing), then sends it (and, once accepted, moves the file and notifies).
   */
  finished(taskId: number, outcome: TaskOutcome): Promise<void>;
  /** A claimed row was never typed: back to the shared queue. */
  release(taskId: number, reason: string): Promise<void>;
  /** Whether a claimed row may start now (false while the database is away and less than half a lease is left). */
  mayStart(): boolean;
  /** New inbox tasks were queued, or free sessions found no claimed row: the bridge runs a pass soon. */
  wake(): void;
}

/** The next row the dispatcher may take: without a bridge any queued row; with one only a claim held here (and may start). */
export function nextQueued(store: Store, fleet: DispatcherFleet | undefined): TaskRow | undefined {
  if (!fleet) return store.tasks(["queued"], 1)[0];
  if (!fleet.mayStart()) return undefined;
  const held = store.bridge.tasksInFleetState(["claimed"]).filter((t) => t.state === "queued");
  return held.sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || a.id - b.id)[0];
}

/** The latest row of a file of this host's queue folders. */
export function taskOfFile(store: Store, fleet: DispatcherFleet | undefined, project: string, file: string): TaskRow | null {
  return fleet ? store.bridge.taskByFile(project, file, fleet.host) : store.taskByFile(project, file);
}

/** A task's workdir: its front matter's (absolute, or relative to its project's), else its project's, else the default. */
export function taskWorkdir(options: { defaultWorkdir: string; projects: Record<string, { workdir: string }> }, project: string, own: string | undefined): string {
  const base = options.projects[project]?.workdir ?? options.defaultWorkdir;
  return own === undefined ? base : isAbsolute(own) ? own : resolve(base, own);
}

/** Whether the row belongs to the shared queue (its end goes through the bridge, its file is never moved by the dispatcher). */
export const inFleet = (task: TaskRow, fleet: DispatcherFleet | undefined): fleet is DispatcherFleet => fleet !== undefined && task.fleetId != null;
