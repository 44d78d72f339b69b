/**
 * @module lifecycle
 * Keeps the owned sessions alive: the pool `<prefix><i>` for i in `[start_index, start_index+max)` (at least `min`
 * of them running) and every dedicated session. Creates, adopts after a restart, relaunches dead panes, and runs
 * (re)launch commands. Owns the set of owned names: every loop here iterates that set and nothing else, so a
 * foreign session (an operator's `ccl-0`, `ccl-auto5`, another prefix) is never created, killed or typed into.
 * Decides nothing about accounts or tasks: callers say which home to launch with.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { SessionKind, SessionRow, Store } from "../state/state.ts";
import type { PaneInfo, Tmux } from "../tmux/tmux.ts";
import { buildHookSettings, buildLaunchArgv, type HookTarget } from "./launch.ts";
import { isValidUuid } from "../claude/home.ts";
import { transcriptPath } from "../claude/home.ts";

/** Everything lifecycle touches. */
export interface LifecycleDeps {
  tmux: Tmux;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Fresh conversation ids. @default crypto.randomUUID */
  newUuid?: () => string;
}

/** Static facts from config. */
export interface LifecycleOptions {
  pool: { prefix: string; startIndex: number; min: number; max: number; workdir: string };
  dedicated: ReadonlyArray<{ session: string; workdir: string }>;
  claude: { command: string; args: readonly string[] };
  /** Variable names to strip from panes (daemon secrets). */
  stripEnv: readonly string[];
  /** Folder for per-session hook settings files. */
  hooksDir: string;
  hook: HookTarget;
  /** Deaths within this window count toward the crash limit. @default 60000 */
  crashWindowMs?: number;
  /** Consecutive quick deaths before a session is left `dead`. @default 3 */
  maxQuickDeaths?: number;
  /** Every account, searched when adopting a session the store does not know. @default the active account only */
  accounts?: ReadonlyArray<{ name: string; home: string }>;
  /**
   * The config home a launch of `session` runs in (its session home, claude/session-homes.ts), given the account and
   * conversation it launches with. @default the account's own home
   */
  homeFor?: (session: string, launch: { account: string; resumeId: string | null; workdir: string }) => string;
}

/** A launch request. */
export interface LaunchRequest {
  account: { name: string; home: string };
  /** Resume this conversation (its transcript must already be in `account.home`); otherwise a new one starts. */
  resumeId?: string | null;
  workdir?: string;
  /** A fresh `list-panes`, when the caller has one (saves a tmux call per launch). */
  panes?: PaneInfo[];
}

/** The session after a launch; `resumed` is false when a new (possibly empty-history) conversation started. */
export type LaunchResult = SessionRow & { resumed: boolean };

/** What a reconcile pass did. */
export interface ReconcileReport {
  created: string[];
  relaunched: string[];
  adopted: string[];
  dead: string[];
}

/** The lifecycle interface used by the supervisor and the switcher. */
export interface Lifecycle {
  /** Owned names, pool range first, then dedicated. */
  ownedNames(): string[];
  kindOf(name: string): SessionKind | null;
  /** Ensures owned sessions exist and run Claude Code with `account`; relaunches dead panes. */
  reconcile(account: { name: string; home: string }, panes?: PaneInfo[]): Promise<ReconcileReport>;
  /** (Re)starts Claude Code in an owned session: creates the tmux session or respawns its pane. */
  launch(name: string, request: LaunchRequest): Promise<LaunchResult>;
  /** Stops Claude Code in an owned session, leaving a holding pane (the tmux session stays). */
  hold(name: string, message: string): Promise<void>;
  /** Starts the next pool session above the running ones, up to `max`; returns its name or null. */
  grow(account: { name: string; home: string }): Promise<string | null>;
  /** Conversation ids Claude Code itself reports for the running owned sessions (`<home>/sessions/<pid>.json`). */
  liveSessionIds(accounts: ReadonlyArray<{ name: string; home: string }>): Promise<Map<string, { sessionId: string; account: string }>>;
}

const DEFAULT_CRASH_WINDOW_MS = 60_000;
const DEFAULT_MAX_QUICK_DEATHS = 3;
/** A session left `dead` is tried again after this long. */
const DEAD_RETRY_MS = 10 * 60_000;

/** Creates the {@link Lifecycle}. */
export function createLifecycle(deps: LifecycleDeps, options: LifecycleOptions): Lifecycle {
  const { tmux, store, clock, log } = deps;
  const newUuid = deps.newUuid ?? (() => crypto.randomUUID());
  const poolNames = Array.from({ length: options.pool.max }, (_, i) => `${options.pool.prefix}${options.pool.startIndex + i}`);
  const dedicated = new Map(options.dedicated.map((d) => [d.session, d.workdir]));
  const owned = new Set([...poolNames, ...dedicated.keys()]);
  const quickDeaths = new Map<string, number>();
  const crashWindow = options.crashWindowMs ?? DEFAULT_CRASH_WINDOW_MS;
  const maxQuickDeaths = options.maxQuickDeaths ?? DEFAULT_MAX_QUICK_DEATHS;

  const kindOf = (name: string): SessionKind | null => (dedicated.has(name) ? "dedicated" : poolNames.includes(name) ? "pool" : null);
  const defaultWorkdir = (name: string) => dedicated.get(name) ?? options.pool.workdir;

  const writeSettings = (name: string): string => {
    mkdirSync(options.hooksDir, { recursive: true, mode: 0o700 });
    const path = join(options.hooksDir, `${name}.json`);
    writeFileSync(path, buildHookSettings(name, options.hook), { mode: 0o600 });
    return path;
  };

  const launch = async (name: string, request: LaunchRequest, panes?: PaneInfo[]): Promise<LaunchResult> => {
    const kind = kindOf(name);
    if (!kind) throw new RangeError(`Cannot launch ${name}: not an owned session`);
    const previous = store.session(name);
    // Claude Code names a project folder after the real path of its working directory: resolve symlinks once, here.
    const workdir = realWorkdir(request.workdir ?? previous?.workdir ?? defaultWorkdir(name));
    mkdirSync(request.workdir ?? previous?.workdir ?? defaultWorkdir(name), { recursive: true });
    const home = options.homeFor?.(name, { account: request.account.name, resumeId: request.resumeId ?? null, workdir }) ?? request.account.home;
    const resumable = isValidUuid(request.resumeId) && existsSync(transcriptPath(home, workdir, request.resumeId));
    // A conversation with no transcript yet has nothing to resume; it keeps its id and starts clean (`--session-id`),
    // which Claude Code accepts because no transcript with that id exists in this home.
    const sessionId = isValidUuid(request.resumeId) ? request.resumeId : newUuid();
    const argv = buildLaunchArgv({
      command: options.claude.command, args: options.claude.args, home,
      mode: resumable ? "resume" : "new", sessionId, settingsPath: writeSettings(name), stripEnv: options.stripEnv,
    });
    const exists = (panes ?? (await tmux.listPanes())).some((p) => p.session === name);
    if (exists) await tmux.respawn(name, { cwd: workdir, argv });
    else await tmux.newSession(name, { cwd: workdir, argv });
    const now = clock.now();
    log.info("session launched", { session: name, account: request.account.name, mode: resumable ? "resume" : "new", session_id: sessionId, workdir });
    const row = store.upsertSession(name, kind, {
      state: "starting", sessionId, account: request.account.name, workdir, launchedAt: now, activityAt: now,
      ...(resumable ? {} : { taskId: null }),
    }, now);
    return { ...row, resumed: resumable };
  };

  return {
    ownedNames: () => [...owned],
    kindOf,
    launch: (name, request) => launch(name, request, request.panes),

    async reconcile(account, given) {
      const report: ReconcileReport = { created: [], relaunched: [], adopted: [], dead: [] };
      const panes = given ?? (await tmux.listPanes());
      const byName = new Map<string, PaneInfo>();
      for (const pane of panes) if (owned.has(pane.session) && !byName.has(pane.session)) byName.set(pane.session, pane);
      const runningPool = poolNames.filter((n) => byName.has(n)).length;
      let missingPool = Math.max(0, options.pool.min - runningPool);
      const now = clock.now();

      for (const name of [...poolNames, ...dedicated.keys()]) {
        const pane = byName.get(name);
        const row = store.session(name);
        const kind = kindOf(name)!;
        // A pane parked by a swap (`hold`) with no swap running any more: the swap failed or was abandoned.
        const parked = pane && !pane.dead && pane.command === "sleep" && row?.state === "starting";
        if (pane && !pane.dead && !parked) {
          if (!row) {
            // The store lost this session (new state folder): Claude Code's live registry still knows its
            // conversation and its account, even when Claude Code runs under a shell the operator started.
            const live = findLiveSession(options.accounts ?? [account], pane.pid);
            store.upsertSession(name, kind, {
              state: "idle", workdir: pane.path || defaultWorkdir(name), account: live?.account ?? account.name, activityAt: now,
              ...(live ? { sessionId: live.sessionId } : {}),
            }, now);
            report.adopted.push(name);
            log.info("session adopted", { session: name, pid: pane.pid, session_id: live?.sessionId ?? null });
          } else if (row.state === "dead") {
            store.upsertSession(name, kind, { state: "idle" }, now);
          }
          continue;
        }
        const deadLongEnough = row?.state === "dead" && now - row.updatedAt >= DEAD_RETRY_MS;
        if (row?.state === "dead" && !deadLongEnough) continue;
        const wanted = kind === "dedicated" || pane !== undefined || (row !== null && row.state !== "dead") || deadLongEnough || missingPool > 0;
        if (!wanted) continue;
        if (pane?.dead) {
          const deaths = row?.launchedAt && now - row.launchedAt < crashWindow ? (quickDeaths.get(name) ?? 0) + 1 : 1;
          quickDeaths.set(name, deaths);
          if (deaths > maxQuickDeaths && !deadLongEnough) {
            if (row?.state !== "dead") {
              store.upsertSession(name, kind, { state: "dead" }, now);
              report.dead.push(name);
              log.error("session keeps dying", { session: name, exit_status: pane.deadStatus, deaths });
            }
            continue;
          }
        }
        if (!pane && kind === "pool") missingPool--;
        try {
          // A known conversation is resumed when its transcript is in the home; launch() starts fresh otherwise.
          await launch(name, { account, resumeId: row?.sessionId ?? null }, panes);
          (pane ? report.relaunched : report.created).push(name);
        } catch (error) {
          log.error("session launch failed", { session: name, error });
        }
      }
      return report;
    },

    async hold(name, message) {
      if (!owned.has(name)) throw new RangeError(`Cannot stop ${name}: not an owned session`);
      const workdir = store.session(name)?.workdir ?? defaultWorkdir(name);
      await tmux.respawn(name, { cwd: existsSync(workdir) ? workdir : "/", argv: ["sh", "-c", `printf '%s\\n' "$0"; exec sleep 86400`, message] });
      store.upsertSession(name, kindOf(name)!, { state: "starting" }, clock.now());
    },

    async liveSessionIds(accounts) {
      const found = new Map<string, { sessionId: string; account: string }>();
      const tree = processTree();
      for (const pane of await tmux.listPanes()) {
        if (!owned.has(pane.session) || pane.dead) continue;
        const live = findLiveSession(accounts, pane.pid, tree);
        if (live) found.set(pane.session, live);
      }
      return found;
    },

    async grow(account) {
      const panes = await tmux.listPanes();
      const running = new Set(panes.map((p) => p.session));
      const next = poolNames.find((n) => !running.has(n));
      if (!next) return null;
      await launch(next, { account }, panes);
      return next;
    },
  };
}

/** Resolves a working directory to its real path (as Claude Code does); the path as given when it cannot. */
export function realWorkdir(path: string): string {
  try {
    mkdirSync(path, { recursive: true });
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Finds the Claude Code process under a pane (the pane's own process or any descendant, e.g. `claude` started from
 * a shell) in Claude Code's live-session registry (`<home>/sessions/<pid>.json`) of any of `accounts`.
 */
export function findLiveSession(accounts: ReadonlyArray<{ name: string; home: string }>, panePid: number, tree = processTree()): { sessionId: string; account: string } | null {
  for (const pid of [panePid, ...descendants(panePid, tree)]) {
    for (const account of accounts) {
      try {
        const record = JSON.parse(readFileSync(join(account.home, "sessions", `${pid}.json`), "utf8")) as { sessionId?: unknown };
        if (isValidUuid(record.sessionId)) return { sessionId: record.sessionId, account: account.name };
      } catch {
        // not this process, or not this home
      }
    }
  }
  return null;
}

/** Parent → children of every process, read once from /proc (Linux). */
function processTree(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    // no /proc: only the pane's own process is looked at
  }
  return children;
}

/** Every descendant of `pid` in `tree`. */
function descendants(pid: number, tree: Map<number, number[]>): number[] {
  const out: number[] = [];
  const queue = [...(tree.get(pid) ?? [])];
  while (queue.length && out.length < 1000) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(tree.get(next) ?? []));
  }
  return out;
}
