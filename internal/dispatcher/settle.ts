/**
 * @module dispatcher/settle
 * When an inbox file is complete enough to read ({@link createSettleTracker}): the bookkeeping behind the inbox rule
 * documented in dispatcher/queue.ts. It remembers, per path, the metadata each scan saw and what the queue's watch
 * saw happen to the name (appeared by create/rename/link, then written or not). Pure: no file system access; the
 * caller passes metadata and clock times. It does not list, read or move files (dispatcher/queue.ts does).
 */

/** Default for `dispatcher.settle`: how long an in-place-written file must stay unchanged before it is read. */
export const DEFAULT_SETTLE_MS = 1_000;
/**
 * How long after the watch saw a name appear before it is taken as arrived whole: enough for the write events of
 * an in-place writer (create, then write) to reach the daemon, far below the settle time.
 */
export const ARRIVAL_GRACE_MS = 25;

/** What a scan or the watch saw of a file. */
export interface FileMeta { size: number; mtimeMs: number; ino: number }

/**
 * Verdict for one file in one scan. `settled`: unchanged across two scans; the caller makes its last check (no
 * writer holds it open) and then calls {@link SettleTracker.confirm}. `renamed` and `confirmed` need nothing more.
 */
export type SettleVerdict = { ready: true; how: "renamed" | "settled" | "confirmed" } | { ready: false; at: number };

/** Per-path memory of scans and watch events. */
export interface SettleTracker {
  /** The watch saw `path` appear (created, renamed or linked in) or go; `meta` is its metadata right then, null when gone. */
  appeared(path: string, meta: FileMeta | null, now: number): void;
  /** The watch saw a write to `path`: it is being written in place, so only the settle rule applies. */
  written(path: string): void;
  /** Whether the file at `path`, seen now with `meta`, may be read; otherwise the clock time worth checking again. */
  check(path: string, meta: FileMeta, now: number): SettleVerdict;
  /** Marks the file `check` just found `settled` as complete for as long as it stays unchanged. */
  confirm(path: string): void;
  /** Ends a scan that started at `startedAt`: forgets paths it did not check (their watch events too, unless newer). */
  endScan(startedAt: number): void;
}

const keyOf = (m: FileMeta) => `${m.size}:${m.mtimeMs}:${m.ino}`;

/**
 * Creates the tracker. `settleMs` is `dispatcher.settle`; 0 takes every file at first sight (only safe when every
 * writer renames). `graceMs` is {@link ARRIVAL_GRACE_MS}.
 */
export function createSettleTracker(settleMs: number, graceMs = ARRIVAL_GRACE_MS): SettleTracker {
  type Seen = { key: string; since: number; confirmed: boolean };
  let scans = new Map<string, Seen>();
  let current = new Map<string, Seen>();
  const arrivals = new Map<string, { key: string; at: number; written: boolean }>();
  return {
    appeared(path, meta, now) {
      if (meta === null) arrivals.delete(path);
      else arrivals.set(path, { key: keyOf(meta), at: now, written: false });
    },
    written(path) {
      const arrival = arrivals.get(path);
      if (arrival) arrival.written = true;
    },
    check(path, meta, now) {
      const key = keyOf(meta);
      const prev = scans.get(path);
      const same = prev?.key === key;
      const seen: Seen = { key, since: same ? prev.since : now, confirmed: same && prev.confirmed };
      current.set(path, seen);
      if (settleMs <= 0 || seen.confirmed) return { ready: true, how: "confirmed" };
      const since = seen.since;
      let at = since + settleMs;
      const arrival = arrivals.get(path);
      // Appeared whole: nothing wrote to the name since it appeared, and it still is what it was then.
      if (arrival && !arrival.written && arrival.key === key && meta.size > 0) {
        if (now - arrival.at >= graceMs) {
          seen.confirmed = true;
          return { ready: true, how: "renamed" };
        }
        at = Math.min(at, arrival.at + graceMs);
      }
      if (prev?.key === key && now - since >= settleMs) return { ready: true, how: "settled" };
      return { ready: false, at };
    },
    confirm(path) {
      const seen = current.get(path);
      if (seen) seen.confirmed = true;
    },
    endScan(startedAt) {
      scans = current;
      current = new Map();
      for (const [path, arrival] of arrivals) if (!scans.has(path) && arrival.at < startedAt) arrivals.delete(path);
    },
  };
}
