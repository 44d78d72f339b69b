/**
 * The task follower's view of a session an in-place swap moved: the move sets `launchedAt` (the old account's limit
 * line still on screen is old news until the next turn), but no process started, so a prompt typed just before it is
 * not taken as lost to a restart (requeued and typed a second time elsewhere).
 */
import { afterEach, expect, test } from "bun:test";
import { createFakeClock } from "../../internal/clock.ts";
import type { Dispatcher } from "../../internal/dispatcher/dispatcher.ts";
import type { Delivery } from "../../internal/dispatcher/delivery.ts";
import type { Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import type { Tmux } from "../../internal/tmux/tmux.ts";
import { createTaskWork } from "../../internal/watcher/tasks.ts";
import type { SessionTracker } from "../../internal/watcher/sessions.ts";

const SESSION = "ccl-auto-11";
let store: Store | undefined;
afterEach(() => store?.close());

/** A task typed into SESSION at `typedAt`, not in its transcript yet; the session's row says it launched at `launchedAt`. */
function setup(typedAt: number, launchedAt: number, movedInPlaceAt: number | null) {
  const clock = createFakeClock(launchedAt + 1_000);
  store = openStore(":memory:");
  store.upsertSession(SESSION, "pool", { state: "working", account: "b", sessionId: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b", workdir: "/work", launchedAt }, clock.now());
  const task = store.addTask({ project: "p", file: "t.md", priority: 0, workdir: "/work", timeoutMs: null, prompt: "do it", createdAt: typedAt,
    fleetId: null, fleetClaim: null, originHost: null, fleetState: null });
  store.updateTask(task.id, { state: "running", session: SESSION, startedAt: typedAt, delivery: "typed", typedAt, expect: "do it", transcript: null, ledgerOffset: 0 });
  const requeued: string[] = [];
  const sessions = { pane: () => null, alive: () => true, apply: () => null } as unknown as SessionTracker;
  const work = createTaskWork({
    store, tmux: {} as Tmux, lifecycle: { kindOf: () => "pool" } as unknown as Lifecycle,
    dispatcher: { requeue: (_id: number, reason: string) => void requeued.push(reason) } as unknown as Dispatcher,
    delivery: {} as Delivery, sessions, clock, log: memoryLog(), taskTimeoutMs: 600_000,
    swapRunning: () => false, gateOpen: () => true, activeAccount: () => ({ name: "b", home: "/h" }), limitRecorded: () => undefined,
    movedInPlaceAt: () => movedInPlaceAt,
  });
  return { work, requeued, task: () => store!.task(task.id)! };
}

test("a prompt typed just before an in-place move waits for its transcript as usual", async () => {
  const s = setup(4_000, 5_000, 5_000);
  await s.work.follow();
  expect(s.requeued).toEqual([]);
  expect(s.task()).toMatchObject({ state: "running", delivery: "typed" });
});

test("a prompt typed just before a real relaunch is taken as not delivered", async () => {
  const s = setup(4_000, 5_000, null);
  await s.work.follow();
  expect(s.requeued).toEqual(["not delivered: the session restarted before the prompt reached the conversation"]);
});

test("a relaunch after an in-place move still counts as one", async () => {
  const s = setup(4_000, 5_000, 4_500);
  await s.work.follow();
  expect(s.requeued).toHaveLength(1);
});
