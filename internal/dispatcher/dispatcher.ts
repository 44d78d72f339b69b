/**
 * @module dispatcher
 * Turns inbox files into store rows (`ingest`), hands queued tasks to free pool sessions (`dispatch`), records
 * outcomes (`complete`, `fail`, `requeue`), puts things right after a restart (`recover`, which hands over to
 * dispatcher/recover.ts) and raises the alarm when tasks wait while sessions sit idle (`checkIdleAlert`), so that
 * "nothing dispatched for hours" cannot go unnoticed.
 * It does not type into tmux (deps.deliver), decide which sessions exist (deps.freeSessions), or decide when a task
 * is finished (the watcher calls complete/fail/requeue).
 *
 * Where a task's file is, by task state (the store is the truth; files follow it, and `recover` finishes any move
 * a crash interrupted):
 * - queued, `startedAt === null`: never dispatched; the file is in `inbox/`.
 * - running/stalled: the file is in `processing/` (or already in `done/` with its result: `complete` moves it before it
 *   records the end, and a kill -9 between the two leaves the task for the follower to end again).
 * - queued, `startedAt !== null`: requeued; the file STAYS in `processing/` (safe from re-ingest, edits and a
 *   same-named newcomer), and the next dispatch re-delivers the stored prompt without moving it.
 * - done/failed: the file is in `done/` (+ `.result.md`) or `failed/` (+ `.error.txt`).
 * With a fleet bridge (deps.fleet, dispatcher/fleet.ts) only rows this host holds a claim on are taken; a fleet row's
 * file is never moved here (the origin's is in processing/ from its export, other hosts' rows have none), and its end
 * goes to the bridge, which moves the origin's file and notifies once the shared queue accepts it.
 */
import { basename } from "node:path";
import type { Clock } from "../clock.ts";
import type { NotifyEvent } from "../notify/events.ts";
import type { Logger } from "../log.ts";
import { NO_DELIVERY, type Store, type TaskRow } from "../state/state.ts";
import type { InboxEntry, QueueFolder, TaskQueue } from "./queue.ts";
import { ACTIVE, ALL_ROWS, recoverQueue, STARTED } from "./recover.ts";
import type { DeliveryOutcome } from "./delivery.ts";
import { workdirProblem } from "./workdir.ts";
import type { UsageRecorder } from "../state/usage.ts";
import { inFleet, nextQueued, taskOfFile, taskWorkdir, type DispatcherFleet } from "./fleet.ts";

/** Prometheus histogram fed with "inbox file first seen → delivered", seconds. */
export const DISPATCH_LATENCY_METRIC = "claude_failover_dispatch_latency_seconds";
/** A task after this many deliver() calls in all (retries and requeues included) fails instead of going round again. */
export const MAX_DELIVERIES_PER_TASK = 10;
/** Rejections notified one by one per ingest pass; the rest are summed up in one event. */
export const INGEST_NOTIFY_LIMIT = 10;
/** While the gate is closed, how often start() checks whether it reopened. */
export const GATE_RECHECK_MS = 5_000;
/** Shortest wait before rescanning for files that were still being written. */
export const SETTLE_RECHECK_MIN_MS = 50;

/** Event sent to notifications: the task kinds of the typed notification union. */
export type DispatchEvent = Extract<NotifyEvent, { kind: "task_failed" | "task_done" | "task_stalled" | "tasks_waiting" }>;

/** What the dispatcher touches. */
export interface DispatcherDeps {
  store: Store;
  queue: TaskQueue;
  clock: Clock;
  log: Logger;
  /** Owned pool sessions that are idle and have no task, lowest index first (never dedicated or foreign sessions). */
  freeSessions(): string[];
  /**
   * Types a claimed task into its session (after making sure it runs in the task's workdir). `not-ready`: nothing
   * was typed; the task waits for another free session.
   */
  deliver(task: TaskRow): Promise<DeliveryOutcome>;
  /** Whether dispatch may run now; the reason is logged when not (swap, cooldown, exhausted, paused). */
  gate(): { open: true } | { open: false; reason: string };
  notify(event: DispatchEvent): void;
  metrics?: { observe(name: string, seconds: number): void };
  /** Where a finished task is counted for the account it ran on (usage at a glance). */
  usage?: Pick<UsageRecorder, "taskFinished">;
  /** The fleet bridge (docs/fleet.md); absent: every queued row is this dispatcher's own (tests, no bridge). */
  fleet?: DispatcherFleet;
}

/** Settings of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** Workdir of tasks in projects without one (`autonomous.workdir`). */
  defaultWorkdir: string;
  projects: Record<string, { workdir: string }>;
  idleAlertAfterMs: number;
  rescanIntervalMs: number;
}

/** The task queue's brain; see the module comment for where files live. */
export interface Dispatcher {
  /** Ensures the configured project folders, then ingest + dispatch now, on every watch event and every rescan until `signal` aborts. Call recover() first. */
  start(signal: AbortSignal): void;
  /** Inbox → store (queued); invalid files → failed/ with `.error.txt`. Returns how many tasks were queued. */
  ingest(): Promise<number>;
  /** Gives queued tasks (priority, then age) to free sessions while the gate is open. Returns how many were delivered. */
  dispatch(): Promise<number>;
  /** running → done; file processing/ → done/ (+ `.result.md` when `result` is given). */
  complete(taskId: number, result: string | null): void;
  /** → failed; file → failed/ with `.error.txt`. */
  fail(taskId: number, reason: string): void;
  /** running → queued; the file stays in processing/ and the prompt is delivered again later. */
  requeue(taskId: number, reason: string): void;
  /** At startup, before start(): requeues claims never typed and finishes interrupted file moves ({@link recoverQueue}). */
  recover(): void;
  /** Call on every tick with the idle owned sessions as tmux shows them (independently of freeSessions()). */
  checkIdleAlert(idleSessions: number): void;
  /** Resolves once every delivery in flight has finished typing (used by the daemon's stop before closing the store). */
  idle(): Promise<void>;
}

/** Creates the dispatcher. */
export function createDispatcher(deps: DispatcherDeps, options: DispatcherOptions): Dispatcher {
  const { store, queue, clock } = deps;
  const log = deps.log.child({ module: "dispatcher" });
  const inflight = new Set<string>();
  const typing = new Set<Promise<boolean>>();
  let lock: Promise<unknown> = Promise.resolve();
  let kick = () => {};
  let gateReason: string | null = null;
  let lastDeliveryAt = 0;
  const idle = { since: null as number | null, alerted: false };

  /** Runs `fn` alone: ingest and claims never interleave, so a file is never queued twice. */
  const exclusive = <T>(fn: () => Promise<T> | T): Promise<T> => {
    const run = lock.then(fn, fn);
    lock = run.catch(() => {});
    return run;
  };
  const inProcessing = (t: TaskRow) => t.startedAt !== null;
  const isActive = (t: TaskRow) => (ACTIVE as readonly string[]).includes(t.state);
  /** The task when it is in one of `states`; otherwise logs that `action` does not apply and returns null. */
  const taskIn = (taskId: number, states: readonly string[], action: string) => {
    const task = store.task(taskId);
    if (task && states.includes(task.state)) return task;
    log.warn("task action ignored: wrong state", { action, task_id: taskId, state: task?.state ?? null });
    return null;
  };
  const workdirFor = (project: string, own: string | undefined) => taskWorkdir(options, project, own);
  /** Moves a task's file and records its final name; false (logged) when the file is missing. */
  const moveFile = (task: TaskRow, from: QueueFolder, to: QueueFolder, extra?: { error?: string; result?: string }) => {
    try {
      const file = basename(queue.moveTo(task.project, task.file, from, to, extra));
      if (file !== task.file) store.updateTask(task.id, { file });
      task.file = file;
      return true;
    } catch (error) {
      log.error("cannot move task file", { task_id: task.id, project: task.project, file: task.file, from, to, error });
      return false;
    }
  };
  /** Re-reads a file just moved to processing/, so one changed after it was queued is delivered as it is now; false (failed) when it no longer parses. */
  const rereadClaimed = (task: TaskRow): boolean => {
    const fresh = queue.readTaskSync(task.project, "processing", task.file);
    if (fresh === null) return true; // unreadable this instant: the stored prompt stands
    if (!fresh.ok) { finishFailed(task, fresh.reason); return false; }
    const changed = { prompt: fresh.prompt, workdir: workdirFor(task.project, fresh.frontMatter.workdir), timeoutMs: fresh.frontMatter.timeoutMs ?? null };
    if (changed.prompt === task.prompt && changed.workdir === task.workdir && changed.timeoutMs === task.timeoutMs) return true;
    store.updateTask(task.id, changed);
    Object.assign(task, changed);
    log.warn("task file changed after it was queued; re-read", { task_id: task.id, project: task.project, file: task.file });
    return true;
  };
  /** The account a task ran on: its session's, once something was typed into it. */
  const accountOf = (task: TaskRow): string | null =>
    task.session !== null && task.delivery !== null ? store.session(task.session)?.account ?? null : null;
  const finishFailed = (task: TaskRow, reason: string) => {
    const now = clock.now();
    if (inFleet(task, deps.fleet)) {
      void deps.fleet.finished(task.id, { state: "failed", at: now, error: reason });
      deps.usage?.taskFinished(accountOf(task), false, now);
      log.warn("task failed", { task_id: task.id, fleet_id: task.fleetId, project: task.project, file: task.file, reason });
      return;
    }
    store.updateTask(task.id, { state: "failed", error: reason, finishedAt: now });
    moveFile(task, inProcessing(task) ? "processing" : "inbox", "failed", { error: reason });
    deps.usage?.taskFinished(accountOf(task), false, now);
    log.warn("task failed", { task_id: task.id, project: task.project, file: task.file, reason });
    deps.notify({ kind: "task_failed", level: "warning", at: now, project: task.project, file: task.file, reason });
  };

  async function ingestLocked(): Promise<number> {
    const entries = await queue.scanInbox();
    let added = 0;
    let rejected = 0;
    for (const entry of entries) {
      const known = taskOfFile(store, deps.fleet, entry.project, entry.file);
      if (known && isActive(known) && !inProcessing(known)) continue;
      const parsed = await queue.readTask(entry);
      if (parsed === null) continue;
      if (!parsed.ok) {
        rejectEntry(entry, parsed.reason, ++rejected);
        continue;
      }
      const fm = parsed.frontMatter;
      const task = store.addTask({
        project: entry.project, file: entry.file, priority: fm.priority ?? 0, workdir: workdirFor(entry.project, fm.workdir),
        timeoutMs: fm.timeoutMs ?? null, prompt: parsed.prompt, createdAt: entry.firstSeenAt,
      });
      added++;
      log.info("task queued", { task_id: task.id, project: task.project, file: task.file, priority: task.priority });
    }
    if (added > 0) deps.fleet?.wake();
    if (rejected > INGEST_NOTIFY_LIMIT) {
      deps.notify({ kind: "task_failed", level: "warning", at: clock.now(), project: "*", file: `${rejected - INGEST_NOTIFY_LIMIT} more files`,
        reason: "rejected in the same scan; see each project's failed/ folder" });
    }
    return added;
  }

  function rejectEntry(entry: InboxEntry, reason: string, nth: number) {
    const now = clock.now();
    let file = entry.file;
    try {
      file = basename(queue.reject(entry.project, entry.file, reason));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.error("cannot move rejected task file", { project: entry.project, file, error });
      return;
    }
    const row = store.addTask({ project: entry.project, file, priority: 0, workdir: "", timeoutMs: null, prompt: "", createdAt: entry.firstSeenAt });
    store.updateTask(row.id, { state: "failed", error: reason, finishedAt: now });
    log.warn("task file rejected", { task_id: row.id, project: entry.project, file: entry.file, reason });
    if (nth <= INGEST_NOTIFY_LIMIT) deps.notify({ kind: "task_failed", level: "warning", at: now, project: entry.project, file: entry.file, reason });
  }

  type Claim = { task: TaskRow; session: string; first: boolean };
  /** Pairs free sessions with queued tasks; synchronous, so nothing interleaves between a check and its write. */
  function claimLocked(): Claim[] {
    const gate = deps.gate();
    if (!gate.open) {
      if (gateReason !== gate.reason) log.info("dispatch paused", { reason: gate.reason, queued: store.taskCounts().queued });
      gateReason = gate.reason;
      return [];
    }
    if (gateReason !== null) log.info("dispatch resumed", { was: gateReason });
    gateReason = null;
    const busy = new Set([...inflight, ...store.tasks([...STARTED], ALL_ROWS).map((t) => t.session)]);
    const claims: Claim[] = [];
    for (const session of deps.freeSessions()) {
      if (busy.has(session)) continue;
      for (;;) {
        const task = nextQueued(store, deps.fleet);
        if (!task) {
          deps.fleet?.wake();
          return claims;
        }
        const fleetRow = inFleet(task, deps.fleet);
        const move = !fleetRow && !inProcessing(task);
        const first = fleetRow ? task.attempts === 0 : move;
        if (task.attempts >= MAX_DELIVERIES_PER_TASK) {
          finishFailed(task, `delivered ${task.attempts} times without finishing; giving up`);
          continue;
        }
        store.updateTask(task.id, { state: "running", session, startedAt: clock.now(), error: null });
        task.startedAt = clock.now();
        if (move && !moveFile(task, "inbox", "processing")) {
          finishFailed({ ...task, startedAt: null }, "task file vanished from inbox/ before dispatch");
          continue;
        }
        if (move && !rereadClaimed(task)) continue;
        const workdirFault = workdirProblem(task.workdir);
        if (workdirFault !== null) { finishFailed(task, workdirFault); continue; }
        inflight.add(session);
        claims.push({ task, session, first });
        break;
      }
    }
    return claims;
  }

  /** Types a claimed task into its session; the task follower confirms it from the transcript. */
  async function deliverClaim({ task, session, first }: Claim): Promise<boolean> {
    try {
      const outcome = await deps.deliver({ ...task, session });
      if (outcome.kind === "not-ready") {
        // Nothing was typed: no attempt is spent; the task waits in the queue for a free session. A fleet claim stays
        // held here for the next one (a session that just ended a turn often still draws its spinner); the bridge
        // gives back claims that wait longer than CLAIM_WAIT_MS with no session to take them.
        const row = store.task(task.id);
        if (row?.state === "running" && row.delivery === null) store.updateTask(task.id, { state: "queued", session: null });
        log.info("session not ready; task back in the queue", { task_id: task.id, session, reason: outcome.reason });
        return false;
      }
      const now = clock.now();
      lastDeliveryAt = now;
      log.info("task delivered", { task_id: task.id, project: task.project, file: task.file, session, attempt: task.attempts + 1 });
      if (first) deps.metrics?.observe(DISPATCH_LATENCY_METRIC, Math.max(0, now - task.createdAt) / 1000);
      return true;
    } catch (error) {
      // What was typed, if anything, is read from the transcript by the task follower; nothing is retyped here.
      log.error("task delivery failed", { task_id: task.id, session, error });
      return false;
    } finally {
      inflight.delete(session);
    }
  }

  /** Starts a delivery, tracked until it has finished typing. */
  const track = (claim: Claim): Promise<boolean> => {
    const run = deliverClaim(claim);
    typing.add(run);
    void run.finally(() => typing.delete(run));
    return run;
  };

  async function dispatch(): Promise<number> {
    const claims = await exclusive(claimLocked);
    const results = await Promise.all(claims.map(track));
    if (results.includes(false)) kick();
    return results.filter(Boolean).length;
  }

  const dispatcher: Dispatcher = {
    start(signal) {
      for (const project of Object.keys(options.projects)) queue.ensureProject(project);
      let cycling = false;
      let again = false;
      let settleWait = false;
      const cycle = async () => {
        if (signal.aborted) return;
        if (cycling) { again = true; return; }
        cycling = true;
        try {
          do {
            again = false;
            await exclusive(ingestLocked);
            const claims = await exclusive(claimLocked);
            for (const claim of claims) void track(claim).then((ok) => { if (!ok) kick(); });
          } while (again && !signal.aborted);
        } catch (error) {
          log.error("dispatch cycle failed", { error });
        } finally {
          cycling = false;
        }
        const until = queue.settlingUntil();
        if (until !== null && !settleWait && !signal.aborted) {
          settleWait = true;
          void clock.sleep(Math.max(SETTLE_RECHECK_MIN_MS, until - clock.now() + 1), signal).then(() => { settleWait = false; kick(); });
        }
      };
      kick = () => void cycle();
      const stopWatch = queue.watch(kick);
      signal.addEventListener("abort", () => { stopWatch(); kick = () => {}; }, { once: true });
      void (async () => {
        while (!signal.aborted) {
          await clock.sleep(gateReason === null ? options.rescanIntervalMs : Math.min(GATE_RECHECK_MS, options.rescanIntervalMs), signal);
          kick();
        }
      })();
      kick();
    },
    ingest: () => exclusive(ingestLocked),
    dispatch,
    complete(taskId, result) {
      const task = taskIn(taskId, STARTED, "complete");
      if (!task) return;
      const now = clock.now();
      const durationMs = now - (task.startedAt ?? now);
      if (inFleet(task, deps.fleet)) {
        // The bridge stores the local end and its finish before it returns (one transaction); the send is async.
        void deps.fleet.finished(taskId, { state: "done", at: now, result });
        deps.usage?.taskFinished(accountOf(task), true, now);
        log.info("task done", { task_id: taskId, fleet_id: task.fleetId, project: task.project, file: task.file, session: task.session, duration_ms: durationMs });
        kick();
        return;
      }
      // The file and its result first: a kill -9 before the end is recorded leaves a running task that the follower
      // ends again after the restart (its file then already in done/), never a done task whose result was lost.
      if (!queue.onlyIn(task.project, task.file, "done", "processing")) moveFile(task, "processing", "done", result === null ? undefined : { result });
      store.updateTask(taskId, { state: "done", finishedAt: now, error: null });
      deps.usage?.taskFinished(accountOf(task), true, now);
      log.info("task done", { task_id: taskId, project: task.project, file: task.file, session: task.session, duration_ms: durationMs });
      deps.notify({ kind: "task_done", level: "info", at: now, project: task.project, file: task.file, session: task.session ?? "none", duration_ms: durationMs });
      kick();
    },
    fail(taskId, reason) {
      const task = taskIn(taskId, ACTIVE, "fail");
      if (!task) return;
      finishFailed(task, reason);
      kick();
    },
    requeue(taskId, reason) {
      const task = taskIn(taskId, STARTED, "requeue");
      if (!task) return;
      store.updateTask(taskId, { state: "queued", session: null, error: reason, ...NO_DELIVERY });
      log.info("task requeued", { task_id: taskId, project: task.project, file: task.file, session: task.session, reason });
      kick();
    },
    recover() {
      recoverQueue({ store, queue, clock, log, moveFile, fleet: deps.fleet });
    },
    async idle() {
      await lock;
      await Promise.all([...typing]);
    },
    checkIdleAlert(idleSessions) {
      const now = clock.now();
      const queued = store.taskCounts().queued;
      if (deps.gate().open && queued > 0 && idleSessions > 0) {
        idle.since = Math.max(idle.since ?? now, lastDeliveryAt);
        if (!idle.alerted && now - idle.since >= options.idleAlertAfterMs) {
          idle.alerted = true;
          log.error("tasks waiting while sessions idle", { queued, idle_sessions: idleSessions, since: idle.since });
          deps.notify({ kind: "tasks_waiting", level: "critical", at: now, queued, idle_sessions: idleSessions, since: idle.since });
        }
        return;
      }
      if (idle.alerted) log.info("tasks no longer waiting", { queued, idle_sessions: idleSessions });
      idle.since = null;
      idle.alerted = false;
    },
  };
  return dispatcher;
}
