/**
 * @module lifecycle/retiring
 * Sessions that left the owned names on a reload (`autonomous.max` shrank, `prefix` or `start_index` changed, a
 * dedicated entry was removed). They are found from the store's session rows (sessions the daemon launched), never
 * from tmux names: a session is `retiring` while the daemon's own Claude Code still runs in it (its command line
 * holds the session's hook settings path) and a task runs on it; once no task runs, it is stopped (`kill-session`)
 * and forgotten. A row whose session is gone, or runs something else now, is forgotten without touching tmux.
 * Decides nothing about tasks: the caller says which sessions still have one.
 */
import { rmSync } from "node:fs";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";
import type { PaneInfo, Tmux } from "../tmux/tmux.ts";
import { processTree, runsWithSettings } from "./proc.ts";
import type { SessionWriter } from "../watcher/session-state.ts";

/** What retirement touches. */
export interface RetirementDeps {
  tmux: Tmux;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Records `retiring`/`kept` and forgets the rows of sessions gone. */
  sessions: SessionWriter;
}

/** One pass's inputs. */
export interface RetirementPass {
  /** The owned names under the current config. */
  owned: ReadonlySet<string>;
  /** The hook settings file the daemon gave a session (its Claude Code's `--settings` argument). */
  settingsPath(name: string): string;
  /** Other files the daemon wrote for a session's launches (its environment file), removed with it. @default none */
  launchFiles?(name: string): string[];
  /** True while a task (or a delivery) runs on the session: it must not be stopped. */
  hasRunningTask(name: string): boolean;
  panes: PaneInfo[];
}

/** Names of the store's sessions outside the owned names (the retiring ones once a pass has run). */
export function retiringNames(store: Store, owned: ReadonlySet<string>): string[] {
  return store.sessions().filter((row) => !owned.has(row.name)).map((row) => row.name);
}

/**
 * Marks the sessions that left the owned names `retiring`, stops those with no running task and forgets rows that
 * are not the daemon's any more. Returns the names stopped.
 */
export async function retire(deps: RetirementDeps, pass: RetirementPass): Promise<string[]> {
  const { tmux, store, clock, log, sessions } = deps;
  const stopped: string[] = [];
  const tree = processTree();
  for (const row of store.sessions()) {
    const now = clock.now();
    if (pass.owned.has(row.name)) {
      // Owned again (e.g. the pool grew back): an ordinary session.
      sessions.apply(row.name, { kind: "kept", at: now });
      continue;
    }
    const pane = pass.panes.find((p) => p.session === row.name);
    const ours = pane !== undefined && !pane.dead && runsWithSettings(pane.pid, pass.settingsPath(row.name), tree);
    const busy = pass.hasRunningTask(row.name);
    if (busy) {
      // Followed until its task ends (also when its Claude Code is gone: the task is settled elsewhere, then it goes).
      if (row.retiringAt === null) {
        sessions.apply(row.name, { kind: "retiring", at: now });
        log.info("session retiring", { session: row.name, running_claude: ours });
      }
      continue;
    }
    if (ours) {
      try {
        await tmux.killSession(row.name);
      } catch (error) {
        log.warn("retired session not stopped", { session: row.name, error });
        continue;
      }
      for (const file of [pass.settingsPath(row.name), ...(pass.launchFiles?.(row.name) ?? [])]) rmSync(file, { force: true });
      stopped.push(row.name);
      log.info("retired session stopped", { session: row.name, retiring_since: row.retiringAt });
    } else {
      log.info("session forgotten", { session: row.name, why: pane ? "it no longer runs the daemon's Claude Code" : "it is gone from tmux" });
    }
    sessions.forget(row.name);
  }
  return stopped;
}
