/**
 * @module quota/usage-warning
 * What a usage warning line says beyond "soon, not yet" (reference/real-claude.md §13.1–§13.2): the share of the
 * window used (`You've used 91% of your 5-hour limit`, `Over 90% of your 5-hour limit used`), which window
 * (`five_hour` or `weekly`), and whether the line says the account now bills extra usage / usage credits
 * (`You're now using usage credits · Your 5-hour limit resets 4am (UTC)`, `Now using usage credits`, `You're close to
 * your usage credit limit`). Pure; the reset time is read by quota/reset-time.ts, the decision is the supervisor's.
 */
import { limitKindOf, normalize } from "./patterns.ts";

/** The plan window a warning is about. Model windows (Fable's `7d_oi`) are not plan windows and give none. */
export type UsageWindow = "five_hour" | "weekly";

/** What a warning line says: `percent` used (absent for `Approaching …`), its `window`, and `extraUsage` when it bills. */
export interface WarningDetails {
  percent?: number;
  window?: UsageWindow;
  extraUsage?: true;
}

const PERCENT_RE = /^(?:You've used|Over) (\d{1,3})% of your /;
const EXTRA_USAGE_RE = /^(?:You're now using|Now using) (?:usage credits|credits|extra usage|your usage allocation)\b/;
/** The window a credits line names after its separator: `Your 5-hour limit resets 4am (UTC)`. */
const CREDITS_WINDOW_RE = /\bYour (5-hour|session|weekly) limit resets\b/i;

/** Reads a warning line (already matched by a warning rule): its percent, window and whether it bills extra usage. */
export function warningDetails(line: string): WarningDetails {
  const text = normalize(line);
  const percent = PERCENT_RE.exec(text)?.[1];
  const kind = limitKindOf(text);
  const extraUsage = EXTRA_USAGE_RE.test(text) || kind === "credits";
  const named = extraUsage ? CREDITS_WINDOW_RE.exec(text)?.[1]?.toLowerCase() : undefined;
  const window: UsageWindow | undefined = extraUsage
    ? named === undefined ? undefined : named === "weekly" ? "weekly" : "five_hour"
    : kind === "five_hour" || kind === "weekly" ? kind : undefined;
  return {
    ...(percent !== undefined ? { percent: Number(percent) } : {}),
    ...(window ? { window } : {}),
    ...(extraUsage ? { extraUsage: true as const } : {}),
  };
}
