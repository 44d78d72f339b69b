import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";

// Exhausted mode with the real CLI: account b is disabled, account a hits its 5-hour limit with a reset 50 s ahead.
// Claude Code 2.1.330 arms its own "continue automatically" (30-90 s after the reset). The daemon must stay quiet
// while it waits (the same limit is not logged again on every poll), wake at the reset, and continue the cut task
// exactly once: its typed continue disarms the CLI's own, so the conversation does not get two.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

suite("real Claude Code: exhausted mode and the wake-up at the reset", () => {
  let c: Conformance;
  beforeAll(async () => {
    c = await startConformance({ pool: 1 });
    await c.allIdle();
    expect(c.t.daemon.control.setAccountEnabled("b", false).ok).toBe(true);
  }, 120_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("waits quietly, wakes at the header's reset and continues the cut task once, on account a", async () => {
    const resetAt = Math.floor(Date.now() / 1000) + 50;
    c.api.a.setMode({ mode: "five_hour", resetAt, times: 1 });
    c.task("cut", "Count to three");
    await eventually(() => c.status().exhausted, 60_000, 200);
    // The exact reset comes with the hook or the transcript record (a first pane sighting may say "1:39am").
    await eventually(() => c.status().wake_at === new Date(resetAt * 1000).toISOString(), 10_000, 100);
    // The CLI armed its own continue: its footer says so.
    await eventually(async () => (await c.screen("ccl-auto-11")).some((l) => l.includes("Continuing automatically at")), 20_000, 250);
    // Wake-up at the reset: the task is continued and finishes on account a.
    await eventually(() => c.queue("done").includes("cut.md"), 120_000, 250);
    // Quiet: about a hundred polls saw the limit line while waiting; it was logged when it was hit (once more at most,
    // when the screen's minute-rounded time came first and the exact one followed).
    expect(c.t.log.records.filter((r) => r.msg === "quota hit").length).toBeLessThanOrEqual(2);
    expect(c.status().exhausted).toBe(false);
    const after = c.api.a.turns().filter((r) => r.at >= resetAt * 1000);
    expect(after).toHaveLength(1);
    expect(after[0]!.userTexts.at(-1)).toContain("Continue where you left off.");
    expect(after[0]!.userTexts.join("\n")).not.toContain("Your claude.ai usage limit has reset");
    // The typed continue disarmed the CLI's own: no "Continuing automatically" footer is left to fire later.
    const screen = (await c.screen("ccl-auto-11")).join("\n");
    expect(screen).not.toContain("Continuing automatically at");
    expect(screen).not.toContain("Continuing shortly");
    expect(c.api.b.requests()).toEqual([]);
  }, 200_000);
});
