import { afterEach, describe, expect, test } from "bun:test";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import type { StandInMode } from "./support/standin.ts";
import { eventually } from "../support/tmux.ts";

// Issue 13 on the real CLI: the stand-in answers a normal reply with the per-window headers that make 2.1.330 draw its
// usage warning (`warn_5h`: 5-hour window at 91 % past its 90 % threshold) or its usage-credits line (`credits`),
// reference/real-claude.md §13.1. Account a has `switch_at: 90`; the drawn line must move the conversation to b before
// any limit (no 429 is ever sent), with swap reason `warning` / `extra_usage`, a cooling until the reset the line names.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

/** A reset on a whole hour `hours` ahead: the screen's `resets 4am (UTC)` (`resets Dec 2, 1am (UTC)`) names it exactly. */
const wholeHour = (hours: number) => (Math.floor(Date.now() / 3_600_000) + hours) * 3600;

const CASES: Array<{ mode: StandInMode; hours: number; reason: string; line: RegExp }> = [
  { mode: "warn_5h", hours: 2, reason: "warning", line: /^You've used 91% of your 5-hour limit · resets \d{1,2}(?::\d\d)?[ap]m \(UTC\) · \/upgrade to keep using Claude Code$/ },
  { mode: "warn_7d", hours: 72, reason: "warning", line: /^You've used 91% of your weekly limit · resets [A-Z][a-z]{2} \d{1,2}, \d{1,2}(?::\d\d)?[ap]m \(UTC\)$/ },
  { mode: "credits", hours: 2, reason: "extra_usage", line: /^You're now using usage credits · Your 5-hour limit resets \d{1,2}(?::\d\d)?[ap]m \(UTC\)$/ },
];

suite("real Claude Code: a usage warning or the credits line moves the sessions before a limit", () => {
  let c: Conformance | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  for (const { mode, hours, reason, line } of CASES) {
    test(`${mode}: the line 2.1.330 draws moves the conversation to b (reason ${reason}), a cools until its reset`, async () => {
      // New tasks wait out `reactivate_cooldown` after a swap (the dispatch gate): a short one keeps this case short.
      c = await startConformance({ pool: 1, quota: "{ poll_interval: 500ms, reactivate_cooldown: 10s, confirm_polls: 2 }", accounts: (dir) => `\n  - { name: a, home: ${dir}/homes/a, switch_at: 90 }\n  - { name: b, home: ${dir}/homes/b }` });
      await c.allIdle();
      c.task("warmup", "Remember the word PINEAPPLE");
      await eventually(() => c!.queue("done").length === 1, 60_000, 250);
      const resetAt = wholeHour(hours);
      c.api.a.setMode({ mode, resetAt });
      c.task("near", "Say hello");
      await eventually(() => c!.status().last_swap?.step === "done", 90_000, 100);
      expect(c.status().last_swap).toMatchObject({ reason, from: "a", to: "b", signal: "pane" });
      expect(c.status().last_swap!.snippet).toMatch(line);
      expect(c.status().accounts.map((a) => [a.name, a.state, a.reset_at])).toEqual([["a", "cooling", new Date(resetAt * 1000).toISOString()], ["b", "available", null]]);
      // Nothing was cut: no 429 was ever sent, the task finished on a, the next one runs on b with the history. The
      // line can show (and the sessions move) before the turn's Stop is handled: the task then ends a moment later.
      await eventually(() => c!.queue("done").includes("near.md"), 60_000, 250);
      expect(c.api.a.turns().filter((r) => r.status !== 200)).toEqual([]);
      expect(c.api.a.turns().filter((r) => r.userTexts.at(-1) === "Say hello").map((r) => r.status)).toEqual([200]);
      expect(c.api.b.turns().filter((r) => r.userTexts.at(-1) === "Say hello")).toEqual([]);
      expect(c.queue("done")).toEqual(["near.md", "warmup.md"]);
      c.task("after", "Which word did I ask you to remember?");
      await eventually(() => c!.queue("done").includes("after.md"), 120_000, 250);
      expect(c.api.b.turns().at(-1)!.userTexts[0]).toBe("Remember the word PINEAPPLE");
      expect(c.queue("failed")).toEqual([]);
    }, 300_000);
  }
});
