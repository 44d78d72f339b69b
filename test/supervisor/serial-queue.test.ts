import { describe, expect, test } from "bun:test";
import { memoryLog } from "../../internal/log.ts";
import { createSerialQueue, ROUTINE_MAX_WAIT_MS, SLOW_WAIT_MS } from "../../internal/supervisor/serial-queue.ts";

/** A job that records its start and end, and ends when `release` is called. */
function gate() {
  let release!: () => void;
  const done = new Promise<void>((r) => { release = r; });
  return { done, release };
}

describe("supervisor serial queue", () => {
  test("runs one job at a time: a job queued while another runs starts after it ended", async () => {
    const q = createSerialQueue(memoryLog());
    const seen: string[] = [];
    const first = gate();
    const a = q.run("routine", "a", async () => { seen.push("a start"); await first.done; seen.push("a end"); });
    await Bun.sleep(0);
    const b = q.run("urgent", "b", async () => { seen.push("b"); });
    await Bun.sleep(0);
    expect(seen).toEqual(["a start"]);
    first.release();
    await Promise.all([a, b]);
    expect(seen).toEqual(["a start", "a end", "b"]);
  });

  test("urgent jobs run before routine ones that waited longer; each lane keeps its order", async () => {
    const q = createSerialQueue(memoryLog());
    const seen: string[] = [];
    const first = gate();
    const jobs = [q.run("routine", "running", async () => { await first.done; })];
    await Bun.sleep(0);
    for (const [lane, name] of [["routine", "poll 1"], ["urgent", "hook 1"], ["routine", "poll 2"], ["urgent", "hook 2"]] as const) {
      jobs.push(q.run(lane, name, async () => { seen.push(name); }));
    }
    first.release();
    await Promise.all(jobs);
    expect(seen).toEqual(["hook 1", "hook 2", "poll 1", "poll 2"]);
  });

  test(`a routine job that waited ${ROUTINE_MAX_WAIT_MS} ms runs before the urgent ones waiting: hooks never starve the poll`, async () => {
    let t = 0;
    const q = createSerialQueue(memoryLog(), () => t);
    const seen: string[] = [];
    const first = gate();
    const jobs = [q.run("urgent", "running", async () => { await first.done; })];
    await Bun.sleep(0);
    jobs.push(q.run("routine", "poll", async () => { seen.push("poll"); }));
    t += ROUTINE_MAX_WAIT_MS;
    for (const name of ["hook 1", "hook 2"]) jobs.push(q.run("urgent", name, async () => { seen.push(name); }));
    first.release();
    await Promise.all(jobs);
    expect(seen).toEqual(["poll", "hook 1", "hook 2"]);
  });

  test("a keyed job still waiting is joined, not queued again; once it runs, a new report queues a new job", async () => {
    const q = createSerialQueue(memoryLog());
    let reads = 0;
    const first = gate();
    const blocker = q.run("routine", "poll", async () => { await first.done; });
    await Bun.sleep(0);
    const read = async () => { reads++; };
    const joined = [q.once("urgent", "t1", read), q.once("urgent", "t1", read), q.once("urgent", "t1", read)];
    expect(joined[1]).toBe(joined[0]);
    first.release();
    await Promise.all([blocker, ...joined]);
    expect(reads).toBe(1);

    const running = gate();
    let calls = 0;
    const slow = q.once("urgent", "t1", async () => { calls++; await running.done; });
    await Bun.sleep(0);
    const after = q.once("urgent", "t1", async () => { calls++; });
    expect(after).not.toBe(slow);
    running.release();
    await Promise.all([slow, after]);
    expect(calls).toBe(2);
  });

  test("a job that fails gives its error to its caller only; the next job runs", async () => {
    const q = createSerialQueue(memoryLog());
    const failing = q.run("urgent", "bad", async () => { throw new Error("boom"); });
    const next = q.run("urgent", "good", async () => 42);
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe(42);
  });

  test("idle() resolves once nothing runs or waits", async () => {
    const q = createSerialQueue(memoryLog());
    await q.idle();
    const first = gate();
    let ended = false;
    void q.run("routine", "slow", async () => { await first.done; ended = true; });
    const idle = q.idle();
    expect(q.size() + (ended ? 0 : 1)).toBeGreaterThan(0);
    first.release();
    await idle;
    expect(ended).toBe(true);
  });

  test(`a job that waited ${SLOW_WAIT_MS} ms or more is logged at debug with what it was`, async () => {
    const log = memoryLog();
    let t = 0;
    const q = createSerialQueue(log, () => t);
    const first = gate();
    const a = q.run("routine", "poll", async () => { await first.done; });
    await Bun.sleep(0);
    const b = q.run("urgent", "hook StopFailure", async () => {});
    t += SLOW_WAIT_MS;
    first.release();
    await Promise.all([a, b]);
    expect(log.records.filter((r) => r.msg === "supervisor job waited")).toEqual([
      expect.objectContaining({ level: "debug", job: "hook StopFailure", waited_ms: SLOW_WAIT_MS, waiting: 0 }),
    ]);
  });
});
