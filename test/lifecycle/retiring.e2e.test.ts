import { afterEach, expect, test } from "bun:test";
import { listPanes, startTestDaemon, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";

// A reload that shrinks the pool with tasks running: real tmux, the simulated Claude Code, the whole daemon.
const FOREIGN = ["ccl-0", "ccl-auto-14"];
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

test("restarted with max 1 while 3 tasks run, the 2 leaving sessions retire: no new task, stopped once their task is done", async () => {
  const t = await startTestDaemon({ foreign: FOREIGN, extra: { pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: 3, max: 3, workdir: ${dir}/work }` } });
  current = t;
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 4, 20_000);
  for (const n of [1, 2, 3]) expect((await t.daemon.control.addTask({ project: "p", name: `long-${n}.md`, prompt: `[sim:work=8s] long task ${n}` })).ok).toBe(true);
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.task !== null).length === 3, 20_000);
  const foreign = new Map((await listPanes(t.server)).filter((p) => FOREIGN.includes(p.name)).map((p) => [p.name, p.pid]));
  const taskOf = new Map(t.daemon.control.status().sessions.filter((s) => s.task).map((s) => [s.name, s.task!]));
  expect([...taskOf.keys()].sort()).toEqual(["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"]);

  await t.daemon.stop("reload");
  await t.restart(undefined, (text) => text.replace("min: 3, max: 3", "min: 1, max: 1"));
  await eventually(() => {
    const states = new Map(t.daemon.control.status().sessions.map((s) => [s.name, s.state]));
    return states.get("ccl-auto-12") === "retiring" && states.get("ccl-auto-13") === "retiring";
  }, 10_000, 20);
  for (const n of [1, 2]) expect((await t.daemon.control.addTask({ project: "p", name: `after-${n}.md`, prompt: `[sim:work=1s] after the reload ${n}` })).ok).toBe(true);

  await eventually(() => t.daemon.control.status().tasks.done === 5, 40_000);
  const tasks = t.daemon.control.tasks();
  for (const task of tasks) expect({ file: task.file, state: task.state, attempts: task.attempts }).toEqual({ file: task.file, state: "done", attempts: 1 });
  for (const [session, label] of taskOf) expect(tasks.find((k) => `${k.project}/${k.file}` === label)!.session).toBe(session);
  expect(tasks.filter((k) => k.file.startsWith("after-")).map((k) => k.session)).toEqual(["ccl-auto-11", "ccl-auto-11"]);

  await eventually(async () => !(await listPanes(t.server)).some((p) => p.name === "ccl-auto-12" || p.name === "ccl-auto-13"), 10_000);
  const panes = await listPanes(t.server);
  expect(panes.map((p) => p.name).sort()).toEqual([...FOREIGN, "ccl-1-ded", "ccl-auto-11"].sort());
  for (const [name, pid] of foreign) expect(panes.find((p) => p.name === name)!.pid).toBe(pid);
  expect(t.daemon.control.status().sessions.map((s) => s.name).sort()).toEqual(["ccl-1-ded", "ccl-auto-11"]);
  // Each was stopped only after its task had finished.
  for (const session of ["ccl-auto-12", "ccl-auto-13"]) {
    const stop = t.log.records.find((r) => r.msg === "retired session stopped" && r.session === session)!;
    const task = tasks.find((k) => `${k.project}/${k.file}` === taskOf.get(session))!;
    expect(Date.parse(String(stop.ts))).toBeGreaterThanOrEqual(task.finishedAt!);
  }
}, 90_000);
