/**
 * @module supervisor/login
 * What the supervisor knows about accounts whose login was refused (`needs_login`, reference/real-claude.md §13.3):
 * the fix the operator is told (`CLAUDE_CONFIG_DIR=<home> claude`, then `/login`), and whether the login was fixed
 * since — the account home's `.credentials.json` changed after the daemon last looked (the CLI's `/login` rewrites
 * it). The daemon's own writes to an account home happen only while a swap is open (the session homes carry a token
 * back before the swap replaces it), so while one is open the file's time is taken as the new starting point.
 * The starting point lives in a store flag per account (`login_lost:<name>`), so a restart keeps it. Decides nothing
 * else: supervisor/accounts.ts marks the account, tells the operator and moves its sessions.
 */
import type { Store } from "../state/state.ts";

/** The command that opens Claude Code on an account's home, where `/login` fixes it. */
export function loginFix(home: string): string {
  return `CLAUDE_CONFIG_DIR=${/^[\w@%+=:,./-]+$/.test(home) ? home : `'${home.replace(/'/g, "'\\''")}'`} claude`;
}

const flagOf = (account: string) => `login_lost:${account}`;

/** Forgets that `account` lost its login (the operator enabled it after `/login`). */
export function clearLostLogin(store: Store, account: string): void {
  store.setFlag(flagOf(account), null);
}

/** Lost-login bookkeeping over the store; `loginMtime` reads a home's `.credentials.json` time (0 when missing). */
export interface LoginWatch {
  /** Records that `account`'s login was refused now; its login file's time is the starting point. */
  lost(account: string, home: string): void;
  /**
   * Accounts (among `needsLogin`) whose login file changed since the starting point, outside a swap. While a swap is
   * open (`swapOpen`) the starting point follows the file instead.
   */
  fixed(needsLogin: ReadonlyArray<{ name: string; home: string }>, swapOpen: boolean): string[];
  /** Forgets `account` (it is usable again). */
  clear(account: string): void;
  /** Whether `account`'s login was refused and nobody enabled it since (a disabled account keeps its state). */
  isLost(account: string): boolean;
}

/** Creates the {@link LoginWatch}. */
export function createLoginWatch(store: Store, loginMtime: (home: string) => number): LoginWatch {
  const read = (account: string): number | null => {
    const value = Number(store.getFlag(flagOf(account)));
    return Number.isFinite(value) && store.getFlag(flagOf(account)) !== null ? value : null;
  };
  return {
    lost: (account, home) => store.setFlag(flagOf(account), String(loginMtime(home))),
    fixed(needsLogin, swapOpen) {
      const out: string[] = [];
      for (const { name, home } of needsLogin) {
        const now = loginMtime(home);
        const since = read(name);
        if (since === null || swapOpen) {
          if (since !== now) store.setFlag(flagOf(name), String(now));
          continue;
        }
        // A login file that is gone is no login; only a file written since counts.
        if (now !== since && now > 0) out.push(name);
      }
      return out;
    },
    clear: (account) => clearLostLogin(store, account),
    isLost: (account) => store.getFlag(flagOf(account)) !== null,
  };
}
