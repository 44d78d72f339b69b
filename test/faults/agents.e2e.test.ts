import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { makeTask, prompts } from "../support/ledger.ts";
import { startFaultCase, type FaultCase } from "../support/fault-case.ts";
import { listPanes } from "../support/daemon.ts";

// Agents and their tmux server dying under running tasks, and a task file written in two halves. task_timeout is
// 10 minutes here: a task that finishes within the test's deadline did not wait for it. A task continues in its
// resumed conversation with at most one counted continue prompt; it is never typed twice.

let c: FaultCase | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

describe("agents that die mid-task", () => {
  test("an agent that crashes mid-turn (exit 137): the task continues in the resumed conversation at once", async () => {
    c = await startFaultCase();
    const a = makeTask("crash", { work: "4s" });
    c.faults({ crash: { code: 137, afterMs: 800, match: a.marker } });
    c.drop(a);
    expect(await c.settle(a, 60_000)).toBe("done");
    c.once(a, { continues: 1 });
  }, 90_000);

  test("an agent killed with SIGKILL mid-turn: the task continues in the resumed conversation at once", async () => {
    c = await startFaultCase();
    const a = makeTask("sigkill", { work: "5s" });
    c.drop(a);
    await c.typed(a);
    const pane = (await listPanes(c.d.server)).find((p) => p.name === "ccl-auto-11")!;
    process.kill(pane.pid, "SIGKILL");
    expect(await c.settle(a, 60_000)).toBe("done");
    c.once(a, { continues: 1 });
  }, 90_000);

  test("the tmux server killed with two tasks running: both continue in their resumed conversations", async () => {
    c = await startFaultCase({ pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: 2, max: 2, workdir: ${dir}/work }`,
      poolNames: ["ccl-auto-11", "ccl-auto-12"] });
    const tasks = [makeTask("tmux-a", { work: "6s" }), makeTask("tmux-b", { work: "6s" })];
    c.drop(...tasks);
    for (const task of tasks) await c.typed(task);
    await c.d.server.raw("kill-server");
    for (const task of tasks) expect(await c.settle(task, 90_000)).toBe("done");
    for (const task of tasks) c.once(task, { continues: 1 });
  }, 120_000);
});

describe("the inbox", () => {
  test("a task file written in two halves with a pause is delivered whole, once", async () => {
    c = await startFaultCase();
    const a = makeTask("halves", { work: "1s" });
    const fd = openSync(join(c.queue("inbox"), a.file), "w");
    const cut = a.body.indexOf("[sim:reply=");
    writeSync(fd, a.body.slice(0, cut));
    await Bun.sleep(4500); // a slow producer: the first half sits in the inbox across two rescans (rescan_interval: 2s)
    writeSync(fd, a.body.slice(cut));
    closeSync(fd);
    expect(await c.settle(a)).toBe("done");
    c.once(a);
    const typed = prompts(c.d.dir).filter((p) => p.text.includes(a.marker));
    expect(typed.map((p) => p.text.trim())).toEqual([a.body.trim()]);
  }, 90_000);
});

describe("tasks that outlive a pane", () => {
  test("a task whose agent crashes twice still ends, typed once, in done/ or failed/ with a reason", async () => {
    c = await startFaultCase();
    const a = makeTask("crash-twice", { work: "4s" });
    c.faults({ crash: { count: 2, code: 1, afterMs: 600 } }); // the task's turn, then the continue prompt's
    c.drop(a);
    const outcome = await c.settle(a, 80_000);
    c.once(a, { continues: 2, outcome });
  }, 100_000);
});
