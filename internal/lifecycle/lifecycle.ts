/**
 * @module lifecycle
 * Keeps the owned sessions alive: the pool `<prefix><i>` for i in `[start_index, start_index+max)` (at least `min`
 * of them running) and every dedicated session. Creates, adopts after a restart, relaunches dead panes, and runs
 * (re)launch commands. Owns the set of owned names: every loop here iterates that set and nothing else, so a
 * foreign session (an operator's `ccl-0`, `ccl-auto5`, another prefix) is never created, killed or typed into.
 * Each reconcile also keeps `claude.link` on the reconciled account's home (`link.ts`) and retires the sessions a
 * reload left outside the owned names (`retiring.ts`: stopped once no task runs on them, found from the store and
 * checked to run the daemon's own Claude Code, never from tmux names alone).
 * Decides nothing about accounts or tasks: callers say which home to launch with and which sessions have a task.
 *
 * A Claude Code that exits right after launch (e.g. `--dangerously-skip-permissions` refused under root without
 * IS_SANDBOX=1) is relaunched after a growing pause, not on every reconcile; after {@link LifecycleOptions.maxQuickDeaths}
 * such deaths the session is left `dead` with the pane's last screen lines (flag `dead_lines:<name>`, shown by
 * /status) and reported once in {@link ReconcileReport.dead} until it has run normally again.
 *
 * Launches on one account are spaced by `loginSpacingMs` (pacing.ts). A reconcile never waits for the spacing: it
 * launches what may start now and defers the rest ({@link ReconcileReport.deferred}) to a later pass, which the
 * daemon runs at {@link Lifecycle.nextLaunchAt} (so ten sessions on one account come up one per spacing, over
 * several quick passes). Every other launch (a swap's relaunches, a task's relaunch, `grow`) waits for its slot.
 */
import { existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { workdirProblem } from "../dispatcher/workdir.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { SessionKind, SessionRow, Store } from "../state/state.ts";
import type { PaneInfo, Tmux } from "../tmux/tmux.ts";
import { buildEnvFile, buildHookSettings, buildLaunchArgv, type HookTarget } from "./launch.ts";
import { createLoginPacer } from "./pacing.ts";
import { createLinkKeeper } from "./link.ts";
import { retire, retiringNames } from "./retiring.ts";
import { copyTranscript } from "../switcher/accounts.ts";
import { isValidUuid } from "../claude/home.ts";
import { findLiveSession } from "./live.ts";
import { processTree } from "./proc.ts";
import { transcriptPath } from "../claude/home.ts";
import { ownedNames } from "./names.ts";
import { createSessionWriter, type SessionWriter } from "../watcher/session-state.ts";

/** Everything lifecycle touches. */
export interface LifecycleDeps {
  tmux: Tmux;
  store: Store;
  clock: Clock;
  log: Logger;
  /** Fresh conversation ids. @default crypto.randomUUID */
  newUuid?: () => string;
  /**
   * True while a task runs on a session (a retiring session is stopped only when false).
   * @default a task of the store in state `running` or `stalled` names the session
   */
  hasRunningTask?: (name: string) => boolean;
  /** Where launches, adoptions and deaths are recorded (the session tracker). @default a writer on `store` */
  sessions?: SessionWriter;
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
  /** Pause before relaunching after the second quick death in a row, doubled after each further one. @default 2000 */
  crashBackoffMs?: number;
  /** Every account, searched when adopting a session the store does not know. @default the active account only */
  accounts?: ReadonlyArray<{ name: string; home: string }>;
  /** `claude.link`: kept pointing at the reconciled account's home (the session home when there is one). @default "" (no link) */
  link?: string;
  /**
   * The config home a launch of `session` runs in (its session home, claude/session-homes.ts), given the account and
   * conversation it launches with. @default the account's own home
   */
  homeFor?: (session: string, launch: { account: string; resumeId: string | null; workdir: string }) => string;
  /** The daemon's shared session home: `claude.link` points at it, and a session running there is not stranded. */
  sessionHome?: string;
  /** Least time between two launches on one account (`lifecycle.login_spacing`, whose config default is 2 s). @default 0 */
  loginSpacingMs?: number;
  /** Variables set in every session's Claude Code (`claude.env` and `claude.env_from`, resolved). @default none */
  sessionEnv?: Readonly<Record<string, string>>;
  /**
   * The `--model` a launch on `account` gets when its request names none: the fallback model while the account's
   * default model is limited (supervisor/models.ts). @default null (Claude Code's default model)
   */
  modelFor?: (account: string) => string | null;
  /** Whether `home` is one of the daemon's session homes (a session running there is not stranded). @default it is `sessionHome` */
  isSessionHome?: (home: string) => boolean;
  /**
   * The account a reconcile or a pool growth (re)launches `session` on, given the one the caller proposes (`spread`
   * placement: switcher/spread.ts). @default the proposed account
   */
  accountFor?: (session: string, proposed: { name: string; home: string }) => { name: string; home: string };
}

/** A launch request. */
export interface LaunchRequest {
  account: { name: string; home: string };
  /** Resume this conversation (its transcript must already be in `account.home`); otherwise a new one starts. */
  resumeId?: string | null;
  workdir?: string;
  /** `--model <model>`, null for Claude Code's default model. @default {@link LifecycleOptions.modelFor} of the account */
  model?: string | null;
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
  /** Retiring sessions stopped on this pass (their task had ended). */
  retired: string[];
  /** Set on the pass that first finds `claude.link` unmanageable for a reason not told before: tell the operator. */
  linkProblem?: string;
  /** Sessions to (re)launch whose account launched less than the login spacing ago: a later pass launches them. */
  deferred: string[];
}

/** The lifecycle interface used by the supervisor and the switcher. */
export interface Lifecycle {
  /** Owned names, pool range first, then dedicated. */
  ownedNames(): string[];
  /** Sessions the daemon launched that left the owned names (a reload): no new task; stopped once their task ends. */
  retiringNames(): string[];
  /** The names whose hooks, transcripts and tasks are followed: owned, then retiring. */
  observedNames(): string[];
  /** Stops the retiring sessions on which no task runs (`hasRunningTask` false); returns their names. */
  stopIfRetired(hasRunningTask: (name: string) => boolean, panes?: PaneInfo[]): Promise<string[]>;
  kindOf(name: string): SessionKind | null;
  /** Ensures owned sessions exist and run Claude Code with `account`; relaunches dead panes. */
  reconcile(account: { name: string; home: string }, panes?: PaneInfo[]): Promise<ReconcileReport>;
  /** (Re)starts Claude Code in an owned session: creates the tmux session or respawns its pane. */
  launch(name: string, request: LaunchRequest): Promise<LaunchResult>;
  /** Stops Claude Code in an owned session, leaving a holding pane (the tmux session stays). */
  hold(name: string, message: string): Promise<void>;
  /** Starts the next pool session above the running ones, up to `max`; returns its name or null. */
  grow(account: { name: string; home: string }): Promise<string | null>;
  /**
   * Owned sessions (not dead) that run in a home no configured account has any more: their account was removed from
   * the config or given another home. A swap with reason `config` moves them, conversations included.
   */
  strandedNames(accounts: ReadonlyArray<{ name: string; home: string }>): string[];
  /** Why `claude.link` cannot point at the active account's home (as of the last reconcile), or null. */
  linkProblem(): string | null;
  /** When the launches the last reconcile deferred may start (run a reconcile then), or null when it deferred none. */
  nextLaunchAt(): number | null;
  /** Conversation ids Claude Code itself reports for the running owned sessions (`<home>/sessions/<pid>.json`). */
  liveSessionIds(accounts: ReadonlyArray<{ name: string; home: string }>): Promise<Map<string, { sessionId: string; account: string }>>;
}

/** Store flag: the `claude.link` problem the operator was last told about. */
const FLAG_LINK_TOLD = "link_problem_told";
const DEFAULT_CRASH_WINDOW_MS = 60_000;
const DEFAULT_MAX_QUICK_DEATHS = 3;
const DEFAULT_CRASH_BACKOFF_MS = 2_000;
/** Screen lines of a dead pane kept for /status. */
const DEAD_LINES = 6;

/** Store flag holding the last screen lines (JSON array) of a session left `dead`. */
export function deadLinesFlag(name: string): string {
  return `dead_lines:${name}`;
}
/** A session left `dead` is tried again after this long. */
const DEAD_RETRY_MS = 10 * 60_000;

/** Creates the {@link Lifecycle}. */
export function createLifecycle(deps: LifecycleDeps, options: LifecycleOptions): Lifecycle {
  const { tmux, store, clock, log } = deps;
  const newUuid = deps.newUuid ?? (() => crypto.randomUUID());
  const names = ownedNames(options.pool, options.dedicated);
  const poolNames = names.poolNames();
  const dedicated = new Map(options.dedicated.map((d) => [d.session, d.workdir]));
  const owned = new Set(names.ownedNames());
  const sessions = deps.sessions ?? createSessionWriter(store, names.kindOf);
  const quickDeaths = new Map<string, number>();
  const crashWindow = options.crashWindowMs ?? DEFAULT_CRASH_WINDOW_MS;
  const maxQuickDeaths = options.maxQuickDeaths ?? DEFAULT_MAX_QUICK_DEATHS;
  const link = createLinkKeeper(options.link ?? "", log);
  const crashBackoff = options.crashBackoffMs ?? DEFAULT_CRASH_BACKOFF_MS;
  /** The launch whose death was counted, and when that death was seen (one death counts once, whatever the polls). */
  const deathSeen = new Map<string, { launchedAt: number | null; at: number }>();
  /** Sessions the operator was told about; cleared once the session runs past the crash window. */
  const told = new Set<string>();

  /**
   * The dead pane's last lines. A program that exits within milliseconds may leave nothing (Claude Code 2.1.330 under
   * root sometimes exits before its refusal reaches the terminal): then the exit status is what there is to show.
   */
  const lastLines = async (name: string, status: number | null): Promise<string[]> => {
    const screen = (await tmux.capture([name]).catch(() => new Map<string, string[]>())).get(name) ?? [];
    const lines = screen.map((l) => l.trimEnd()).filter((l) => l.trim() !== "" && !/^Pane is dead/.test(l.trim())).slice(-DEAD_LINES);
    return lines.length > 0 ? lines : [`Claude Code exited with status ${status ?? "unknown"} and left nothing on the screen`];
  };
  const kindOf = names.kindOf;
  const defaultWorkdir = (name: string) => dedicated.get(name) ?? options.pool.workdir;

  const pacer = createLoginPacer(options.loginSpacingMs ?? 0, clock.now(), store.sessions().map((r) => ({ account: r.account, at: r.launchedAt })));
  let nextLaunchAt: number | null = null;
  const sessionEnv = options.sessionEnv ?? {};
  const envNames = Object.keys(sessionEnv);
  const envFileText = buildEnvFile(sessionEnv);

  const settingsPath = (name: string) => join(options.hooksDir, `${name}.json`);
  const writeSettings = (name: string): string => {
    mkdirSync(options.hooksDir, { recursive: true, mode: 0o700 });
    const path = settingsPath(name);
    writeFileSync(path, buildHookSettings(name, options.hook), { mode: 0o600 });
    return path;
  };
  const envPath = (name: string) => join(options.hooksDir, `${name}.env`);
  /** Writes the sessions' environment file (mode 0600: values stay off command lines); none when it is empty. */
  const writeEnv = (name: string): { names: string[]; envFile: string } | undefined => {
    if (envNames.length === 0) return undefined;
    const envFile = envPath(name);
    writeFileSync(envFile, envFileText, { mode: 0o600 });
    return { names: envNames, envFile };
  };

  const launch = async (name: string, request: LaunchRequest, panes?: PaneInfo[]): Promise<LaunchResult> => {
    const kind = kindOf(name);
    if (!kind) throw new RangeError(`Cannot launch ${name}: not an owned session`);
    const previous = store.session(name);
    let wanted = request.workdir ?? previous?.workdir ?? defaultWorkdir(name);
    if (request.workdir === undefined && wanted !== defaultWorkdir(name) && workdirProblem(wanted) !== null) {
      // The folder of an earlier task is gone: the session goes back to its own.
      log.warn("session workdir gone; using the default", { session: name, workdir: wanted, default: defaultWorkdir(name) });
      wanted = defaultWorkdir(name);
    }
    const problem = workdirProblem(wanted);
    if (problem !== null) throw new Error(`Cannot launch ${name}: ${problem}`);
    // Claude Code names a project folder after the real path of its working directory: resolve symlinks once, here.
    const workdir = realWorkdir(wanted);
    const home = options.homeFor?.(name, { account: request.account.name, resumeId: request.resumeId ?? null, workdir }) ?? request.account.home;
    // A session relaunched outside a swap in another home than it ran in (e.g. its account left the config while no
    // swap could move it) takes its conversation along, as a swap would.
    if (isValidUuid(request.resumeId) && previous?.home && previous.home !== home) {
      const copied = copyTranscript(previous.home, home, workdir, request.resumeId);
      if (copied === "copied") log.info("conversation carried to the new home", { session: name, from: previous.home, to: home });
    }
    const resumable = isValidUuid(request.resumeId) && existsSync(transcriptPath(home, workdir, request.resumeId));
    // A conversation with no transcript yet has nothing to resume; it keeps its id and starts clean (`--session-id`),
    // which Claude Code accepts because no transcript with that id exists in this home.
    const sessionId = isValidUuid(request.resumeId) ? request.resumeId : newUuid();
    const model = request.model !== undefined ? request.model : options.modelFor?.(request.account.name) ?? null;
    const argv = buildLaunchArgv({
      command: options.claude.command, args: options.claude.args, home, model,
      mode: resumable ? "resume" : "new", sessionId, settingsPath: writeSettings(name), stripEnv: options.stripEnv, env: writeEnv(name),
    });
    const slot = pacer.reserve(request.account.name, clock.now());
    if (slot > clock.now()) {
      log.info("launch waits for login spacing", { session: name, account: request.account.name, wait_ms: slot - clock.now() });
      await clock.sleep(slot - clock.now());
    }
    const exists = (panes ?? (await tmux.listPanes())).some((p) => p.session === name);
    if (exists) await tmux.respawn(name, { cwd: workdir, argv });
    else await tmux.newSession(name, { cwd: workdir, argv });
    const now = clock.now();
    log.info("session launched", { session: name, account: request.account.name, mode: resumable ? "resume" : "new", session_id: sessionId, workdir, model });
    sessions.apply(name, { kind: "launched", at: now, sessionId, account: request.account.name, home, workdir, resumed: resumable });
    const row = sessions.apply(name, { kind: "model", at: now, model })!;
    return { ...row, resumed: resumable };
  };

  const hasRunningTask = deps.hasRunningTask ?? ((name: string) => store.tasks(["running", "stalled"]).some((t) => t.session === name));
  const stopIfRetired = async (busy: (name: string) => boolean, panes?: PaneInfo[]) =>
    retire({ tmux, store, clock, log, sessions }, { owned, settingsPath, launchFiles: (name) => [envPath(name)], hasRunningTask: busy, panes: panes ?? (await tmux.listPanes()) });

  return {
    ownedNames: () => [...owned],
    retiringNames: () => retiringNames(store, owned),
    observedNames: () => [...owned, ...retiringNames(store, owned)],
    stopIfRetired,
    kindOf,
    launch: (name, request) => launch(name, request, request.panes),

    async reconcile(account, given) {
      const report: ReconcileReport = { created: [], relaunched: [], adopted: [], dead: [], retired: [], deferred: [] };
      nextLaunchAt = null;
      // The operator is told once per reason, across restarts too (the reason told is kept in the store).
      const newLinkProblem = link.keep(options.sessionHome ?? account.home);
      if (newLinkProblem && store.getFlag(FLAG_LINK_TOLD) !== newLinkProblem) {
        report.linkProblem = newLinkProblem;
        store.setFlag(FLAG_LINK_TOLD, newLinkProblem);
      }
      if (link.problem() === null && store.getFlag(FLAG_LINK_TOLD) !== null) store.setFlag(FLAG_LINK_TOLD, null);
      const panes = given ?? (await tmux.listPanes());
      report.retired = await stopIfRetired(hasRunningTask, panes);
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
            const searched = options.accounts ?? [account];
            const live = findLiveSession(searched, pane.pid);
            const home = live ? searched.find((a) => a.name === live.account)!.home : account.home;
            sessions.apply(name, {
              kind: "adopted", at: now, workdir: pane.path || defaultWorkdir(name), account: live?.account ?? account.name, home,
              sessionId: live?.sessionId ?? null,
            });
            report.adopted.push(name);
            log.info("session adopted", { session: name, pid: pane.pid, session_id: live?.sessionId ?? null });
          } else if (row.state === "dead") {
            sessions.apply(name, { kind: "revived", at: now });
            store.setFlag(deadLinesFlag(name), null);
          }
          if (row?.launchedAt && now - row.launchedAt >= crashWindow) {
            quickDeaths.delete(name);
            told.delete(name);
          }
          continue;
        }
        const deadLongEnough = row?.state === "dead" && now - row.updatedAt >= DEAD_RETRY_MS;
        if (row?.state === "dead" && !deadLongEnough) continue;
        const wanted = kind === "dedicated" || pane !== undefined || (row !== null && row.state !== "dead") || deadLongEnough || missingPool > 0;
        if (!wanted) continue;
        if (pane?.dead) {
          const launchedAt = row?.launchedAt ?? null;
          if (deathSeen.get(name)?.launchedAt !== launchedAt || !deathSeen.has(name)) {
            const quick = launchedAt !== null && now - launchedAt < crashWindow;
            quickDeaths.set(name, quick ? (quickDeaths.get(name) ?? 0) + 1 : 1);
            deathSeen.set(name, { launchedAt, at: now });
          }
          const deaths = quickDeaths.get(name)!;
          if (deaths > maxQuickDeaths && !deadLongEnough) {
            if (row?.state !== "dead") {
              const lines = await lastLines(name, pane.deadStatus);
              sessions.apply(name, { kind: "gave-up", at: now });
              store.setFlag(deadLinesFlag(name), JSON.stringify(lines));
              if (!told.has(name)) report.dead.push(name);
              told.add(name);
              log.error("session keeps dying", { session: name, exit_status: pane.deadStatus, deaths, last_line: lines.at(-1) ?? null });
            }
            continue;
          }
          // A first death is relaunched at once; further quick deaths wait 2 s, 4 s, … instead of a relaunch per reconcile.
          const pause = deaths > 1 ? crashBackoff * 2 ** (deaths - 2) : 0;
          if (!deadLongEnough && now - deathSeen.get(name)!.at < pause) continue;
        }
        if (!pane && kind === "pool") missingPool--;
        // Login spacing: a launch that may not start yet waits for a later pass, never holding this one up.
        const readyAt = pacer.readyAt(account.name);
        if (readyAt > clock.now()) {
          report.deferred.push(name);
          nextLaunchAt = Math.min(nextLaunchAt ?? Infinity, readyAt);
          continue;
        }
        try {
          // A known conversation is resumed when its transcript is in the home; launch() starts fresh otherwise.
          await launch(name, { account: options.accountFor?.(name, account) ?? account, resumeId: row?.sessionId ?? null }, panes);
          (pane ? report.relaunched : report.created).push(name);
        } catch (error) {
          log.error("session launch failed", { session: name, error });
        }
      }
      if (report.deferred.length) log.info("launches spaced for one login", { account: account.name, deferred: report.deferred, next_at: nextLaunchAt });
      return report;
    },

    nextLaunchAt: () => nextLaunchAt,

    async hold(name, message) {
      if (!owned.has(name)) throw new RangeError(`Cannot stop ${name}: not an owned session`);
      const workdir = store.session(name)?.workdir ?? defaultWorkdir(name);
      await tmux.respawn(name, { cwd: existsSync(workdir) ? workdir : "/", argv: ["sh", "-c", `printf '%s\\n' "$0"; exec sleep 86400`, message] });
      sessions.apply(name, { kind: "held", at: clock.now() });
    },

    linkProblem: () => link.problem(),

    strandedNames(accounts) {
      const homes = new Map(accounts.map((a) => [a.name, a.home]));
      return store.sessions().filter((row) => {
        if (!owned.has(row.name) || row.state === "dead" || row.account === null) return false;
        const home = homes.get(row.account);
        const sessionHome = options.isSessionHome ?? ((h: string) => h === options.sessionHome);
        return home === undefined || (row.home !== null && row.home !== home && !sessionHome(row.home));
      }).map((row) => row.name);
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
      await launch(next, { account: options.accountFor?.(next, account) ?? account }, panes);
      return next;
    },
  };
}

/** Resolves a working directory to its real path (as Claude Code does); the path as given when it cannot. Creates nothing. */
export function realWorkdir(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
