/**
 * The continue prompt as the task follower asks for it: the follower no longer waits for the keys (they are typed
 * beside the supervisor's serial queue), so it asks again on every pass until the intent is written. One continue
 * per task is typed however often it is asked, and a task that moved on while its screen was read gets none.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock } from "../../internal/clock.ts";
import { createDelivery, type Delivery } from "../../internal/dispatcher/delivery.ts";
import type { Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store, type TaskRow } from "../../internal/state/state.ts";
import type { Tmux } from "../../internal/tmux/tmux.ts";

const IDLE = readFileSync(join(import.meta.dir, "../fixtures/panes/idle.txt"), "utf8").split("\n");
const SESSION = "ccl-auto-11";

let store: Store | undefined;
afterEach(() => store?.close());

/** A store with one running task whose turn was cut, a delivery on a stub tmux that counts pastes and can hold the capture. */
function setup() {
  const clock = createFakeClock();
  store = openStore(":memory:");
  store.upsertSession(SESSION, "pool", { state: "idle", account: "a", sessionId: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b", workdir: "/work" }, clock.now());
  const added = store.addTask({ project: "p", file: "t.md", priority: 0, workdir: "/work", timeoutMs: null, prompt: "do it", createdAt: clock.now(),
    fleetId: null, fleetClaim: null, originHost: null, fleetState: null });
  store.updateTask(added.id, { state: "running", session: SESSION, delivery: "ended", endedKind: "quota" });
  const pasted: string[][] = [];
  const captured: string[][] = [];
  let held: Promise<void> | null = null;
  const tmux = {
    capture: async (names: string[]) => { captured.push(names); await held; return new Map(names.map((n) => [n, IDLE])); },
    pasteThenKeys: async (names: string[]) => { pasted.push(names); return new Set(names); },
  } as unknown as Tmux;
  const delivery: Delivery = createDelivery({
    store, tmux, lifecycle: {} as Lifecycle, clock, log: memoryLog(), homeOf: () => null,
    activeAccount: () => ({ name: "a", home: "/h" }), sessions: { apply: () => null },
  }, { continuePrompt: "Continue.", pasteSettleMs: 0 });
  const task = () => store!.task(added.id) as TaskRow;
  /** Awaits `p`, moving the fake clock on while it is pending. */
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    void p.finally(() => { settled = true; });
    while (!settled) { await clock.advance(1); await Bun.sleep(0); }
    return p;
  };
  /** Holds every capture until the returned function is called (the screen being read while the follower goes on). */
  const holdCaptures = () => {
    let release!: () => void;
    held = new Promise((r) => { release = r; });
    return release;
  };
  return { delivery, pasted, captured, task, drive, holdCaptures };
}

test("a continue asked for again while it is being typed is the same one: typed once, counted once", async () => {
  const s = setup();
  const release = s.holdCaptures();
  const first = s.delivery.typeContinue(s.task(), "after a usage limit");
  await Bun.sleep(5);
  const again = s.delivery.typeContinue(s.task(), "after a usage limit");
  expect(again).toBe(first);
  release();
  expect(await s.drive(first)).toEqual({ kind: "typed" });
  await s.drive(s.delivery.idle());
  expect(s.pasted).toEqual([[SESSION]]);
  expect(s.task()).toMatchObject({ delivery: "typed", continues: 1 });

  // Once typed, a new cut turn gets its own continue.
  store!.updateTask(s.task().id, { delivery: "ended" });
  expect(await s.drive(s.delivery.typeContinue(s.task(), "after a usage limit"))).toEqual({ kind: "typed" });
  expect(s.task()).toMatchObject({ continues: 2 });
});

test("a task that moved on while its screen was read (done by a hook meanwhile) gets no continue and no intent", async () => {
  const s = setup();
  const release = s.holdCaptures();
  const asked = s.delivery.typeContinue(s.task(), "after a usage limit");
  await Bun.sleep(5);
  store!.updateTask(s.task().id, { state: "done" });
  release();
  expect(await asked).toEqual({ kind: "not-ready", reason: "the task moved on while its screen was read" });
  expect(s.pasted).toEqual([]);
  expect(s.task()).toMatchObject({ state: "done", delivery: "ended", continues: 0 });
});

test("idle() waits for a continue still being typed", async () => {
  const s = setup();
  const release = s.holdCaptures();
  void s.delivery.typeContinue(s.task(), "after a usage limit");
  let idle = false;
  const waiting = s.delivery.idle().then(() => { idle = true; });
  await Bun.sleep(5);
  expect(idle).toBe(false);
  release();
  await s.drive(waiting);
  expect(s.pasted).toEqual([[SESSION]]);
});

test("a screen the asking pass just read is checked, not captured again: idle, the continue is typed; a dialog, nothing is", async () => {
  const s = setup();
  expect(await s.drive(s.delivery.typeContinue(s.task(), "after a usage limit", IDLE))).toEqual({ kind: "typed" });
  expect(s.captured).toEqual([]);
  expect(s.pasted).toEqual([[SESSION]]);

  store!.updateTask(s.task().id, { delivery: "ended" });
  const dialog = readFileSync(join(import.meta.dir, "../fixtures/panes/modal-dialog.txt"), "utf8").split("\n");
  expect(await s.drive(s.delivery.typeContinue(s.task(), "after a usage limit", dialog))).toEqual({ kind: "not-ready", reason: "a dialog is open" });
  expect(s.captured).toEqual([]);
  expect(s.pasted).toEqual([[SESSION]]);
  expect(s.task()).toMatchObject({ delivery: "ended", continues: 1 });
});
