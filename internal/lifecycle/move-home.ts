/**
 * @module lifecycle/move-home
 * Moving existing installs to session homes. Sessions an older daemon launched in an account home keep running
 * there ({@link HomeMigration.detect} records them, from Claude Code's live registry in the account homes) until they
 * are idle with nothing typed and no task; then each is relaunched once in its session home with `--resume`, its
 * transcript copied in first (claude/session-homes.ts `launchHome`). Nothing is moved while a swap runs. A session
 * that dies meanwhile moves at its relaunch by reconcile, the same way.
 */
import type { Logger } from "../log.ts";
import type { SessionHomes } from "../claude/session-homes.ts";
import type { Store } from "../state/state.ts";
import type { Tmux } from "../tmux/tmux.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { inputText, paneActivity } from "../quota/classify.ts";

/** What the migration touches. */
export interface HomeMigrationDeps {
  store: Store;
  tmux: Tmux;
  lifecycle: Pick<Lifecycle, "launch" | "liveSessionIds">;
  homes: Pick<SessionHomes, "markLegacy" | "legacySessions" | "homeOf">;
  log: Logger;
  accounts: ReadonlyArray<{ name: string; home: string }>;
  /** True while a swap moves sessions. */
  swapRunning(): boolean;
  /** The account sessions run on now. */
  activeAccount(): { name: string; home: string };
  /** The account a moved session runs on (`spread` placement). @default the active account */
  accountFor?: (session: string, proposed: { name: string; home: string }) => { name: string; home: string };
}

/** The migration to session homes. */
export interface HomeMigration {
  /** Records every owned session found running in an account home; returns their names. */
  detect(): Promise<string[]>;
  /** Moves each recorded session that is idle now; returns the names moved. */
  pass(): Promise<string[]>;
}

/** Creates the {@link HomeMigration}. */
export function createHomeMigration(deps: HomeMigrationDeps): HomeMigration {
  const { store, tmux, lifecycle, homes, log } = deps;
  return {
    async detect() {
      const found: string[] = [];
      for (const [session, live] of await lifecycle.liveSessionIds(deps.accounts)) {
        const home = deps.accounts.find((a) => a.name === live.account)?.home;
        if (!home) continue;
        homes.markLegacy(session, home);
        found.push(session);
      }
      return found;
    },

    async pass() {
      const waiting = homes.legacySessions();
      if (!waiting.length || deps.swapRunning()) return [];
      const busy = new Set(store.tasks(["running"]).map((t) => t.session).filter((s): s is string => s !== null));
      const screens = await tmux.capture(waiting);
      const moved: string[] = [];
      for (const name of waiting) {
        const row = store.session(name);
        const lines = screens.get(name);
        if (!row || !lines || busy.has(name) || paneActivity(lines) !== "idle" || inputText(lines)) continue;
        const from = homes.homeOf(name);
        await lifecycle.launch(name, { account: deps.accountFor?.(name, deps.activeAccount()) ?? deps.activeAccount(), resumeId: row.sessionId, workdir: row.workdir })
          .then(() => {
            moved.push(name);
            log.info("session moved to its session home", { session: name, from, session_id: row.sessionId });
          })
          .catch((error) => log.error("session not moved to its session home", { session: name, error }));
      }
      return moved;
    },
  };
}
