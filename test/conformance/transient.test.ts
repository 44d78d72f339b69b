import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";

// Server-side errors the real CLI retries by itself: a 529 and a 500 (three failures, then answered) and a throttling
// 429 without the unified headers through all ten retries (about three minutes), on 80-column panes where Ink
// hard-wraps "not your usage limit" across two lines. None of them may cost a swap.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

suite("real Claude Code: transient errors on 80-column panes", () => {
  let c: Conformance;
  const sessions = ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"];
  beforeAll(async () => {
    c = await startConformance({ pool: 3 });
    await c.allIdle();
    for (const name of sessions) await c.t.server.raw("resize-window", "-t", `=${name}:`, "-x", "80", "-y", "40");
  }, 120_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("529, 500 and the throttling 429 are retried by the CLI, the tasks finish on account a and no swap happens", async () => {
    c.api.a.setMode({ mode: "throttle", match: "THROTTLED", times: 11 });
    c.api.a.addRule({ mode: "overloaded", match: "OVERLOADED", times: 3 });
    c.api.a.addRule({ mode: "server_error", match: "FAILING", times: 3 });
    c.task("throttled", "THROTTLED task: say hi");
    c.task("overloaded", "OVERLOADED task: say hi");
    c.task("failing", "FAILING task: say hi");
    await eventually(() => c.queue("done").length === 3, 290_000, 500);
    expect(c.queue("failed")).toEqual([]);
    const status = c.status();
    expect(status.last_swap).toBeNull();
    expect(status.accounts.map((a) => a.state)).toEqual(["available", "available"]);
    expect(status.active_account).toBe("a");
    const turns = c.api.a.turns();
    const answered = (word: string, code: number) => turns.filter((r) => r.userTexts.at(-1)?.includes(word) && r.status === code).length;
    expect(answered("THROTTLED", 429)).toBe(11);
    expect(answered("OVERLOADED", 529)).toBe(3);
    expect(answered("FAILING", 500)).toBe(3);
    expect(c.api.b.requests()).toEqual([]);
    // The throttled turn ended in the CLI's own error after ten retries: the daemon saw it as transient.
    const transient = c.t.log.records.filter((r) => r.msg === "transient error seen");
    expect(transient.some((r) => r.signal === "hook" && String(r.snippet).includes("not your usage limit"))).toBe(true);
    expect(c.t.log.records.filter((r) => r.msg === "quota hit")).toEqual([]);
  }, 300_000);
});
