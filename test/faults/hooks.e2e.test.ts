import { afterEach, describe, expect, test } from "bun:test";
import { makeTask, type TestTask } from "../support/ledger.ts";
import { startFaultCase, type FaultCase } from "../support/fault-case.ts";
import { defaultQuotaLine } from "../../internal/demo/sim-screen.ts";
import { pollCount } from "../support/daemon.ts";

// Duplicated, late, lost and reordered hooks of every kind (SessionStart, UserPromptSubmit, Stop, StopFailure and the
// idle Notification), injected by the simulated Claude Code
// (`<home>/sim-faults.json`), against the daemon as a real process on a private tmux socket. The transcript is the
// ledger: whatever the hooks say, every task is typed exactly once and ends in done/ with its own result.

let c: FaultCase | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

/** One case: task A (and B queued behind it on the one pool session) under the faults `faults(A)`. */
interface HookCase {
  title: string;
  faults: (a: TestTask) => Record<string, unknown>;
  /** How long A's and B's turns work; no B when absent. */
  work: [string, string?];
  /** Faults written before the daemon (and its sessions) start. */
  atStart?: Record<string, unknown>;
}

const cases: HookCase[] = [
  { title: "a late duplicate of task A's Stop does not finish task B (B is typed right after A, the copy arrives during B)",
    faults: (a) => ({ Stop: { duplicate: 1, duplicateDelayMs: 1500, match: a.marker } }), work: ["1s", "4s"] },
  { title: "a duplicated Stop of the same task finishes it once and does not finish the next one",
    faults: (a) => ({ Stop: { duplicate: 1, duplicateDelayMs: 100, match: a.marker } }), work: ["1s", "1s"] },
  { title: "a lost Stop: the task ends from the transcript's turn_duration",
    faults: (a) => ({ Stop: { drop: 1, match: a.marker } }), work: ["1s"] },
  { title: "a Stop delivered late (after the turn ended) finishes the task once",
    faults: (a) => ({ Stop: { delayMs: 2500, match: a.marker } }), work: ["1s", "2s"] },
  { title: "a lost UserPromptSubmit: the task is typed once, not three times",
    faults: (a) => ({ UserPromptSubmit: { drop: 1, match: a.marker } }), work: ["2s"] },
  { title: "every UserPromptSubmit of a task lost: typed once, ended by the transcript",
    faults: (a) => ({ UserPromptSubmit: { drop: 5, match: a.marker } }), work: ["2s"] },
  { title: "a UserPromptSubmit delivered after the turn's Stop (late) changes nothing",
    faults: (a) => ({ UserPromptSubmit: { delayMs: 3000, match: a.marker } }), work: ["1s", "2s"] },
  { title: "reordered hooks (Stop before UserPromptSubmit) finish the task once",
    faults: (a) => ({ UserPromptSubmit: { reorder: 1, match: a.marker } }), work: ["1s", "1s"] },
  { title: "a duplicated UserPromptSubmit does not type the task again",
    faults: (a) => ({ UserPromptSubmit: { duplicate: 1, duplicateDelayMs: 500, match: a.marker } }), work: ["2s"] },
  { title: "a late idle Notification of task A, arriving while B runs, does not finish B",
    faults: (a) => ({ idleNotifyMs: 200, Notification: { delayMs: 1500, match: a.marker } }), work: ["1s", "4s"] },
  { title: "a duplicated idle Notification of task A does not finish B",
    faults: (a) => ({ idleNotifyMs: 200, Notification: { duplicate: 1, duplicateDelayMs: 1200, match: a.marker } }), work: ["1s", "4s"] },
  { title: "a late duplicate SessionStart while a task runs does not requeue or retype it",
    faults: () => ({}), atStart: { SessionStart: { duplicate: 5, duplicateDelayMs: 6000 } }, work: ["5s"] },
  { title: "a lost SessionStart: the session still gets and finishes tasks",
    faults: () => ({}), atStart: { SessionStart: { drop: 5 } }, work: ["1s"] },
];

describe("hook faults", () => {
  test.each(cases.map((k) => [k.title, k] as const))("%s", async (_, k) => {
    c = await startFaultCase({ before: (fresh) => k.atStart && fresh.faults(k.atStart) });
    const slug = k.title.replace(/[^a-z]+/gi, "-").slice(0, 24);
    const tasks = k.work.flatMap((work, i) => (work ? [makeTask(`${slug}${"ab"[i]}`, { work })] : []));
    if (!k.atStart) c.faults(k.faults(tasks[0]!));
    c.drop(...tasks);
    for (const task of tasks) expect(await c.settle(task, 60_000)).toBe("done");
    for (const task of tasks) c.once(task);
  }, 90_000);
});

describe("the transcript watch", () => {
  test("every hook of a task lost and no poll due for ten minutes: the task ends from its transcript as it is written", async () => {
    const slow = "poll_interval: 10m";
    c = await startFaultCase({ quota: `{ ${slow}, reactivate_cooldown: 1h, confirm_polls: 2 }`, watcher: `{ ${slow}, task_timeout: 30m }` });
    const polls = await pollCount(c.d.url);
    const a = makeTask("watched", { work: "1s" });
    c.faults({ UserPromptSubmit: { drop: 5, match: a.marker }, Stop: { drop: 5, match: a.marker }, Notification: { drop: 5, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a, 60_000)).toBe("done");
    // No poll ran meanwhile: the transcript watch alone saw the prompt land and the turn end.
    expect(await pollCount(c.d.url)).toBe(polls);
    c.once(a);
  }, 90_000);
});

/** A quota line with a reset an hour or so ahead, as Claude Code writes it. */
const limitLine = () => defaultQuotaLine(new Date(), "UTC");
const OVERLOADED = "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.";

describe("StopFailure faults", () => {
  test("a duplicated StopFailure of a server error counts once: one continue prompt, then done", async () => {
    c = await startFaultCase();
    const a = makeTask("dup-failure", { work: "1s", directives: `[sim:say=${OVERLOADED}]` });
    c.faults({ StopFailure: { duplicate: 1, duplicateDelayMs: 300, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a, 80_000)).toBe("done"); // the daemon pauses 30 s before it continues after a server error
    c.once(a, { continues: 1 });
  }, 100_000);

  test.each([
    ["lost", { drop: 1 }],
    ["duplicated", { duplicate: 1, duplicateDelayMs: 300 }],
    ["late", { delayMs: 2500 }],
  ] as const)("a %s StopFailure on a usage limit: one swap to b, the task continues once there", async (_, fault) => {
    c = await startFaultCase();
    const a = makeTask("limit", { work: "1s", directives: `[sim:say=${limitLine()}]` });
    c.faults({ StopFailure: { ...fault, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a, 80_000)).toBe("done");
    c.once(a, { continues: 1 });
    expect((await c.d.get("/status")).active_account).toBe("b");
    expect(c.d.logs().filter((l) => l.msg === "swap done").length).toBe(1);
  }, 100_000);
});
