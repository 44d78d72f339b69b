/**
 * @module supervisor/usage-warnings
 * What a usage warning means for its account (issue 13: switching before the limit, never billing silently), as a
 * pure decision the account decisions (supervisor/accounts.ts) act on:
 * - a plan warning (`You've used 91% of your 5-hour limit · resets 4am (UTC)`) at or above the account's `switch_at`
 *   moves its sessions before a limit cuts a turn, and the account cools until that window's reset; an account
 *   without `switch_at` is never cooled by a warning, and a warning below it is only logged;
 * - an extra-usage line (`You're now using usage credits · Your 5-hour limit resets 4am (UTC)`) is the account's limit
 *   with `quota.on_extra_usage: move` (the default), and only told to the operator, once per window, with `allow`.
 * Owns the "told once per window" memory (handed out through `remember`, so a restarted daemon does not tell a window
 * twice); no I/O, time comes in as `now`.
 */
import type { Verdict } from "../quota/classify.ts";
import type { AccountRow } from "../state/state.ts";

/** A warning verdict. */
export type WarningVerdict = Extract<Verdict, { kind: "warning" }>;

/** What to do about one warning. */
export type WarningDecision =
  | { action: "ignore"; why: string }
  /** Tell the operator the account bills extra usage (`allow`); the sessions stay. */
  | { action: "tell" }
  /** Move the account's sessions now and cool it until `resetAt` (swap reason `warning`). */
  | { action: "move"; resetAt: number; resetKnown: boolean }
  /** Handle it as the account's limit (swap reason `extra_usage`): the quota verdict to hand to the quota rules. */
  | { action: "limit"; verdict: Extract<Verdict, { kind: "quota" }> };

/** What the decision needs to know about the account. */
export interface WarningContext {
  /** The account's row (null when the store does not know it). */
  account: Pick<AccountRow, "name" | "state"> | null;
  /** The account's `switch_at`, absent when it has none. */
  switchAt?: number;
  onExtraUsage: "move" | "allow";
  now: number;
}

/** Cooling assumed when a warning at or above `switch_at` names no reset time. @default 1 h */
export const UNKNOWN_WARNING_RESET_MS = 3_600_000;

/** The decision, with its memory of the extra-usage windows already told. */
export interface UsageWarnings {
  decide(verdict: WarningVerdict, context: WarningContext): WarningDecision;
}

/** The extra-usage windows already told: `account|window|reset` → until when (epoch ms) it is remembered. */
export type ToldWindows = Record<string, number>;

/** Creates the {@link UsageWarnings} decision; `told` is what an earlier run remembered, `remember` keeps each change. */
export function createUsageWarnings(memory: { told?: ToldWindows; remember?: (told: ToldWindows) => void } = {}): UsageWarnings {
  /** `account|window|reset` of each extra-usage window already told (allow), so it is told once. */
  const told = new Map<string, number>(Object.entries(memory.told ?? {}).filter(([, until]) => Number.isFinite(until)));
  return {
    decide(verdict, { account, switchAt, onExtraUsage, now }) {
      if (!account) return { action: "ignore", why: "unknown account" };
      if (verdict.extraUsage) {
        if (onExtraUsage === "move") {
          return { action: "limit", verdict: { kind: "quota", limit: verdict.window ?? "credits", pattern: verdict.pattern, line: verdict.line, ...(verdict.resetAt !== undefined ? { resetAt: verdict.resetAt } : {}) } };
        }
        for (const [key, until] of told) if (until <= now) told.delete(key);
        const key = `${account.name}|${verdict.window ?? ""}|${verdict.resetAt ?? ""}`;
        // A line that names no reset (`Now using usage credits`) is the window already told, when one is.
        const known = verdict.resetAt === undefined && [...told.keys()].some((k) => k.startsWith(`${account.name}|`));
        if (told.has(key) || known) return { action: "ignore", why: "extra usage already told for this window" };
        told.set(key, verdict.resetAt ?? now + UNKNOWN_WARNING_RESET_MS);
        memory.remember?.(Object.fromEntries(told));
        return { action: "tell" };
      }
      if (switchAt === undefined) return { action: "ignore", why: "no switch_at" };
      if (!verdict.window) return { action: "ignore", why: "not a plan window" };
      if (verdict.percent !== undefined && verdict.percent < switchAt) return { action: "ignore", why: "below switch_at" };
      if (account.state !== "available") return { action: "ignore", why: `account ${account.state}` };
      const resetKnown = verdict.resetAt !== undefined && verdict.resetAt > now;
      return { action: "move", resetAt: resetKnown ? verdict.resetAt! : now + UNKNOWN_WARNING_RESET_MS, resetKnown };
    },
  };
}
