/**
 * @module supervisor
 * The one place that decides. Every signal becomes an {@link Observation} handled by one `switch` in
 * {@link Supervisor.handle}: hook events, pane captures and transcript records turn into verdicts, verdicts into
 * actions (cool an account, swap, mark a task done, notify), and actions into store writes that HTTP and the
 * notifications read. Also runs the loops (poll, reconcile, account wake-up) with an AbortSignal.
 * Owns no tmux, file or network code itself: it calls lifecycle, switcher, dispatcher and notify.
 */
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import { isValidUuid } from "../claude/home.ts";
import { classifyPane, classifyStopFailure, classifyTranscriptRecord, paneActivity, type ClassifyOptions, type PaneActivity } from "../quota/classify.ts";
import type { QuotaMonitor } from "../quota/quota.ts";
import type { Store } from "../state/state.ts";
import type { Switcher } from "../switcher/switcher.ts";
import type { Tmux, PaneInfo } from "../tmux/tmux.ts";
import type { Watcher } from "../watcher/watcher.ts";
import type { Dispatcher } from "../dispatcher/dispatcher.ts";
import { createTranscriptFollower, drainSpool } from "./signals.ts";
import type { EventBus } from "./events.ts";
import { createTaskWork } from "./tasks.ts";
import { createAccountDecisions, FLAG_EXHAUSTED } from "./accounts.ts";
import { createTurnBook, type Turn } from "./turns.ts";

/** Everything that can happen, as data. */
export type Observation =
  | { kind: "hook"; event: string; session: string | null; payload: Record<string, unknown>; at: number }
  | { kind: "pane"; session: string; pane: PaneInfo; lines: string[]; at: number }
  | { kind: "transcript"; session: string; account: string; record: unknown; at: number }
  | { kind: "tick"; at: number };

/** What the supervisor drives. */
export interface SupervisorDeps {
  config: Readonly<Config>;
  store: Store;
  tmux: Tmux;
  lifecycle: Lifecycle;
  quota: QuotaMonitor;
  switcher: Switcher;
  dispatcher: Dispatcher;
  watcher: Watcher;
  events: EventBus;
  clock: Clock;
  log: Logger;
  metrics?: { observe(name: string, seconds: number, labels?: Record<string, string>): void };
}

/** Runtime state shown by `/status`. */
export interface SupervisorState {
  activeAccount: string | null;
  paused: boolean;
  exhaustedUntil: number | null;
}

/** The supervisor. */
export interface Supervisor {
  handle(observation: Observation): Promise<void>;
  /** One poll: list panes, capture every owned pane in one tmux call, read transcripts and the spool, dispatch. */
  poll(): Promise<void>;
  reconcile(): Promise<void>;
  state(): SupervisorState;
  setActiveAccount(name: string): void;
  setPaused(paused: boolean): void;
  /** Starts a swap through the supervisor, so exhausted mode and the quota monitor stay consistent (manual swaps too). */
  requestSwap(input: Parameters<Switcher["request"]>[0]): ReturnType<Switcher["request"]>;
  /** Deliver-side helpers the dispatcher needs. */
  freeSessions(): string[];
  deliver(session: string, prompt: string, workdir: string): Promise<boolean | "not-ready">;
  gate(): { open: true } | { open: false; reason: string };
  sessionStartedAt(session: string): number | null;
}

const FLAG_ACTIVE = "active_account";
const FLAG_PAUSED = "paused";
const FLAG_HOOKS_WORK = "hooks_work";
/** A turn with no task, open this long on a pane idle for `idle_polls` polls, lost its end hook. */
const LOST_END_MS = 60_000;

/** Creates the {@link Supervisor}. */
export function createSupervisor(deps: SupervisorDeps): Supervisor {
  const { config, store, tmux, lifecycle, quota, switcher, dispatcher, watcher, events, clock, log } = deps;
  const owned = new Set(lifecycle.ownedNames());
  const transcripts = createTranscriptFollower((account) => config.accounts.find((a) => a.name === account)?.home, log);
  const sightings = { activity: new Map<string, PaneActivity>(), promptSeenAt: new Map<string, number>(), turns: createTurnBook() };
  // Tasks already running when the daemon starts: their turn began before it, so their Stop must still find them.
  for (const task of store.tasks(["running"])) if (task.session) sightings.turns.adopt(task.session, task.id, task.startedAt ?? 0);
  const startedAt = new Map<string, number>();
  const idleStreaks = new Map<string, number>();
  /** Once any hook has reached this daemon, `Stop` decides completion; idleness is only the fallback without hooks. */
  let hooksWork = store.getFlag(FLAG_HOOKS_WORK) === "1";
  const spoolDir = join(config.state_dir, "spool");
  let dispatching: Promise<void> | null = null;
  const state: SupervisorState = {
    activeAccount: store.getFlag(FLAG_ACTIVE),
    paused: store.getFlag(FLAG_PAUSED) === "1",
    exhaustedUntil: Number(store.getFlag(FLAG_EXHAUSTED)) || null,
  };
  if (!state.activeAccount || !config.accounts.some((a) => a.name === state.activeAccount)) {
    state.activeAccount = config.accounts[0]?.name ?? null;
    if (state.activeAccount) store.setFlag(FLAG_ACTIVE, state.activeAccount);
  }

  // Compiled once: classification runs for every pane on every poll.
  const extraQuotaPatterns = config.quota.extra_quota_patterns.map((p) => new RegExp(p));
  const extraTransientPatterns = config.quota.extra_transient_patterns.map((p) => new RegExp(p));
  const classifyOptions = (now: number): ClassifyOptions => ({
    now, defaultZone: config.notifications.timezone, extraQuotaPatterns, extraTransientPatterns,
  });
  const activeHome = () => config.accounts.find((a) => a.name === state.activeAccount) ?? config.accounts[0]!;
  const sessionByConversation = (id: unknown) =>
    (isValidUuid(id) ? store.sessions().find((s) => owned.has(s.name) && s.sessionId === id)?.name ?? null : null);
  const work = createTaskWork({
    config, store, tmux, lifecycle, dispatcher, watcher, clock, log, sightings, activeHome,
    gateOpen: () => supervisor.gate().open, swapRunning: () => switcher.running(), hooksWork: () => hooksWork,
  });

  const accounts = createAccountDecisions({
    config, store, quota, switcher, events, clock, log, state, metrics: deps.metrics,
    continueParked: () => work.continueParked(),
  });
  const { accountOfEvent, onVerdict, requestSwap } = accounts;

  const handleHook = async (obs: Extract<Observation, { kind: "hook" }>) => {
    const name = obs.session && owned.has(obs.session) ? obs.session : sessionByConversation(obs.payload.session_id);
    if (!name) {
      log.debug("hook from unknown session ignored", { event: obs.event });
      return;
    }
    if (!hooksWork) {
      hooksWork = true;
      store.setFlag(FLAG_HOOKS_WORK, "1");
    }
    const row = store.session(name);
    const kind = lifecycle.kindOf(name)!;
    const now = clock.now();
    switch (obs.event) {
      case "SessionStart": {
        startedAt.set(name, now);
        sightings.turns.clear(name);
        const id = obs.payload.session_id;
        store.upsertSession(name, kind, { state: "idle", activityAt: now, ...(isValidUuid(id) ? { sessionId: id } : {}) }, now);
        break;
      }
      case "UserPromptSubmit": {
        sightings.promptSeenAt.set(name, now);
        // A late hook from a turn taken on the previous account (before a swap relaunched the session) is not a turn
        // of the relaunched conversation: it must not make a redrawn limit line count as new.
        const eventAccount = accountOfEvent(obs.payload);
        const current = eventAccount === null || eventAccount === row?.account;
        store.upsertSession(name, kind, { state: "working", activityAt: now, ...(current ? { turnAt: now } : {}) }, now);
        const { turn, earlyEnd } = sightings.turns.start(name, work.taskOfPrompt(name, obs.payload.prompt), now);
        if (earlyEnd) await endTurn(name, kind, turn, String(earlyEnd.hook_event_name ?? "Stop"), earlyEnd);
        break;
      }
      case "Stop":
      case "StopFailure": {
        const turn = sightings.turns.end(name, { ...obs.payload, hook_event_name: obs.event }, now);
        if (turn) await endTurn(name, kind, turn, obs.event, obs.payload);
        else if (obs.event === "StopFailure") await onVerdict(name, classifyStopFailure(obs.payload, classifyOptions(now)), "hook", obs.at, accountOfEvent(obs.payload));
        break;
      }
      case "Notification":
        log.info("session notification", { session: name, type: obs.payload.notification_type });
        break;
      default:
        log.debug("hook event ignored", { session: name, event: obs.event, known: row !== null });
    }
  };

  /** A turn ended: its task (if the turn carried one) is done, or goes on after an API error, or waits for a swap. */
  const endTurn = async (name: string, kind: "pool" | "dedicated", turn: Turn, event: string, payload: Record<string, unknown>) => {
    const now = clock.now();
    store.upsertSession(name, kind, { state: "idle", activityAt: now }, now);
    const task = turn.taskId !== null ? work.runningTaskOf(name) : null;
    const ours = task !== null && task.id === turn.taskId;
    if (event === "Stop") {
      if (ours) work.finish(name, task.id, stringOrNull(payload.last_assistant_message));
      return;
    }
    const verdict = classifyStopFailure(payload, classifyOptions(now));
    await onVerdict(name, verdict, "hook", now, accountOfEvent(payload));
    // A quota hit keeps the task on its session: the swap resumes the conversation and sends the continue prompt.
    if (ours && verdict.kind !== "quota") {
      void work.continueAfterApiError(name, task.id, stringOrNull(payload.last_assistant_message) ?? String(payload.error ?? "unknown error"));
    }
  };

  const markTurn = (session: string, kind: "pool" | "dedicated", at: number) => {
    const row = store.session(session);
    if (row && (row.turnAt ?? 0) <= (row.launchedAt ?? 0)) store.upsertSession(session, kind, { turnAt: at }, at);
  };

  const handlePane = async (obs: Extract<Observation, { kind: "pane" }>) => {
    const { session, lines, at } = obs;
    const kind = lifecycle.kindOf(session);
    const row = store.session(session);
    if (!kind || !row || obs.pane.dead) return;
    const seen = paneActivity(lines);
    sightings.activity.set(session, seen);
    const streak = seen === "idle" ? (idleStreaks.get(session) ?? 0) + 1 : 0;
    idleStreaks.set(session, streak);
    const oldest = sightings.turns.oldest(session);
    if (oldest && oldest.taskId === null && streak >= config.watcher.idle_polls && at - oldest.startedAt > LOST_END_MS) {
      // A turn that ended without its Stop hook (interrupted with Esc, or a lost hook): the idle pane says it is over.
      sightings.turns.clear(session);
    }
    if (seen === "busy") markTurn(session, kind, at);
    const verdict = classifyPane(lines, classifyOptions(at));
    // A resumed conversation redraws its old limit line: until the session has taken a turn since it was (re)launched,
    // a limit line on its screen belongs to the previous account and is not evidence (the turn time is persisted, so
    // this holds across daemon restarts). Hooks and transcript records are events and always count.
    const tookTurn = (store.session(session)?.turnAt ?? 0) > (row.launchedAt ?? 0);
    if (verdict.kind === "quota" && !tookTurn) log.debug("limit line ignored before the first turn", { session, snippet: verdict.line.slice(0, 120) });
    else await onVerdict(session, verdict, "pane", at);
    if (switcher.running()) return;
    const task = work.runningTaskOf(session);
    const next = seen === "busy" ? "working" : seen === "idle" && !task ? "idle" : row.state;
    if (next !== row.state && row.state !== "dead") store.upsertSession(session, kind, { state: next, activityAt: at }, at);
    const watch = watcher.observe({
      session, activity: seen, screen: lines, now: at, hooksWork,
      // A pane parked on a limit or error line is idle but not done.
      blocked: verdict.kind === "quota" || verdict.kind === "transient",
      task: task ? { id: task.id, startedAt: task.startedAt, timeoutMs: task.timeoutMs } : null,
    });
    if (!task) return;
    if (watch.kind === "done-idle") work.finish(session, task.id, null);
    if (watch.kind === "stalled" && row.state !== "stalled") store.upsertSession(session, kind, { state: "stalled" }, at);
    if (watch.kind === "timeout") {
      log.warn("task timed out", { session, task: task.id, after_ms: watch.afterMs });
      events.notify({ kind: "task_stalled", at, project: task.project, file: task.file, session, after_ms: watch.afterMs });
      await tmux.sendKeys(session, "Escape").catch(() => undefined);
      dispatcher.fail(task.id, `timed out after ${Math.round(watch.afterMs / 60_000)} min without finishing; the session was interrupted`);
      work.release(session);
    }
  };

  const supervisor: Supervisor = {
    async handle(obs) {
      switch (obs.kind) {
        case "hook":
          return handleHook(obs);
        case "pane":
          return handlePane(obs);
        case "transcript": {
          const verdict = classifyTranscriptRecord(obs.record, classifyOptions(obs.at));
          return onVerdict(obs.session, verdict, "transcript", obs.at, obs.account);
        }
        case "tick":
          return accounts.wakeAccounts(obs.at);
      }
    },

    async poll() {
      const began = performance.now();
      const now = clock.now();
      for (const hook of drainSpool(spoolDir, log)) await supervisor.handle({ kind: "hook", ...hook, at: hook.at || now });
      const panes = (await tmux.listPanes()).filter((p) => owned.has(p.session));
      const screens = await tmux.capture(panes.filter((p) => !p.dead).map((p) => p.paneId));
      for (const pane of panes) {
        const lines = screens.get(pane.paneId);
        // The transcript first: its limit record has the exact reset the screen shows rounded to the minute.
        const row = store.session(pane.session);
        for (const record of row?.account ? transcripts.read(pane.session, row) : []) {
          await supervisor.handle({ kind: "transcript", session: pane.session, account: row!.account!, record, at: now });
        }
        if (lines) await supervisor.handle({ kind: "pane", session: pane.session, pane, lines, at: now });
      }
      await supervisor.handle({ kind: "tick", at: now });
      await dispatcher.ingest();
      // Deliveries wait for panes to confirm (seconds); they run beside the poll so detection is never held up.
      dispatching ??= dispatcher.dispatch().then(() => work.growIfNeeded()).catch((error) => log.error("dispatch failed", { error })).finally(() => {
        dispatching = null;
      });
      // Counted from what tmux shows, not from the store: a store that wrongly thinks every session is busy (the
      // 0.3.1 failure) must not silence the alarm.
      dispatcher.checkIdleAlert(panes.filter((p) => lifecycle.kindOf(p.session) === "pool" && sightings.activity.get(p.session) === "idle").length);
      deps.metrics?.observe("claude_failover_poll_duration_seconds", (performance.now() - began) / 1000);
    },

    async reconcile() {
      if (switcher.running() || store.openSwap()) return;
      const report = await lifecycle.reconcile(activeHome());
      for (const name of report.dead) events.notify({ kind: "session_dead", at: clock.now(), session: name, reason: "Claude Code keeps exiting right after launch" });
    },

    state: () => ({ ...state }),
    setActiveAccount(name) {
      state.activeAccount = name;
      store.setFlag(FLAG_ACTIVE, name);
    },
    setPaused(paused) {
      state.paused = paused;
      store.setFlag(FLAG_PAUSED, paused ? "1" : null);
    },

    requestSwap: (input) => requestSwap(input),
    freeSessions: () => work.freeSessions(),
    deliver: (session, prompt, workdir) => work.deliver(session, prompt, workdir),

    gate() {
      if (state.paused) return { open: false, reason: "paused by the operator" };
      if (switcher.running() || store.openSwap()) return { open: false, reason: "a swap is running" };
      if (state.exhaustedUntil !== null) return { open: false, reason: `all accounts exhausted until ${new Date(state.exhaustedUntil).toISOString()}` };
      const last = store.lastDoneSwap();
      if (last && clock.now() - last.updatedAt < config.quota.reactivate_cooldown) return { open: false, reason: "cooldown after a swap" };
      return { open: true };
    },

    sessionStartedAt: (session) => startedAt.get(session) ?? null,
  };

  return supervisor;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}
