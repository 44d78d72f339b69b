import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { makeTask, type TestTask } from "../support/ledger.ts";
import { startFaultCase, type FaultCase } from "../support/fault-case.ts";
import { eventually } from "../support/tmux.ts";

// The daemon process killed (SIGKILL) or reloaded (SIGHUP) at every step of a delivery: before typing, between the
// paste and Enter, right after Enter, after Claude Code wrote the task's user record (its UserPromptSubmit not yet
// heard), and before the Stop (which then reaches the spool, or is lost). A `tmux` trap on the daemon's PATH holds the
// exact command; sim-faults.json delays or drops hooks. After the restart every task is typed exactly once and ends in
// done/ with its own result; nothing is requeued merely because the daemon restarted.

let c: FaultCase | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

type Stop = "kill -9" | "SIGHUP";

/**
 * Stops the daemon the way `how` says while a trapped command is held (if any), then lets the next daemon run;
 * after a kill, `whileDown` is awaited before the restart.
 */
async function interrupt(k: FaultCase, how: Stop, held: "before" | "after" | null, whileDown?: () => Promise<unknown>): Promise<void> {
  if (how === "kill -9") {
    await k.d.kill9();
    if (held) k.d.release(held === "before"); // a dead daemon's pending command never runs
    await whileDown?.();
    k.d.start();
    return;
  }
  k.d.signal("SIGHUP");
  await k.d.waitLog("daemon stopping", { reason: "reload" });
  if (held) k.d.release(); // the command in flight completes while the old instance stops
  await k.d.waitLog("config reloaded");
}

/** Where the delivery is stopped, and how the case gets there. */
interface Step {
  title: string;
  /** Arms the trap or the faults, drops the tasks and waits for the step; says whether a tmux command is held. */
  reach(k: FaultCase, a: TestTask, b: TestTask): Promise<"before" | "after" | null>;
  /** Waited for between a kill and the restart. */
  whileDown?(k: FaultCase, spooledBefore: number): Promise<unknown>;
}

const spool = (k: FaultCase) => join(k.d.config.state_dir, "spool");
const spooled = (k: FaultCase) => (existsSync(spool(k)) ? readdirSync(spool(k)).filter((f) => f.endsWith(".json")).length : 0);

/** A step reached by holding the first tmux command matching `glob`, before or after it runs. */
const trapStep = (title: string, when: "before" | "after", glob: string): Step => ({ title, async reach(k, a, b) {
  k.d.arm(when, glob);
  k.drop(a, b);
  await k.d.trapped();
  return when;
} });

const steps: Step[] = [
  trapStep("before typing (the paste held unrun)", "before", "*paste-buffer*"),
  trapStep("between the paste and Enter (the text left in the prompt box)", "before", "*send-keys*Enter*"),
  trapStep("right after Enter (typed, nothing confirmed)", "after", "*send-keys*Enter*"),
  { title: "after the task's user record, before its UserPromptSubmit is heard", async reach(k, a, b) {
    k.faults({ UserPromptSubmit: { delayMs: 2500, match: a.marker } });
    k.drop(a, b);
    await k.typed(a);
    return null;
  } },
  { title: "before the Stop, which reaches the spool while the daemon is down", async reach(k, a, b) {
    k.faults({ Stop: { delayMs: 1500, match: a.marker } });
    k.drop(a, b);
    await k.ended(a);
    return null;
  }, whileDown: (k, before) => eventually(() => spooled(k) > before || null, 20_000) },
  { title: "before the Stop, which is lost", async reach(k, a, b) {
    k.faults({ Stop: { drop: 1, match: a.marker } });
    k.drop(a, b);
    await k.ended(a);
    return null;
  } },
];

describe.each(["kill -9", "SIGHUP"] as const)("the daemon stopped by %s", (how) => {
  test.each(steps.map((s) => [s.title, s] as const))("%s: each task typed once, done with its own result", async (_, step) => {
    c = await startFaultCase();
    const a = makeTask("deliv-a", { work: "3s" });
    const b = makeTask("deliv-b", { work: "1s" });
    const before = spooled(c);
    const held = await step.reach(c, a, b);
    await interrupt(c, how, held, step.whileDown && (() => step.whileDown!(c!, before)));
    for (const task of [a, b]) expect(await c.settle(task, 60_000)).toBe("done");
    c.once(a);
    c.once(b);
  }, 120_000);
});
