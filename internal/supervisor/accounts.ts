/**
 * @module supervisor/accounts
 * What the supervisor decides about accounts: a verdict cools an account or requests a swap (through the quota
 * monitor's rules), exhausted mode when no account has quota left (dispatch waits, the operator is told once), and the
 * wake-up when a reset time passes. Part of the supervisor's single decision point, split out for size; it runs no
 * tmux and touches no session.
 */
import { accountOfLateEvent } from "../switcher/moved.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { Verdict } from "../quota/classify.ts";
import type { QuotaMonitor, SignalSource } from "../quota/quota.ts";
import type { Store } from "../state/state.ts";
import type { Runtime } from "../state/runtime.ts";
import type { Switcher } from "../switcher/switcher.ts";
import type { EventBus } from "../notify/feed.ts";

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

/** Creates the {@link AccountDecisions}. */
export function createAccountDecisions(deps: AccountDecisionsDeps): AccountDecisions {
  const { config, store, quota, switcher, events, clock, log, runtime } = deps;

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
    const account = eventAccount ?? row?.account ?? runtime.activeAccount();
    if (!account) return;
    if (verdict.kind === "warning") {
      log.info("quota warning", { session, account, line: verdict.line });
      return;
    }
    if (verdict.kind === "quota" && signal === "pane") {
      // A limit line stays on screen until the next turn. On a cooling account it is the limit already known (its
      // minute-rounded time even reads as past before the exact reset); after the account came back it is that old
      // limit until the session takes a turn. Only hooks and transcript records, which are events, report a new one.
      const acc = store.accounts().find((a) => a.name === account);
      if (acc?.state === "cooling") return;
      if (acc?.state === "available" && (row?.turnAt ?? 0) < acc.updatedAt) return;
    }
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
    if (existing?.state !== "disabled") {
      store.setAccountState(decision.account, "cooling", Math.max(decision.resetAt, existing?.resetAt ?? 0), clock.now());
    }
    log.warn("quota hit", { session, account: decision.account, signal, pattern: verdict.kind === "quota" ? verdict.pattern : null, snippet: verdict.kind === "quota" ? verdict.line.slice(0, 120) : null, reset_at: new Date(decision.resetAt).toISOString(), action: decision.action });
    if (decision.action === "cool") {
      log.warn("account cooling", { account: decision.account, reset_at: new Date(decision.resetAt).toISOString(), why: decision.why, session });
      return;
    }
    deps.metrics?.observe("claude_failover_detection_latency_seconds", Math.max(0, clock.now() - at) / 1000, { signal });
    await requestSwap({ reason: "quota", from: decision.account, triggerSession: session, signal, pattern: decision.request.pattern, snippet: decision.request.snippet, resetAt: decision.resetAt });
  };

  const requestSwap = async (input: Parameters<Switcher["request"]>[0]) => {
    const result = await switcher.request(input);
    if (result.ok) {
      quota.reset();
      setExhausted(null);
    } else if (result.exhausted) {
      setExhausted(result.exhausted.wakeAt ?? clock.now() + UNKNOWN_WAKE_MS);
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
    for (const account of store.accounts()) {
      if (account.state === "cooling" && account.resetAt !== null && account.resetAt <= now) {
        store.setAccountState(account.name, "available", null, now);
        log.info("account available again", { account: account.name });
        events.notify({ kind: "account_available", at: now, account: account.name });
      }
    }
    const exhaustedUntil = runtime.exhaustedUntil();
    if (exhaustedUntil === null || exhaustedUntil > now) return;
    const active = store.accounts().find((a) => a.name === runtime.activeAccount());
    if (active?.state === "available") {
      // Tasks cut by the limit go on by themselves: the task follower continues them once their account is usable.
      setExhausted(null);
    } else {
      await requestSwap({ reason: "reset" });
    }
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
