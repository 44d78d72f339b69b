/**
 * @module supervisor/serial-queue
 * The supervisor's one-job-at-a-time runner ({@link createSerialQueue}): observations never interleave. Jobs wait in
 * two lanes, each first in, first out: `urgent` (a hook, a transcript written, the looks a swap's cut tasks wait on)
 * runs before `routine` (the poll's pass, the warning glance) whenever both wait, so a limit record Claude Code just
 * wrote is not read after a poll queued behind a busy one; a routine job that waited {@link ROUTINE_MAX_WAIT_MS} goes
 * next, whatever waits. A keyed job is queued once: while one for its key still
 * waits, asking again joins it (one transcript read takes every record written before it starts). A job that waited
 * long is logged at debug with what it was, so a slow swap can be traced to the queue.
 */
import type { Logger } from "../log.ts";

export type Lane = "urgent" | "routine";

/** A routine job that waited this long runs next even while urgent ones wait: a flood of hooks never starves the poll. */
export const ROUTINE_MAX_WAIT_MS = 2_000;
/** A job that waited at least this long before it ran is logged (debug). */
export const SLOW_WAIT_MS = 250;

export interface SerialQueue {
  /** Runs `fn` once every job before it in its lane, and every urgent job, has run; its result or error. */
  run<T>(lane: Lane, what: string, fn: () => Promise<T>): Promise<T>;
  /** As {@link run}, but joins the waiting job of the same `key` if there is one. */
  once(lane: Lane, key: string, fn: () => Promise<void>): Promise<void>;
  /** Resolves once nothing runs or waits. */
  idle(): Promise<void>;
  /** Jobs waiting (not counting the one running). */
  size(): number;
}

interface Job {
  what: string;
  key: string | null;
  queuedAt: number;
  run(): Promise<void>;
}

export function createSerialQueue(log: Logger, now: () => number = () => performance.now()): SerialQueue {
  const lanes: Record<Lane, Job[]> = { urgent: [], routine: [] };
  const waitingByKey = new Map<string, Promise<void>>();
  let running = false;
  let drained: Array<() => void> = [];

  /** The next job: urgent first, unless the routine one at the head has waited {@link ROUTINE_MAX_WAIT_MS}. */
  const next = (): Job | undefined => {
    const routine = lanes.routine[0];
    if (routine && now() - routine.queuedAt >= ROUTINE_MAX_WAIT_MS) return lanes.routine.shift();
    return lanes.urgent.shift() ?? lanes.routine.shift();
  };

  const pump = async () => {
    if (running) return;
    running = true;
    try {
      for (let job = next(); job; job = next()) {
        if (job.key !== null) waitingByKey.delete(job.key);
        const waited = now() - job.queuedAt;
        const began = now();
        await job.run();
        if (waited >= SLOW_WAIT_MS) {
          log.debug("supervisor job waited", { job: job.what, waited_ms: Math.round(waited), ran_ms: Math.round(now() - began), waiting: lanes.urgent.length + lanes.routine.length });
        }
      }
    } finally {
      running = false;
      const waiters = drained;
      drained = [];
      for (const resolve of waiters) resolve();
    }
  };

  const enqueue = <T>(lane: Lane, what: string, key: string | null, fn: () => Promise<T>): Promise<T> => {
    let settle!: { resolve(value: T): void; reject(error: unknown): void };
    const result = new Promise<T>((resolve, reject) => { settle = { resolve, reject }; });
    lanes[lane].push({ what, key, queuedAt: now(), run: () => new Promise<T>((r) => r(fn())).then(settle.resolve, settle.reject) });
    // Registered before the pump can take it: a job already running no longer takes joiners.
    if (key !== null) waitingByKey.set(key, result as Promise<unknown> as Promise<void>);
    queueMicrotask(() => void pump()); // never inside the caller's own turn, as a promise chain would run it
    return result;
  };

  return {
    run: (lane, what, fn) => enqueue(lane, what, null, fn),
    once: (lane, key, fn) => waitingByKey.get(key) ?? enqueue(lane, key, key, fn),
    idle: () => (running || lanes.urgent.length || lanes.routine.length ? new Promise<void>((resolve) => drained.push(resolve)) : Promise.resolve()),
    size: () => lanes.urgent.length + lanes.routine.length,
  };
}
