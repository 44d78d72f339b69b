/**
 * @module claude/session-homes
 * The config homes the daemon's sessions run in (DESIGN.md "session home"). In `failover` placement there is one,
 * the fleet home `<state_dir>/homes/fleet`, shared by every owned session; the account homes stay where the operator
 * logs in. Owns which account's login each session home holds (store flag `session_homes`), writing a login into
 * them ({@link SessionHomes.moveTo}), carrying a refreshed token between a session home, its account home and the
 * other session homes on that account ({@link SessionHomes.syncRefreshes}), and the sessions still running in an
 * account home from before session homes existed (store flag `legacy_homes`) until they move. Transcripts
 * (`projects/`) live in the session home and never move; this module copies one only when a legacy session moves in.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";
import { copyTranscript } from "../switcher/accounts.ts";
import { isValidUuid } from "./home.ts";
import { credentialsMtime, loginExpiry, loginIdentity, readLogin, sameLogin, seedSessionHome, writeLogin, type Login } from "./login.ts";

/** What the session homes touch. */
export interface SessionHomesDeps {
  store: Store;
  log: Logger;
  /** The configured accounts and their homes. */
  accounts: ReadonlyArray<{ name: string; home: string }>;
}

/** The session homes. */
export interface SessionHomes {
  /** The shared home of `failover` placement. */
  readonly fleetHome: string;
  /** Where `session` runs now: its legacy account home until it moved, else the fleet home. */
  homeOf(session: string): string;
  /** The account whose login `home` holds, if the daemon wrote one. */
  accountOf(home: string): string | null;
  /** Creates the fleet home if needed and makes it hold `account`'s login (without undoing a token refresh). */
  prepare(account: string): void;
  /** Writes `account`'s login into every session home (a swap's write step); safe to run twice. */
  moveTo(account: string): void;
  /** Carries a refreshed token set between each account home and its session homes; returns the homes written. */
  syncRefreshes(): string[];
  /** Records that `session` still runs in `home` (an account home), from before session homes. */
  markLegacy(session: string, home: string): void;
  /** Sessions still running in an account home. */
  legacySessions(): string[];
  /**
   * The home a (re)launch of `session` uses: always its session home. A legacy session's transcript is copied in first
   * (so `--resume` finds it) and the session stops being legacy.
   */
  launchHome(session: string, launch: { resumeId: string | null; workdir: string }): string;
}

const FLAG_HOMES = "session_homes";
const FLAG_LEGACY = "legacy_homes";

/** Creates the {@link SessionHomes} under `<stateDir>/homes`. */
export function createSessionHomes(deps: SessionHomesDeps, options: { stateDir: string }): SessionHomes {
  const { store, log } = deps;
  const fleetHome = join(options.stateDir, "homes", "fleet");
  const readMap = (key: string): Record<string, string> => {
    try {
      return JSON.parse(store.getFlag(key) ?? "{}") as Record<string, string>;
    } catch {
      return {};
    }
  };
  const writeMap = (key: string, map: Record<string, string>) => store.setFlag(key, Object.keys(map).length ? JSON.stringify(map) : null);
  const accountHome = (name: string) => deps.accounts.find((a) => a.name === name)?.home ?? null;
  let seenMtimes = "";

  /** Writes `account`'s login into `home` and records it; false when the account home has no login to copy. */
  const install = (home: string, account: string): boolean => {
    const from = accountHome(account);
    if (!from) throw new Error(`Cannot write a login: account ${account} is not configured`);
    seedSessionHome(home, from);
    const login = readLogin(from);
    if (!login) {
      log.warn("account home has no login to copy", { account, home: from });
      return false;
    }
    if (!sameLogin(readLogin(home), login)) writeLogin(home, login);
    writeMap(FLAG_HOMES, { ...readMap(FLAG_HOMES), [home]: account });
    return true;
  };

  const syncAccount = (account: string, homes: string[]): string[] => {
    const from = accountHome(account);
    if (!from) return [];
    const places = [from, ...homes];
    const logins = places.map((home) => ({ home, login: readLogin(home), mtime: credentialsMtime(home) }));
    const identity = loginIdentity(logins[0]!.login);
    // The newest token set of this account wins: a later expiry, then the file written last.
    const candidates = logins.filter((l) => l.login && (identity === null || loginIdentity(l.login) === null || loginIdentity(l.login) === identity));
    const newest = candidates.sort((a, b) => loginExpiry(b.login) - loginExpiry(a.login) || b.mtime - a.mtime)[0];
    if (!newest?.login) return [];
    const written: string[] = [];
    for (const { home, login } of logins) {
      if (sameLogin(login, newest.login)) continue;
      if (login && identity !== null && loginIdentity(login) !== null && loginIdentity(login) !== identity) continue;
      writeLogin(home, newest.login as Login);
      written.push(home);
    }
    if (written.length) log.info("refreshed login carried", { account, from: newest.home, to: written });
    return written;
  };

  return {
    fleetHome,
    homeOf: (session) => readMap(FLAG_LEGACY)[session] ?? fleetHome,
    accountOf: (home) => readMap(FLAG_HOMES)[home] ?? null,

    prepare(account) {
      const held = readMap(FLAG_HOMES)[fleetHome];
      // The fleet home already on this account may hold a token its sessions refreshed: carry it, never overwrite it.
      // While a swap is open the fleet home may already hold the target's login: the swap finishes that, not this.
      if (held === account && readLogin(fleetHome)) {
        if (!store.openSwap()) syncAccount(account, [fleetHome]);
      }
      else if (install(fleetHome, account)) log.info("session home ready", { home: fleetHome, account });
    },

    moveTo(account) {
      // A token the sessions refreshed since the last sync pass goes back to its own account before being replaced.
      // Once the home holds the target's login (a swap resumed after a crash) there is nothing of the old one left.
      // A login the server refused (`needs_login`) is not carried back: its home is left for the operator's `/login`.
      const held = readMap(FLAG_HOMES)[fleetHome];
      const targetHome = accountHome(account);
      const refused = store.accounts().find((a) => a.name === held)?.state === "needs_login";
      if (held && held !== account && targetHome && !refused && !sameLogin(readLogin(fleetHome), readLogin(targetHome))) syncAccount(held, [fleetHome]);
      if (install(fleetHome, account)) log.info("login written into session home", { home: fleetHome, account });
      else throw new Error(`Cannot move sessions to ${account}: its home ${accountHome(account)} has no login (.credentials.json)`);
    },

    syncRefreshes() {
      if (store.openSwap()) return [];
      const held = readMap(FLAG_HOMES);
      const byAccount = new Map<string, string[]>();
      for (const [home, account] of Object.entries(held)) byAccount.set(account, [...(byAccount.get(account) ?? []), home]);
      const involved = [...byAccount].flatMap(([account, homes]) => [accountHome(account) ?? "", ...homes]);
      const mtimes = involved.map((home) => `${home}:${credentialsMtime(home)}`).join("|");
      if (mtimes === seenMtimes) return [];
      const written = [...byAccount].flatMap(([account, homes]) => syncAccount(account, homes));
      seenMtimes = involved.map((home) => `${home}:${credentialsMtime(home)}`).join("|");
      return written;
    },

    markLegacy(session, home) {
      const legacy = readMap(FLAG_LEGACY);
      if (legacy[session] === home) return;
      writeMap(FLAG_LEGACY, { ...legacy, [session]: home });
      log.info("session runs in an account home; it moves to its session home once idle", { session, home });
    },
    legacySessions: () => Object.keys(readMap(FLAG_LEGACY)),

    launchHome(session, launch) {
      const legacy = readMap(FLAG_LEGACY);
      const from = legacy[session];
      if (from === undefined) return fleetHome;
      if (isValidUuid(launch.resumeId)) {
        const outcome = copyTranscript(from, fleetHome, launch.workdir, launch.resumeId);
        log.info("transcript moved into session home", { session, from, to: fleetHome, outcome });
      }
      delete legacy[session];
      writeMap(FLAG_LEGACY, legacy);
      return fleetHome;
    },
  };
}

/**
 * At daemon start: the fleet home exists and holds the active account's login (`claude.link` is pointed at it by
 * lifecycle's link keeper). A problem is logged; the sessions still start.
 */
export function prepareSessionHomes(homes: SessionHomes, activeAccount: string, log: Logger): void {
  try {
    homes.prepare(activeAccount);
  } catch (error) {
    log.error("session home not prepared", { home: homes.fleetHome, account: activeAccount, error });
  }
}
