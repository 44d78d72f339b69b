/**
 * @module claude/session-homes
 * The config homes the daemon's sessions run in (DESIGN.md "session home"). In `failover` placement there is one,
 * the fleet home `<state_dir>/homes/fleet`, shared by every owned session; the account homes stay where the operator
 * logs in. Owns which account's login each session home holds (store flag `session_homes`), writing a login into
 * them ({@link SessionHomes.moveTo}), carrying a refreshed token between a session home, its account home and the
 * other session homes on that account ({@link SessionHomes.syncRefreshes}), and the sessions still running in an
 * account home from before session homes existed (store flag `legacy_homes`) until they move. Transcripts
 * (`projects/`) live in the session home and never move; this module copies one only when a legacy session moves in.
 *
 * In `spread` placement (switcher/placement.ts) each owned session has a home of its own, `<state_dir>/homes/sessions/
 * <session>`, holding the login of the account it runs on; moving one session writes only its home
 * ({@link SessionHomes.moveSession}). The fleet home then holds the active account's login (the account new sessions
 * start on) for `claude.link`. A session found in another daemon home than its placement gives it (the placement was
 * changed) is recorded like a legacy one and moves at its next idle moment, its transcript copied in.
 */
import { join } from "node:path";
import type { Logger } from "../log.ts";
import type { SessionRow, Store } from "../state/state.ts";
import { copyTranscript } from "../switcher/accounts.ts";
import type { Placement } from "../switcher/placement.ts";
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
  /** The shared home of `failover` placement (in `spread`: the home `claude.link` points at). */
  readonly fleetHome: string;
  /** Where `session` runs now: its legacy account home until it moved, else {@link SessionHomes.sessionHomeOf}. */
  homeOf(session: string): string;
  /** The daemon home `session` belongs in: the fleet home, or in `spread` placement its own. */
  sessionHomeOf(session: string): string;
  /** Whether `home` is one of the daemon's session homes (the fleet home or a per-session one). */
  isSessionHome(home: string): boolean;
  /** Writes `account`'s login into the home of `session` only (a `spread` swap's write step); safe to run twice. */
  moveSession(session: string, account: string): void;
  /** Records as legacy every session whose row runs in another daemon home than its placement gives it; returns them. */
  adoptPlacement(rows: ReadonlyArray<Pick<SessionRow, "name" | "home" | "state">>): string[];
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
   * (so `--resume` finds it) and the session stops being legacy. In `spread` placement the home is made to hold
   * `launch.account`'s login (a token its sessions refreshed is kept).
   */
  launchHome(session: string, launch: { resumeId: string | null; workdir: string; account?: string }): string;
}

const FLAG_HOMES = "session_homes";
const FLAG_LEGACY = "legacy_homes";

/** Creates the {@link SessionHomes} under `<stateDir>/homes`. */
export function createSessionHomes(deps: SessionHomesDeps, options: { stateDir: string; placement?: Placement }): SessionHomes {
  const { store, log } = deps;
  const fleetHome = join(options.stateDir, "homes", "fleet");
  const sessionsRoot = join(options.stateDir, "homes", "sessions");
  const spread = options.placement === "spread";
  const sessionHomeOf = (session: string) => (spread ? join(sessionsRoot, session) : fleetHome);
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

  const markLegacy = (session: string, home: string) => {
    const legacy = readMap(FLAG_LEGACY);
    if (legacy[session] === home) return;
    writeMap(FLAG_LEGACY, { ...legacy, [session]: home });
    log.info("session runs outside its session home; it moves there once idle", { session, home });
  };

  /** Makes `home` hold `account`'s login at a launch or a start, without undoing a token its sessions refreshed. */
  const prepareHome = (home: string, account: string) => {
    const held = readMap(FLAG_HOMES)[home];
    // A home already on this account may hold a token its sessions refreshed: carry it, never overwrite it.
    // While a swap is open the home may already hold the target's login: the swap finishes that, not this.
    if (held === account && readLogin(home)) {
      if (!store.openSwap()) syncAccount(account, [home]);
    }
    else if (install(home, account)) log.info("session home ready", { home, account });
  };

  /** A swap's write: `account`'s login into `home`. @throws Error when the account home has no login to copy. */
  const moveHome = (home: string, account: string) => {
    // A token the sessions refreshed since the last sync pass goes back to its own account before being replaced.
    // Once the home holds the target's login (a swap resumed after a crash) there is nothing of the old one left.
    // A login the server refused (`needs_login`) is not carried back: its home is left for the operator's `/login`.
    const held = readMap(FLAG_HOMES)[home];
    const targetHome = accountHome(account);
    const refused = store.accounts().find((a) => a.name === held)?.state === "needs_login";
    if (held && held !== account && targetHome && !refused && !sameLogin(readLogin(home), readLogin(targetHome))) syncAccount(held, [home]);
    if (install(home, account)) log.info("login written into session home", { home, account });
    else throw new Error(`Cannot move sessions to ${account}: its home ${accountHome(account)} has no login (.credentials.json)`);
  };

  return {
    fleetHome,
    homeOf: (session) => readMap(FLAG_LEGACY)[session] ?? sessionHomeOf(session),
    accountOf: (home) => readMap(FLAG_HOMES)[home] ?? null,

    prepare: (account) => prepareHome(fleetHome, account),
    moveTo: (account) => moveHome(fleetHome, account),
    sessionHomeOf,
    isSessionHome: (home) => home === fleetHome || (home.startsWith(`${sessionsRoot}/`) && !home.slice(sessionsRoot.length + 1).includes("/")),
    moveSession: (session, account) => moveHome(sessionHomeOf(session), account),

    adoptPlacement(rows) {
      const found: string[] = [];
      const legacy = readMap(FLAG_LEGACY);
      for (const row of rows) {
        if (row.state === "dead" || row.home === null || legacy[row.name] !== undefined) continue;
        const home = row.home;
        if (home === sessionHomeOf(row.name) || !(home === fleetHome || home.startsWith(`${sessionsRoot}/`))) continue;
        markLegacy(row.name, home);
        found.push(row.name);
      }
      return found;
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

    markLegacy,
    legacySessions: () => Object.keys(readMap(FLAG_LEGACY)),

    launchHome(session, launch) {
      const home = sessionHomeOf(session);
      if (spread && launch.account) prepareHome(home, launch.account);
      const legacy = readMap(FLAG_LEGACY);
      const from = legacy[session];
      if (from === undefined) return home;
      if (isValidUuid(launch.resumeId)) {
        const outcome = copyTranscript(from, home, launch.workdir, launch.resumeId);
        log.info("transcript moved into session home", { session, from, to: home, outcome });
      }
      delete legacy[session];
      writeMap(FLAG_LEGACY, legacy);
      return home;
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
