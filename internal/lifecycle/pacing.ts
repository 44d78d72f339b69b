/**
 * @module lifecycle/pacing
 * Login spacing (`lifecycle.login_spacing`): two launches of Claude Code on the same account (one login, whose
 * OAuth token each new Claude Code may refresh) start at least `spacingMs` apart, so a fleet started, relaunched or
 * swapped at once does not refresh one token from ten processes and get logged out. Keeps, per account, the time
 * of its last launch (seeded from the store's rows, so a daemon restart keeps the spacing too). Decides nothing
 * else: `lifecycle.ts` asks it before each launch.
 */

/** The login spacing of every account. */
export interface LoginPacer {
  /** The earliest time a launch on `account` may start (in the past when it may start at once). */
  readyAt(account: string): number;
  /**
   * Takes the next launch slot of `account` and returns when it starts (`now`, or later when the previous launch
   * on it was less than the spacing ago); later reservations queue after it.
   */
  reserve(account: string, now: number): number;
}

/**
 * Creates a {@link LoginPacer}. `launched` are earlier launches (account, time), e.g. the store's sessions; one
 * recorded after `now` (the system clock went back since) counts as launched `now`, so it holds nothing back longer
 * than the spacing. With `spacingMs` 0 every launch may start at once.
 */
export function createLoginPacer(spacingMs: number, now: number, launched: Iterable<{ account: string | null; at: number | null }> = []): LoginPacer {
  const last = new Map<string, number>();
  for (const { account, at } of launched) {
    if (account !== null && at !== null) last.set(account, Math.max(last.get(account) ?? -Infinity, Math.min(at, now)));
  }
  const readyAt = (account: string) => {
    const previous = last.get(account);
    return previous === undefined ? -Infinity : previous + spacingMs;
  };
  return {
    readyAt,
    reserve(account, now) {
      const at = Math.max(now, readyAt(account));
      last.set(account, at);
      return at;
    },
  };
}
