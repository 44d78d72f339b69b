/**
 * @module clock
 * Time as a dependency: `now()` in epoch milliseconds and an abortable `sleep()`. Loops take a Clock so
 * tests can drive them with {@link createFakeClock}; pure code takes `now` as a plain number instead.
 */

/** Wall-clock time and waiting. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
    }),
};

/** A clock whose time moves only when `advance()` is called; due sleepers resolve in order. */
export interface FakeClock extends Clock {
  /** Moves time forward and resolves every sleeper that became due. */
  advance(ms: number): Promise<void>;
  /** Sets the time (never backwards). */
  set(at: number): Promise<void>;
  /** Number of pending sleepers. */
  pending(): number;
}

/** Creates a {@link FakeClock} starting at `start` epoch ms. */
export function createFakeClock(start = Date.UTC(2026, 10, 23, 12, 0, 0)): FakeClock {
  let current = start;
  let sleepers: Array<{ at: number; resolve: () => void }> = [];
  const release = async () => {
    const due = sleepers.filter((s) => s.at <= current).sort((a, b) => a.at - b.at);
    sleepers = sleepers.filter((s) => s.at > current);
    for (const s of due) s.resolve();
    // Let the woken code run up to its next await before returning.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return {
    now: () => current,
    sleep(ms, signal) {
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const sleeper = { at: current + Math.max(0, ms), resolve };
        sleepers.push(sleeper);
        signal?.addEventListener("abort", () => {
          sleepers = sleepers.filter((s) => s !== sleeper);
          resolve();
        }, { once: true });
      });
    },
    async advance(ms) {
      current += ms;
      await release();
    },
    async set(at) {
      current = Math.max(current, at);
      await release();
    },
    pending: () => sleepers.length,
  };
}
