/**
 * @module test/quota/usage-warning
 * Specs for what a usage warning verdict carries (percent, window, reset, extra usage), from the lines the real
 * Claude Code 2.1.330 draws (reference/real-claude.md §13.2) as they sit on its screen: right-aligned above the input
 * box (fullscreen renderer, 200 and 80 columns, truncated at 80), on the footer line (classic renderer), and as text.
 */
import { describe, expect, test } from "bun:test";
import { classifyPane, classifyText, type ClassifyOptions } from "../../internal/quota/classify.ts";
import { warningDetails } from "../../internal/quota/usage-warning.ts";

const NOW = Date.parse("2026-11-29T01:00:00Z");
const OPTIONS: ClassifyOptions = { now: NOW, defaultZone: "UTC" };
const AT_4AM = Date.parse("2026-11-29T04:00:00Z");
const DEC2_1AM = Date.parse("2026-12-02T01:00:00Z");
const NB = "\u00a0";

/** §13.2 verbatim. */
const FIVE_HOUR = "You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep using Claude Code";
const WEEKLY = "You've used 91% of your weekly limit · resets Dec 2, 1am (UTC)";
const OVER = "Over 90% of your 5-hour limit used · resets 4am (UTC) · /upgrade to keep using Claude Code";
const CREDITS = "You're now using usage credits · Your 5-hour limit resets 4am (UTC)";

/** The fullscreen renderer: the notification right-aligned, ending at column W−2, on the row above the box's top rule. */
function fullscreen(notice: string, cols: number): string[] {
  const chars = [...notice];
  const fits = chars.length <= cols - 4;
  const row = fits ? `${" ".repeat(cols - 2 - chars.length)}${notice}` : `  ${chars.slice(0, cols - 5).join("")}…`;
  const rule = "─".repeat(cols);
  return ["❯ Say hello", "● Fake API reply: I received your prompt. Done.", "✻ Baked for 0s · done 11:59 PM", row, rule, `❯${NB}`, rule,
    "  ⏵⏵ bypass permissions on (shift+tab to cycle)"];
}

/** The classic renderer: the notification on the footer line under the box. */
function classic(notice: string): string[] {
  const rule = "─".repeat(200);
  return ["❯ Say hello", "● Fake API reply: done.", "✻ Baked for 0s · done 11:59 PM", "", rule, `❯${NB}`, rule,
    `  ⏵⏵ bypass permissions on (shift+tab to cycle)      ${notice}`];
}

interface Case { name: string; line: string; expected: Record<string, unknown> }
const CASES: Case[] = [
  { name: "5-hour warning", line: FIVE_HOUR, expected: { percent: 91, window: "five_hour", resetAt: AT_4AM } },
  { name: "weekly warning", line: WEEKLY, expected: { percent: 91, window: "weekly", resetAt: DEC2_1AM } },
  { name: "threshold-only warning", line: OVER, expected: { percent: 90, window: "five_hour", resetAt: AT_4AM } },
  { name: "usage credits now in use", line: CREDITS, expected: { extraUsage: true, window: "five_hour", resetAt: AT_4AM } },
];

describe("classifyPane() usage warnings as 2.1.330 draws them", () => {
  for (const c of CASES) {
    for (const cols of [200, 120]) {
      test(`reads the ${c.name} right-aligned above the input box at ${cols} columns`, () => {
        const v = classifyPane(fullscreen(c.line, cols), OPTIONS);
        expect(v).toMatchObject({ kind: "warning", line: c.line, ...c.expected });
      });
    }
    test(`reads the ${c.name} on the classic renderer's footer`, () => {
      expect(classifyPane(classic(c.line), OPTIONS)).toMatchObject({ kind: "warning", line: c.line, ...c.expected });
    });
  }

  test("reads the 5-hour warning truncated at 80 columns (not wrapped, not glued to the line above)", () => {
    const lines = fullscreen(FIVE_HOUR, 80);
    expect(lines[3]).toBe("  You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep …");
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "warning", percent: 91, window: "five_hour", resetAt: AT_4AM });
  });

  test("reads the weekly warning whole at 80 columns", () => {
    const lines = fullscreen(WEEKLY, 80);
    expect(lines[3]).toBe(`${" ".repeat(16)}${WEEKLY}`);
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "warning", line: WEEKLY, percent: 91, window: "weekly", resetAt: DEC2_1AM });
  });

  test("a warning is not exhaustion: a limit line on the same screen wins", () => {
    const lines = fullscreen(FIVE_HOUR, 200);
    lines.splice(2, 1, `  ⎿ ${NB}You've hit your 5-hour limit · resets 4am (UTC)`);
    expect(classifyPane(lines, OPTIONS)).toMatchObject({ kind: "quota", limit: "five_hour" });
  });

  test("a warning quoted in the conversation is not read", () => {
    const rule = "─".repeat(200);
    const lines = [`❯ Why does it say "${FIVE_HOUR}"?`, "● Because the account is close to its limit.", "", rule, `❯${NB}`, rule, "  ⏵⏵ bypass permissions on (shift+tab to cycle)"];
    expect(classifyPane(lines, OPTIONS)).toEqual({ kind: "none" });
  });
});

describe("warningDetails()", () => {
  const table: Array<[string, Record<string, unknown>]> = [
    ["You've used 91% of your session limit · resets 3pm", { percent: 91, window: "five_hour" }],
    ["Approaching 5-hour limit · resets 3pm (UTC) · try /effort medium", { window: "five_hour" }],
    ["Approaching weekly limit", { window: "weekly" }],
    ["You've used 80% of your Fable limit · resets Dec 2, 1am (UTC)", { percent: 80 }],
    ["You're now using usage credits · Your weekly limit resets Dec 2, 1am (UTC)", { extraUsage: true, window: "weekly" }],
    ["You're now using extra usage", { extraUsage: true }],
    ["Now using usage credits", { extraUsage: true }],
    ["You're close to your usage credit limit", { extraUsage: true }],
    ["Over 80% of your usage credit limit used", { percent: 80, extraUsage: true }],
    ["You've used 91% of your 5-hour limit · resets 4am (UTC) · /usage-credits to keep using Claude Code", { percent: 91, window: "five_hour" }],
  ];
  for (const [line, expected] of table) {
    test(`reads ${JSON.stringify(line)}`, () => expect(warningDetails(line)).toEqual(expected));
  }

  test("the message-text classifier carries the same details", () => {
    expect(classifyText(CREDITS, OPTIONS)).toMatchObject({ kind: "warning", extraUsage: true, window: "five_hour", resetAt: AT_4AM });
    expect(classifyText("You're now using extra usage", OPTIONS)).toMatchObject({ kind: "warning", extraUsage: true });
  });
});
