/**
 * @module quota/records
 * Reading the fields of Claude Code's own records that carry an API error: the text of a transcript record, and the
 * structured limit of 2.1.330 (`apiErrorParams.rate_limit_info` in the transcript, attached to the StopFailure hook as
 * `rate_limit_info` by `claude-failover hook`): reset in epoch seconds and `rateLimitType`. Pure; no I/O.
 */
import type { LimitKind } from "./classify.ts";

/** Claude Code's `rateLimitType` values (2.1.330) and the limit kinds they name. */
const RATE_LIMIT_TYPES: Readonly<Record<string, LimitKind>> = {
  five_hour: "five_hour", seven_day: "weekly", seven_day_opus: "opus", seven_day_sonnet: "sonnet", seven_day_overage_included: "fable", overage: "credits",
};

/** A limit record's `apiErrorParams.rate_limit_info` (2.1.330), or its `quotaLimits` as a fallback. */
export function rateLimitInfo(r: Record<string, unknown>): { resetAt?: number; limit?: LimitKind } {
  const params = r.apiErrorParams as { rate_limit_info?: unknown } | undefined;
  return structuredLimit(params?.rate_limit_info ?? r.quotaLimits);
}

/**
 * Reset (`resetsAt`, epoch seconds → ms) and limit kind (`rateLimitType`) of a `rate_limit_info` object; empty when it
 * has neither (older versions write no such object).
 */
export function structuredLimit(info: unknown): { resetAt?: number; limit?: LimitKind } {
  if (typeof info !== "object" || info === null) return {};
  const i = info as Record<string, unknown>;
  const seconds = i.resetsAt;
  const type = typeof i.rateLimitType === "string" ? RATE_LIMIT_TYPES[i.rateLimitType] : undefined;
  return {
    ...(typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? { resetAt: seconds * 1000 } : {}),
    ...(type ? { limit: type } : {}),
  };
}

/** The text of a transcript record: `message.content` as a string or its `text` parts, else `content`/`text`. */
export function recordText(r: Record<string, unknown>): string {
  const message = (typeof r.message === "object" && r.message !== null ? r.message : r) as Record<string, unknown>;
  const content = message.content ?? r.text;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((c) => (typeof c === "object" && c !== null && typeof (c as { text?: unknown }).text === "string" ? (c as { text: string }).text : "")).filter(Boolean).join("\n");
}
