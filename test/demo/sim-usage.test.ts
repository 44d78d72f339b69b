/**
 * @module test/demo/sim-usage
 * Specs for the simulated Claude Code's usage notifications (pure parts): the texts 2.1.330 draws (reference/real-claude.md
 * §13.2), where a frame draws them (right-aligned on the row above the input box, cut at narrow widths), the faults
 * file's `usage` switch, and that the classifier reads the simulator's frame as it reads the real one.
 */
import { describe, expect, test } from "bun:test";
import { extraUsageText, notificationRow, renderFrame, usageWarningText, type FrameState } from "../../internal/demo/sim-screen.ts";
import { planUsage } from "../../internal/demo/sim-faults.ts";
import { classifyPane } from "../../internal/quota/classify.ts";

const NOW = new Date("2026-11-29T01:00:00Z");
const AT_4AM = new Date("2026-11-29T04:00:00Z");
const DEC2_1AM = new Date("2026-12-02T01:00:00Z");
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

describe("usage texts", () => {
  test("writes the 5-hour warning, the weekly warning and the credits line verbatim", () => {
    expect(usageWarningText(91, "five_hour", AT_4AM, NOW, "UTC")).toBe("You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep using Claude Code");
    expect(usageWarningText(91.7, "weekly", DEC2_1AM, NOW, "UTC")).toBe("You've used 91% of your weekly limit · resets Dec 2, 1am (UTC)");
    expect(extraUsageText("five_hour", AT_4AM, NOW, "UTC")).toBe("You're now using usage credits · Your 5-hour limit resets 4am (UTC)");
  });
});

describe("notificationRow()", () => {
  const warning = usageWarningText(91, "five_hour", AT_4AM, NOW, "UTC");
  test("ends at column W−2 when the text fits", () => {
    const row = notificationRow(warning, 200);
    expect([...row].length).toBe(198);
    expect(row.trimStart()).toBe(warning);
  });

  test("is cut with … after a two-space indent at 80 columns, as 2.1.330 draws it", () => {
    expect(notificationRow(warning, 80)).toBe("  You've used 91% of your 5-hour limit · resets 4am (UTC) · /upgrade to keep …");
    expect(notificationRow(usageWarningText(91, "weekly", DEC2_1AM, NOW, "UTC"), 80)).toBe(`${" ".repeat(16)}You've used 91% of your weekly limit · resets Dec 2, 1am (UTC)`);
  });
});

describe("renderFrame() with a notification", () => {
  const base: FrameState = { header: "Claude Code (simulated) · a", entries: [{ kind: "user", text: "hi" }, { kind: "assistant", text: "Done: hi" }],
    input: "", now: 10_000, mode: "⏵⏵ bypass permissions on", promptChar: "❯", cols: 120, rows: 14 };

  test("draws it on the row just above the input box's top rule, and the classifier reads it", () => {
    const text = usageWarningText(91, "five_hour", AT_4AM, NOW, "UTC");
    const lines = renderFrame({ ...base, notification: text }).lines.map(plain);
    const top = lines.indexOf("─".repeat(120));
    expect(lines[top - 1]).toBe(notificationRow(text, 120));
    expect(lines[top + 1]).toBe("❯\u00a0");
    expect(classifyPane(lines, { now: NOW.getTime(), defaultZone: "UTC" })).toMatchObject({ kind: "warning", percent: 91, window: "five_hour", resetAt: AT_4AM.getTime() });
  });

  test("draws the credits line the same way", () => {
    const lines = renderFrame({ ...base, notification: extraUsageText("five_hour", AT_4AM, NOW, "UTC") }).lines.map(plain);
    expect(classifyPane(lines, { now: NOW.getTime(), defaultZone: "UTC" })).toMatchObject({ kind: "warning", extraUsage: true, resetAt: AT_4AM.getTime() });
  });

  test("draws nothing there without one", () => {
    const lines = renderFrame(base).lines.map(plain);
    expect(lines[lines.indexOf("─".repeat(120)) - 1]).toBe("");
  });
});

describe("planUsage()", () => {
  test("reads the faults file's usage line and leaves the file as it is", () => {
    const faults = { usage: " You're now using extra usage " };
    expect(planUsage(faults)).toEqual({ line: "You're now using extra usage", next: faults });
    expect(planUsage({})).toEqual({ line: undefined, next: {} });
  });
});
