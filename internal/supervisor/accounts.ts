/**
 * @module supervisor/accounts
 * What the supervisor decides about accounts: a verdict cools an account or requests a swap (through the quota
 * monitor's rules), a lost login marks it `needs_login`, tells the operator the fix once and moves its sessions away
 * (a swap with reason `login`, no cooldown: such an account is never picked back), usage warnings
 * (supervisor/usage-warnings.ts: a move before the limit at an account's `switch_at`, extra usage treated as a limit or
 * told), exhausted mode when no account is usable (dispatch waits, the operator is told once), and the wake-up when a
 * reset time passes or a login is fixed. Part of the supervisor's single decision point, split out for size; it runs
 * no tmux and touches no session.
 */
import { accountOfLateEvent, lastMove } from "../switcher/moved.ts";
import { pickNextAccount } from "../switcher/accounts.ts";
import { createUsageWarnings, type ToldWindows, type WarningVerdict } from "./usage-warnings.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { Verdict } from "../quota/classify.ts";
import { SNIPPET_CHARS, type QuotaMonitor, type SignalSource } from "../quota/quota.ts";
import { credentialsMtime } from "../claude/login.ts";
import { createLoginWatch, loginFix } from "./login.ts";
import type { Store } from "../state/state.ts";
import type { Runtime } from "../state/runtime.ts";
import type { Switcher } from "../switcher/switcher.ts";
import type { EventBus } from "../notify/feed.ts";
import type { UsageRecorder } from "../state/usage.ts";
import type { ModelFallback } from "./models.ts";

/** What account decisions touch. */
export interface AccountDecisionsDeps {
  config: Readonly<Config>;
  store: Store;
  quota: QuotaMonitor;
  switcher: Switcher;
  events: EventBus;
  clock: Clock;
  log: Logger;
  runtime: Runtime;
  metrics?: { observe(name: string, seconds: number, labels?: Record<string, string>): void };
  /** Called when a swap has started (the supervisor follows the tasks it cut as soon as it ends). */
  swapStarted?: () => void;
  /** Where a limit hit is recorded (usage at a glance). */
  usage?: Pick<UsageRecorder, "limitHit">;
  /** Time of a home's `.credentials.json` (ms, 0 when missing): a changed file is a fixed login. @default its mtime */
  loginMtime?: (home: string) => number;
  /** Per-model limits (`quota.on_model_limit: fallback`): handled there instead of cooling the account. */
  models?: ModelFallback;
}

/** The account decisions. */
export interface AccountDecisions {
  /**
   * The account a hook event belongs to, from the home its transcript is in; with session homes (one home for every
   * account), a late limit event of a session moved in place (`late`: its session, text and arrival) is its old account's.
   */
  accountOfEvent(transcriptPath: string | null, late?: { session: string; text: string | null; at: number }): string | null;
  /** Acts on one classified signal of a session (account defaults to the session's). */
  onVerdict(session: string, verdict: Verdict, signal: SignalSource, at: number, eventAccount?: string | null): Promise<void>;
  /** Starts a swap and keeps exhausted mode and the quota monitor consistent with the outcome. */
  requestSwap(input: Parameters<Switcher["request"]>[0]): ReturnType<Switcher["request"]>;
  /**
   * The exact reset of a limit (a transcript record's `resetsAt`) replaces the one a screen line gave, rounded to the
   * minute, when the account still cools for that same limit.
   */
  exactReset(account: string | null, resetsAt: number): void;
  /** Accounts whose reset passed become available; exhausted mode ends or swaps. */
  wakeAccounts(now: number): Promise<void>;
}

const UNKNOWN_WAKE_MS = 3_600_000;
/** Pause between two attempts to move the sessions off an active account that cannot take them (a swap was refused). */
const MOVE_OFF_RETRY_MS = 60_000;
/** The store flag keeping the extra-usage windows already told (`quota.on_extra_usage: allow`) across restarts. */
const TOLD_FLAG = "extra_usage_told";

/** The told windows an earlier run kept; a flag that does not parse is forgotten (at worst one window is told again). */
function toldWindows(store: Pick<Store, "getFlag">, log: Logger): ToldWindows {
  const text = store.getFlag(TOLD_FLAG);
  if (text === null) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as ToldWindows;
  } catch {}
  log.warn("unreadable store flag ignored", { flag: TOLD_FLAG });
  return {};
}

/** Creates the {@link AccountDecisions}. */
export function createAccountDecisions(deps: AccountDecisionsDeps): AccountDecisions {
  const { config, store, quota, switcher, events, clock, log, runtime } = deps;
  const logins = createLoginWatch(store, deps.loginMtime ?? credentialsMtime);
  /** When the sessions were last asked to move off the active account (a lost login, or the heal below). */
  let movedOffAt = Number.NEGATIVE_INFINITY;
  const warnings = createUsageWarnings({ told: toldWindows(store, log), remember: (told) => store.setFlag(TOLD_FLAG, JSON.stringify(told)) });
  /** The warning line last logged per session: a warning stays on screen for several polls and is logged once. */
  const warningLogged = new Map<string, string>();

  /**
   * The account a hook event belongs to: the one whose home holds its transcript. A StopFailure from a turn on the old
   * account can arrive after the swap has moved the session; it must cool the old account, not the new one.
   */
  const accountOfEvent = (path: string | null, late?: { session: string; text: string | null; at: number }): string | null => {
    const byPath = path === null ? null : config.accounts.find((a) => path.startsWith(a.home.endsWith("/") ? a.home : `${a.home}/`))?.name ?? null;
    return byPath ?? (late ? accountOfLateEvent(store, late.session, late.text, late.at) : null);
  };

  const onVerdict = async (session: string, verdict: Verdict, signal: SignalSource, at: number, eventAccount: string | null = null) => {
    // A clean pane must still reach the monitor: it ends a confirmation streak (seed 0.2.2).
    if (verdict.kind === "none" && signal !== "pane") return;
    const row = store.session(session);
    let account = eventAccount ?? row?.account ?? runtime.activeAccount();
    if (!account) return;
    let reason: "quota" | "extra_usage" = "quota";
    if (verdict.kind === "warning") {
      const limit = await onWarning(session, verdict, signal, at, account);
      if (!limit) return;
      ({ verdict, account, reason } = limit);
    }
    if (verdict.kind === "login") return loginLost(session, account, verdict, signal, at);
    if (verdict.kind === "quota" && signal === "pane") {
      // A limit line stays on screen until the next turn. On a cooling account it is the limit already known (its
      // minute-rounded time even reads as past before the exact reset); after the account came back it is that old
      // limit until the session takes a turn. Only hooks and transcript records, which are events, report a new one.
      const acc = store.accounts().find((a) => a.name === account);
      if (acc?.state === "cooling" || acc?.state === "needs_login") return;
      if (acc?.state === "available" && (row?.turnAt ?? 0) < acc.updatedAt) return;
    }
    // "You've hit your Opus limit" with on_model_limit fallback: the account stays usable, its sessions change model.
    if (verdict.kind === "quota" && deps.models && (await deps.models.onLimit(session, account, verdict, signal, at))) return;
    if (verdict.kind === "transient") log.info("transient error seen", { session, signal, pattern: verdict.pattern, snippet: verdict.line.slice(0, 120) });
    const last = store.lastDoneSwap();
    // In `spread` placement every account holding sessions is one a limit moves sessions off; no cooldown applies, as
    // a move never goes to an account that cannot take requests (no ping-pong).
    const spread = config.switcher.placement === "spread" && store.sessions().some((s) => s.account === account && s.state !== "dead");
    const decision = quota.observe({ session, account, signal, verdict, now: at }, spread
      ? { activeAccount: account, lastSwapAt: null, lastSwapTo: null }
      : { activeAccount: runtime.activeAccount(), lastSwapAt: last?.updatedAt ?? null, lastSwapTo: last?.toAccount ?? null });
    if (decision.action === "none") return;
    const existing = store.accounts().find((a) => a.name === decision.account);
    // While exhausted, every poll sees the same limit line again: an account already cooling at least that long is
    // old news (logged once, when it was first hit), not a new hit and not a new swap attempt.
    if (runtime.exhaustedUntil() !== null && existing?.state === "cooling" && (existing.resetAt ?? 0) >= decision.resetAt) return;
    const limit = verdict.kind === "quota" ? verdict.limit : verdict.kind;
    deps.usage?.limitHit({ account: decision.account, kind: limit, session, signal, at, resetAt: decision.resetAt },
      existing?.state === "cooling" ? existing.resetAt ?? Number.POSITIVE_INFINITY : null);
    // A limit seen on an account whose login is gone changes nothing: only a new login brings it back.
    if (existing?.state !== "disabled" && existing?.state !== "needs_login") {
      store.setAccountState(decision.account, "cooling", Math.max(decision.resetAt, existing?.resetAt ?? 0), clock.now());
    }
    log.warn("quota hit", { session, account: decision.account, signal, pattern: verdict.kind === "quota" ? verdict.pattern : null, snippet: verdict.kind === "quota" ? verdict.line.slice(0, 120) : null, reset_at: new Date(decision.resetAt).toISOString(), action: decision.action });
    if (decision.action === "cool") {
      log.warn("account cooling", { account: decision.account, reset_at: new Date(decision.resetAt).toISOString(), why: decision.why, session });
      return;
    }
    deps.metrics?.observe("claude_failover_detection_latency_seconds", Math.max(0, clock.now() - at) / 1000, { signal });
    await requestSwap({ reason, from: decision.account, triggerSession: session, signal, pattern: decision.request.pattern, snippet: decision.request.snippet, resetAt: decision.resetAt, limit });
  };

  /**
   * A lost login: the account becomes `needs_login` (once per episode: the operator is told once, with the fix), and
   * when its sessions are on it (the active account) they move with their conversations. A login line left on a
   * screen is old news once the account came back, until its session takes a turn (as for limit lines). An account
   * the operator disabled stays `disabled` (its episode ends when it is enabled).
   */
  const loginLost = async (session: string, account: string, verdict: Extract<Verdict, { kind: "login" }>, signal: SignalSource, at: number) => {
    const acc = store.accounts().find((a) => a.name === account);
    if (!acc || acc.state === "needs_login" || (acc.state === "disabled" && logins.isLost(account))) return;
    if (signal === "pane" && (store.session(session)?.turnAt ?? 0) < acc.updatedAt) return;
    const now = clock.now();
    if (acc.state !== "disabled") store.setAccountState(account, "needs_login", null, now);
    logins.lost(account, acc.home);
    const fix = loginFix(acc.home);
    log.error("login lost", { session, account, signal, cause: verdict.cause, pattern: verdict.pattern, snippet: verdict.line.slice(0, SNIPPET_CHARS), fix });
    events.notify({ kind: "login_lost", at: now, account, home: acc.home, session, cause: verdict.cause, line: verdict.line.slice(0, SNIPPET_CHARS), fix });
    deps.metrics?.observe("claude_failover_login_detection_latency_seconds", Math.max(0, now - at) / 1000, { signal });
    if (account === runtime.activeAccount()) await moveOffLogin(account, { triggerSession: session, signal, pattern: verdict.pattern, snippet: verdict.line.slice(0, SNIPPET_CHARS) });
  };

  /** Swaps the sessions off `account` (reason `login`); none usable: exhausted mode, told once. */
  const moveOffLogin = async (account: string, forensic: { triggerSession?: string; signal?: string; pattern?: string; snippet?: string } = {}) => {
    movedOffAt = clock.now();
    await requestSwap({ reason: "login", from: account, ...forensic });
  };

  /**
   * A usage warning: ignored, told, a move before the limit (cool the account, swap reason `warning`), or extra usage
   * to handle as the account's limit (returned, with swap reason `extra_usage`, for the quota rules above).
   */
  const onWarning = async (session: string, verdict: WarningVerdict, signal: SignalSource, at: number, current: string) => {
    // A warning still on screen after its session moved in place belongs to the account it left (switcher/moved.ts):
    // it carries the line that moved it, or the session has taken no turn since (a steady `Now using usage credits`).
    const move = lastMove(store, session);
    const stale = move !== null && move.from !== current && (store.session(session)?.turnAt ?? 0) < move.at;
    const account = (stale ? move.from : null) ?? accountOfLateEvent(store, session, verdict.line, at) ?? current;
    const decision = warnings.decide(verdict, {
      account: store.accounts().find((a) => a.name === account) ?? null, switchAt: config.accounts.find((a) => a.name === account)?.switchAt,
      onExtraUsage: config.quota.on_extra_usage, now: at,
    });
    const fields = { session, account, signal, pattern: verdict.pattern, percent: verdict.percent ?? null, window: verdict.window ?? null, snippet: verdict.line.slice(0, 120) };
    if (warningLogged.get(session) !== verdict.line) {
      warningLogged.set(session, verdict.line);
      log.info("usage warning seen", { ...fields, action: decision.action, why: decision.action === "ignore" ? decision.why : null });
    }
    switch (decision.action) {
      case "ignore":
        return null;
      case "tell":
        log.warn("extra usage allowed", fields);
        events.notify({ kind: "extra_usage", at: clock.now(), account, session, line: verdict.line, window: verdict.window ?? null, reset_at: verdict.resetAt ?? null });
        return null;
      case "limit":
        return { verdict: decision.verdict, account, reason: "extra_usage" as const };
      case "move":
        await moveBeforeLimit(session, verdict, signal, account, decision.resetAt);
        return null;
    }
  };

  /** Cools an account whose warning reached its `switch_at` and moves its sessions, when another account can take them. */
  const moveBeforeLimit = async (session: string, verdict: WarningVerdict, signal: SignalSource, account: string, resetAt: number) => {
    const fields = { session, account, reset_at: new Date(resetAt).toISOString() };
    const recordMove = () => deps.usage?.limitHit({ account, kind: "switch_at", session, signal, at: clock.now(), resetAt });
    if (account !== runtime.activeAccount()) {
      recordMove();
      store.setAccountState(account, "cooling", resetAt, clock.now());
      log.warn("account cooling", { ...fields, why: "usage warning at switch_at on an account that is not the active one" });
      return;
    }
    // Nothing is cut yet: without a free account (or while a swap runs) the sessions keep working until the real limit.
    if (switcher.running() || store.openSwap()) return void log.info("move before the limit deferred", { ...fields, why: "a swap is running" });
    if (pickNextAccount(store.accounts(), clock.now(), { exclude: account }).kind === "exhausted") {
      return void log.warn("move before the limit deferred", { ...fields, why: "no other account is usable" });
    }
    recordMove();
    store.setAccountState(account, "cooling", resetAt, clock.now());
    log.warn("moving before the limit", { ...fields, pattern: verdict.pattern, percent: verdict.percent ?? null, window: verdict.window ?? null });
    await requestSwap({ reason: "warning", from: account, triggerSession: session, signal, pattern: verdict.pattern, snippet: verdict.line.slice(0, 120), resetAt });
  };

  const requestSwap = async (input: Parameters<Switcher["request"]>[0]) => {
    const result = await switcher.request(input);
    if (result.ok) {
      quota.reset();
      setExhausted(null);
      deps.swapStarted?.();
    } else if (result.exhausted) {
      setExhausted(result.exhausted.wakeAt ?? clock.now() + UNKNOWN_WAKE_MS);
    } else if (switcher.running()) {
      // Every session the limit cut reports it: the swap they all ask for is already under way.
      log.debug("swap not started", { reason: result.message });
    } else {
      log.warn("swap not started", { reason: result.message });
    }
    return result;
  };

  const setExhausted = (until: number | null) => {
    if (until === runtime.exhaustedUntil()) return;
    const entering = runtime.exhaustedUntil() === null && until !== null;
    runtime.setExhaustedUntil(until);
    if (entering) {
      log.error("all accounts exhausted", { wake_at: new Date(until).toISOString() });
      events.notify({ kind: "accounts_exhausted", at: clock.now(), wake_at: until });
    }
  };

  const wakeAccounts = async (now: number) => {
    const needsLogin = store.accounts().filter((a) => a.state === "needs_login");
    for (const name of logins.fixed(needsLogin, store.openSwap() !== null)) {
      store.setAccountState(name, "available", null, now);
      logins.clear(name);
      log.info("login file changed; account available again", { account: name });
      events.notify({ kind: "login_restored", at: now, account: name, how: "login file changed" });
      // Exhausted mode waits for a reset; an account usable again ends it below (or swaps to it).
      if (runtime.exhaustedUntil() !== null) runtime.setExhaustedUntil(now);
    }
    for (const account of store.accounts()) {
      if (account.state === "cooling" && account.resetAt !== null && account.resetAt <= now) {
        store.setAccountState(account.name, "available", null, now);
        log.info("account available again", { account: account.name });
        events.notify({ kind: "account_available", at: now, account: account.name });
      }
    }
    const exhaustedUntil = runtime.exhaustedUntil();
    if (exhaustedUntil === null) return keepActiveUsable(now);
    if (exhaustedUntil > now) return;
    const active = store.accounts().find((a) => a.name === runtime.activeAccount());
    if (active?.state === "available") {
      // Tasks cut by the limit go on by themselves: the task follower continues them once their account is usable.
      setExhausted(null);
    } else {
      await requestSwap({ reason: "reset" });
    }
  };

  /**
   * The fleet must run on a usable account, or a swap must be under way, or exhausted mode must be on. A lost login or
   * a limit seen while a swap ran (its request refused) can leave the active account `needs_login` or `cooling` with
   * none of the three: move the sessions off it (to a usable account, or into exhausted mode); for a cooling account
   * only once the cooldown after the last swap is over. Tried at most once a minute, so a refused swap is not retried
   * on every poll.
   */
  const keepActiveUsable = async (now: number) => {
    const active = store.accounts().find((a) => a.name === runtime.activeAccount());
    if ((active?.state !== "cooling" && active?.state !== "needs_login") || switcher.running() || store.openSwap() !== null) return;
    if (now - movedOffAt < MOVE_OFF_RETRY_MS) return;
    if (active.state === "needs_login") return moveOffLogin(active.name);
    // Within the cooldown after a swap the active account cools without a swap on purpose (no ping-pong, seed 0.2.1).
    const last = store.lastDoneSwap();
    if (last && now - last.updatedAt < config.quota.reactivate_cooldown) return;
    movedOffAt = now;
    log.warn("active account cooling with no swap running", { account: active.name, reset_at: active.resetAt === null ? null : new Date(active.resetAt).toISOString() });
    await requestSwap({ reason: "quota", from: active.name, ...(active.resetAt !== null ? { resetAt: active.resetAt } : {}) });
  };

  const exactReset = (account: string | null, resetsAt: number) => {
    const row = store.accounts().find((a) => a.name === account);
    if (!row || row.state !== "cooling" || row.resetAt === null || row.resetAt === resetsAt) return;
    if (Math.abs(row.resetAt - resetsAt) >= 60_000) return;
    store.setAccountState(row.name, "cooling", resetsAt, clock.now());
    if (runtime.exhaustedUntil() !== null && Math.abs(runtime.exhaustedUntil()! - resetsAt) < 60_000) runtime.setExhaustedUntil(resetsAt);
    log.info("exact reset from the transcript", { account: row.name, reset_at: new Date(resetsAt).toISOString() });
  };

  return { accountOfEvent, onVerdict, requestSwap, wakeAccounts, exactReset };
}
