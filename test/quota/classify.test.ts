/**
 * @module test/quota/classify
 * Specs for the pure quota classifier: every quota, transient and warning form of reference/claude-code.md §1, §2
 * and §7, each as a message text, inside a pane under the `⎿` gutter, wrapped by Claude Code at 60 columns and cut
 * at 60 columns; the seed incidents (0.2.1–0.2.3: 500s saying "rate limit", text in the conversation); the
 * whole-screen fixtures in test/fixtures/panes; panes, transcripts and hook payloads captured from the real Claude
 * Code 2.1.330 (test/fixtures/claude-2.1.330); hook and transcript signals.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  classifyPane, classifyStopFailure, classifyText, classifyTranscriptRecord, logicalLines, paneActivity, safeToType,
  type ClassifyOptions, type LimitKind, type PaneActivity, type Verdict,
} from "../../internal/quota/classify.ts";
import { parseConfig } from "../../internal/config/config.ts";
import { lastLimitInfo } from "../../internal/hook/hook.ts";

const NOW = Date.parse("2026-11-23T10:00:00Z"); // 11:00 in Paris (CET, UTC+1)
const OPTIONS: ClassifyOptions = { now: NOW, defaultZone: "Europe/Paris" };
const PARIS_3PM = Date.parse("2026-11-23T14:00:00Z");
const PARIS_NOV28_10AM = Date.parse("2026-11-28T09:00:00Z");
const PARIS_DEC1_12AM = Date.parse("2026-11-30T23:00:00Z");
const LEGACY_EPOCH_MS = 1_764_003_600_000;
const NB = "\u00a0";
const GUTTER = `  ⎿ ${NB}`;
const WRAP_COLS = 60;

const FIXTURES = join(import.meta.dir, "..", "fixtures", "panes");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8").split("\n");

/** A pane: earlier turns, a user echo, `body` under it, then the prompt box and its footer. */
function pane(body: string[], cols = 200, footer = "  ⏵⏵ bypass permissions on (shift+tab to cycle)"): string[] {
  const rule = "─".repeat(cols);
  return [
    "❯ Run the migration and report back", "", "● Bash(bun run migrate)", `${GUTTER}Migrated 14 tables`, "",
    "● Done. Continuing with the next step.", "", "❯ continue", ...body, "", rule, `❯${NB}`, rule, footer, "", "", "",
  ];
}

/** The message as Claude Code prints it under the gutter (`✻ ` of status lines dropped). */
const gutterLine = (text: string) => GUTTER + text.replace(/^✻ /, "");

/** Wraps like Ink: greedy words into `cols - 5` columns, continuation lines indented 5 spaces; over-long words broken. */
function inkWrap(text: string, cols = WRAP_COLS): string[] {
  const room = cols - 5;
  const lines: string[] = [];
  let line = "";
  for (let word of text.replace(/^✻ /, "").split(" ")) {
    while ([...word].length > room) {
      if (line) lines.push(line);
      lines.push([...word].slice(0, room).join(""));
      word = [...word].slice(room).join("");
      line = "";
    }
    if (!line) line = word;
    else if ([...line].length + 1 + [...word].length <= room) line += ` ${word}`;
    else { lines.push(line); line = word; }
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? GUTTER : "     ") + l);
}

/** Cuts the gutter line every `cols` columns, as a terminal wraps it; tmux drops trailing spaces. */
function hardCut(text: string, cols = WRAP_COLS): string[] {
  const chars = [...gutterLine(text)];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += cols) out.push(chars.slice(i, i + cols).join("").trimEnd());
  return out;
}

/** What the verdict's `line` should read: gutter and `✻ ` gone, NBSP and typographic apostrophes normalized. */
const expectedLine = (text: string) => text.replace(/^✻ /, "").replace(/\u00a0/g, " ").replace(/\u2019/g, "'");
const squash = (s: string) => s.replace(/\s+/g, "");

interface QuotaCase { text: string; limit: LimitKind; resetAt?: number }
const q = (text: string, limit: LimitKind, resetAt?: number): QuotaCase => ({ text, limit, resetAt });

const QUOTA_2_1_330: QuotaCase[] = [
  q("You've hit your 5-hour limit · resets 3pm (Europe/Paris)", "five_hour", PARIS_3PM),
  q("You've hit your 5-hour limit · resets 3pm (Europe/Paris) · progress saved", "five_hour", PARIS_3PM),
  q("You've hit your weekly limit · resets Nov 28, 10am (Europe/Paris)", "weekly", PARIS_NOV28_10AM),
  q("You've hit your Opus limit · resets Nov 28, 10am (Europe/Paris)", "opus", PARIS_NOV28_10AM),
  q("You've hit your Sonnet limit · resets Nov 28, 10am (Europe/Paris)", "sonnet", PARIS_NOV28_10AM),
  q("You've hit your Fable limit · resets Nov 28, 10am (Europe/Paris)", "fable", PARIS_NOV28_10AM),
  q("You've hit your 5-hour limit · resets 3pm (Europe/Paris) · out of usage credits", "five_hour", PARIS_3PM),
  q("You've hit your usage limit · resets 3pm (Europe/Paris)", "usage", PARIS_3PM),
  q("You've hit your usage limit · resets 3pm (Europe/Paris) · progress saved", "usage", PARIS_3PM),
  q("You've hit your usage limit", "usage"),
  q("You've hit your usage limit · contact your admin to increase it", "usage"),
  q("You've hit your limit · resets 3pm (Europe/Paris)", "usage", PARIS_3PM),
  q("You're out of usage credits · resets 3pm (Europe/Paris)", "credits", PARIS_3PM),
  q("You're out of usage credits · resets 3pm (Europe/Paris) · progress saved", "credits", PARIS_3PM),
  q("Your org is out of usage · add funds to continue", "org"),
  q("Your org is out of usage · contact your admin", "org"),
  q("You've hit your org's monthly usage limit · resets Dec 1, 12am (Europe/Paris)", "org", PARIS_DEC1_12AM),
  q("You've hit your individual usage limit · resets Dec 1, 12am (Europe/Paris)", "usage", PARIS_DEC1_12AM),
  q("You've hit your channel's monthly usage limit · an org owner or channel manager can raise it in the channel's Claude settings · resets Dec 1, 12am (Europe/Paris)", "org", PARIS_DEC1_12AM),
  q("You've hit your monthly spend limit · raise it at https://claude.ai/settings/usage?from=cc_cli_limit_message", "spend"),
  q("You've hit your org's monthly spend limit · ask your admin to raise it at https://claude.ai/admin-settings/usage", "spend"),
  q("You've hit your individual spend limit · ask your admin to raise it at https://claude.ai/admin-settings/usage", "spend"),
  q("You've hit your monthly spend limit · raise it at https://claude.ai/settings/usage · your 5-hour limit resets 3pm (Europe/Paris)", "spend", PARIS_3PM),
  q("You've hit your team's pooled group budget · resets Dec 1, 12am (Europe/Paris) · ask your admin to raise it · your 5-hour limit resets 3pm (Europe/Paris)", "org", PARIS_DEC1_12AM),
  q("Your seat type doesn't include usage credits", "credits"),
  q("Your seat type doesn't include usage", "org"),
  q("This service is disabled for your org", "org"),
  q("Your usage allocation has been disabled by your admin · run /usage-credits to ask your admin for a higher limit", "org"),
  q("Your group's usage limit is set to $0 · run /usage-credits to ask your admin for a higher limit", "org"),
  q("Your group's usage limit is set to $0 · ask your admin for a higher limit", "org"),
  q("Usage is paused for your organization. For help, please contact support.", "org"),
  q("Fable requires usage credits. Run /usage-credits to continue or switch models with /model.", "credits"),
  q("You've hit your team's pooled group budget. It resets Dec 1, 12am (Europe/Paris). /model to switch models.", "org", PARIS_DEC1_12AM),
  q("Usage limit reached · set to continue automatically at 3pm", "usage", PARIS_3PM),
  q("Usage limit reached again · set to continue automatically at 3pm", "usage", PARIS_3PM),
  q("Continuing automatically at 3pm · Esc to cancel", "unknown", PARIS_3PM),
  q("✻ 5-hour limit reached · retrying in 2h (3pm) · attempt 1/10", "five_hour", PARIS_3PM),
];

const QUOTA_2_1_197: QuotaCase[] = [
  q("You've hit your session limit · resets 3pm (Europe/Paris)", "five_hour", PARIS_3PM),
  q("You've hit your weekly limit · resets Nov 28, 10am (Europe/Paris)", "weekly", PARIS_NOV28_10AM),
  q("You've hit your Opus limit · resets Nov 28, 10am (Europe/Paris)", "opus", PARIS_NOV28_10AM),
  q("You've hit your Sonnet limit · resets Nov 28, 10am (Europe/Paris)", "sonnet", PARIS_NOV28_10AM),
  q("You've hit your Fable 5 limit · resets Nov 28, 10am (Europe/Paris)", "fable", PARIS_NOV28_10AM),
  q("You've hit your usage limit · resets 3pm (Europe/Paris)", "usage", PARIS_3PM),
  q("You've hit your limit · resets 3pm (Europe/Paris)", "usage", PARIS_3PM),
  q("You're out of usage credits", "credits"),
  q("You've hit your org's monthly spend limit · run /usage-credits to raise it, or visit claude.ai/admin-settings/usage", "spend"),
  q("You've hit your org's monthly spend limit · run /usage-credits to ask your admin for a higher limit", "spend"),
  q("You've hit your monthly spend limit · raise it at claude.ai/settings/usage", "spend"),
  q("You've hit your org's monthly spend limit · ask your admin to raise it at claude.ai/settings/usage", "spend"),
  q("API Error: Usage credits required for 1M context · run /usage-credits to turn them on, or /model to switch to standard context", "credits"),
  q("You're out of usage credits. Run /usage-credits to keep using Fable 5 or /model to switch models.", "credits"),
  q("You're out of usage credits. /model to switch models.", "credits"),
  q("You've hit your monthly spend limit. Run /usage-credits to manage your limit and keep using Fable 5 or switch models to continue this chat.", "spend"),
  q("You've hit your monthly spend limit. /model to switch models.", "spend"),
  q("You've reached your Fable 5 limit. Run /usage-credits to continue or switch models with /model.", "fable"),
  q("You've reached your Fable 5 limit. /model to switch models.", "fable"),
  q("Fable 5 requires usage credits. Run /usage-credits to continue or switch models with /model.", "credits"),
  q("Fable 5 requires usage credits. /model to switch models.", "credits"),
  q("Opus 4 requires usage credits. /model to switch models.", "credits"),
  q("✻ Session limit reached · Retrying in 2h (3pm) · attempt 1/10", "five_hour", PARIS_3PM),
];

const QUOTA_LEGACY: QuotaCase[] = [
  q("You've hit your session limit · resets 3pm (Europe/Paris)", "five_hour", PARIS_3PM), // 2.0.77
  q("You're out of extra usage · resets 3pm (Europe/Paris)", "credits", PARIS_3PM), // 2.0.77
  q("Session limit reached ∙ resets 3pm", "five_hour", PARIS_3PM), // 1.0.128 from here on
  q("Weekly limit reached ∙ resets Nov 28, 10am", "weekly", PARIS_NOV28_10AM),
  q("Opus weekly limit reached ∙ resets Nov 28, 10am", "opus", PARIS_NOV28_10AM),
  q("Usage limit reached ∙ resets 3pm", "usage", PARIS_3PM),
  q("Spending cap reached ∙ resets 3pm", "spend", PARIS_3PM),
  q("Session limit resets 3pm (Europe/Paris) ∙ contact an admin to keep working", "five_hour", PARIS_3PM),
  q("Weekly limit reached ∙ contact an admin to keep working", "weekly"),
  q("Limit reached – contact an admin to keep working", "org"),
  q("Claude usage limit reached. Your limit will reset at 3pm.", "usage", PARIS_3PM),
  q("Claude AI usage limit reached|1764003600", "usage", LEGACY_EPOCH_MS),
];

const QUOTA_CASES: Array<[string, QuotaCase]> = [
  ...QUOTA_2_1_330.map((c) => ["2.1.330", c] as [string, QuotaCase]),
  ...QUOTA_2_1_197.map((c) => ["2.1.197", c] as [string, QuotaCase]),
  ...QUOTA_LEGACY.map((c) => ["legacy", c] as [string, QuotaCase]),
];

const TRANSIENT_CASES: string[] = [
  "API Error: 500 Internal server error. This is a server-side issue, usually temporary — try again in a moment. If it persists, check https://status.claude.com.",
  "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment. If it persists, check https://status.claude.com.",
  "API Error: 502 Bad Gateway. This is a server-side issue, usually temporary — try again in a moment. If it persists, check https://status.claude.com.",
  "API Error: Repeated 529 Overloaded errors. The API is at capacity — this is usually temporary. Try again in a moment. If it persists, check https://status.claude.com.",
  "API Error: Overloaded",
  "API Error: Internal server error",
  "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited",
  "API Error: Server is temporarily limiting requests (not your usage limit) · this may be a temporary capacity issue. If it persists, check https://status.claude.com.",
  "API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit",
  "API Error: Connection to the API was lost (ECONNRESET). This is usually temporary — try again.",
  "API Error: Unable to connect to API (ECONNREFUSED)",
  "API Error: Unable to connect to API. Check your internet connection",
  "API Error: Request timed out. Check your internet connection and proxy settings",
  "API Error: SSL certificate has expired",
  "API Error: Please wait a moment and try again.",
  "API Error: Wait a moment and try again.",
  "API Error: 500 Internal server error. If it persists, check your inference gateway (llm.example.internal).",
  "API Error: Rate limit reached",
  "API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error (upstream rate limit)\"},\"request_id\":\"req_011CV6a\"}",
  "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},\"request_id\":\"req_011CV6b\"}",
  "Request timed out",
  "Request timed out (API_TIMEOUT_MS=600000ms, try increasing it)",
  "We are experiencing high demand for Opus 4.",
  "We are experiencing high demand for Fable 5.",
  "Switched to Sonnet 4.5 due to high demand for Opus 4",
  "✻ API error · Retrying in 8s · attempt 2/10",
  "✻ 529 Overloaded · Retrying in 32s · attempt 10/10",
  "✻ API error · retrying in 8s · attempt 2/10",
  "✻ API error · retrying… · attempt 3/10",
  "✻ Waiting for API response · will retry in 30s · check your network",
  "✻ No response from the API after 5m · retrying, waiting up to 10m · attempt 1/10",
  "529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
  "Retrying in 16 seconds… (attempt 4/10)",
];

interface WarningCase { text: string; resetAt?: number }
const WARNING_CASES: WarningCase[] = [
  { text: "You've used 91% of your session limit · resets 3pm (Europe/Paris)", resetAt: PARIS_3PM },
  { text: "You've used 91% of your session limit · resets 3pm (Europe/Paris) · /upgrade to keep using Claude Code", resetAt: PARIS_3PM },
  { text: "You've used 91% of your 5-hour limit · resets 3pm (Europe/Paris) · /upgrade to keep using Claude Code", resetAt: PARIS_3PM },
  { text: "You've used 91% of your 5-hour limit · resets 3pm (Europe/Paris) · try /model sonnet · ~2× runway", resetAt: PARIS_3PM },
  { text: "Approaching weekly limit · resets Nov 28, 10am (Europe/Paris)", resetAt: PARIS_NOV28_10AM },
  { text: "Approaching 5-hour limit · resets 3pm (Europe/Paris) · try /effort medium", resetAt: PARIS_3PM },
  { text: "Over 90% of your weekly limit used · resets Nov 28, 10am (Europe/Paris)", resetAt: PARIS_NOV28_10AM },
  { text: "Over 90% of your usage credit limit used" },
  { text: "You're close to your usage credit limit" },
  { text: "You're now using usage credits · Your session limit resets 3pm (Europe/Paris)", resetAt: PARIS_3PM },
  { text: "You're now using usage credits · Your 5-hour limit resets 3pm (Europe/Paris)", resetAt: PARIS_3PM },
  { text: "You're now using extra usage" },
  { text: "Now using usage credits" },
  { text: "Now using credits" },
  { text: "Now using usage credits for Fable 5 · Your Fable 5 limit resets Nov 28, 10am (Europe/Paris)", resetAt: PARIS_NOV28_10AM },
];

const FAST_MODE_LINES = [
  "You've hit your fast limit · resets in 5m",
  "Fast limit reached and temporarily disabled · resets in 5m",
  "Fast mode overloaded and is temporarily unavailable · resets in 5m",
];

/** Not a limit, not an error worth a verdict: ends of turns and notices that look alike. */
const NONE_LINES = [
  "Usage limit reset · Continuing automatically",
  "Automatic continue stopped · your login changed or ended · send a prompt to continue",
  "Context limit reached · /compact or /clear to continue",
  "Interrupted · What should Claude do instead?",
  "What do you want to do?",
];

/** The four renderings every quota/transient/warning case is checked in. */
const FORMS: Array<[string, (text: string) => Verdict]> = [
  ["as a message text", (text) => classifyText(text, OPTIONS)],
  ["under the gutter above the prompt box", (text) => classifyPane(pane([gutterLine(text)]), OPTIONS)],
  ["wrapped by Claude Code at 60 columns", (text) => classifyPane(pane(inkWrap(text), WRAP_COLS), OPTIONS)],
  ["cut by the terminal at 60 columns", (text) => classifyPane(pane(hardCut(text), WRAP_COLS), OPTIONS)],
];

for (const [form, classify] of FORMS) {
  describe(`quota lines ${form}`, () => {
    for (const [version, c] of QUOTA_CASES) {
      test(`returns quota (${c.limit}) for ${version} "${c.text}"`, () => {
        const v = classify(c.text);
        expect(v.kind).toBe("quota");
        if (v.kind !== "quota") return;
        expect(v.limit).toBe(c.limit);
        expect(v.resetAt).toBe(c.resetAt);
        expect(v.pattern).toMatch(/^quota:/);
        expect(squash(v.line)).toBe(squash(expectedLine(c.text)));
      });
    }
  });

  describe(`transient lines ${form}`, () => {
    for (const text of TRANSIENT_CASES) {
      test(`returns transient for "${text}"`, () => {
        const v = classify(text);
        expect(v.kind).toBe("transient");
        if (v.kind === "transient") expect(v.pattern).toMatch(/^transient:/);
      });
    }
  });

  describe(`warning lines ${form}`, () => {
    for (const c of WARNING_CASES) {
      test(`returns warning for "${c.text}"`, () => {
        const v = classify(c.text);
        expect(v.kind).toBe("warning");
        if (v.kind === "warning") expect(v.resetAt).toBe(c.resetAt);
      });
    }
  });

  describe(`fast-mode and look-alike lines ${form}`, () => {
    for (const text of [...FAST_MODE_LINES, ...NONE_LINES]) {
      test(`returns none for "${text}"`, () => expect(classify(text)).toEqual({ kind: "none" }));
    }
  });
}

describe("classifyText()", () => {
  test("keeps the exact quota line as evidence, without the gutter", () => {
    expect(classifyText(`${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`, OPTIONS)).toEqual({
      kind: "quota", limit: "five_hour", resetAt: PARIS_3PM, pattern: "quota:hit-your-limit",
      line: "You've hit your session limit · resets 3pm (Europe/Paris)",
    });
  });

  test("returns transient when a 500 text also mentions a rate limit (seed 0.2.2)", () => {
    const text = "API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"rate limit exceeded upstream\"}}";
    expect(classifyText(text, OPTIONS).kind).toBe("transient");
  });

  test("returns quota for a multi-line limit message with its hint", () => {
    const v = classifyText("You've hit your weekly limit · resets Nov 28, 10am (Europe/Paris)\n/upgrade to increase your usage limit.", OPTIONS);
    expect(v).toMatchObject({ kind: "quota", limit: "weekly", resetAt: PARIS_NOV28_10AM });
  });

  test("returns none for a sentence that only quotes a limit message", () => {
    expect(classifyText("I see the error \"You've hit your session limit · resets 3pm\" in the log.", OPTIONS).kind).toBe("none");
  });

  test("returns none for an empty text", () => expect(classifyText("", OPTIONS)).toEqual({ kind: "none" }));
});

describe("classifyPane() on whole-screen fixtures", () => {
  const cases: Array<[string, Partial<Verdict> & { kind: Verdict["kind"] }]> = [
    ["idle.txt", { kind: "none" }],
    ["busy.txt", { kind: "none" }],
    ["quota-2.1.330.txt", { kind: "quota", limit: "five_hour", resetAt: PARIS_3PM, pattern: "quota:hit-your-limit" }],
    ["quota-2.1.197-hint.txt", { kind: "quota", limit: "five_hour", resetAt: PARIS_3PM, line: "You've hit your session limit · resets 3pm (Europe/Paris)" }],
    ["error-529.txt", { kind: "transient", pattern: "transient:api-error" }],
    ["error-500-json-legacy.txt", { kind: "transient", pattern: "transient:api-error" }],
    ["conversation-quotes-quota.txt", { kind: "none" }],
    ["read-tool-quota-in-body.txt", { kind: "none" }],
    ["warning-footer.txt", { kind: "warning", pattern: "warning:used-percent", resetAt: PARIS_3PM }],
    ["modal-dialog.txt", { kind: "quota", limit: "five_hour", resetAt: PARIS_3PM }],
    ["retry-line.txt", { kind: "transient", pattern: "transient:retry-line" }],
    ["narrow-wrapped-quota.txt", { kind: "quota", limit: "five_hour", resetAt: PARIS_NOV28_10AM, line: "You've hit your 5-hour limit · resets Nov 28, 10am (Europe/Paris) · progress saved" }],
    ["quota-behind-500.txt", { kind: "transient", pattern: "transient:api-error" }],
    ["shell.txt", { kind: "none" }],
  ];
  for (const [name, expected] of cases) {
    test(`returns ${expected.kind} for ${name}`, () => expect(classifyPane(fixture(name), OPTIONS)).toMatchObject(expected));
  }
});

describe("classifyPane() reads only the bottom region", () => {
  test("returns transient when a 500 and a limit line share the region (seed 0.2.3)", () => {
    const body = ["● API Error: 500 Internal server error", `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("transient");
  });

  test("returns none for a limit line above the last user message", () => {
    const lines = pane([`${GUTTER}Sure, carrying on.`]);
    lines.splice(1, 0, `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`);
    expect(classifyPane(lines, OPTIONS).kind).toBe("none");
  });

  test("returns none for a limit line more than 8 non-blank lines above the prompt box", () => {
    const body = [`${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`, ...Array.from({ length: 8 }, (_, i) => `Line ${i} of /status output`)];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns quota for a limit line exactly 8 non-blank lines above the prompt box", () => {
    const body = [`${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`, ...Array.from({ length: 7 }, (_, i) => `Line ${i} of /status output`)];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("quota");
  });

  test("returns none when assistant prose starts with a limit message", () => {
    const body = ["● You've hit your session limit · resets 3pm (Europe/Paris) is what Claude Code prints when", "  the 5-hour window is used up."];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns none when a later paragraph of assistant prose starts with a limit message", () => {
    const body = ["● The daemon matched this line:", "", "  You've hit your session limit · resets 3pm (Europe/Paris)", "", "  It then swapped accounts."];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns none when a tool's output in the last block starts with the limit sentence", () => {
    const body = ["", "● Bash(head -3 notes/incident.md)", `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`, "     /upgrade to increase your usage limit.", "     Seen on ccl-1 at 14:02."];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns none when a tool's output in the last block quotes the limit sentence on a later line", () => {
    const body = ["", "● Read(notes/incident.md)", `${GUTTER}# Incident`, "", "     You've hit your session limit · resets 3pm (Europe/Paris)"];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns none when an MCP tool's output in the last block starts with the limit sentence", () => {
    const body = ["", "● context7 - get-library-docs (MCP)(libraryID: \"/anthropic/claude-code\")", `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns quota for a limit line right under assistant prose with parentheses", () => {
    const body = ["", "● Running the suite again (it takes a minute).", `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`];
    expect(classifyPane(pane(body), OPTIONS)).toMatchObject({ kind: "quota", resetAt: PARIS_3PM });
  });

  test("returns quota for a limit line that follows a tool's output", () => {
    const body = ["", "● Bash(ls)", `${GUTTER}README.md`, `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`];
    expect(classifyPane(pane(body), OPTIONS)).toMatchObject({ kind: "quota", resetAt: PARIS_3PM });
  });

  test("returns none for a stale limit line while a spinner shows the session working", () => {
    const body = [`${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`, "", "✻ Pondering… (12s · ↓ 1.2k tokens · thinking)"];
    expect(classifyPane(pane(body), OPTIONS).kind).toBe("none");
  });

  test("returns none for a user message that pastes a limit line", () => {
    const lines = pane([]);
    lines.splice(lines.indexOf("❯ continue"), 1, "❯ You've hit your session limit · resets 3pm (Europe/Paris) — what does this mean?");
    expect(classifyPane(lines, OPTIONS).kind).toBe("none");
  });

  test("returns quota for a limit line rendered with colours", () => {
    const body = [`  \x1b[2m⎿ ${NB}\x1b[0m\x1b[31mYou've hit your session limit · resets 3pm (Europe/Paris)\x1b[39m`];
    expect(classifyPane(pane(body), OPTIONS)).toMatchObject({ kind: "quota", limit: "five_hour", resetAt: PARIS_3PM });
  });

  test("returns quota under TERM=linux, where the prompt is `>`", () => {
    const lines = pane([`${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`]).map((l) => l.replace(/^❯/, ">"));
    expect(classifyPane(lines, OPTIONS).kind).toBe("quota");
  });

  test("returns quota for a retry status line of a watchdog session", () => {
    expect(classifyPane(pane(["", "✻ 5-hour limit reached · retrying in 2h (3pm) · attempt 1/10"]), OPTIONS)).toMatchObject({ kind: "quota", limit: "five_hour", resetAt: PARIS_3PM });
  });

  test("returns transient for a 529 API error bullet wrapped over two lines", () => {
    const body = ["", "● API Error: 529 Overloaded. This is a server-side issue, usually temporary —", "  try again in a moment."];
    expect(classifyPane(pane(body, 80), OPTIONS).kind).toBe("transient");
  });

  test("prefers the limit line that names its zone over the auto-continue line", () => {
    const body = [`${GUTTER}You've hit your 5-hour limit · resets 3pm (Asia/Kolkata)`, "", "Continuing automatically at 3pm · Esc to cancel"];
    expect(classifyPane(pane(body), OPTIONS)).toMatchObject({ kind: "quota", limit: "five_hour", resetAt: Date.parse("2026-11-24T09:30:00Z") });
  });

  test("reads the last lines of a pane without a prompt box (claude -p output in a shell)", () => {
    const lines = ["me@build-01:~$ claude -p 'summarise'", "You've hit your session limit · resets 3pm (Europe/Paris)", "me@build-01:~$", ""];
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "quota", resetAt: PARIS_3PM });
  });

  test("returns none for an empty capture", () => expect(classifyPane([], OPTIONS)).toEqual({ kind: "none" }));
});

describe("classifyPane() and hint/dialog lines without a limit line", () => {
  test("returns quota with no reset time for a hint line whose limit line scrolled out of the region", () => {
    const body = [`${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`, "     /upgrade to increase your usage limit.", ...Array.from({ length: 7 }, (_, i) => `Line ${i} of /status output`)];
    expect(classifyPane(pane(body), OPTIONS)).toEqual({
      kind: "quota", limit: "unknown", pattern: "secondary:hint-upgrade", line: "/upgrade to increase your usage limit.",
    });
  });

  test("returns quota with no reset time for the limit dialog alone", () => {
    const lines = ["─".repeat(80), " What do you want to do?", "", " ❯ 1. Stop and wait for limit to reset", "   2. Upgrade your plan", "", " Enter to confirm · Esc to cancel"];
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "quota", limit: "unknown", pattern: "secondary:dialog-stop-and-wait" });
  });

  test("returns quota for the 2.1.330 auto-continue option alone", () => {
    const lines = [" What do you want to do?", " ❯ 1. Wait here, then continue automatically at 3pm", "   2. Stop and wait for limit to reset"];
    expect(classifyPane(lines, OPTIONS).kind).toBe("quota");
  });

  test("returns none for a bare \"What do you want to do?\" question", () => {
    const lines = [" What do you want to do?", "", " ❯ 1. Refactor the parser first", "   2. Write the tests first"];
    expect(classifyPane(lines, OPTIONS).kind).toBe("none");
  });

  test("returns transient when a hint line sits next to a server error", () => {
    expect(classifyPane(pane(["● API Error: Overloaded", "     /upgrade to increase your usage limit."]), OPTIONS).kind).toBe("transient");
  });
});

describe("classifyPane() warnings", () => {
  test("returns warning from the footer of an idle session", () => {
    const v = classifyPane(pane([`${GUTTER}Done.`], 160, `  ? for shortcuts${" ".repeat(30)}Approaching weekly limit · resets Nov 28, 10am (Europe/Paris)`), OPTIONS);
    expect(v).toMatchObject({ kind: "warning", pattern: "warning:approaching-limit", resetAt: PARIS_NOV28_10AM });
  });

  test("returns warning from the footer of a busy session", () => {
    const footer = `  ⏵⏵ bypass permissions on · esc to interrupt${" ".repeat(20)}You've used 95% of your weekly limit · resets Nov 28, 10am (Europe/Paris)`;
    expect(classifyPane(pane(["", "✶ Refactoring… (3s)"], 160, footer), OPTIONS).kind).toBe("warning");
  });

  test("ignores a limit line in the footer", () => {
    expect(classifyPane(pane([`${GUTTER}Done.`], 160, `  ? for shortcuts    You've hit your session limit · resets 3pm (Europe/Paris)`), OPTIONS).kind).toBe("none");
  });

  test("returns quota, not warning, when a limit line sits above a warning footer", () => {
    const v = classifyPane(pane([`${GUTTER}You've hit your weekly limit · resets Nov 28, 10am (Europe/Paris)`], 160, "  You've used 91% of your session limit"), OPTIONS);
    expect(v.kind).toBe("quota");
  });

  test("returns none for a fast-mode notice in the footer", () => {
    expect(classifyPane(pane([`${GUTTER}Done.`], 160, "  ? for shortcuts     Fast limit reached and temporarily disabled · resets in 5m"), OPTIONS).kind).toBe("none");
  });
});

describe("classifyPane() with patterns from config", () => {
  const extra: ClassifyOptions = { ...OPTIONS, extraQuotaPatterns: [/^Quota exhausted for workspace/g], extraTransientPatterns: [/^Gateway hiccup/i] };

  test("returns quota for a line matching an extra quota pattern", () => {
    const v = classifyPane(pane([`${GUTTER}Quota exhausted for workspace acme · resets 3pm (Europe/Paris)`]), extra);
    expect(v).toMatchObject({ kind: "quota", pattern: "extra-quota:^Quota exhausted for workspace", resetAt: PARIS_3PM });
  });

  test("matches a global extra pattern on every call", () => {
    const lines = pane([`${GUTTER}Quota exhausted for workspace acme`]);
    expect([classifyPane(lines, extra).kind, classifyPane(lines, extra).kind]).toEqual(["quota", "quota"]);
  });

  test("returns transient for a line matching an extra transient pattern", () => {
    expect(classifyPane(pane([`${GUTTER}gateway hiccup, retrying`]), extra)).toMatchObject({ kind: "transient", pattern: "extra-transient:^Gateway hiccup" });
  });

  test("lets an extra transient pattern veto a built-in quota line", () => {
    const body = [`${GUTTER}Gateway hiccup (502)`, `${GUTTER}You've hit your session limit · resets 3pm (Europe/Paris)`];
    expect(classifyPane(pane(body), extra).kind).toBe("transient");
  });

  test("does not apply an extra quota pattern to the scrollback", () => {
    const lines = pane([`${GUTTER}All good.`]);
    lines.splice(1, 0, `${GUTTER}Quota exhausted for workspace acme`);
    expect(classifyPane(lines, extra).kind).toBe("none");
  });

  test("applies extra patterns to message texts too", () => {
    expect(classifyText("Quota exhausted for workspace acme", extra).kind).toBe("quota");
  });
});

describe("paneActivity()", () => {
  const cases: Array<[string, string[], PaneActivity]> = [
    ["idle.txt", fixture("idle.txt"), "idle"],
    ["busy.txt", fixture("busy.txt"), "busy"],
    ["retry-line.txt", fixture("retry-line.txt"), "busy"],
    ["quota-2.1.197-hint.txt", fixture("quota-2.1.197-hint.txt"), "idle"],
    ["modal-dialog.txt", fixture("modal-dialog.txt"), "dialog"],
    ["shell.txt", fixture("shell.txt"), "shell"],
    ["a permission prompt", ["● Bash(rm -rf build)", "", " Bash command", "   rm -rf build", " Do you want to proceed?", " ❯ 1. Yes", "   2. No, and tell Claude what to do differently (esc)"], "waiting"],
    ["a root shell", ["root@build-01:/#"], "shell"],
    ["an empty capture", ["", ""], "unknown"],
    ["a pager", ["NAME", "     tmux - terminal multiplexer", ":"], "unknown"],
    ["a progress bar ending in %", ["Downloading model", "[##########] 100%"], "unknown"],
  ];
  for (const [name, lines, expected] of cases) {
    test(`returns ${expected} for ${name}`, () => expect(paneActivity(lines)).toBe(expected));
  }
});

describe("classifyStopFailure()", () => {
  const limit = "You've hit your session limit · resets 3pm (Europe/Paris)";
  const cases: Array<[string, Parameters<typeof classifyStopFailure>[0], Partial<Verdict> & { kind: Verdict["kind"] }]> = [
    ["quota for rate_limit with a limit line", { hook_event_name: "StopFailure", error: "rate_limit", last_assistant_message: limit }, { kind: "quota", limit: "five_hour", resetAt: PARIS_3PM, pattern: "stop_failure:quota:hit-your-limit" }],
    ["quota for rate_limit with the legacy epoch text", { error: "rate_limit", last_assistant_message: "Claude AI usage limit reached|1764003600" }, { kind: "quota", resetAt: LEGACY_EPOCH_MS }],
    ["transient for rate_limit saying \"not your usage limit\"", { hook_event_name: "StopFailure", error: "rate_limit", last_assistant_message: "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited" }, { kind: "transient" }],
    ["transient for rate_limit with a 429 rejection", { error: "rate_limit", last_assistant_message: "API Error: Request rejected (429) · too many requests" }, { kind: "transient" }],
    ["transient for rate_limit with no text", { error: "rate_limit" }, { kind: "transient", pattern: "stop_failure:rate_limit" }],
    ["transient for rate_limit whose details say \"not your usage limit\"", { error: "rate_limit", last_assistant_message: limit, error_details: "Server is temporarily limiting requests (not your usage limit)" }, { kind: "transient" }],
    ["transient for server_error", { error: "server_error", last_assistant_message: "API Error: 500 Internal server error" }, { kind: "transient", pattern: "stop_failure:server_error" }],
    ["transient for overloaded, whatever the text", { error: "overloaded", last_assistant_message: limit }, { kind: "transient", pattern: "stop_failure:overloaded" }],
    ["login for an authentication failure", { error: "authentication_failed", last_assistant_message: "Not logged in · Please run /login" }, { kind: "login", cause: "not-logged-in" }],
    ["none for billing_error even with a limit line", { error: "billing_error", last_assistant_message: limit }, { kind: "none" }],
    ["transient for an unknown error with a connection text", { error: "unknown", last_assistant_message: "API Error: Connection to the API was lost (ECONNRESET)." }, { kind: "transient" }],
    ["none for a Stop event quoting a limit line", { hook_event_name: "Stop", error: "rate_limit", last_assistant_message: limit }, { kind: "none" }],
  ];
  for (const [name, event, expected] of cases) {
    test(`returns ${name}`, () => expect(classifyStopFailure(event, OPTIONS)).toMatchObject(expected));
  }
});

describe("a zone-less reset time (\"resets 4am\")", () => {
  // NOW is 10:00 UTC: 19:00 in Tokyo, 11:00 in Paris, 05:00 in New York. The supervisor passes claude.timezone.
  const hit = "You've hit your 5-hour limit · resets 4am";
  const cases: Array<[string, number]> = [
    ["Asia/Tokyo", Date.parse("2026-11-23T19:00:00Z")],
    ["Europe/Paris", Date.parse("2026-11-24T03:00:00Z")],
    ["America/New_York", Date.parse("2026-11-24T09:00:00Z")],
    ["UTC", Date.parse("2026-11-24T04:00:00Z")],
  ];
  for (const [zone, resetAt] of cases) {
    test(`is read in the panes' zone: ${zone} → ${new Date(resetAt).toISOString()}`, () => {
      const config = parseConfig(`accounts: [{ name: a, home: /h/a }]\nclaude: { timezone: ${zone} }\nnotifications: { timezone: Pacific/Auckland }\n`, "", { env: {}, home: "/root" });
      const options = { now: NOW, defaultZone: config.claude.timezone };
      expect(classifyStopFailure({ hook_event_name: "StopFailure", error: "rate_limit", last_assistant_message: hit }, options)).toMatchObject({ kind: "quota", resetAt });
    });
  }
});

describe("classifyTranscriptRecord()", () => {
  const limit = "You've hit your 5-hour limit · resets 3pm (Europe/Paris)";
  const apiError = (fields: Record<string, unknown>, text: string) => ({
    type: "assistant", isApiErrorMessage: true, ...fields,
    message: { model: "<synthetic>", role: "assistant", content: [{ type: "text", text }] },
  });
  const cases: Array<[string, unknown, Partial<Verdict> & { kind: Verdict["kind"] }]> = [
    ["quota for a 2.1.330 usage_limit_reached record", apiError({ error: "rate_limit", apiError: "usage_limit_reached", apiErrorStatus: 429 }, limit), { kind: "quota", limit: "five_hour", resetAt: PARIS_3PM }],
    ["quota for usage_limit_reached with an unknown text", apiError({ apiError: "usage_limit_reached" }, "Limits hit, come back later"), { kind: "quota", limit: "unknown", pattern: "transcript:usage_limit_reached" }],
    ["quota for a 2.1.197 rate_limit record with a limit line", apiError({ error: "rate_limit", apiErrorStatus: 429 }, limit), { kind: "quota", resetAt: PARIS_3PM }],
    ["transient for a 429 flagged apiErrorIsTransient", apiError({ error: "rate_limit", apiErrorIsTransient: true }, "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited"), { kind: "transient", pattern: "transcript:apiErrorIsTransient" }],
    ["transient for the ambiguous 2.0.77 rate limit", apiError({ error: "rate_limit" }, "API Error: Rate limit reached"), { kind: "transient" }],
    ["transient for a 500 record", apiError({ error: "server_error", apiErrorStatus: 500 }, "API Error: 500 Internal server error"), { kind: "transient" }],
    ["transient for a 529 record without a text rule", apiError({ apiErrorStatus: 529 }, "Overloaded"), { kind: "transient" }],
    ["quota for a 1.0.x record with the epoch text", { type: "assistant", isApiErrorMessage: true, message: { content: "Claude AI usage limit reached|1764003600" } }, { kind: "quota", resetAt: LEGACY_EPOCH_MS }],
    ["none for an ordinary assistant record quoting a limit line", { type: "assistant", message: { content: [{ type: "text", text: limit }] } }, { kind: "none" }],
    ["none for a user record with a limit line", { type: "user", message: { role: "user", content: limit } }, { kind: "none" }],
    ["none for an API error record that is neither", apiError({ error: "invalid_request", apiErrorStatus: 400 }, "Prompt is too long"), { kind: "none" }],
    ["none for null", null, { kind: "none" }],
    ["none for a string", "You've hit your session limit", { kind: "none" }],
    ["none for an array", [limit], { kind: "none" }],
  ];
  for (const [name, record, expected] of cases) {
    test(`returns ${name}`, () => expect(classifyTranscriptRecord(record, OPTIONS)).toMatchObject(expected));
  }
});

describe("logicalLines()", () => {
  test("strips the gutter and its no-break space", () => {
    expect(logicalLines([`${GUTTER}You've hit your usage limit`])).toEqual(["You've hit your usage limit"]);
  });

  test("joins a gutter line with its 5-space continuation", () => {
    expect(logicalLines([`${GUTTER}You've hit your 5-hour limit · resets Nov 28, 10am`, "     (Europe/Paris) · progress saved"]))
      .toEqual(["You've hit your 5-hour limit · resets Nov 28, 10am (Europe/Paris) · progress saved"]);
  });

  test("keeps a hint line under a limit line separate", () => {
    expect(logicalLines([`${GUTTER}You've hit your usage limit`, "     /upgrade or /usage-credits to finish what you’re working on."]))
      .toEqual(["You've hit your usage limit", "/upgrade or /usage-credits to finish what you're working on."]);
  });

  test("joins a line cut at the given width with the next one", () => {
    expect(logicalLines(["Session limit reached ∙ re", "sets 3pm"], 26)).toEqual(["Session limit reached ∙ resets 3pm"]);
  });

  test("restores the space of a cut that fell on a space", () => {
    expect(logicalLines(["Session limit reached ∙", "resets 3pm"], 24)).toEqual(["Session limit reached ∙ resets 3pm"]);
  });

  test("does not join short lines when the width is known", () => {
    expect(logicalLines(["Session limit", "resets 3pm"], 40)).toEqual(["Session limit", "resets 3pm"]);
  });

  test("strips ANSI escapes and bullets", () => {
    expect(logicalLines(["\x1b[33m● API Error: Overloaded\x1b[0m", "⏺ Done.", "✻ API error · Retrying in 8s"]))
      .toEqual(["API Error: Overloaded", "Done.", "API error · Retrying in 8s"]);
  });

  test("joins the indented lines of an assistant paragraph", () => {
    expect(logicalLines(["● The quota", "  was hit."])).toEqual(["The quota was hit."]);
  });

  test("drops rules, blank lines and select pointers", () => {
    expect(logicalLines(["─".repeat(20), "", " ❯ 1. Stop and wait for limit to reset", "   2. Upgrade your plan"]))
      .toEqual(["Stop and wait for limit to reset", "Upgrade your plan"]);
  });
});

/** Captured from the real Claude Code 2.1.330 (test/conformance/support/capture.ts), at 01:12 UTC on 2026-11-29. */
const REAL = join(import.meta.dir, "..", "fixtures", "claude-2.1.330");
const REAL_OPTIONS: ClassifyOptions = { now: Date.parse("2026-11-29T01:13:00Z"), defaultZone: "UTC" };
const realPane = (name: string) => readFileSync(join(REAL, `${name}.pane.txt`), "utf8").split("\n");
const realRecords = (name: string, suffix: "transcript" | "hooks") =>
  readFileSync(join(REAL, `${name}.${suffix}.jsonl`), "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
const UTC_3AM = Date.parse("2026-11-29T03:00:00Z");
const UTC_DEC2_1AM = Date.parse("2026-12-02T01:00:00Z");

describe("real Claude Code 2.1.330 panes", () => {
  const cases: Array<[string, PaneActivity, Partial<Verdict>]> = [
    ["idle", "idle", { kind: "none" }],
    ["idle-classic", "idle", { kind: "none" }],
    // Auto-continue armed: `● Usage limit reached · set to continue…` under the limit line, the ⚠ footer below the box.
    ["five-hour-auto-continue", "idle", { kind: "quota", limit: "five_hour", resetAt: UTC_3AM }],
    ["five-hour-auto-continue-80", "idle", { kind: "quota", limit: "five_hour", resetAt: UTC_3AM }],
    // The limit dialog replaces the input box (fullscreen) or sits under `❯ /rate-limit-options` (classic).
    ["five-hour-dialog", "dialog", { kind: "quota", limit: "five_hour", resetAt: UTC_3AM }],
    ["weekly-dialog", "dialog", { kind: "quota", limit: "weekly", resetAt: UTC_DEC2_1AM }],
    ["weekly-dialog-classic", "dialog", { kind: "quota", limit: "weekly", resetAt: UTC_DEC2_1AM }],
    ["opus-dialog-80", "dialog", { kind: "quota", limit: "opus", resetAt: UTC_DEC2_1AM }],
    ["server-error-200", "idle", { kind: "transient" }],
    // Ink wrapped "not your usage" / "  limit)" at 80 columns: joined, it is the throttling 429, not a quota.
    ["throttle-80", "idle", { kind: "transient", line: "API Error: Server is temporarily limiting requests (not your usage limit) · Number of concurrent connections has exceeded your rate limit. Please try again later." }],
    ["overloaded-80", "idle", { kind: "transient" }],
    // The CLI's own continue fired after the reset: the limit line above `● Usage limit reset` is history.
    ["auto-continue-fired", "idle", { kind: "none" }],
  ];
  for (const [name, activity, verdict] of cases) {
    test(`${name}: ${activity}, ${verdict.kind}${"limit" in verdict ? ` (${verdict.limit})` : ""}`, () => {
      expect(paneActivity(realPane(name))).toBe(activity);
      expect(classifyPane(realPane(name), REAL_OPTIONS)).toMatchObject(verdict);
    });
  }

  test("safeToType() holds only for an idle prompt with no dialog and a registry that does not say waiting", () => {
    expect(safeToType(realPane("idle"))).toBe(true);
    expect(safeToType(realPane("five-hour-auto-continue"))).toBe(true);
    expect(safeToType(realPane("five-hour-dialog"))).toBe(false);
    expect(safeToType(realPane("weekly-dialog-classic"))).toBe(false);
    expect(safeToType(realPane("idle"), { status: "waiting", waitingFor: "dialog open" })).toBe(false);
    expect(safeToType(realPane("idle"), { status: "idle" })).toBe(true);
  });

  test("a limit line followed by `● Usage limit reset · Continuing automatically` is over", () => {
    const lines = realPane("five-hour-auto-continue");
    const box = lines.findLastIndex((l) => l.startsWith("────")) - 2;
    const back = [...lines.slice(0, box), "● Usage limit reset · Continuing automatically", ...lines.slice(box)];
    expect(classifyPane(back, REAL_OPTIONS)).toEqual({ kind: "none" });
  });

  test("a usage warning truncated at 80 columns is not glued to the line above it", () => {
    const lines = ["● Fake API reply: done.", "", "✻ Baked for 0s · done 11:59 PM", "  You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep …", "─".repeat(80), "❯\u00a0", "─".repeat(80)];
    expect(classifyPane(lines, REAL_OPTIONS)).toMatchObject({ kind: "warning", line: "You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep …" });
  });
});

describe("real Claude Code 2.1.330 transcripts and hooks", () => {
  const limitRecord = (name: string) => realRecords(name, "transcript").find((r) => r.apiError === "usage_limit_reached")!;
  const cases: Array<[string, LimitKind]> = [["five-hour-auto-continue", "five_hour"], ["weekly-dialog", "weekly"], ["opus-dialog-80", "opus"]];
  for (const [name, limit] of cases) {
    test(`${name}: the limit record's rate_limit_info gives the exact reset and the kind (${limit})`, () => {
      const record = limitRecord(name);
      const info = (record.apiErrorParams as { rate_limit_info: { resetsAt: number } }).rate_limit_info;
      expect(classifyTranscriptRecord(record, REAL_OPTIONS)).toMatchObject({ kind: "quota", limit, resetAt: info.resetsAt * 1000 });
    });
    test(`${name}: the StopFailure hook with the info the hook attaches gives the same`, () => {
      const hook = realRecords(name, "hooks").find((h) => h.hook_event_name === "StopFailure")!;
      expect(classifyStopFailure(hook, REAL_OPTIONS)).toMatchObject({ kind: "quota" });
      const info = lastLimitInfo(join(REAL, `${name}.transcript.jsonl`));
      expect(info).toMatchObject({ rateLimitType: limitRecord(name).apiErrorParams ? expect.any(String) : undefined });
      expect(classifyStopFailure({ ...hook, rate_limit_info: info }, REAL_OPTIONS)).toMatchObject({ kind: "quota", limit, resetAt: Number(info!.resetsAt) * 1000 });
    });
  }

  test("the throttling 429's record and StopFailure (error rate_limit) are transient", () => {
    const record = realRecords("throttle-80", "transcript").find((r) => r.isApiErrorMessage === true)!;
    expect(classifyTranscriptRecord(record, REAL_OPTIONS)).toMatchObject({ kind: "transient" });
    const hook = realRecords("throttle-80", "hooks").find((h) => h.hook_event_name === "StopFailure")!;
    expect(hook.error).toBe("rate_limit");
    expect(classifyStopFailure(hook, REAL_OPTIONS)).toMatchObject({ kind: "transient" });
    expect(lastLimitInfo(join(REAL, "throttle-80.transcript.jsonl"))).toBeNull();
  });

  test("a 500 record and its StopFailure are transient; an ordinary transcript has no limit record", () => {
    const record = realRecords("server-error-200", "transcript").find((r) => r.isApiErrorMessage === true)!;
    expect(classifyTranscriptRecord(record, REAL_OPTIONS)).toMatchObject({ kind: "transient" });
    const hook = realRecords("server-error-200", "hooks").find((h) => h.hook_event_name === "StopFailure")!;
    expect(classifyStopFailure(hook, REAL_OPTIONS)).toMatchObject({ kind: "transient" });
    expect(lastLimitInfo(join(REAL, "idle.transcript.jsonl"))).toBeNull();
    expect(lastLimitInfo(join(REAL, "server-error-200.transcript.jsonl"))).toBeNull();
  });
});
