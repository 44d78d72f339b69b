/**
 * @module retry
 * One retry helper with exponential backoff and jitter that honours a server's `retryAfterMs`.
 * Used by notification channels; everything else treats failures as data.
 */
import type { Clock } from "./clock.ts";

/** Options for {@link retry}. */
export interface RetryOptions {
  /** Total attempts including the first. @default 5 */
  attempts?: number;
  /** First backoff delay. @default 1000 */
  minDelayMs?: number;
  /** Largest backoff delay. @default 60000 */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt. @default () => true */
  isRetryable?: (error: unknown) => boolean;
  /** Server-imposed delay carried by an error (e.g. Telegram `retry_after`). */
  retryAfterMs?: (error: unknown) => number | undefined;
  clock: Clock;
  signal?: AbortSignal;
  /** Random in [0,1) for jitter. @default Math.random */
  random?: () => number;
}

/** Calls `fn` until it resolves, attempts run out, the error is not retryable, or `signal` aborts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 5;
  const minDelay = options.minDelayMs ?? 1000;
  const maxDelay = options.maxDelayMs ?? 60_000;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const retryable = options.isRetryable?.(error) ?? true;
      if (!retryable || attempt >= attempts || options.signal?.aborted) throw error;
      const backoff = Math.min(maxDelay, minDelay * 2 ** (attempt - 1)) * (0.75 + random() * 0.5);
      const delay = Math.max(options.retryAfterMs?.(error) ?? 0, backoff);
      await options.clock.sleep(delay, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}
