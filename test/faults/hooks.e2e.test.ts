import { afterEach, describe, expect, test } from "bun:test";
import { makeTask } from "../support/ledger.ts";
import { startFaultCase, type FaultCase } from "../support/fault-case.ts";

// Duplicated, late, lost and reordered hooks of every kind, injected by the simulated Claude Code
// (`<home>/sim-faults.json`), against the daemon as a real process on a private tmux socket. The transcript is the
// ledger: whatever the hooks say, every task is typed exactly once and ends in done/ with its own result.

let c: FaultCase | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

describe("hook faults", () => {
  test("a late duplicate of task A's Stop does not finish task B", async () => {
    c = await startFaultCase();
    const a = makeTask("dup-a", { work: "1s" });
    const b = makeTask("dup-b", { work: "4s" });
    c.faults({ Stop: { duplicate: 1, duplicateDelayMs: 1500, match: a.marker } });
    c.drop(a, b); // one pool session: B is typed right after A ends, and A's second Stop arrives during B
    expect(await c.settle(a)).toBe("done");
    expect(await c.settle(b)).toBe("done");
    c.once(a);
    c.once(b);
  }, 90_000);

  test("a duplicated Stop of the same task finishes it once", async () => {
    c = await startFaultCase();
    const a = makeTask("dup-same", { work: "1s" });
    const b = makeTask("dup-next", { work: "1s" });
    c.faults({ Stop: { duplicate: 1, duplicateDelayMs: 100, match: a.marker } });
    c.drop(a, b);
    expect(await c.settle(a)).toBe("done");
    expect(await c.settle(b)).toBe("done");
    c.once(a);
    c.once(b);
  }, 90_000);

  test("a lost Stop: the task ends from the transcript's turn_duration", async () => {
    c = await startFaultCase();
    const a = makeTask("lost-stop", { work: "1s" });
    c.faults({ Stop: { drop: 1, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a, 60_000)).toBe("done");
    c.once(a);
  }, 90_000);

  test("a Stop delivered late (after the turn ended) still finishes the task once", async () => {
    c = await startFaultCase();
    const a = makeTask("late-stop", { work: "1s" });
    const b = makeTask("after-late-stop", { work: "2s" });
    c.faults({ Stop: { delayMs: 2500, match: a.marker } });
    c.drop(a, b);
    expect(await c.settle(a)).toBe("done");
    expect(await c.settle(b)).toBe("done");
    c.once(a);
    c.once(b);
  }, 90_000);

  test("a lost UserPromptSubmit: the task is typed once, not three times", async () => {
    c = await startFaultCase();
    const a = makeTask("lost-ups", { work: "2s" });
    c.faults({ UserPromptSubmit: { drop: 1, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a)).toBe("done");
    c.once(a);
  }, 90_000);

  test("every UserPromptSubmit of a task lost: typed once, ended by the transcript", async () => {
    c = await startFaultCase();
    const a = makeTask("no-ups", { work: "2s" });
    c.faults({ UserPromptSubmit: { drop: 5, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a)).toBe("done");
    c.once(a);
  }, 90_000);

  test("a UserPromptSubmit delivered after the turn's Stop (late) changes nothing", async () => {
    c = await startFaultCase();
    const a = makeTask("late-ups", { work: "1s" });
    const b = makeTask("after-late-ups", { work: "2s" });
    c.faults({ UserPromptSubmit: { delayMs: 3000, match: a.marker } });
    c.drop(a, b);
    expect(await c.settle(a)).toBe("done");
    expect(await c.settle(b)).toBe("done");
    c.once(a);
    c.once(b);
  }, 90_000);

  test("reordered hooks (Stop before UserPromptSubmit) finish the task once", async () => {
    c = await startFaultCase();
    const a = makeTask("reorder", { work: "1s" });
    const b = makeTask("after-reorder", { work: "1s" });
    c.faults({ UserPromptSubmit: { reorder: 1, match: a.marker } });
    c.drop(a, b);
    expect(await c.settle(a)).toBe("done");
    expect(await c.settle(b)).toBe("done");
    c.once(a);
    c.once(b);
  }, 90_000);

  test("a duplicated UserPromptSubmit does not type the task again", async () => {
    c = await startFaultCase();
    const a = makeTask("dup-ups", { work: "2s" });
    c.faults({ UserPromptSubmit: { duplicate: 1, duplicateDelayMs: 500, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a)).toBe("done");
    c.once(a);
  }, 90_000);

  test("a late duplicate SessionStart while a task runs does not requeue or retype it", async () => {
    c = await startFaultCase({ before: (k) => k.faults({ SessionStart: { duplicate: 5, duplicateDelayMs: 6000 } }) });
    const a = makeTask("late-start", { work: "5s" });
    c.drop(a); // the pool came up within ~2 s: the copies arrive ~6 s after each launch, in the middle of the turn
    expect(await c.settle(a)).toBe("done");
    c.once(a);
  }, 90_000);

  test("a lost SessionStart: the session still gets and finishes tasks", async () => {
    c = await startFaultCase({ before: (k) => k.faults({ SessionStart: { drop: 5 } }) });
    const a = makeTask("no-start", { work: "1s" });
    c.drop(a);
    expect(await c.settle(a)).toBe("done");
    c.once(a);
  }, 90_000);
});
