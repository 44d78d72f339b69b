/**
 * @module quota
 * Turns verdicts (from `classify.ts`) about one session's signals into decisions: which account is cooling and
 * until when, and whether a swap is requested now. Owns the confirmation counts (a hit without a reset time must be
 * seen on `confirm_polls` consecutive polls) and the global cooldown between swaps (seed 0.2.1: no ping-pong).
 * Pure state machine: no I/O, time comes in as `now`; the supervisor records what it returns.
 */
import type { Verdict } from "./classify.ts";

/** Where a verdict came from, strongest first. */
export type SignalSource = "hook" | "transcript" | "pane";

/** One classified observation of an owned session. */
export interface QuotaObservation {
  session: string;
  /** The account the session runs on. */
  account: string;
  signal: SignalSource;
  verdict: Verdict;
  now: number;
}

/** What the supervisor must do about an observation. */
export type QuotaDecision =
  | { action: "none" }
  /** Record the account as cooling until `resetAt`; no swap (e.g. it is not the active account, or cooldown blocks). */
  | { action: "cool"; account: string; resetAt: number; why: string }
  /** Cool the account and swap away from it now. */
  | { action: "swap"; account: string; resetAt: number; request: SwapRequest };

/** The forensic record of a swap request (DESIGN.md: trigger session, pattern, 120-char snippet). */
export interface SwapRequest {
  reason: "quota";
  triggerSession: string;
  account: string;
  signal: SignalSource;
  pattern: string;
  snippet: string;
  resetAt: number;
  /** True when the reset time was read from the message (false: estimated). */
  resetKnown: boolean;
}

/** Options from config. */
export interface QuotaMonitorOptions {
  confirmPolls: number;
  reactivateCooldownMs: number;
  /** Cooling period assumed when a confirmed hit carries no reset time. @default 1 h */
  unknownResetMs?: number;
  /**
   * Sightings of one session closer together than this count once: the same screen seen by the pane, the transcript
   * and the hook within one poll is one sighting, not a confirmation. @default 0
   */
  minSightingGapMs?: number;
}

/** The monitor's interface. */
export interface QuotaMonitor {
  observe(observation: QuotaObservation, context: { activeAccount: string | null; lastSwapAt: number | null; lastSwapTo: string | null }): QuotaDecision;
  /** Forgets pending confirmations (after a swap every session starts clean). */
  reset(): void;
}

/** Length of the forensic snippet kept with each swap request. */
export const SNIPPET_CHARS = 120;
const DEFAULT_UNKNOWN_RESET_MS = 60 * 60_000;

/** Creates a {@link QuotaMonitor}. */
export function createQuotaMonitor(options: QuotaMonitorOptions): QuotaMonitor {
  const sightings = new Map<string, { count: number; lastAt: number }>();
  const unknownResetMs = options.unknownResetMs ?? DEFAULT_UNKNOWN_RESET_MS;

  return {
    observe(obs, context) {
      const { verdict } = obs;
      if (verdict.kind !== "quota") {
        // A transient or clean screen breaks a confirmation streak (seed 0.2.2: one 500 must not add up to a swap).
        if (obs.signal === "pane") sightings.delete(obs.session);
        return { action: "none" };
      }
      const resetKnown = verdict.resetAt !== undefined && verdict.resetAt > obs.now;
      if (!resetKnown) {
        const previous = sightings.get(obs.session);
        const distinct = !previous || obs.now - previous.lastAt >= (options.minSightingGapMs ?? 0);
        const seen = { count: (previous?.count ?? 0) + (distinct ? 1 : 0), lastAt: distinct ? obs.now : previous!.lastAt };
        sightings.set(obs.session, seen);
        if (seen.count < options.confirmPolls) return { action: "none" };
      }
      sightings.delete(obs.session);
      const resetAt = resetKnown ? verdict.resetAt! : obs.now + unknownResetMs;
      if (obs.account !== context.activeAccount) {
        return { action: "cool", account: obs.account, resetAt, why: "not the active account" };
      }
      const inCooldown = context.lastSwapAt !== null && obs.now - context.lastSwapAt < options.reactivateCooldownMs;
      // The cooldown stops ping-pong; it yields only when the account we just moved to reports its own dated limit.
      const cooldownWaived = resetKnown && context.lastSwapTo === obs.account;
      if (inCooldown && !cooldownWaived) {
        return { action: "cool", account: obs.account, resetAt, why: "swap cooldown active" };
      }
      return {
        action: "swap", account: obs.account, resetAt,
        request: {
          reason: "quota", triggerSession: obs.session, account: obs.account, signal: obs.signal,
          pattern: verdict.pattern, snippet: verdict.line.slice(0, SNIPPET_CHARS), resetAt, resetKnown,
        },
      };
    },
    reset: () => sightings.clear(),
  };
}
