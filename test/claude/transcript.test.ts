import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ledgerEntry, readLedger, samePrompt, turnAfter, turnOpen, type LedgerEntry } from "../../internal/claude/transcript.ts";

// Records as Claude Code 2.1.330 writes them (reference/real-claude.md §5), trimmed of the fields nobody reads.
const user = (text: string, promptId: string) => ({ type: "user", promptId, message: { role: "user", content: text }, origin: { kind: "human" }, promptSource: "typed", turnPosition: { promptIndex: 1, turnIndex: 1 } });
const toolResult = { type: "user", promptId: "p1", message: { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "ok" }] } };
const reply = (text: string) => ({ type: "assistant", message: { role: "assistant", content: [{ type: "text", text }] } });
const turnEnd = { type: "system", subtype: "turn_duration", durationMs: 1200 };
const limit = {
  type: "assistant", message: { model: "<synthetic>", role: "assistant", content: [{ type: "text", text: "You've hit your 5-hour limit · resets 12am (UTC)" }] },
  apiError: "usage_limit_reached", apiErrorParams: { rate_limit_info: { status: "rejected", resetsAt: 1795910400, rateLimitType: "five_hour" } },
  error: "rate_limit", isApiErrorMessage: true, apiErrorStatus: 429,
};
const overloaded = { type: "assistant", message: { role: "assistant", content: [{ type: "text", text: "API Error: 529 Overloaded." }] }, error: "server_error", isApiErrorMessage: true, apiErrorStatus: 529 };

const entries = (...records: unknown[]) => records.map((r, i) => ledgerEntry(r, i * 100)).filter((e): e is LedgerEntry => e !== null);

describe("ledgerEntry()", () => {
  test("reads a typed prompt with its promptId, and skips tool results, meta and sidechain records", () => {
    expect(ledgerEntry(user("Fix the tests", "p1"), 7)).toEqual({ kind: "prompt", offset: 7, promptId: "p1", text: "Fix the tests" });
    expect(ledgerEntry(toolResult)).toBeNull();
    expect(ledgerEntry({ ...user("x", "p"), isMeta: true })).toBeNull();
    expect(ledgerEntry({ ...reply("x"), isSidechain: true })).toBeNull();
  });

  test("reads a real limit with its exact reset time and kind, and a server error as transient", () => {
    expect(ledgerEntry(limit)).toMatchObject({ kind: "api-error", error: "rate_limit", quota: { resetsAt: 1795910400_000, limitType: "five_hour" } });
    expect(ledgerEntry(overloaded)).toMatchObject({ kind: "api-error", error: "server_error", quota: null });
  });

  test("reads turn_duration as the end of a turn", () => {
    expect(ledgerEntry(turnEnd, 3)).toEqual({ kind: "turn-end", offset: 3 });
  });
});

describe("turnAfter()", () => {
  const byText = (text: string) => (p: { text: string }) => samePrompt(p.text, text);

  test("finds the expected prompt's turn and its last reply once turn_duration is written", () => {
    const turn = turnAfter(entries(user("A", "pa"), reply("a1"), reply("a2"), turnEnd, user("B", "pb"), reply("b")), byText("A"));
    expect(turn).toEqual({ promptId: "pa", offset: 0, end: { kind: "done", reply: "a2" } });
  });

  test("a turn still running has no end; one cut by a limit ends with the limit", () => {
    expect(turnAfter(entries(user("A", "pa"), reply("working")), byText("A"))?.end).toBeNull();
    expect(turnAfter(entries(user("A", "pa"), limit, turnEnd), byText("A"))?.end).toMatchObject({ kind: "api-error", quota: { limitType: "five_hour" } });
  });

  test("without turn_duration (older versions) the next prompt ends the turn", () => {
    expect(turnAfter(entries(user("A", "pa"), reply("a"), user("B", "pb")), byText("A"))?.end).toEqual({ kind: "done", reply: "a" });
  });

  test("is null when the prompt is not in the ledger", () => {
    expect(turnAfter(entries(user("B", "pb"), turnEnd), byText("A"))).toBeNull();
  });
});

describe("turnOpen()", () => {
  test("is true only while the last prompt has not ended", () => {
    expect(turnOpen(entries(user("A", "pa"), reply("a")))).toBe(true);
    expect(turnOpen(entries(user("A", "pa"), reply("a"), turnEnd))).toBe(false);
    expect(turnOpen(entries(user("A", "pa"), overloaded))).toBe(false);
    expect(turnOpen([])).toBe(false);
  });
});

describe("readLedger()", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("reads complete records from an offset and leaves a partial last line for the next read", () => {
    dir = mkdtempSync(join(tmpdir(), "cf-ledger-"));
    const path = join(dir, "t.jsonl");
    writeFileSync(path, `${JSON.stringify(user("old", "p0"))}\n`);
    const start = readLedger(path, 0);
    expect(start.entries.map((e) => e.kind)).toEqual(["prompt"]);
    appendFileSync(path, `${JSON.stringify(user("A", "pa"))}\n{"type":"assist`);
    const first = readLedger(path, start.end);
    expect(first.entries).toEqual([{ kind: "prompt", offset: start.end, promptId: "pa", text: "A" }]);
    appendFileSync(path, `ant","message":{"content":[{"type":"text","text":"a"}]}}\n${JSON.stringify(turnEnd)}\n`);
    const second = readLedger(path, first.end);
    expect(second.entries.map((e) => e.kind)).toEqual(["reply", "turn-end"]);
  });

  test("says when the transcript does not exist yet", () => {
    dir = mkdtempSync(join(tmpdir(), "cf-ledger-"));
    expect(readLedger(join(dir, "missing.jsonl"), 0)).toEqual({ entries: [], end: 0, exists: false });
  });
});

describe("samePrompt()", () => {
  test("compares with whitespace collapsed, and accepts text left in the input box before it", () => {
    expect(samePrompt("Fix  the\ntests ", "Fix the tests")).toBe(true);
    expect(samePrompt("leftover Fix the tests", "Fix the tests")).toBe(true);
    expect(samePrompt("Fix the tests please", "Fix the tests")).toBe(false);
  });
});
