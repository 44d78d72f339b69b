import { afterEach, describe, expect, test } from "bun:test";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import type { StandInMode } from "./support/standin.ts";
import { eventually } from "../support/tmux.ts";
import { expectOneContinue, expectOnlyBAfterTheMove } from "./support/received.ts";

// Every limit kind the real CLI renders, with and without its auto-continue: the right account cools until the
// reset the API announced, the conversation moves to account b in place with its history (b's own token, one continue
// prompt: never typed into the limit dialog, never doubled by the CLI's own armed continue), and the task finishes there.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

/** A reset that no screen text can express exactly (37 s past a minute): only the structured record gives it. */
function oddReset(hoursAhead: number): number {
  return Math.floor(Date.now() / 60_000) * 60 + hoursAhead * 3600 + 37;
}

const CASES: Array<{ mode: StandInMode; hours: number; autoContinue: boolean; dialog: boolean }> = [
  { mode: "five_hour", hours: 2, autoContinue: true, dialog: false },
  { mode: "five_hour", hours: 2, autoContinue: false, dialog: true },
  { mode: "seven_day", hours: 72, autoContinue: true, dialog: true },
  { mode: "seven_day_opus", hours: 72, autoContinue: true, dialog: true },
];

suite("real Claude Code: a quota 429 of each limit kind", () => {
  let c: Conformance | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  for (const { mode, hours, autoContinue, dialog } of CASES) {
    const label = `${mode}${autoContinue ? "" : " with auto-continue off"}${dialog ? " (limit dialog)" : " (auto-continue armed)"}`;
    test(`${label}: account a cools until the header's reset and the cut task finishes on b with its history`, async () => {
      c = await startConformance({ pool: 1, settings: autoContinue ? {} : { autoContinueAtUsageLimit: false } });
      await c.allIdle();
      c.task("warmup", "Remember the word PINEAPPLE");
      await eventually(() => c!.queue("done").length === 1, 60_000, 250);
      const resetAt = oddReset(hours);
      c.api.a.setMode({ mode, resetAt });
      c.task("cut", "Which word did I ask you to remember?");
      await eventually(() => c!.status().accounts.find((a) => a.name === "a")?.state === "cooling", 60_000, 100);
      // The limit record (transcript, and the StopFailure hook that carries it) gives the exact second; the screen
      // says "resets 3:17am". Known race on a loaded machine: when a poll sees the screen first, or the hook runs before
      // the CLI appends its record, the swap stops the CLI and the reset stays the screen's minute.
      const exact = new Date(resetAt * 1000).toISOString();
      const minute = new Date(Math.floor(resetAt / 60) * 60_000).toISOString();
      await eventually(() => c!.status().last_swap?.signal !== undefined, 15_000, 100);
      const cooling = c.status().accounts.find((a) => a.name === "a")!;
      expect([exact, minute]).toContain(cooling.reset_at!);
      await eventually(() => c!.queue("done").includes("cut.md"), 120_000, 250);
      expect(c.status().active_account).toBe("b");
      expect(c.status().swap_mode?.mode).toBe("in-place");
      expect(c.api.a.turns().filter((r) => r.status === 429)).toHaveLength(1);
      // What b's API received: b's own token from the move on, the whole history, and one continue for the cut turn
      // (nothing typed into the dialog; the CLI's own armed continue disarmed, never added). The dialog is usually
      // closed with Esc; the continue may also beat it (typed ~40 ms after the limit record, the dialog never opens).
      const cut = c.api.a.turns().find((r) => r.status === 429)!;
      expectOnlyBAfterTheMove(c);
      await expectOneContinue(c, "ccl-auto-11", cut.sessionId!, ["Remember the word PINEAPPLE"], "Which word did I ask you to remember?");
      expect(c.api.b.turns().map((r) => r.sessionId)).toEqual([cut.sessionId]);
      expect(c.queue("failed")).toEqual([]);
    }, 240_000);
  }
});
