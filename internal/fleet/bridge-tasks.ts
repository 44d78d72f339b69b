/**
 * @module fleet/bridge-tasks
 * The task side of the fleet bridge (docs/fleet.md "Tasks"): exports this host's inbox tasks to the shared queue,
 * claims shared tasks for its free sessions, records what the outbox's finishes and releases were answered (ended, or
 * superseded when the claim had expired), and moves this host's own task files once their shared row ended,
 * whichever host ran them. Local rows carry the link (`fleetId`, `fleetClaim`, `originHost`, `fleetState`,
 * state/bridge-store.ts). It decides nothing about typing or following a task: the dispatcher and watcher do, on the
 * local row, as for any task.
 */
import type { NotifyEvent } from "../notify/events.ts";
import { NO_DELIVERY, type TaskPatch, type TaskRow } from "../state/state.ts";
import type { BridgeDeps } from "./bridge.ts";
import type { Outbox, OutboxWrite } from "./outbox.ts";
import { FleetUnavailable, type FleetTaskRow, type TaskOutcome } from "./store.ts";

/** How many queued shared tasks are looked at for workdirs this host has (besides its configured ones). */
export const WORKDIR_SAMPLE = 200;
/**
 * How long a claim may wait here with more claims waiting than free sessions before it is given back to the shared
 * queue (another host may have a free session). Longer than a session takes to clear its screen after a turn.
 */
export const CLAIM_WAIT_MS = 30_000;
/** The reason a superseded local row carries. */
export const SUPERSEDED = "superseded: the claim expired and the task went back to the fleet queue; this run does not count";

/** The origin host's task files (`<queue>/<project>/…`); fleet/files.ts adapts the dispatcher's TaskQueue. */
export interface BridgeFiles {
  /** Moves an inbox file to processing/; its final name, or null when it is gone (other errors are thrown). */
  take(project: string, file: string): string | null;
  /** The host the task file in processing/ is pinned to (front matter `host:`), or null. */
  pinnedHost(project: string, file: string): string | null;
  /**
   * Reads a file just moved to processing/ again, as the dispatcher does when it takes a task: what is exported is the
   * file as it is then. Null: unreadable this instant (the stored prompt stands); `ok: false`: it no longer parses.
   * Absent: the stored prompt is exported.
   */
  reread?(project: string, file: string): { ok: true; prompt: string; workdir: string; timeoutMs: number | null } | { ok: false; reason: string } | null;
  /** Moves a file processing/ → done/ (with `.result.md`) or failed/ (with `.error.txt`); false when it is missing. */
  end(project: string, file: string, outcome: { state: "done" | "failed"; result: string | null; error: string | null }): boolean;
}

/** What the bridge asks of this host (the dispatcher's view of it). */
export interface BridgeLocal {
  /** Idle sessions with no task that could take one now. */
  freeSessions(): number;
  /** The dispatch gate (dispatcher/gate.ts): no claims while closed. */
  gate(): { open: true } | { open: false; reason: string };
  /** Paused by the operator: this host's inbox stays here (nothing exported), as without a fleet. */
  paused(): boolean;
  /** The workdirs this host's projects use; claimed by even when no queued task is sampled with them. */
  workdirs(): string[];
  workdirExists(path: string): boolean;
}

export type TaskEvent = Extract<NotifyEvent, { kind: "task_done" | "task_failed" }>;

/** The bridge's dependencies this part uses, with the outbox and the lease. */
export type TaskSyncDeps = Pick<BridgeDeps, "host" | "store" | "fleet" | "clock" | "log" | "files" | "local" | "notify"> & {
  outbox: Outbox;
  leaseMs: number;
};

export function createTaskSync(deps: TaskSyncDeps) {
  const { host, store, fleet, clock, files, local, outbox } = deps;
  const log = deps.log.child({ module: "fleet-tasks" });
  const own = (t: TaskRow) => t.originHost === host;
  /** Claimed here, not handed to a session yet. */
  const waiting = () => store.bridge.tasksInFleetState(["claimed"]).filter((t) => t.state === "queued");
  /** When each waiting claim was first seen waiting (in memory: a restart gives waiting claims back anyway). */
  const waitingSince = new Map<number, number>();

  const failLocal = (task: TaskRow, reason: string) => {
    const now = clock.now();
    store.updateTask(task.id, { state: "failed", error: reason, finishedAt: now });
    log.warn("task failed", { task_id: task.id, project: task.project, file: task.file, reason });
    deps.notify({ kind: "task_failed", level: "warning", at: now, project: task.project, file: task.file, reason });
  };

  /**
   * A local row's change and the outbox write that tells the fleet of it, in one transaction: both stored or neither
   * (a `kill -9` between two statements left a row `finishing` with no finish to send).
   */
  const storeWithWrite = (taskId: number, patch: TaskPatch, write: OutboxWrite) => store.bridge.atomically(() => {
    store.updateTask(taskId, patch);
    outbox.push(write);
  });

  /** Enqueues one inbox task; its file goes to processing/ first (`originHost` set records that it did). */
  async function exportOne(task: TaskRow): Promise<void> {
    if (task.originHost == null && task.startedAt === null) {
      const file = files.take(task.project, task.file);
      if (file === null) return failLocal(task, "task file vanished from inbox/ before export");
      store.updateTask(task.id, { file, originHost: host });
      task.file = file;
      const fresh = files.reread?.(task.project, file);
      if (fresh && !fresh.ok) {
        files.end(task.project, file, { state: "failed", result: null, error: fresh.reason });
        return failLocal(task, fresh.reason);
      }
      if (fresh && (fresh.prompt !== task.prompt || fresh.workdir !== task.workdir || fresh.timeoutMs !== task.timeoutMs)) {
        const changed = { prompt: fresh.prompt, workdir: fresh.workdir, timeoutMs: fresh.timeoutMs };
        store.updateTask(task.id, changed);
        Object.assign(task, changed);
        log.warn("task file changed after it was queued; re-read", { task_id: task.id, project: task.project, file });
      }
    }
    const fleetId = await fleet.enqueue({
      originHost: host, project: task.project, file: task.file, prompt: task.prompt, priority: task.priority,
      workdir: task.workdir, timeoutMs: task.timeoutMs, pinnedHost: files.pinnedHost(task.project, task.file), createdAt: task.createdAt,
    });
    store.updateTask(task.id, { fleetId, originHost: host, fleetState: "exported" });
    log.info("task exported", { task_id: task.id, fleet_id: fleetId, project: task.project, file: task.file });
  }

  /** A claimed shared task as a local row the dispatcher runs: this host's own row, or a new one with no file. */
  function adopt(row: FleetTaskRow): void {
    const link = { fleetClaim: row.claim, fleetState: "claimed" as const, prompt: row.prompt, workdir: row.workdir, timeoutMs: row.timeoutMs };
    const known = store.bridge.taskByFleetId(row.id);
    if (known) {
      store.updateTask(known.id, { ...link, state: "queued", session: null, finishedAt: null, error: null, ...NO_DELIVERY });
    } else {
      store.addTask({ ...link, project: row.project, file: row.file, priority: row.priority, createdAt: row.createdAt, fleetId: row.id, originHost: row.originHost });
    }
    log.info("task claimed", { fleet_id: row.id, claim: row.claim, origin: row.originHost, project: row.project, file: row.file });
  }

  /** The local row once the shared row ended: its state and outcome, and this host's file moved if it is the origin. */
  function ended(task: TaskRow, outcome: { state: "done" | "failed"; at: number; result: string | null; error: string | null }): void {
    if (own(task) && !files.end(task.project, task.file, outcome)) {
      log.error("cannot move task file", { task_id: task.id, project: task.project, file: task.file, to: outcome.state });
    }
    store.updateTask(task.id, { state: outcome.state, finishedAt: outcome.at, error: outcome.error, fleetState: "ended", fleetClaim: null });
  }

  /** Ends the local row as the finish's answer says; returns its notification, sent once the answer is committed. */
  function finishAnswered(w: Extract<OutboxWrite, { kind: "finish" }>, accepted: boolean): (() => void) | undefined {
    const task = store.task(w.taskId);
    if (!task || task.fleetClaim !== w.claim) {
      log.warn("fleet finish answer ignored: the row holds another claim now", { task_id: w.taskId, claim: w.claim, holds: task?.fleetClaim ?? null });
      return;
    }
    const o = w.outcome;
    if (!accepted) {
      store.updateTask(task.id, { state: "failed", error: SUPERSEDED, fleetState: "superseded", fleetClaim: null });
      log.warn("task superseded", { task_id: task.id, fleet_id: w.fleetId, claim: w.claim, project: task.project, file: task.file });
      return;
    }
    ended(task, { state: o.state, at: o.at, result: o.result ?? null, error: o.error ?? null });
    log.info("fleet task finished", { task_id: task.id, fleet_id: w.fleetId, state: o.state });
    if (o.state === "done") {
      return () => deps.notify({ kind: "task_done", level: "info", at: o.at, project: task.project, file: task.file, session: task.session ?? "none",
        duration_ms: Math.max(0, o.at - (task.startedAt ?? o.at)) });
    }
    return () => deps.notify({ kind: "task_failed", level: "warning", at: o.at, project: task.project, file: task.file, reason: o.error ?? "failed" });
  }

  /**
   * Rows left `finishing` with no finish in the outbox (0.4 stored the two apart; a kill between them lost the entry):
   * the finish is written again from the row, so the shared row and the task file still end. Its result text was only
   * in the lost entry.
   */
  function resendLostFinishes(): void {
    const waiting = new Set([...store.bridge.pending(), ...store.bridge.parked()].filter((e) => e.kind === "finish")
      .map((e) => (JSON.parse(e.payload) as { taskId: number }).taskId));
    for (const task of store.bridge.tasksInFleetState(["finishing"])) {
      if (waiting.has(task.id) || task.fleetId == null || task.fleetClaim == null) continue;
      const state = task.state === "failed" ? "failed" : "done";
      outbox.push({ kind: "finish", taskId: task.id, fleetId: task.fleetId, claim: task.fleetClaim,
        outcome: { state, at: task.finishedAt ?? clock.now(), result: null, error: state === "failed" ? task.error ?? "failed" : null } });
      log.warn("fleet finish written again: its outbox entry was lost, with its result text", { task_id: task.id, fleet_id: task.fleetId, state });
    }
  }

  return {
    /** Enqueues every local queued row not in the fleet yet (none while this host is paused: its files stay in inbox/). */
    async exportQueued(): Promise<number> {
      if (local.paused()) return 0;
      let n = 0;
      for (const task of store.bridge.unexported()) {
        try {
          await exportOne(task);
          n++;
        } catch (error) {
          if (error instanceof FleetUnavailable) throw error;
          failLocal(task, `cannot export the task: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return n;
    },

    /** Claims tasks for the free sessions not already waiting on a claim; gives back waiting claims when the gate closes. */
    async claim(): Promise<number> {
      const gate = local.gate();
      if (!gate.open) {
        for (const task of waiting()) this.release(task.id, gate.reason);
        return 0;
      }
      const free = local.freeSessions();
      const held = this.giveBackStale(free);
      const limit = free - held;
      if (limit <= 0) return 0;
      const sampled = (await fleet.tasks({ state: "queued", limit: WORKDIR_SAMPLE })).map((t) => t.workdir);
      const workdirs = [...new Set([...local.workdirs(), ...sampled])].filter((w) => local.workdirExists(w));
      const rows = await fleet.claim(host, { workdirs, limit, now: clock.now(), leaseMs: deps.leaseMs });
      for (const row of rows) adopt(row);
      return rows.length;
    },

    /**
     * Claims waiting here beyond the `free` sessions that could take them, and waiting since at least
     * {@link CLAIM_WAIT_MS}, go back to the shared queue (lowest priority, newest first). Returns the claims still waiting.
     */
    giveBackStale(free: number): number {
      const now = clock.now();
      const rows = waiting();
      for (const id of waitingSince.keys()) if (!rows.some((r) => r.id === id)) waitingSince.delete(id);
      for (const r of rows) if (!waitingSince.has(r.id)) waitingSince.set(r.id, now);
      const excess = rows.length - free;
      if (excess <= 0) return rows.length;
      const stale = rows.filter((r) => now - waitingSince.get(r.id)! >= CLAIM_WAIT_MS)
        .sort((x, y) => x.priority - y.priority || y.createdAt - x.createdAt)
        .slice(0, excess);
      for (const r of stale) this.release(r.id, `waited ${Math.round(CLAIM_WAIT_MS / 1000)} s here with no free session`);
      return rows.length - stale.length;
    },

    /** A task run here ended: the local row ends now, the shared row through the outbox (both in one transaction). */
    finished(taskId: number, outcome: TaskOutcome): void {
      const task = store.task(taskId);
      if (!task || task.fleetId == null || task.fleetClaim == null || task.fleetState !== "claimed") {
        log.warn("fleet finish ignored: not held here", { task_id: taskId, fleet_state: task?.fleetState ?? null });
        return;
      }
      storeWithWrite(taskId, { state: outcome.state, finishedAt: outcome.at, error: outcome.error ?? null, fleetState: "finishing" },
        { kind: "finish", taskId, fleetId: task.fleetId, claim: task.fleetClaim, outcome });
    },

    /** Gives back a claim never typed (a swap started, the session died first): the shared row goes back to the queue. */
    release(taskId: number, reason: string): void {
      const task = store.task(taskId);
      if (!task || task.fleetId == null || task.fleetClaim == null || task.fleetState !== "claimed" || task.delivery !== null) {
        log.warn("fleet release ignored: not a claim waiting here", { task_id: taskId, fleet_state: task?.fleetState ?? null });
        return;
      }
      storeWithWrite(taskId, { state: "queued", session: null, fleetState: "released", fleetClaim: null },
        { kind: "release", taskId, fleetId: task.fleetId, claim: task.fleetClaim, reason, at: clock.now() });
      log.info("task released", { task_id: taskId, fleet_id: task.fleetId, reason });
    },

    /** What the outbox's task writes were answered. */
    onSent(w: OutboxWrite, accepted: boolean): (() => void) | undefined {
      if (w.kind === "finish") return finishAnswered(w, accepted);
      if (w.kind === "release" && !accepted) log.info("fleet release refused: claim already stale", { task_id: w.taskId, fleet_id: w.fleetId });
      return undefined;
    },

    /** This host's own tasks whose shared row ended elsewhere (or after this host was superseded): files and rows follow. */
    async settleOrigin(): Promise<number> {
      const mine = store.bridge.tasksInFleetState(["exported", "released", "superseded"]).filter((t) => own(t) && t.fleetId != null);
      if (mine.length === 0) return 0;
      const rows = new Map((await fleet.tasks({ ids: mine.map((t) => t.fleetId!), limit: mine.length })).map((r) => [r.id, r]));
      let n = 0;
      for (const task of mine) {
        const row = rows.get(task.fleetId!);
        if (!row || (row.state !== "done" && row.state !== "failed")) continue;
        ended(task, { state: row.state, at: row.finishedAt ?? clock.now(), result: row.result, error: row.state === "failed" ? row.error : null });
        log.info("fleet task ended", { task_id: task.id, fleet_id: row.id, state: row.state, host: row.host });
        n++;
      }
      return n;
    },

    /**
     * At start: shared tasks running under this host's name that no local row holds (a crash between the claim and the
     * local row) go back to the queue, so no lease is renewed for work nobody runs; a finish whose outbox entry was
     * lost is written again.
     */
    async reconcile(): Promise<number> {
      resendLostFinishes();
      const held = new Set(store.bridge.tasksInFleetState(["claimed", "finishing"]).map((t) => `${t.fleetId}:${t.fleetClaim}`));
      let n = 0;
      for (const row of await fleet.tasks({ state: "running", host, limit: 10_000 })) {
        if (held.has(`${row.id}:${row.claim}`)) continue;
        if (await fleet.release(row.id, host, row.claim, "not held by its host after a restart", clock.now())) n++;
      }
      if (n > 0) log.warn("orphan fleet claims released", { count: n });
      return n;
    },
  };
}

export type TaskSync = ReturnType<typeof createTaskSync>;
