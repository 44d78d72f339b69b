/**
 * @module test/quota/classify-login
 * Specs for lost logins (reference/real-claude.md §13.3, §13.4): the four texts the real Claude Code 2.1.330 ends a turn
 * with when its login is refused, verbatim, as message texts, in a pane (fullscreen at 200 columns and wrapped at 80),
 * the `❯ Once fixed, resend your message` placeholder under a line naming /login, the transcript record and the StopFailure hook §13.3
 * describes, and the look-alikes that must stay what they are (a transient 500, a person quoting the line).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { classifyPane, classifyStopFailure, classifyText, classifyTranscriptRecord, inputText, paneActivity, type ClassifyOptions } from "../../internal/quota/classify.ts";

const OPTIONS: ClassifyOptions = { now: Date.parse("2026-11-29T01:40:00Z"), defaultZone: "UTC" };
const NB = "\u00a0";

/** The four texts of §13.3, as the CLI prints them (`·` is U+00B7). */
const REVOKED = "OAuth token revoked · Please run /login";
const EXPIRED = "Please run /login · API Error: 401 OAuth token has expired. Please obtain a new token or refresh your existing token.";
const INVALID = "Please run /login · API Error: 401 Invalid bearer token";
const NOT_LOGGED_IN = "Not logged in · Please run /login";
const LOGIN_EXPIRED = "Login expired · Please run /login";

/**
 * A real 2.1.330 screen (the captured `server-error-200` pane: header, one answered turn, then a second prompt) with
 * its error block replaced by `block` and the input box showing `placeholder`.
 */
function realScreen(block: string[], placeholder = "Once fixed, resend your message", cols = 200): string[] {
  const lines = readFileSync(join(import.meta.dir, "..", "fixtures", "claude-2.1.330", "server-error-200.pane.txt"), "utf8").split("\n");
  const error = lines.findIndex((l) => l.startsWith("● API Error: 500"));
  const rule = "─".repeat(cols);
  return [...lines.slice(0, error), ...block, "", rule, `❯${NB}${placeholder}`, rule, "  ⏵⏵ bypass permissions on (shift+tab to cycle)"];
}

describe("classifyText() on the login texts of §13.3", () => {
  const cases: Array<[string, string]> = [
    [REVOKED, "revoked"], [EXPIRED, "expired"], [INVALID, "refused"], [NOT_LOGGED_IN, "not-logged-in"], [LOGIN_EXPIRED, "login-expired"],
    ["Please run /login · API Error: 403 Forbidden", "refused"],
  ];
  for (const [line, cause] of cases) {
    test(`returns login (${cause}) for "${line.slice(0, 50)}…"`, () => {
      expect(classifyText(line, OPTIONS)).toEqual({ kind: "login", cause, pattern: `login:${cause}`, line });
    });
  }
  test("keeps an ordinary API error transient", () => {
    expect(classifyText("API Error: 500 Internal server error", OPTIONS)).toMatchObject({ kind: "transient" });
  });
});

describe("classifyPane() with a lost login", () => {
  test("reads the 403 line under the gutter (`  ⎿  OAuth token revoked · Please run /login`)", () => {
    const lines = realScreen([`  ⎿ ${NB}${REVOKED}`]);
    expect(paneActivity(lines)).toBe("idle");
    expect(classifyPane(lines, OPTIONS)).toEqual({ kind: "login", cause: "revoked", pattern: "login:revoked", line: REVOKED });
  });

  test("reads the 401 error bullet (`● Please run /login · API Error: 401 …`) at 200 columns", () => {
    expect(classifyPane(realScreen([`● ${EXPIRED}`]), OPTIONS)).toMatchObject({ kind: "login", cause: "expired", line: EXPIRED });
  });

  test("joins the 401 line Ink wrapped at 80 columns (`Please run /login` stays on the first line)", () => {
    const wrapped = ["● Please run /login · API Error: 401 OAuth token has expired. Please", "  obtain a new token or refresh your existing token."];
    expect(classifyPane(realScreen(wrapped, undefined, 80), OPTIONS)).toMatchObject({ kind: "login", cause: "expired", line: EXPIRED });
  });

  test("reads `Not logged in` and the invalid bearer token", () => {
    expect(classifyPane(realScreen([`  ⎿ ${NB}${NOT_LOGGED_IN}`]), OPTIONS)).toMatchObject({ kind: "login", cause: "not-logged-in" });
    expect(classifyPane(realScreen([`● ${INVALID}`]), OPTIONS)).toMatchObject({ kind: "login", cause: "refused" });
  });

  test("takes the placeholder `❯ Once fixed, resend your message` under a new wording that names /login as a lost login", () => {
    const lines = realScreen(["● Your session ended · sign in again with /login"]);
    expect(inputText(lines)).toBe("");
    expect(classifyPane(lines, OPTIONS)).toEqual({ kind: "login", cause: "placeholder", pattern: "login:placeholder", line: "Once fixed, resend your message" });
  });

  test("does not take the placeholder under another error a person must fix (billing) for a lost login", () => {
    const lines = realScreen(["● Credit balance too low · Add funds: https://platform.claude.com/settings/billing"]);
    expect(classifyPane(lines, OPTIONS)).toEqual({ kind: "none" });
  });

  test("keeps the transient placeholder (`Resend your message to try again`) with a 500 transient", () => {
    const lines = realScreen(["● API Error: 500 Internal server error. This is a server-side issue, usually temporary."], "Resend your message to try again");
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "transient" });
  });

  test("does not read a login line the user typed, nor one from an earlier turn above the last prompt", () => {
    expect(classifyPane(realScreen([], "").map((l) => (l.startsWith("❯ Which word") ? `❯ ${REVOKED}` : l)), OPTIONS).kind).not.toBe("login");
    const earlier = realScreen([`  ⎿ ${NB}${REVOKED}`, "", "❯ try again", "● Fake API reply: done."], "");
    expect(classifyPane(earlier, OPTIONS)).toEqual({ kind: "none" });
  });

  test("does not read a login line shown by a tool as its output", () => {
    const tool = ["● Read(notes.md)", `  ⎿ ${NB}${REVOKED}`, "● The notes mention a revoked token."];
    expect(classifyPane(realScreen(tool, ""), OPTIONS).kind).not.toBe("login");
  });

  test("lets a transient error drawn below a login line win (the newer line)", () => {
    const lines = realScreen([`  ⎿ ${NB}${REVOKED}`, "● API Error: 529 Overloaded. This is a server-side issue, usually temporary."], "Resend your message to try again");
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "transient" });
  });
});

describe("the transcript record and the hook of a lost login (§13.3)", () => {
  /** The record §13.3 shows: `error: authentication_failed`, status 401|403, a synthetic assistant message with the line. */
  const record = (text: string, status: 401 | 403 | null) => ({
    type: "assistant", parentUuid: "0b0c4f8e-3a1d-4c55-9d55-6f2f6f1b2a10", isSidechain: false, uuid: "9d0f6a1e-5b7c-4d2e-8f3a-1c2b3d4e5f60",
    timestamp: "2026-11-29T01:40:02.000Z",
    message: { id: "6f5c2d1e-0a9b-4c8d-9e7f-1a2b3c4d5e6f", model: "<synthetic>", role: "assistant", stop_reason: "stop_sequence", type: "message", content: [{ type: "text", text }] },
    error: "authentication_failed", isApiErrorMessage: true,
    ...(status ? { apiErrorStatus: status, apiErrorType: status === 401 ? "authentication_error" : "permission_error", requestId: "req_011CabcDEF" } : {}),
    sessionId: "b7655b4b-2f0e-4d7e-9a55-0c1d2e3f4a5b", version: "2.1.330",
  });

  test("a 403 revoked record is login (revoked)", () => {
    expect(classifyTranscriptRecord(record(REVOKED, 403), OPTIONS)).toEqual({ kind: "login", cause: "revoked", pattern: "transcript:login:revoked", line: REVOKED });
  });
  test("a 401 expired record is login (expired)", () => {
    expect(classifyTranscriptRecord(record(EXPIRED, 401), OPTIONS)).toMatchObject({ kind: "login", cause: "expired" });
  });
  test("a no-credentials record (no status, no type) is login (not-logged-in)", () => {
    expect(classifyTranscriptRecord(record(NOT_LOGGED_IN, null), OPTIONS)).toMatchObject({ kind: "login", cause: "not-logged-in" });
  });
  test("`error: authentication_failed` with an unknown text is still login", () => {
    expect(classifyTranscriptRecord(record("Something new · sign in again", 401), OPTIONS)).toMatchObject({ kind: "login", cause: "authentication_failed" });
  });

  const hook = (message: string) => ({
    session_id: "b7655b4b-2f0e-4d7e-9a55-0c1d2e3f4a5b", hook_event_name: "StopFailure", error: "authentication_failed", last_assistant_message: message,
    effort: { level: "medium" },
  });
  test("StopFailure `authentication_failed` with the revoked line is login (revoked)", () => {
    expect(classifyStopFailure(hook(REVOKED), OPTIONS)).toEqual({ kind: "login", cause: "revoked", pattern: "stop_failure:login:revoked", line: REVOKED });
  });
  test("StopFailure `authentication_failed` with the 401 line is login (expired)", () => {
    expect(classifyStopFailure(hook(EXPIRED), OPTIONS)).toMatchObject({ kind: "login", cause: "expired" });
  });
  test("StopFailure `authentication_failed` with no text is login", () => {
    expect(classifyStopFailure({ hook_event_name: "StopFailure", error: "authentication_failed" }, OPTIONS)).toMatchObject({ kind: "login", cause: "authentication_failed", pattern: "stop_failure:authentication_failed" });
  });
  test("StopFailure `server_error` stays transient whatever its text", () => {
    expect(classifyStopFailure({ error: "server_error", last_assistant_message: REVOKED }, OPTIONS)).toMatchObject({ kind: "transient" });
  });
});
