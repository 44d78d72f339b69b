import { describe, expect, test } from "bun:test";
import { parseHookEvent, type HookEvent } from "../../internal/hook/event.ts";

const SID = "b7655b4b-2f0e-4c1a-9d3e-5a6b7c8d9e0f";
const PID = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a";
const TRANSCRIPT = `/tmp/rc-cap.HtUzMo/home/projects/-tmp-rc-cap-HtUzMo-my-proj-v2/${SID}.jsonl`;
/** The common fields every 2.1.330 payload carried (reference/real-claude.md §6). */
const COMMON = { session_id: SID, transcript_path: TRANSCRIPT, cwd: "/tmp/rc-cap.HtUzMo/my_proj.v2" };

const cases: Array<[string, string, Record<string, unknown>, HookEvent]> = [
  ["SessionStart at startup", "SessionStart",
    { ...COMMON, hook_event_name: "SessionStart", source: "startup", model: "claude-opus-5-5" },
    { kind: "SessionStart", sessionId: SID, transcriptPath: TRANSCRIPT, source: "startup" }],
  ["SessionStart on resume", "SessionStart",
    { ...COMMON, hook_event_name: "SessionStart", source: "resume", seconds_since_last_response: 8, context_tokens: 14076,
      prompt_cache_likely_expired: false, estimated_cache_write_usd: 0.1126 },
    { kind: "SessionStart", sessionId: SID, transcriptPath: TRANSCRIPT, source: "resume" }],
  ["UserPromptSubmit", "UserPromptSubmit",
    { ...COMMON, hook_event_name: "UserPromptSubmit", prompt_id: PID, permission_mode: "bypassPermissions", prompt: "Say hello" },
    { kind: "UserPromptSubmit", sessionId: SID, promptId: PID, prompt: "Say hello", transcriptPath: TRANSCRIPT }],
  ["Stop", "Stop",
    { ...COMMON, hook_event_name: "Stop", prompt_id: PID, effort: { level: "medium" }, stop_hook_active: false,
      last_assistant_message: "Fake API reply: hello", background_tasks: [], session_crons: [] },
    { kind: "Stop", sessionId: SID, promptId: PID, lastMessage: "Fake API reply: hello", transcriptPath: TRANSCRIPT }],
  ["StopFailure on a quota hit", "StopFailure",
    { ...COMMON, hook_event_name: "StopFailure", prompt_id: PID, effort: { level: "medium" }, error: "rate_limit",
      last_assistant_message: "You've hit your 5-hour limit · resets 1am (UTC)" },
    { kind: "StopFailure", sessionId: SID, promptId: PID, error: "rate_limit",
      message: "You've hit your 5-hour limit · resets 1am (UTC)", details: null, rateLimitInfo: null, transcriptPath: TRANSCRIPT }],
  ["StopFailure with the rate_limit_info the hook command attached", "StopFailure",
    { ...COMMON, hook_event_name: "StopFailure", prompt_id: PID, error: "rate_limit", last_assistant_message: "You've hit your weekly limit",
      rate_limit_info: { status: "rejected", resetsAt: 1795910400, rateLimitType: "seven_day" } },
    { kind: "StopFailure", sessionId: SID, promptId: PID, error: "rate_limit", message: "You've hit your weekly limit", details: null,
      rateLimitInfo: { status: "rejected", resetsAt: 1795910400, rateLimitType: "seven_day" }, transcriptPath: TRANSCRIPT }],
  ["StopFailure on an unheadered 429", "StopFailure",
    { ...COMMON, hook_event_name: "StopFailure", prompt_id: PID, error: "rate_limit",
      last_assistant_message: "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited" },
    { kind: "StopFailure", sessionId: SID, promptId: PID, error: "rate_limit",
      message: "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited", details: null,
      rateLimitInfo: null, transcriptPath: TRANSCRIPT }],
  ["StopFailure on a 529 with error_details", "StopFailure",
    { ...COMMON, hook_event_name: "StopFailure", prompt_id: PID, error: "server_error",
      last_assistant_message: "API Error: 529 Overloaded. This is a server-side issue, usually temporary.",
      error_details: "{\"type\":\"overloaded_error\"}" },
    { kind: "StopFailure", sessionId: SID, promptId: PID, error: "server_error",
      message: "API Error: 529 Overloaded. This is a server-side issue, usually temporary.",
      details: "{\"type\":\"overloaded_error\"}", rateLimitInfo: null, transcriptPath: TRANSCRIPT }],
  ["Notification when idle", "Notification",
    { ...COMMON, hook_event_name: "Notification", notification_type: "idle_prompt", title: "Claude Code",
      message: "Claude is waiting for your input" },
    { kind: "Notification", sessionId: SID, type: "idle_prompt", title: "Claude Code", message: "Claude is waiting for your input",
      transcriptPath: TRANSCRIPT }],
  ["SessionEnd on /exit", "SessionEnd",
    { ...COMMON, hook_event_name: "SessionEnd", reason: "prompt_input_exit" },
    { kind: "SessionEnd", sessionId: SID, reason: "prompt_input_exit", transcriptPath: TRANSCRIPT }],
  ["an event it does not read", "PreToolUse",
    { ...COMMON, hook_event_name: "PreToolUse", tool_name: "Bash" },
    { kind: "unknown", event: "PreToolUse", sessionId: SID }],
];

describe("parseHookEvent()", () => {
  for (const [name, event, payload, expected] of cases) {
    test(`reads the real payload of ${name}`, () => {
      expect(parseHookEvent(event, payload)).toEqual(expected);
    });
  }

  test("reads an older version's turn events without prompt_id or prompt as null", () => {
    expect(parseHookEvent("UserPromptSubmit", { session_id: SID, transcript_path: TRANSCRIPT })).toEqual(
      { kind: "UserPromptSubmit", sessionId: SID, promptId: null, prompt: null, transcriptPath: TRANSCRIPT });
    expect(parseHookEvent("Stop", { session_id: SID, transcript_path: TRANSCRIPT })).toEqual(
      { kind: "Stop", sessionId: SID, promptId: null, lastMessage: null, transcriptPath: TRANSCRIPT });
  });

  test("turns invalid UUIDs into null and keeps the other fields", () => {
    const read = parseHookEvent("Stop", { session_id: "../../etc/passwd", prompt_id: `${PID}x`, last_assistant_message: "ok" });
    expect(read).toEqual({ kind: "Stop", sessionId: null, promptId: null, lastMessage: "ok", transcriptPath: null });
  });

  test("turns fields of the wrong type into null instead of failing", () => {
    const read = parseHookEvent("StopFailure", {
      session_id: 42, prompt_id: PID, error: { code: 1 }, last_assistant_message: ["x"], transcript_path: "relative/t.jsonl",
    });
    expect(read).toEqual({ kind: "StopFailure", sessionId: null, promptId: PID, error: null, message: null, details: null, rateLimitInfo: null, transcriptPath: null });
  });

  test("reads a payload that is not an object as one with no fields", () => {
    for (const json of [null, undefined, "text", 7, [SID]]) {
      expect(parseHookEvent("SessionEnd", json)).toEqual({ kind: "SessionEnd", sessionId: null, reason: null, transcriptPath: null });
    }
  });

  test("reads the hook spool's fallback for unparseable stdin ({raw}) as a payload with no fields", () => {
    expect(parseHookEvent("Stop", { raw: "{not json" })).toEqual(
      { kind: "Stop", sessionId: null, promptId: null, lastMessage: null, transcriptPath: null });
  });

  test("does not mistake inherited object keys for events", () => {
    expect(parseHookEvent("toString", {})).toEqual({ kind: "unknown", event: "toString", sessionId: null });
    expect(parseHookEvent("constructor", { session_id: SID })).toEqual({ kind: "unknown", event: "constructor", sessionId: SID });
  });

  test("keeps an empty prompt as an empty string, distinct from an absent one", () => {
    const read = parseHookEvent("UserPromptSubmit", { session_id: SID, prompt: "" });
    expect(read.kind === "UserPromptSubmit" && read.prompt).toBe("");
  });
});
