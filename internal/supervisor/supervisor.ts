/**
 * @module supervisor
 * The one place that decides. Every signal becomes an {@link Observation} handled by one `switch` in
 * {@link Supervisor.handle}: hook events, pane captures and transcript records turn into verdicts, verdicts into
 * actions (cool an account, swap, follow a task to its end, notify), and actions into store writes that HTTP and the
 * notifications read. Every observation runs through one serial queue (supervisor/serial-queue.ts): an HTTP hook and
 * the poll never interleave, and hooks and transcript writes run before a waiting poll.
 * One poll pass (`poll`), one reconcile pass (`reconcile`) and the warning glance (`glance`) are called by the daemon's loops.
 * Owns no tmux, file or network code itself: it calls lifecycle, switcher, dispatcher, the task follower and notify.
 */
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import { isValidUuid, transcriptPath } from "../claude/home.ts";
import { classifyPane, classifyStopFailure, classifyTranscriptRecord, paneActivity, type ClassifyOptions, type PaneActivity } from "../quota/classify.ts";
import type { QuotaMonitor } from "../quota/quota.ts";
import type { AccountState, SessionRow, Store } from "../state/state.ts";
import type { Switcher } from "../switcher/switcher.ts";
import type { Tmux, PaneInfo } from "../tmux/tmux.ts";
import type { Watcher } from "../watcher/watcher.ts";
import type { Dispatcher } from "../dispatcher/dispatcher.ts";
import { createTranscriptFollower, recordTime, storedOffsets } from "../claude/transcript-tail.ts";
import { drainSpool } from "../hook/spool.ts";
import { accountOfLateEvent, isLatePrompt, movedInPlaceAt } from "../switcher/moved.ts";
import type { EventBus } from "../notify/feed.ts";
import { createTaskWork, type TaskWork } from "../watcher/tasks.ts";
import { createAccountDecisions } from "./accounts.ts";
import { createModelFallback } from "./models.ts";
import { createSerialQueue } from "./serial-queue.ts";
import type { Runtime } from "../state/runtime.ts";
import type { SessionTracker } from "../watcher/sessions.ts";
import type { Delivery } from "../dispatcher/delivery.ts";
import { parseHookEvent, type HookEvent } from "../hook/event.ts";
import { ledgerEntry } from "../claude/transcript.ts";
import { createTranscriptWatch } from "../claude/transcript-watch.ts";
import type { UsageRecorder } from "../state/usage.ts";

/** Everything that can happen, as data. */
export type Observation =
  | { kind: "hook"; event: HookEvent; session: string | null; at: number }
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
  delivery: Delivery;
  watcher: Watcher;
  sessions: SessionTracker;
  runtime: Runtime;
  /** The dispatch gate (dispatcher/gate.ts). */
  gate(): { open: true } | { open: false; reason: string };
  events: EventBus;
  clock: Clock;
  log: Logger;
  metrics?: { observe(name: string, seconds: number, labels?: Record<string, string>): void };
  /** The config home a session runs in (its transcripts are there). @default its account's home */
  sessionHome?: (session: string) => string;
  /** Usage at a glance: limits, turns and the accounts sessions run on are recorded here. */
  usage?: UsageRecorder;
  /**
   * `spread` placement: an account whose sessions should move now (it cannot take requests, another can), e.g. a limit
   * seen while another swap ran. @default none (failover placement)
   */
  strandedAccount?: () => string | null;
  /**
   * Reads a session's transcript the moment Claude Code writes it (inotify, claude/transcript-watch.ts), besides every
   * poll: a limit record or a turn's end is handled without waiting for the poll or the hook. @default false
   */
  watchTranscripts?: boolean;
}

/** The supervisor. */
export interface Supervisor {
  handle(observation: Observation): Promise<void>;
  /** One poll: list panes, capture every owned pane in one tmux call, read transcripts and the spool, dispatch. */
  poll(): Promise<void>;
  reconcile(): Promise<void>;
  /**
   * A look for usage warnings only (drawn ~8 s, once per text: reference/real-claude.md §13.2) at the sessions working,
   * or active or launched in the last {@link GLANCE_WINDOW_MS}, in one tmux call; none when there are none.
   */
  glance(): Promise<void>;
  /** Starts a swap through the supervisor, so exhausted mode and the quota monitor stay consistent (manual swaps too). */
  requestSwap(input: Parameters<Switcher["request"]>[0]): ReturnType<Switcher["request"]>;
  /**
   * Another fleet host changed an account this host has (the local row already says so, docs/fleet.md): on the serial
   * queue, when it is cooling or needs a login and this host's sessions run on it, they move off it with the swap
   * machine (reason `quota` or `login`). `disabled` moves nothing, as when this host's operator disables it: sessions
   * stay until the next swap; `available` neither (the reset path decides).
   */
  accountChanged(change: { name: string; state: AccountState; resetAt: number | null; by: string }): Promise<void>;
  /**
   * A transcript was written (`path`): its new records are handled now, and the task on its session is followed.
   * Called by the transcript watch; a path no observed session writes is ignored.
   */
  transcriptWritten(path: string): Promise<void>;
  /** For the daemon's stop: resolves once the observation in progress and the deliveries started by polls have finished. */
  idle(): Promise<void>;
}

/** How often the daemon glances for usage warnings when its poll interval is longer: twice within their ~8 s on screen. */
export const WARNING_GLANCE_MS = 3_000;
/** A session active (or launched) this recently may still show a warning: it comes ≤ ~5 s after a reply, for ~8 s. */
export const GLANCE_WINDOW_MS = 20_000;

/** Looks at a session that just started (SessionStart) until its screen shows it ready: up to this many, … */
const START_LOOKS = 8;
/** … this far apart. */
const START_LOOK_MS = 250;
/** After a swap, how often and how many times the cut sessions' screens are looked at until their continues are typed. */
const SETTLE_LOOK_MS = 50;
const SETTLE_LOOKS = 60;

/** Creates the {@link Supervisor}. */
export function createSupervisor(deps: SupervisorDeps): Supervisor {
  const { config, store, tmux, lifecycle, quota, switcher, dispatcher, watcher, events, clock, log, sessions, runtime } = deps;
  const owned = new Set(lifecycle.ownedNames());
  const transcripts = createTranscriptFollower((account, session) => deps.sessionHome?.(session) ?? config.accounts.find((a) => a.name === account)?.home, log, storedOffsets(store, log));
  const spoolDir = join(config.state_dir, "spool");
  let dispatching: Promise<void> | null = null;

  /** One observation at a time: hooks (HTTP) and the poll never interleave; hooks and transcript writes go first. */
  const queue = createSerialQueue(log);

  // Compiled once: classification runs for every pane on every poll.
  const extraQuotaPatterns = config.quota.extra_quota_patterns.map((p) => new RegExp(p));
  const extraTransientPatterns = config.quota.extra_transient_patterns.map((p) => new RegExp(p));
  const classifyOptions = (now: number): ClassifyOptions => ({
    now, defaultZone: config.claude.timezone, extraQuotaPatterns, extraTransientPatterns,
  });
  const activeHome = () => config.accounts.find((a) => a.name === runtime.activeAccount()) ?? config.accounts[0]!;
  // Retiring sessions (they left the owned names on a reload) are followed too, until their task ends.
  const observed = (name: string) => owned.has(name) || lifecycle.retiringNames().includes(name);
  const sessionByConversation = (id: unknown) =>
    (isValidUuid(id) ? store.sessions().find((s) => observed(s.name) && s.sessionId === id)?.name ?? null : null);
  const work: TaskWork = createTaskWork({
    store, tmux, lifecycle, dispatcher, delivery: deps.delivery, sessions, clock, log, taskTimeoutMs: config.watcher.task_timeout,
    // Once a swap only verifies, every session is back on the target account, and while it relaunches so is each one
    // already relaunched: a cut task on an idle one continues at once instead of waiting for the fleet's last session.
    swapRunning: (session) => swapHolds(store.openSwap(), session),
    gateOpen: () => deps.gate().open, activeAccount: activeHome, modelBlocked: (row) => models.blocked(row),
    movedInPlaceAt: (session) => movedInPlaceAt(store, session),
    limitRecorded: (transcript, resetsAt, cut) => accounts.exactReset(
      accounts.accountOfEvent(transcript, cut ? { session: cut.session, text: cut.line, at: cut.at } : undefined)
        ?? (cut ? store.session(cut.session)?.account ?? null : null), resetsAt),
  });

  const models = createModelFallback({
    config, store, lifecycle, quota, sessions, log, now: () => clock.now(), swapRunning: () => switcher.running() || store.openSwap() !== null,
    events, usage: deps.usage,
  });
  // The tasks a swap cut are continued as soon as it verifies (every session is on its target then), not at the next
  // poll (up to `poll_interval` later): their screens are looked at again every SETTLE_LOOK_MS (Claude Code still draws
  // the spinner while its StopFailure hooks run) until every cut task's continue is typed, bounded by SETTLE_LOOKS; the
  // poll does the rest. While those looks run, the poll waits for them (at most SETTLE_LOOKS × SETTLE_LOOK_MS): a poll
  // (a listing, every screen, every transcript: half a second with twelve busy CLIs on two cores) would hold the cut
  // turns' hooks behind it.
  let followAfterSwap: Promise<void> | null = null;
  let lookingAfterSwap = false;
  let stopping = false;
  const followWhenSwapEnds = () => {
    followAfterSwap ??= switcher.settled()
      .then(async () => {
        lookingAfterSwap = true;
        for (let i = 0; i < SETTLE_LOOKS && !stopping; i++) {
          if (i > 0) await clock.sleep(SETTLE_LOOK_MS);
          const waiting = await queue.run("urgent", "follow after the swap", async () => {
            if (stopping) return false;
            await work.follow(await lookAtCutSessions());
            return cutSessions().length > 0;
          });
          if (!waiting) return;
        }
      })
      .catch((error) => log.error("follow after the swap failed", { error }))
      .finally(() => {
        followAfterSwap = null;
        lookingAfterSwap = false;
      });
  };
  const accounts = createAccountDecisions({ config, store, quota, switcher, events, clock, log, runtime, metrics: deps.metrics, swapStarted: followWhenSwapEnds, usage: deps.usage, models });
  const { accountOfEvent, onVerdict, requestSwap } = accounts;

  const handleHook = async (obs: Extract<Observation, { kind: "hook" }>) => {
    const event = obs.event;
    const name = obs.session && observed(obs.session) ? obs.session : sessionByConversation(event.sessionId);
    if (!name) {
      log.debug("hook from unknown session ignored", { event: event.kind === "unknown" ? event.event : event.kind });
      return;
    }
    const row = store.session(name);
    const now = clock.now();
    switch (event.kind) {
      case "SessionStart": {
        sessions.started(name, now);
        sessions.apply(name, { kind: "started", at: now, sessionId: event.sessionId, hasTask: work.runningTaskOf(name) !== null });
        // Claude Code runs SessionStart once its prompt box is drawn: a look now makes it idle (ready for a task or a
        // continue prompt) without waiting for the next poll.
        void lookAtStarted(name);
        break;
      }
      case "UserPromptSubmit": {
        // A late hook from a turn taken on the previous account (before a swap relaunched the session) is not a turn
        // of the relaunched conversation: it must not make a redrawn limit line count as new.
        const eventAccount = accountOfEvent(event.transcriptPath);
        const current = (eventAccount === null || eventAccount === row?.account) && !isLatePrompt(store, name, obs.at, sessions.startedAt(name));
        sessions.apply(name, { kind: "prompted", at: now, current });
        await work.promptSubmitted(name, event.promptId, event.prompt);
        break;
      }
      case "Stop":
        await work.turnEnded(name, { promptId: event.promptId, end: { kind: "done", reply: event.lastMessage } });
        sessions.apply(name, { kind: "turn-ended", at: now, hasTask: work.runningTaskOf(name) !== null });
        break;
      case "StopFailure": {
        const signal = {
          error: event.error ?? undefined, last_assistant_message: event.message ?? undefined, error_details: event.details ?? undefined,
          rate_limit_info: event.rateLimitInfo ?? undefined,
        };
        const verdict = classifyStopFailure(signal, classifyOptions(now));
        await onVerdict(name, verdict, "hook", obs.at, accountOfEvent(event.transcriptPath, { session: name, text: event.message, at: obs.at }));
        const text = event.message ?? event.error ?? "unknown error";
        const quotaHit = verdict.kind === "quota" ? { resetsAt: verdict.resetAt ?? null, limitType: null } : null;
        await work.turnEnded(name, { promptId: event.promptId, end: { kind: "api-error", error: event.error ?? "unknown", text, quota: quotaHit } });
        break;
      }
      case "Notification":
        log.info("session notification", { session: name, type: event.type });
        break;
      case "SessionEnd":
        log.info("session ended", { session: name, reason: event.reason });
        break;
      case "unknown":
        log.debug("hook event ignored", { session: name, event: event.event, known: row !== null });
    }
  };

  const handlePane = async (obs: Extract<Observation, { kind: "pane" }>) => {
    const { session, lines, at } = obs;
    // A retiring session is no longer in the owned names; its row still says what it was.
    const row = store.session(session);
    sessions.sighted(session, !obs.pane.dead, obs.pane.dead ? null : lines, at);
    if (!row || obs.pane.dead) return;
    const seen = paneActivity(lines);
    if (seen === "busy") sessions.apply(session, { kind: "turn-seen", at });
    const verdict = classifyPane(lines, classifyOptions(at));
    // A resumed conversation redraws its old limit line: until the session has taken a turn since it was (re)launched,
    // a limit line on its screen belongs to the previous account and is not evidence (the turn time is persisted, so
    // this holds across daemon restarts). Hooks and transcript records are events and always count.
    const tookTurn = (store.session(session)?.turnAt ?? 0) > (row.launchedAt ?? 0);
    if ((verdict.kind === "quota" || verdict.kind === "login") && !tookTurn) log.debug("limit line ignored before the first turn", { session, kind: verdict.kind, snippet: verdict.line.slice(0, 120) });
    // A limit or lost-login line that shows after an in-place move (a request sent before it, answered late) is the old account's.
    else await onVerdict(session, verdict, "pane", at, verdict.kind === "quota" || verdict.kind === "login" ? accountOfLateEvent(store, session, verdict.line, at) : null);
    if (switcher.running()) return;
    const task = work.runningTaskOf(session);
    sessions.apply(session, { kind: "screen", at, activity: seen, hasTask: task !== null });
    // Timeouts and completion come from the task follower; the watcher only notices a working screen that froze.
    const watch = watcher.observe({
      session, activity: seen, screen: lines, now: at, hooksWork: true,
      task: task ? { id: task.id, startedAt: task.startedAt, timeoutMs: Number.POSITIVE_INFINITY } : null,
    });
    if (task && watch.kind === "stalled") sessions.apply(session, { kind: "froze", at });
  };

  const handleNow = async (obs: Observation): Promise<void> => {
    switch (obs.kind) {
      case "hook":
        return handleHook(obs);
      case "pane":
        return handlePane(obs);
      case "transcript": {
        const verdict = classifyTranscriptRecord(obs.record, classifyOptions(obs.at));
        // A record written before an in-place swap moved the session belongs to the account it left.
        const written = recordTime(obs.record) ?? undefined;
        const late = verdict.kind === "quota" || verdict.kind === "login" ? accountOfLateEvent(store, obs.session, verdict.line, obs.at, written) : null;
        // A prompt in the transcript is a turn of the account the session runs on (each record is read once).
        if (ledgerEntry(obs.record)?.kind === "prompt") deps.usage?.turn(obs.account, obs.at);
        return onVerdict(obs.session, verdict, "transcript", obs.at, late ?? obs.account);
      }
      case "tick":
        deps.usage?.sessionsSeen(obs.at);
        await accounts.wakeAccounts(obs.at);
        return models.pass(obs.at);
    }
  };

  /** The new records of `session`'s transcript, each handled once (the poll and the watch share the offsets). */
  const readTranscript = async (session: string, at: number) => {
    const row = store.session(session);
    if (!row?.account) return 0;
    const { records, missed } = transcripts.read(session, row);
    // Turns taken while the daemon was down are counted (on their own day), and nothing else in them acts now.
    for (const record of missed) if (ledgerEntry(record)?.kind === "prompt") deps.usage?.turn(row.account, recordTime(record) ?? at);
    for (const record of records) await handleNow({ kind: "transcript", session, account: row.account, record, at });
    return records.length;
  };

  const transcriptOf = (row: SessionRow) => {
    const home = deps.sessionHome?.(row.name) ?? config.accounts.find((a) => a.name === row.account)?.home;
    return home && isValidUuid(row.sessionId) ? transcriptPath(home, row.workdir, row.sessionId) : null;
  };
  const watch = deps.watchTranscripts
    ? createTranscriptWatch((path) => void supervisor.transcriptWritten(path).catch((error) => log.error("transcript not read", { path, error })), log)
    : null;
  const watchHomes = () => {
    if (!watch) return;
    const homes = new Set<string>();
    for (const row of store.sessions()) {
      if (!observed(row.name)) continue;
      const path = transcriptOf(row);
      if (path) homes.add(path.slice(0, path.indexOf("/projects/")));
    }
    watch.watch(homes);
  };

  /** One session's pane, observed as a poll would (inside the serial queue); false when it is not on the server. */
  const lookAt = async (name: string) => {
    const pane = (await tmux.listPanes()).find((p) => p.session === name);
    if (!pane) return false;
    const lines = pane.dead ? [] : (await tmux.capture([pane.paneId])).get(pane.paneId);
    if (lines || pane.dead) await handleNow({ kind: "pane", session: name, pane, lines: lines ?? [], at: clock.now() });
    return true;
  };

  /** Sessions whose running task's turn was cut and waits for its continue, on an account that can take it now. */
  const cutSessions = () => store.tasks(["running"])
    .filter((t) => t.delivery === "ended" && t.session !== null && !swapHolds(store.openSwap(), t.session))
    .map((t) => t.session!)
    .filter((name) => store.accounts().find((a) => a.name === store.session(name)?.account)?.state === "available");

  /**
   * The panes of {@link cutSessions}, observed as a poll would (listed and captured by one tmux client), inside the
   * serial queue. Returns the screens it handled, by session, for the follower's continues.
   */
  const lookAtCutSessions = async (): Promise<Map<string, string[]>> => {
    const handled = new Map<string, string[]>();
    const names = new Set(cutSessions());
    if (!names.size) return handled;
    const read = await tmux.snapshot([...names]);
    const now = clock.now();
    const seen = new Set<string>();
    for (const pane of read.panes) {
      // The screen read is the session's: its first pane only, as a poll does.
      if (!names.has(pane.session) || pane.dead || seen.has(pane.session)) continue;
      seen.add(pane.session);
      const lines = read.screens.get(pane.session);
      if (!lines) continue;
      const launched = store.session(pane.session)?.launchedAt;
      await handleNow({ kind: "pane", session: pane.session, pane, lines, at: now });
      // A session relaunched while handled (a per-model limit on screen) does not show this screen any more.
      if (store.session(pane.session)?.launchedAt === launched) handled.set(pane.session, lines);
    }
    return handled;
  };

  /** Looks at a session that just started until its screen made it leave `starting` (bounded; the poll does the rest). */
  const lookAtStarted = async (name: string) => {
    for (let i = 0; i < START_LOOKS && !stopping; i++) {
      if (i > 0) await clock.sleep(START_LOOK_MS);
      const found = await queue.run("urgent", "look at a started session", async () => (stopping || store.session(name)?.state !== "starting" ? false : lookAt(name)))
        .catch((error) => void log.warn("started session not looked at", { session: name, error }));
      if (!found) return;
    }
  };

  /** One pass over everything observable, inside the serial queue. */
  const observeAll = async () => {
    const began = performance.now();
    const now = clock.now();
    for (const hook of drainSpool(spoolDir, log)) {
      await handleNow({ kind: "hook", event: parseHookEvent(hook.event, hook.payload), session: hook.session, at: hook.at || now });
    }
    const watching = new Set(lifecycle.observedNames());
    const panes = (await tmux.listPanes()).filter((p) => watching.has(p.session));
    // Launch times as the screens are captured: a session relaunched later in this pass (e.g. a per-model limit read
    // from its transcript) shows the replaced program on this capture, which is not its screen any more.
    const launchedAt = (name: string) => store.session(name)?.launchedAt ?? null;
    const captured = new Map(panes.map((p) => [p.session, launchedAt(p.session)]));
    const screens = await tmux.capture(panes.filter((p) => !p.dead).map((p) => p.paneId));
    const seen = new Set<string>();
    for (const pane of panes) {
      if (seen.has(pane.session)) continue;
      seen.add(pane.session);
      const lines = screens.get(pane.paneId);
      // The transcript first: its limit record has the exact reset the screen shows rounded to the minute.
      await readTranscript(pane.session, now);
      const relaunched = launchedAt(pane.session) !== captured.get(pane.session);
      if ((lines || pane.dead) && !relaunched) await handleNow({ kind: "pane", session: pane.session, pane, lines: lines ?? [], at: now });
    }
    for (const name of owned) if (!seen.has(name)) sessions.sighted(name, false, null, now);
    watchHomes();
    await work.follow();
    await handleNow({ kind: "tick", at: now });
    // Counted from what tmux shows, not from the store: a store that wrongly thinks every session is busy (the
    // 0.3.1 failure) must not silence the alarm.
    dispatcher.checkIdleAlert(panes.filter((p) => lifecycle.kindOf(p.session) === "pool" && sessions.activity(p.session) === "idle").length);
    deps.metrics?.observe("claude_failover_poll_duration_seconds", (performance.now() - began) / 1000);
  };

  const glanceAll = async () => {
    const now = clock.now();
    const recent = store.sessions().filter((s) => observed(s.name) && (s.state === "working" || s.state === "stalled"
      || Math.max(s.activityAt ?? 0, s.launchedAt ?? 0, s.turnAt ?? 0) >= now - GLANCE_WINDOW_MS));
    if (recent.length === 0) return;
    const screens = await tmux.capture(recent.map((s) => s.name));
    for (const [session, lines] of screens) {
      const verdict = classifyPane(lines, classifyOptions(now));
      if (verdict.kind === "warning") await onVerdict(session, verdict, "pane", now);
    }
  };

  const supervisor: Supervisor = {
    handle: (obs) => queue.run("urgent", obs.kind === "hook" ? `hook ${obs.event.kind}` : obs.kind, () => handleNow(obs)),

    async poll() {
      if (lookingAfterSwap && followAfterSwap) await Promise.race([followAfterSwap, clock.sleep(SETTLE_LOOKS * SETTLE_LOOK_MS)]);
      await queue.run("routine", "poll", observeAll);
      await dispatcher.ingest();
      // Typing runs beside the poll so detection is never held up; the follower confirms deliveries on later passes.
      dispatching ??= dispatcher.dispatch().then(() => work.growIfNeeded()).catch((error) => log.error("dispatch failed", { error })).finally(() => {
        dispatching = null;
      });
    },

    async reconcile() {
      if (switcher.running() || store.openSwap()) return;
      // Sessions left on an account the config no longer has move first, with their conversations (reason `config`).
      const stranded = lifecycle.strandedNames(config.accounts);
      if (stranded.length && (await requestSwap({ reason: "config", from: store.session(stranded[0]!)?.account ?? undefined })).ok) return;
      const limited = deps.strandedAccount?.() ?? null;
      if (limited && (await requestSwap({ reason: "reset", from: limited })).ok) return;
      const report = await lifecycle.reconcile(activeHome());
      for (const name of report.dead) events.notify({ kind: "session_dead", at: clock.now(), session: name, reason: "Claude Code keeps exiting right after launch" });
      if (report.linkProblem) events.notify({ kind: "link_blocked", at: clock.now(), link: config.claude.link, reason: report.linkProblem });
    },

    requestSwap: (input) => requestSwap(input),

    accountChanged: (change) => queue.run("urgent", "fleet account change", async () => {
      if (stopping || (change.state !== "cooling" && change.state !== "needs_login")) return;
      const onIt = runtime.activeAccount() === change.name || store.sessions().some((s) => observed(s.name) && s.account === change.name);
      if (!onIt) return;
      const reason = change.state === "cooling" ? "quota" : "login";
      log.info("account changed on another host; moving off it", { account: change.name, state: change.state, by: change.by });
      await requestSwap({ reason, from: change.name, ...(change.resetAt !== null ? { resetAt: change.resetAt } : {}) });
    }),

    glance: () => queue.run("routine", "glance", glanceAll),

    // One read takes every record written before it starts: reports of a transcript whose read still waits join it.
    transcriptWritten: (path) => queue.once("urgent", `transcript ${path}`, async () => {
      if (stopping) return;
      const row = store.sessions().find((r) => observed(r.name) && transcriptOf(r) === path);
      if (!row) return;
      if ((await readTranscript(row.name, clock.now())) > 0) await work.turnEnded(row.name, null);
    }),

    async idle() {
      // The daemon is stopping: a swap that ends from now on (halted) starts no follow pass.
      stopping = true;
      watch?.close();
      await queue.idle();
      await dispatching;
      await deps.delivery.idle();
    },
  };

  return supervisor;
}

/**
 * Whether the open swap (if any) still moves `session`, so nothing may be typed into it: until the swap only verifies,
 * except for a session a restart swap has already relaunched (its plan, JSON, says so).
 */
export function swapHolds(open: { step: string; plan: string | null } | null, session: string | null): boolean {
  if (open === null || open.step === "verifying") return false;
  if (open.step !== "relaunching" || session === null || open.plan === null) return true;
  try {
    return !(JSON.parse(open.plan) as { sessions: Array<{ name: string; relaunchedAt?: number }> }).sessions.some((s) => s.name === session && !!s.relaunchedAt);
  } catch {
    return true;
  }
}
