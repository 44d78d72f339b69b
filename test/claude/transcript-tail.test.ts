import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTranscriptTail, recordTime, storedOffsets, type OffsetMemory } from "../../internal/claude/transcript-tail.ts";
import { openStore } from "../../internal/state/state.ts";
import { memoryLog } from "../../internal/log.ts";
import { tempDir } from "../support/tmux.ts";

// Following a transcript across daemon restarts: what was written while no daemon read it is handed back apart.
const dirs: Array<ReturnType<typeof tempDir>> = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.cleanup();
});

function transcript(): { path: string; add(...texts: string[]): void } {
  const dir = tempDir("cf-tail-");
  dirs.push(dir);
  const path = join(dir.path, "t.jsonl");
  writeFileSync(path, "");
  return { path, add: (...texts) => appendFileSync(path, texts.map((text) => `${JSON.stringify({ type: "user", text })}\n`).join("")) };
}

/** An in-memory {@link OffsetMemory} that keeps what was saved, as the store would across a restart. */
function memory(): OffsetMemory & { kept: Record<string, number> } {
  const m = { kept: {} as Record<string, number>, load: () => ({ ...m.kept }), save: (o: Record<string, number>) => void (m.kept = { ...o }) };
  return m;
}

const texts = (records: unknown[]) => records.map((r) => (r as { text: string }).text);

describe("createTranscriptTail() with an offset memory", () => {
  test("after a restart, the records written while no daemon followed are missed records, handed back once", () => {
    const t = transcript();
    const kept = memory();
    t.add("old");
    const before = createTranscriptTail(memoryLog(), kept);
    expect(before.read(t.path)).toEqual({ records: [], missed: [] });
    t.add("one");
    expect(texts(before.read(t.path).records)).toEqual(["one"]);
    t.add("two", "three");
    const after = createTranscriptTail(memoryLog(), kept);
    const first = after.read(t.path);
    expect({ records: first.records, missed: texts(first.missed) }).toEqual({ records: [], missed: ["two", "three"] });
    expect(after.read(t.path)).toEqual({ records: [], missed: [] });
    t.add("four");
    expect(texts(after.read(t.path).records)).toEqual(["four"]);
  });

  test("keeps the new offset as soon as it reads, before the records are handled (a crash never counts one twice)", () => {
    const t = transcript();
    const kept = memory();
    const tail = createTranscriptTail(memoryLog(), kept);
    tail.read(t.path);
    t.add("one");
    tail.read(t.path);
    expect(createTranscriptTail(memoryLog(), kept).read(t.path)).toEqual({ records: [], missed: [] });
  });

  test("a line still being written is left for the next read, not cut", () => {
    const t = transcript();
    const kept = memory();
    createTranscriptTail(memoryLog(), kept).read(t.path);
    t.add("whole");
    appendFileSync(t.path, '{"type":"user","text":"hal');
    const tail = createTranscriptTail(memoryLog(), kept);
    expect(texts(tail.read(t.path).missed)).toEqual(["whole"]);
    appendFileSync(t.path, 'f"}\n');
    expect(texts(tail.read(t.path).records)).toEqual(["half"]);
  });

  test("a transcript that shrank while the daemon was down, or one never followed, starts at its end", () => {
    const t = transcript();
    const kept = memory();
    t.add("a", "b");
    createTranscriptTail(memoryLog(), kept).read(t.path);
    writeFileSync(t.path, `${JSON.stringify({ type: "user", text: "new" })}\n`);
    expect(createTranscriptTail(memoryLog(), kept).read(t.path)).toEqual({ records: [], missed: [] });
    const other = transcript();
    other.add("x");
    expect(createTranscriptTail(memoryLog(), kept).read(other.path)).toEqual({ records: [], missed: [] });
  });
});

describe("storedOffsets()", () => {
  test("keeps the offsets in the store across a restart; a damaged value is logged and read as none", () => {
    const store = openStore(":memory:");
    const log = memoryLog();
    storedOffsets(store, log).save({ "/t.jsonl": 42 });
    expect(storedOffsets(store, log).load()).toEqual({ "/t.jsonl": 42 });
    store.setFlag("transcript_offsets", "{not json");
    expect(storedOffsets(store, log).load()).toEqual({});
    expect(log.records.map((r) => r.msg)).toEqual(["transcript offsets unreadable"]);
  });
});

describe("recordTime()", () => {
  test("reads a record's timestamp; null when it has none", () => {
    expect(recordTime({ timestamp: "2026-11-29T10:00:00.000Z" })).toBe(Date.UTC(2026, 10, 29, 10));
    expect(recordTime({ type: "user" })).toBeNull();
    expect(recordTime(null)).toBeNull();
  });
});
