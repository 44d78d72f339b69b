/**
 * @module switcher
 * Runs a swap as a state machine persisted step by step in the store:
 * `requested → saving → stopping → flipping → migrating → relaunching → verifying → done | failed`, or in place
 * (switcher/in-place.ts) `requested → saving → writing → closing → moving → verifying → done | failed`.
 * Each step is written before it starts and is safe to run twice, so a daemon killed at any point finishes the swap
 * on its next start ({@link Switcher.resumeOpen}). A swap that could not flip `claude.link` fails before any session
 * is stopped. Owns the swap circuit breaker. Does not decide *when* to swap
 * (that is quota + supervisor) and only touches owned sessions, through lifecycle.
 *
 * In `failover` placement a swap moves every owned session to one account (`to_account`). In `spread` placement
 * (switcher/spread.ts) it moves only the sessions of the account it leaves (`from_account`; pinned sessions stay),
 * each to the account with the most headroom: the plan records each session's target (`to`), the swap row's
 * `to_account` is the account new sessions start on afterwards, and only the moved sessions' homes are written.
 */
import type { SessionTracker } from "../watcher/sessions.ts";
import type { Clock } from "../clock.ts";
import type { NotifyEvent } from "../notify/events.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import { isValidUuid } from "../claude/home.ts";
import type { SessionKind, Store, SwapRow, SwapStep } from "../state/state.ts";
import type { PaneInfo, Snapshot, Tmux } from "../tmux/tmux.ts";
import { paneActivity } from "../quota/classify.ts";
import { copyTranscript, pickNextAccount, type CopyOutcome } from "./accounts.ts";
import { flipLink, LinkError, linkFlipProblem } from "../lifecycle/link.ts";
import type { SessionHomes } from "../claude/session-homes.ts";
import { closeLimitScreens, moveRows, readSessions, recordPids, verifyInPlace, writeTargetLogin, type InPlaceDeps } from "./in-place.ts";
import type { SwapModeChoice } from "./mode.ts";
import { recordMove } from "./moved.ts";
import type { Placement } from "./placement.ts";
import type { Move } from "./placement.ts";
import { chooseSpread, groupByTarget, limitedAt, spreadMoves } from "./spread.ts";

/** What the switcher touches. */
export interface SwitcherDeps {
  store: Store;
  lifecycle: Lifecycle;
  tmux: Tmux;
  clock: Clock;
  log: Logger;
  notify(event: NotifyEvent): void;
  /** Records the active account (store flag + runtime). */
  setActiveAccount(name: string): void;
  activeAccount(): string | null;
  /** Puts a task back in the queue (its session could not keep the conversation). */
  requeueTask(taskId: number, reason: string): void;
  /** Where swap outcomes are recorded, and the time of each session's last SessionStart hook (the session tracker). */
  sessions: Pick<SessionTracker, "apply" | "startedAt">;
  metrics?: { inc(name: string, labels?: Record<string, string>): void };
  /** The daemon's session homes: a swap writes the target's login into them instead of moving transcripts. */
  homes?: Pick<SessionHomes, "fleetHome" | "moveTo"> & Partial<Pick<SessionHomes, "moveSession" | "sessionHomeOf">>;
  /** How the next swap moves sessions (switcher/mode.ts); in-place needs `homes`. @default restart */
  swapMode?: () => SwapModeChoice;
  /**
   * Fault-injection seam for crash tests: awaited after a step is persisted and before it runs; `halted` aborts when
   * the daemon stops (nothing of the step runs after that).
   */
  beforeStep?: (swapId: number, step: SwapStep, halted: AbortSignal) => Promise<void> | void;
}

/** Options from config. */
export interface SwitcherOptions {
  link: string;
  staggerMs: number;
  verifyTimeoutMs: number;
  relaunchAttempts: number;
  maxSwapsPerHour: number;
  /** Pause between verification polls. @default 500 */
  verifyPollMs?: number;
  /** `switcher.placement`: `spread` moves only the sessions of the account a swap leaves (needs `homes.moveSession`). @default failover */
  placement?: Placement;
  /** Sessions pinned to an account (`dedicated[].account`): a `spread` swap never moves them. @default none */
  pins?: ReadonlyMap<string, string>;
}

/** A swap request. */
export interface SwapInput {
  /**
   * `config`: sessions run on an account the config no longer has (or in its old home); only they move. `login`,
   * `warning`, `extra_usage`: the account `from` must not take requests now (a lost login, a usage warning above its
   * `switch_at`, paid usage); they move like `quota`.
   */
  reason: "quota" | "manual" | "reset" | "config" | "login" | "warning" | "extra_usage";
  /** Target account; the next available one when absent (for `config`, the active account when usable). */
  to?: string;
  /** The account the sessions leave; in `spread` placement only its sessions move. @default the active account */
  from?: string;
  triggerSession?: string | null;
  signal?: string | null;
  pattern?: string | null;
  snippet?: string | null;
  resetAt?: number | null;
  /** The kind of limit behind a quota swap (`five_hour`, `weekly`, …), kept in the swap record. */
  limit?: string | null;
}

/** Outcome of {@link Switcher.request}. */
export type SwapResult =
  | { ok: true; swapId: number; message: string }
  | { ok: false; message: string; exhausted?: { wakeAt: number | null }; breaker?: boolean };

/** The switcher interface. */
export interface Switcher {
  /** Starts a swap (runs in the background); refuses when one is running, when no account is usable, or when the breaker is open. */
  request(input: SwapInput): Promise<SwapResult>;
  /** Finishes a swap left unfinished by a previous daemon run. */
  resumeOpen(): Promise<void>;
  running(): boolean;
  /** Resolves when the current swap (if any) has ended. */
  idle(): Promise<void>;
  /**
   * Resolves once no swap holds its sessions any more: the current swap (if any) has reached `verifying` (every session
   * is on its target account, supervisor `swapHolds`) or has ended. A cut task can be continued from then on.
   */
  settled(): Promise<void>;
  /** Stops working on the current swap between two actions, leaving it open in the store for the next start. */
  halt(): Promise<void>;
}

/** Thrown inside a swap when the daemon is stopping: the swap stays open and resumes on the next start. */
class Halted extends Error {}

interface PlannedSession {
  name: string;
  kind: SessionKind;
  sessionId: string | null;
  workdir: string;
  account: string | null;
  /** The home the session ran in (absent in plans written before homes were kept). */
  home?: string | null;
  taskId: number | null;
  midTask: boolean;
  copy?: CopyOutcome;
  relaunchedAt?: number;
  attempts?: number;
  /** `kept`: moved in place, same process. */
  outcome?: "kept" | "resumed" | "fresh" | "dead";
  /** In place: the pane's process when the swap started, and whether Esc was sent for the limit screen. */
  pid?: number | null;
  closed?: boolean;
  /** `spread` placement: the account this session moves to (absent: the swap's `to_account`). */
  to?: string;
}

interface Plan {
  sessions: PlannedSession[];
  /** How this swap moves sessions, decided once at `saving`; absent in plans from before in-place swaps. */
  mode?: SwapModeChoice["mode"];
  /** `spread`: only the sessions of `from_account` move, each to its own `to`; written at the request. */
  placement?: "spread";
  /** `spread`: every moved session goes to this account (a manual swap naming one). */
  to?: string | null;
}

const HOUR_MS = 3_600_000;
const HALT_WAIT_MS = 10_000;
const HOLD_MESSAGE = "claude-failover: moving this session to another account; it comes back in a moment";

/** Creates the {@link Switcher}. */
export function createSwitcher(deps: SwitcherDeps, options: SwitcherOptions): Switcher {
  const { store, lifecycle, tmux, clock, log } = deps;
  const inPlace: InPlaceDeps | null = deps.homes
    ? { store, tmux, clock, log, homes: deps.homes, link: options.link, setActiveAccount: deps.setActiveAccount, sessions: deps.sessions }
    : null;
  let current: Promise<void> | null = null;
  /** Callers of `settled()` waiting for the current swap to reach `verifying` or end. */
  let settledWaiters: Array<() => void> = [];
  const releaseSettled = () => {
    const waiters = settledWaiters;
    settledWaiters = [];
    for (const resolve of waiters) resolve();
  };
  /** The panes and screens an in-place swap's `saving` started reading (awaited at `closing`). */
  let readAtStart: { id: number; read: Promise<Snapshot> } | null = null;
  const spread = options.placement === "spread";
  const pins = options.pins ?? new Map<string, string>();
  const halting = new AbortController();
  const checkHalt = () => {
    if (halting.signal.aborted) throw new Halted("daemon stopping");
  };

  const homeOf = (name: string | null) => store.accounts().find((a) => a.name === name)?.home ?? null;
  const readPlan = (swap: SwapRow): Plan => (swap.plan ? (JSON.parse(swap.plan) as Plan) : { sessions: [] });
  /** `spread`: the account whose login the fleet home (`claude.link`) holds: the highest-priority usable one. */
  const linkAccount = (swap: SwapRow) => {
    const choice = pickNextAccount(store.accounts(), clock.now(), { exclude: swap.fromAccount });
    return choice.kind === "account" ? choice.account.name : swap.toAccount!;
  };
  /** Where a planned session goes: its own target in `spread`, else the swap's. */
  const targetOf = (s: PlannedSession, target: { name: string; home: string }) => (s.to ? { name: s.to, home: homeOf(s.to) ?? target.home } : target);
  const savePlan = (id: number, plan: Plan) => store.updateSwap(id, { plan: JSON.stringify(plan) }, clock.now());
  const enter = (id: number, step: SwapStep) => {
    store.updateSwap(id, { step }, clock.now());
    log.info("swap step", { swap: id, step });
    if (step === "verifying") releaseSettled();
  };

  const run = async (id: number): Promise<void> => {
    const started = clock.now();
    try {
      for (;;) {
        const swap = store.swap(id)!;
        const target = { name: swap.toAccount!, home: homeOf(swap.toAccount) };
        if (!target.home) throw new Error(`account ${swap.toAccount} is no longer configured`);
        const plan = readPlan(swap);
        checkHalt();
        await deps.beforeStep?.(id, swap.step, halting.signal);
        checkHalt();
        switch (swap.step) {
          // Until a session is stopped, a swap that could not flip the link is refused: nothing moves, nothing restarts.
          case "requested":
            checkLink();
            enter(id, "saving");
            break;
          case "saving": {
            checkLink();
            const choice = inPlace && deps.swapMode ? deps.swapMode() : { mode: "restart" as const, why: "no session homes" };
            // In place, the processes keep running: their conversation ids need no scan of /proc.
            const saved = await saveSessions(choice.mode !== "in-place");
            // A config swap moves only the sessions not already running in the target home.
            const sessions = plan.placement === "spread" ? spreadPlan(swap, plan, saved)
              : swap.reason === "config" ? saved.filter((s) => (s.home ?? homeOf(s.account)) !== target.home) : saved;
            // In place, the panes' processes and screens are read while the login is written (one tmux round trip
            // before `closing` instead of two); `closing` records the processes in the plan (read again after a restart).
            if (choice.mode === "in-place") {
              const read = readSessions(tmux, sessions);
              // Awaited at `closing`; a swap halted before it must not leave an unhandled rejection behind.
              read.catch(() => undefined);
              readAtStart = { id, read };
            }
            savePlan(id, { ...plan, sessions, mode: choice.mode });
            log.info("swap mode", { swap: id, mode: choice.mode, why: choice.why });
            enter(id, choice.mode === "in-place" ? "writing" : "stopping");
            break;
          }
          case "writing":
            writeTargetLogin(inPlace!, target.name, plan.placement === "spread" ? { sessions: plan.sessions, linkAccount: linkAccount(swap) } : undefined);
            enter(id, "closing");
            break;
          case "closing": {
            const read = readAtStart?.id === id ? await readAtStart.read : await readSessions(tmux, plan.sessions);
            readAtStart = null;
            recordPids(plan.sessions, read.panes);
            await closeLimitScreens(inPlace!, plan.sessions, checkHalt, read.screens);
            savePlan(id, plan);
            enter(id, "moving");
            break;
          }
          case "moving":
            for (const [to, group] of groupByTarget(plan.sessions, target.name)) await moveRows(inPlace!, group, to, swap.snippet);
            enter(id, "verifying");
            break;
          case "stopping":
            for (const s of plan.sessions) {
              await lifecycle.hold(s.name, HOLD_MESSAGE).catch((error) => log.warn("session stop failed", { session: s.name, error }));
            }
            enter(id, "flipping");
            break;
          case "flipping":
            if (plan.placement === "spread" && inPlace) writeTargetLogin(inPlace, target.name, { sessions: plan.sessions, linkAccount: linkAccount(swap) });
            else {
              deps.homes?.moveTo(target.name);
              flipLink(options.link, deps.homes?.fleetHome ?? target.home);
              deps.setActiveAccount(target.name);
            }
            enter(id, "migrating");
            break;
          case "migrating":
            for (const s of plan.sessions) {
              // With session homes the transcript stays where it is (a legacy session's is copied in at its launch).
              if (deps.homes) continue;
              // The home the session ran in: its account may have left the config (reason `config`).
              const from = s.home ?? homeOf(s.account);
              s.copy = isValidUuid(s.sessionId) && from ? copyTranscript(from, target.home, s.workdir, s.sessionId) : "missing";
            }
            savePlan(id, plan);
            enter(id, "relaunching");
            break;
          case "relaunching": {
            const panes = await tmux.listPanes();
            const left = plan.sessions.filter((s) => !s.relaunchedAt);
            for (const [i, s] of left.entries()) {
              checkHalt();
              // With session homes no path tells the accounts apart: late events of the old process are told by this.
              const to = targetOf(s, { name: target.name, home: target.home });
              if (deps.homes && s.account && s.account !== to.name) recordMove(store, s.name, { from: s.account, line: swap.snippet, at: clock.now(), restart: true });
              await relaunch(s, to, true, panes);
              savePlan(id, plan);
              if (options.staggerMs > 0 && i < left.length - 1) await clock.sleep(options.staggerMs);
            }
            enter(id, "verifying");
            break;
          }
          case "verifying":
            if (plan.mode === "in-place") await verifyInPlace(inPlace!, plan.sessions);
            else await verify(id, plan, { name: target.name, home: target.home });
            savePlan(id, plan);
            enter(id, "done");
            break;
          case "done":
          case "failed": {
            const counts = { kept: 0, resumed: 0, fresh: 0, dead: 0 };
            for (const s of plan.sessions) counts[s.outcome ?? "resumed"]++;
            deps.metrics?.inc("claude_failover_swaps_total", { reason: swap.reason });
            deps.notify({ kind: "swap_done", at: clock.now(), from: swap.fromAccount, to: swap.toAccount ?? "unknown", sessions: plan.sessions.length, resumed: counts.resumed + counts.kept, fresh: counts.fresh, duration_ms: clock.now() - started });
            log.info("swap done", { swap: id, from: swap.fromAccount, to: swap.toAccount, mode: plan.mode ?? "restart", ...counts });
            return;
          }
        }
      }
    } catch (error) {
      if (error instanceof Halted) {
        log.info("swap paused until the next start", { swap: id, step: store.swap(id)?.step });
        return;
      }
      fail(id, (error as Error).message);
      await bringBack(id);
    }
  };

  /** Records a swap as failed with its reason and tells the operator. */
  const fail = (id: number, message: string) => {
    store.updateSwap(id, { step: "failed", error: message }, clock.now());
    log.error("swap failed", { swap: id, error: message });
    const failed = store.swap(id);
    deps.notify({ kind: "swap_failed", at: clock.now(), from: failed?.fromAccount ?? null, to: failed?.toAccount ?? null, error: message });
  };

  const checkLink = () => {
    const problem = linkFlipProblem(options.link);
    if (problem) throw new LinkError(problem);
  };

  /** After a failed swap no session may stay parked: relaunch the stopped ones on the account that is active now. */
  const bringBack = async (id: number) => {
    const swap = store.swap(id);
    const active = deps.activeAccount();
    const home = homeOf(active);
    if (!swap || !active || !home) return;
    const plan = readPlan(swap);
    // An in-place swap stopped nothing: every session still runs.
    if (plan.mode === "in-place") return;
    for (const s of plan.sessions) {
      if (s.relaunchedAt) continue;
      await relaunch(s, { name: active, home }, true).catch((error) => log.error("session not brought back", { session: s.name, error }));
    }
    savePlan(id, plan);
  };

  /** The conversation of every owned session: the id the daemon launched, unless Claude Code reports a newer one (e.g. after /clear). */
  const saveSessions = async (readLiveIds = true): Promise<PlannedSession[]> => {
    const owned = new Set(lifecycle.ownedNames());
    const running = new Map(store.tasks(["running"]).filter((t) => t.session).map((t) => [t.session!, t.id]));
    // Claude Code's registry is in the home each session runs in: the session home, or an account home (legacy).
    const homes = deps.homes ? [deps.homes.fleetHome, ...(spread && deps.homes.sessionHomeOf ? [...owned].map(deps.homes.sessionHomeOf) : [])] : [];
    const accounts = [...store.accounts().map((a) => ({ name: a.name, home: a.home })), ...homes.map((home) => ({ name: "", home }))];
    const liveIds = readLiveIds ? await lifecycle.liveSessionIds(accounts).catch(() => new Map<string, { sessionId: string }>()) : new Map<string, { sessionId: string }>();
    const planned: PlannedSession[] = [];
    for (const s of store.sessions().filter((row) => owned.has(row.name) && row.state !== "dead")) {
      const live = liveIds.get(s.name)?.sessionId ?? null;
      const sessionId = isValidUuid(live) ? live : isValidUuid(s.sessionId) ? s.sessionId : null;
      if (live && live !== s.sessionId) log.info("conversation id taken from Claude Code's registry", { session: s.name, stored: s.sessionId, live });
      // The task is read from the task table: a delivery still being confirmed has not written it to the session yet.
      const taskId = running.get(s.name) ?? s.taskId;
      planned.push({ name: s.name, kind: s.kind, workdir: s.workdir, account: s.account, home: s.home, taskId, sessionId, midTask: s.kind === "pool" && taskId !== null });
    }
    return planned;
  };

  const relaunch = async (s: PlannedSession, target: { name: string; home: string }, resume: boolean, panes?: PaneInfo[]) => {
    s.attempts = (s.attempts ?? 0) + 1;
    try {
      const row = await lifecycle.launch(s.name, { account: target, resumeId: resume ? s.sessionId : null, workdir: s.workdir, panes });
      s.outcome = row.resumed ? "resumed" : "fresh";
    } catch (error) {
      log.error("session relaunch failed", { session: s.name, error });
      s.outcome = "dead";
    }
    s.relaunchedAt = clock.now();
    if (s.outcome !== "resumed" && s.taskId !== null) {
      deps.requeueTask(s.taskId, "conversation could not be resumed after the account swap");
      s.midTask = false;
    }
  };

  const verify = async (id: number, plan: Plan, target: { name: string; home: string }) => {
    const pollMs = options.verifyPollMs ?? 500;
    const pending = new Set(plan.sessions.filter((s) => s.outcome !== "dead").map((s) => s.name));
    const deadline = clock.now() + options.verifyTimeoutMs;
    while (pending.size && clock.now() < deadline) {
      const panes = new Map((await tmux.listPanes()).map((p) => [p.session, p]));
      const screens = await tmux.capture([...pending]);
      for (const s of plan.sessions) {
        if (!pending.has(s.name)) continue;
        const pane = panes.get(s.name);
        const activity = paneActivity(screens.get(s.name) ?? []);
        const hooked = (deps.sessions.startedAt(s.name) ?? 0) >= (s.relaunchedAt ?? 0);
        if (!pane || pane.dead) {
          if ((s.attempts ?? 1) < options.relaunchAttempts) {
            // A failed resume (e.g. "No conversation found") gets one fresh start rather than a dead session.
            await relaunch(s, targetOf(s, target), false);
          } else {
            s.outcome = "dead";
            pending.delete(s.name);
            deps.sessions.apply(s.name, { kind: "swap-lost", at: clock.now() });
            if (s.taskId !== null) deps.requeueTask(s.taskId, "session did not come back after the account swap");
            deps.notify({ kind: "session_dead", at: clock.now(), session: s.name, reason: "did not come back after the account swap" });
          }
          continue;
        }
        if (!(hooked || activity === "idle" || activity === "busy" || activity === "waiting" || activity === "dialog")) continue;
        // A task cut by the swap is continued by the task follower (one counted continue, confirmed by the
        // transcript), not here: typing it twice after a restart is how a continue got doubled.
        deps.sessions.apply(s.name, { kind: "swap-back", at: clock.now(), midTask: s.midTask });
        pending.delete(s.name);
      }
      checkHalt();
      if (pending.size) await clock.sleep(pollMs);
    }
    for (const name of pending) log.warn("session not verified after swap", { session: name });
  };

  /** `spread` saving: the sessions of the swap's `from_account` (see spread.ts), each with its target. */
  const spreadPlan = (swap: SwapRow, plan: Plan, saved: PlannedSession[]): PlannedSession[] => {
    const moves = spreadMoves(saved, store.accounts(), { from: swap.fromAccount, reason: swap.reason, to: plan.to }, pins, limitedAt(store), clock.now());
    if (moves.kind === "exhausted") throw new Error("no account with quota left for the sessions to move");
    const to = new Map(moves.moves.map((m) => [m.name, m.to]));
    return saved.filter((s) => to.has(s.name)).map((s) => ({ ...s, to: to.get(s.name)! }));
  };

  const start = (id: number) => {
    current = run(id).finally(() => {
      current = null;
      releaseSettled();
    });
  };

  return {
    async request(input) {
      if (current || store.openSwap()) return { ok: false, message: "a swap is already running" };
      const now = clock.now();
      const recent = store.swapsSince(now - HOUR_MS);
      if (input.reason !== "manual" && recent >= options.maxSwapsPerHour) {
        log.error("swap refused by circuit breaker", { swaps: recent, window_ms: HOUR_MS });
        deps.notify({ kind: "breaker_open", at: now, swaps: recent, window_ms: HOUR_MS });
        return { ok: false, breaker: true, message: `circuit breaker open: ${recent} swaps in the last hour (limit ${options.maxSwapsPerHour})` };
      }
      const from = input.from ?? deps.activeAccount();
      const accounts = store.accounts();
      if (input.to && !accounts.some((a) => a.name === input.to)) return { ok: false, message: `unknown account "${input.to}"` };
      let to: string;
      let moving: Move[] | null = null;
      if (spread) {
        const owned = new Set(lifecycle.ownedNames());
        const choice = chooseSpread(store.sessions().filter((s) => owned.has(s.name) && s.state !== "dead"), accounts, { from, reason: input.reason, to: input.to }, pins, limitedAt(store), now);
        if (choice.kind !== "moves") return choice.result;
        [to, moving] = [choice.newcomers, choice.moves];
      } else {
        // Sessions leaving a removed account may go to the active one (it is not the account they leave).
        const config = input.reason === "config";
        const choice = pickNextAccount(accounts, now, { exclude: config ? null : from, prefer: input.to ?? (config ? deps.activeAccount() ?? undefined : undefined) });
        if (choice.kind === "exhausted") return { ok: false, exhausted: { wakeAt: choice.wakeAt }, message: "no account with quota left" };
        if (input.to && choice.account.name !== input.to) return { ok: false, message: `account "${input.to}" is not available (cooling, disabled or already active)` };
        to = choice.account.name;
      }
      // A swap that cannot flip the link fails before any session stops; one record and one message per reason.
      const linkProblem = linkFlipProblem(options.link);
      const last = store.recentSwaps(1)[0];
      if (linkProblem && last?.step === "failed" && last.error === linkProblem) return { ok: false, message: linkProblem };
      const swap = store.createSwap({
        fromAccount: from, toAccount: to, reason: input.reason, triggerSession: input.triggerSession ?? null,
        signal: input.signal ?? null, pattern: input.pattern ?? null, snippet: input.snippet ?? null, resetAt: input.resetAt ?? null, limitKind: input.limit ?? null, requestedAt: now,
      });
      if (moving) savePlan(swap.id, { sessions: [], placement: "spread", to: input.to ?? null });
      const targets = moving ? { placement: "spread", targets: Object.fromEntries(moving.map((m) => [m.name, m.to])) } : {};
      log.warn("swap requested", { swap: swap.id, from, to: swap.toAccount, ...targets, reason: input.reason, trigger_session: input.triggerSession, signal: input.signal, pattern: input.pattern, snippet: input.snippet });
      if (linkProblem) {
        fail(swap.id, linkProblem);
        return { ok: false, message: linkProblem };
      }
      deps.notify({ kind: "swap_started", at: now, from, to: swap.toAccount, reason: input.reason, trigger_session: input.triggerSession ?? null, pattern: input.pattern ?? null, snippet: input.snippet ?? null, reset_at: input.resetAt ?? null });
      start(swap.id);
      if (moving) return { ok: true, swapId: swap.id, message: `moving ${moving.length} session(s) off ${from ?? "none"} to ${[...new Set(moving.map((m) => m.to))].join(", ")}` };
      return { ok: true, swapId: swap.id, message: `swapping from ${from ?? "none"} to ${swap.toAccount}` };
    },
    async resumeOpen() {
      const open = store.openSwap();
      if (!open || current) return;
      log.warn("resuming unfinished swap", { swap: open.id, step: open.step });
      start(open.id);
      await current;
    },
    running: () => current !== null,
    async halt() {
      halting.abort();
      // Each action between two checks is short; never let a stop hang on a wedged tmux call.
      if (current) await Promise.race([current, clock.sleep(HALT_WAIT_MS)]);
    },
    idle: async () => {
      while (current) await current;
    },
    settled: () => (!current || store.openSwap()?.step === "verifying"
      ? Promise.resolve()
      : new Promise<void>((resolve) => settledWaiters.push(resolve))),
  };
}
