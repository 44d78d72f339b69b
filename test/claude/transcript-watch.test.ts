import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTranscriptWatch, type TranscriptWatch } from "../../internal/claude/transcript-watch.ts";
import { memoryLog } from "../../internal/log.ts";
import { eventually } from "../support/tmux.ts";

// The transcript watch on real folders (inotify): it reports each transcript written, coalesced, and nothing else.
let dir: string;
let watch: TranscriptWatch | undefined;
afterEach(() => {
  watch?.close();
  watch = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function setup(coalesceMs = 30) {
  dir = mkdtempSync(join(tmpdir(), "cf-watch-"));
  const written: string[] = [];
  watch = createTranscriptWatch((path) => written.push(path), memoryLog(), { coalesceMs });
  return written;
}

describe("createTranscriptWatch()", () => {
  test("reports a transcript written in a project folder created after the watch began, a burst as one report", async () => {
    const written = setup(300);
    const home = join(dir, "home");
    watch!.watch([home]);
    const project = join(home, "projects", "-w-a");
    mkdirSync(project, { recursive: true });
    const path = join(project, "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a40.jsonl");
    // The watch may see the new folder a moment after it exists: write until a report comes, then a burst.
    await eventually(() => {
      appendFileSync(path, "{}\n");
      return written.length > 0;
    }, 10_000, 50);
    await eventually(() => written.length > 0, 10_000, 10);
    written.length = 0;
    for (let i = 0; i < 5; i++) appendFileSync(path, "{}\n");
    // Another transcript written after the burst is reported after it: once it is, the burst's report is in.
    const marker = join(project, "marker.jsonl");
    appendFileSync(marker, "{}\n");
    await eventually(() => written.includes(marker), 10_000, 10);
    expect(written).toEqual([path, marker]);
  });

  test("ignores files that are not transcripts and homes no longer watched", async () => {
    const written = setup();
    const a = join(dir, "a");
    const b = join(dir, "b");
    watch!.watch([a, b]);
    const inB = join(b, "projects", "p");
    mkdirSync(inB, { recursive: true });
    const transcript = join(inB, "x.jsonl");
    await eventually(() => {
      appendFileSync(transcript, "{}\n");
      return written.length > 0;
    }, 10_000, 50);
    watch!.watch([a]);
    written.length = 0;
    writeFileSync(join(a, "projects", "notes.txt"), "x");
    appendFileSync(transcript, "{}\n");
    const inA = join(a, "projects", "q");
    mkdirSync(inA, { recursive: true });
    await eventually(() => {
      appendFileSync(join(inA, "y.jsonl"), "{}\n");
      return written.length > 0;
    }, 10_000, 50);
    expect(new Set(written)).toEqual(new Set([join(inA, "y.jsonl")]));
  });

  test("reports nothing after close()", async () => {
    const written = setup();
    const home = join(dir, "home");
    watch!.watch([home]);
    watch!.close();
    // A second watch on the same folder sees the write: by then the closed one would have too.
    const seen: string[] = [];
    const other = createTranscriptWatch((path) => seen.push(path), memoryLog(), { coalesceMs: 30 });
    other.watch([home]);
    mkdirSync(join(home, "projects", "p"), { recursive: true });
    await eventually(() => {
      appendFileSync(join(home, "projects", "p", "x.jsonl"), "{}\n");
      return seen.length > 0;
    }, 10_000, 50);
    other.close();
    expect(written).toEqual([]);
  });
});
