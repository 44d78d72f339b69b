/**
 * @module hook/event
 * The one place a hook payload from Claude Code is read: {@link parseHookEvent} turns the event name and its stdin JSON
 * into a closed union, so nothing past the edge touches raw `session_id`/`prompt_id` keys or guesses at types.
 * Field names follow what Claude Code 2.1.197–2.1.330 sends (reference/real-claude.md §6, claude-code.md §6).
 *
 * Lenient by design: every field Claude Code may omit (older versions send no `prompt_id` nor `prompt`) is `null`
 * when absent, of the wrong type, or (for ids) not a valid UUID; unknown keys are dropped. It never throws.
 * It does not decide anything (the supervisor does) and does not validate the event name (the HTTP sink does).
 */
import { z } from "zod";
import { isValidUuid } from "../claude/home.ts";

/** A hook event, read. `kind: "unknown"` is any other event (PreToolUse, a future one…), kept only by name. */
export type HookEvent =
  | { kind: "SessionStart"; sessionId: string | null; transcriptPath: string | null; source: string | null }
  | { kind: "UserPromptSubmit"; sessionId: string | null; promptId: string | null; prompt: string | null; transcriptPath: string | null }
  | { kind: "Stop"; sessionId: string | null; promptId: string | null; lastMessage: string | null; transcriptPath: string | null }
  | {
    kind: "StopFailure"; sessionId: string | null; promptId: string | null;
    /** `rate_limit`, `server_error`, `authentication_failed`… (an open set: new versions add values). */
    error: string | null;
    /** The rendered error line (`last_assistant_message`), e.g. `You've hit your 5-hour limit · resets 1am (UTC)`. */
    message: string | null;
    /** Raw API error text (`error_details`), when Claude Code sends it. */
    details: string | null;
    /**
     * The transcript limit record's `rate_limit_info` (`resetsAt`, `rateLimitType`), attached by `claude-failover hook`
     * (Claude Code's own payload lacks it); null when absent.
     */
    rateLimitInfo: Record<string, unknown> | null;
    transcriptPath: string | null;
  }
  | { kind: "Notification"; sessionId: string | null; type: string | null; title: string | null; message: string | null; transcriptPath: string | null }
  | { kind: "SessionEnd"; sessionId: string | null; reason: string | null; transcriptPath: string | null }
  | { kind: "unknown"; event: string; sessionId: string | null };

/** The event names {@link parseHookEvent} reads; any other name gives `kind: "unknown"`. */
export const KNOWN_HOOK_EVENTS = ["SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification", "SessionEnd"] as const;

/** A string, or null when absent or of another type. */
const text = z.string().nullish().transform((v) => v ?? null).catch(null);
/** A UUID (36 characters of hex and dashes), or null. */
const uuid = z.string().refine(isValidUuid).nullish().transform((v) => v ?? null).catch(null);
/** A plain object, or null. */
const record = z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? null).catch(null);
/** An absolute path, or null. */
const path = z.string().startsWith("/").nullish().transform((v) => v ?? null).catch(null);

const common = { session_id: uuid, transcript_path: path };
const turn = { ...common, prompt_id: uuid };

const SCHEMAS = {
  SessionStart: z.object({ ...common, source: text }).transform((p) => ({
    kind: "SessionStart" as const, sessionId: p.session_id, transcriptPath: p.transcript_path, source: p.source,
  })),
  UserPromptSubmit: z.object({ ...turn, prompt: text }).transform((p) => ({
    kind: "UserPromptSubmit" as const, sessionId: p.session_id, promptId: p.prompt_id, prompt: p.prompt, transcriptPath: p.transcript_path,
  })),
  Stop: z.object({ ...turn, last_assistant_message: text }).transform((p) => ({
    kind: "Stop" as const, sessionId: p.session_id, promptId: p.prompt_id, lastMessage: p.last_assistant_message,
    transcriptPath: p.transcript_path,
  })),
  StopFailure: z.object({ ...turn, error: text, last_assistant_message: text, error_details: text, rate_limit_info: record }).transform((p) => ({
    kind: "StopFailure" as const, sessionId: p.session_id, promptId: p.prompt_id, error: p.error,
    message: p.last_assistant_message, details: p.error_details, rateLimitInfo: p.rate_limit_info, transcriptPath: p.transcript_path,
  })),
  Notification: z.object({ ...common, notification_type: text, title: text, message: text }).transform((p) => ({
    kind: "Notification" as const, sessionId: p.session_id, type: p.notification_type, title: p.title, message: p.message,
    transcriptPath: p.transcript_path,
  })),
  SessionEnd: z.object({ ...common, reason: text }).transform((p) => ({
    kind: "SessionEnd" as const, sessionId: p.session_id, reason: p.reason, transcriptPath: p.transcript_path,
  })),
} satisfies Record<(typeof KNOWN_HOOK_EVENTS)[number], z.ZodType<HookEvent>>;

const UNKNOWN = z.object({ session_id: uuid });

/**
 * Reads one hook event. `event` is the name the hook was registered under (the `hook <event>` argument, which the
 * sink receives in its URL); `json` is the payload as parsed from stdin (anything: a non-object reads as `{}`).
 */
export function parseHookEvent(event: string, json: unknown): HookEvent {
  const input = json !== null && typeof json === "object" && !Array.isArray(json) ? json : {};
  if (Object.hasOwn(SCHEMAS, event)) return SCHEMAS[event as keyof typeof SCHEMAS].parse(input);
  return { kind: "unknown", event, sessionId: UNKNOWN.parse(input).session_id };
}
