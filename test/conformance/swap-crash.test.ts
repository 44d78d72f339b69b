import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { expectOneContinue, expectOnlyBAfterTheMove } from "./support/received.ts";
import { eventually } from "../support/tmux.ts";
import { freezeAtStep } from "../support/daemon.ts";
import type { SwapStep } from "../../internal/state/state.ts";

// An in-place swap of the real CLI, with the daemon stopped inside each persisted step (the swap row stays open there,
// as after a kill -9): the next start finishes it. The same Claude Code process goes on as b, the cut task gets exactly
// one continue, with its history, and nothing after the move reaches a.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;
const STEPS: SwapStep[] = ["saving", "writing", "closing", "moving", "verifying"];

suite("real Claude Code: a daemon stopped during an in-place swap finishes it on its next start", () => {
  let c: Conformance | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  for (const step of STEPS) {
    test(`stopped at ${step}`, async () => {
      const { freeze, frozen } = freezeAtStep(step);
      c = await startConformance({ pool: 1, deps: { beforeSwapStep: freeze } });
      await c.allIdle();
      c.task("warmup", "Remember the word PINEAPPLE");
      await eventually(() => c!.queue("done").length === 1, 60_000, 250);
      const pids = async () => new Map((await c!.t.server.tmux.listPanes()).map((p) => [p.session, p.pid]));
      const before = await pids();
      c.api.a.setMode({ mode: "five_hour" });
      c.task("cut", "Which word did I ask you to remember?");
      await eventually(() => frozen(), 60_000, 50);
      await c.t.daemon.stop("simulated crash");
      const db = new Database(join(c.t.config.state_dir, "state.db"), { readonly: true });
      expect(db.query("SELECT step FROM swaps").get()).toEqual({ step });
      db.close();

      await c.t.restart();
      await eventually(() => c!.queue("done").includes("cut.md"), 120_000, 250);
      expect(c.status().last_swap).toMatchObject({ from: "a", to: "b", step: "done" });
      expect(c.status().swap_mode?.mode).toBe("in-place");
      expect(await pids()).toEqual(before);
      const cut = c.api.a.turns().find((r) => r.status === 429)!;
      expectOnlyBAfterTheMove(c);
      await expectOneContinue(c, "ccl-auto-11", cut.sessionId!, ["Remember the word PINEAPPLE"], "Which word did I ask you to remember?");
      expect(c.queue("failed")).toEqual([]);
    }, 240_000);
  }
});
