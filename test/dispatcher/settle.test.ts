/**
 * @module test/dispatcher/settle
 * Specs for the pure bookkeeping of the inbox rule: two scans a settle time apart (then confirmed by the caller's
 * writer check), or arrived whole (appeared, not written since, unchanged, not empty) once the arrival grace is over.
 */
import { describe, expect, test } from "bun:test";
import { ARRIVAL_GRACE_MS, createSettleTracker, type FileMeta } from "../../internal/dispatcher/settle.ts";

const SETTLE = 1_000;
const P = "/q/alpha/inbox/job.md";
const meta = (size: number, mtimeMs = 5, ino = 7): FileMeta => ({ size, mtimeMs, ino });

describe("createSettleTracker()", () => {
  test("a file seen by one scan is not ready however old it is; the same file a settle time later is", () => {
    const t = createSettleTracker(SETTLE);
    expect(t.check(P, meta(10, 0), 100_000)).toEqual({ ready: false, at: 101_000 });
    t.endScan(100_000);
    expect(t.check(P, meta(10, 0), 100_999)).toEqual({ ready: false, at: 101_000 });
    t.endScan(100_999);
    expect(t.check(P, meta(10, 0), 101_000)).toEqual({ ready: true, how: "settled" });
  });

  test.each([
    ["size", meta(11)],
    ["mtime", meta(10, 6)],
    ["inode (replaced)", meta(10, 5, 8)],
  ])("a change of %s restarts the settle time", (_what, changed) => {
    const t = createSettleTracker(SETTLE);
    t.check(P, meta(10), 0);
    t.endScan(0);
    expect(t.check(P, changed, 900)).toEqual({ ready: false, at: 1_900 });
    t.endScan(900);
    expect(t.check(P, changed, 1_899).ready).toBe(false);
    t.endScan(1_899);
    expect(t.check(P, changed, 1_900).ready).toBe(true);
  });

  test("a file that appeared whole is ready after the arrival grace, before any second scan", () => {
    const t = createSettleTracker(SETTLE);
    t.appeared(P, meta(10), 0);
    expect(t.check(P, meta(10), ARRIVAL_GRACE_MS - 1)).toEqual({ ready: false, at: ARRIVAL_GRACE_MS });
    t.endScan(ARRIVAL_GRACE_MS - 1);
    expect(t.check(P, meta(10), ARRIVAL_GRACE_MS)).toEqual({ ready: true, how: "renamed" });
  });

  test.each([
    ["was written after it appeared", (t: ReturnType<typeof createSettleTracker>) => { t.appeared(P, meta(10), 0); t.written(P); }, meta(10)],
    ["changed since it appeared", (t: ReturnType<typeof createSettleTracker>) => t.appeared(P, meta(4), 0), meta(10)],
    ["is empty", (t: ReturnType<typeof createSettleTracker>) => t.appeared(P, meta(0), 0), meta(0)],
    ["went away and came back unseen", (t: ReturnType<typeof createSettleTracker>) => { t.appeared(P, meta(10), 0); t.appeared(P, null, 1); }, meta(10)],
  ])("a file that %s waits for the settle rule", (_what, events, seen) => {
    const t = createSettleTracker(SETTLE);
    events(t);
    expect(t.check(P, seen, 500)).toEqual({ ready: false, at: 1_500 });
  });

  test("a scan forgets files it no longer sees, and their arrivals, so a newcomer of the same name starts afresh", () => {
    const t = createSettleTracker(SETTLE);
    t.appeared(P, meta(10), 0);
    t.check(P, meta(10), 0);
    t.endScan(0);
    t.endScan(50); // the file was taken: not in this scan
    expect(t.check(P, meta(10), 2_000)).toEqual({ ready: false, at: 3_000 });
  });

  test("a settled file is offered for the writer check until confirmed, then stays ready while unchanged", () => {
    const t = createSettleTracker(SETTLE);
    t.check(P, meta(10), 0);
    t.endScan(0);
    expect(t.check(P, meta(10), 1_000)).toEqual({ ready: true, how: "settled" });
    t.endScan(1_000);
    expect(t.check(P, meta(10), 2_000)).toEqual({ ready: true, how: "settled" });
    t.confirm(P);
    t.endScan(2_000);
    expect(t.check(P, meta(10), 2_001)).toEqual({ ready: true, how: "confirmed" });
    t.endScan(2_001);
    expect(t.check(P, meta(11), 2_002)).toEqual({ ready: false, at: 3_002 });
  });

  test("settle 0 reads every file at first sight, with no further check", () => {
    expect(createSettleTracker(0).check(P, meta(0), 0)).toEqual({ ready: true, how: "confirmed" });
  });
});
