import { describe, expect, test } from "bun:test";
import { NO_DELIVERY, type TaskRow } from "../../internal/state/state.ts";
import { API_ERROR_PAUSE_MS, CONFIRM_MS, INTENT_GRACE_MS, MAX_API_ERRORS, nextTaskStep, type TaskFacts } from "../../internal/watcher/follow.ts";
import type { TurnView } from "../../internal/claude/transcript.ts";

const T0 = Date.UTC(2026, 10, 29, 12);
const CONV = "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

const task = (patch: Partial<TaskRow> = {}): TaskRow => ({
  id: 1, project: "web", file: "fix.md", state: "running", priority: 0, workdir: "/w", timeoutMs: null, prompt: "Fix it",
  session: "ccl-auto-11", attempts: 1, createdAt: T0, startedAt: T0, finishedAt: null, error: null, ...NO_DELIVERY,
  delivery: "typed", conversation: CONV, transcript: "/h/t.jsonl", ledgerOffset: 100, expect: "Fix it", typedAt: T0,
  ...patch,
});
const turn = (end: TurnView["end"] = null, promptId: string | null = "pA"): TurnView => ({ promptId, offset: 120, end });
const facts = (patch: Partial<TaskFacts> & { task?: TaskRow } = {}): TaskFacts => ({
  task: task(),
  session: { alive: true, launchedAt: T0 - 60_000, conversation: CONV, accountUsable: true, relaunchable: true },
  pane: { activity: "busy", input: "", autoContinueFiring: false },
  ledger: { exists: true, turn: null, nextTurn: null },
  swapRunning: false, now: T0 + 1_000, timeoutMs: 3_600_000,
  ...patch,
});
const limitEnd = { kind: "api-error" as const, error: "rate_limit", text: "You've hit your 5-hour limit", quota: { resetsAt: null, limitType: "five_hour" } };
const errorEnd = { kind: "api-error" as const, error: "server_error", text: "API Error: 529 Overloaded", quota: null };

describe("nextTaskStep(): delivery", () => {
  test("confirms a typed prompt once the transcript holds it, with its promptId", () => {
    expect(nextTaskStep(facts({ ledger: { exists: true, turn: turn(), nextTurn: null } }))).toEqual({ kind: "confirm", promptId: "pA", offset: 120 });
  });

  test("waits while the prompt is not in the transcript yet, and never retypes it", () => {
    expect(nextTaskStep(facts({ now: T0 + CONFIRM_MS - 1 }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ now: T0 + CONFIRM_MS + 1, pane: { activity: "busy", input: "", autoContinueFiring: false } }))).toEqual({ kind: "wait" });
  });

  test("presses Enter once for a prompt left in the input box, then requeues if it still never arrives", () => {
    const left = { activity: "idle" as const, input: "Fix it", autoContinueFiring: false };
    expect(nextTaskStep(facts({ now: T0 + CONFIRM_MS + 1, pane: left }))).toEqual({ kind: "nudge" });
    const nudged = task({ nudgedAt: T0 + CONFIRM_MS + 1 });
    expect(nextTaskStep(facts({ task: nudged, now: T0 + CONFIRM_MS + 2, pane: left }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ task: nudged, now: T0 + 2 * CONFIRM_MS + 2, pane: left }))).toMatchObject({ kind: "requeue", typed: true });
  });

  test("an intent never typed (the daemon stopped first) goes back to the queue without spending an attempt", () => {
    const intent = task({ delivery: "intent" });
    expect(nextTaskStep(facts({ task: intent, now: T0 + INTENT_GRACE_MS - 1 }))).toEqual({ kind: "wait" });
    const empty = { activity: "idle" as const, input: "", autoContinueFiring: false };
    expect(nextTaskStep(facts({ task: intent, now: T0 + INTENT_GRACE_MS + 1, pane: empty }))).toMatchObject({ kind: "requeue", typed: false });
  });

  test("an intent whose text sits in the input box (killed between the paste and Enter) gets Enter, not a second paste", () => {
    const intent = task({ delivery: "intent" });
    const left = { activity: "idle" as const, input: "Fix it", autoContinueFiring: false };
    expect(nextTaskStep(facts({ task: intent, now: T0 + INTENT_GRACE_MS - 1, pane: left }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ task: intent, now: T0 + INTENT_GRACE_MS + 1, pane: left }))).toEqual({ kind: "nudge" });
  });

  test("an intent whose prompt is in the transcript is confirmed, not retyped (killed right after typing)", () => {
    expect(nextTaskStep(facts({ task: task({ delivery: "intent" }), now: T0 + 60_000, ledger: { exists: true, turn: turn(), nextTurn: null } })))
      .toMatchObject({ kind: "confirm" });
  });

  test("a typed prompt already answered when the daemon comes back is done at once", () => {
    expect(nextTaskStep(facts({ ledger: { exists: true, turn: turn({ kind: "done", reply: "All fixed" }), nextTurn: null } })))
      .toEqual({ kind: "done", result: "All fixed", promptId: "pA" });
  });
});

describe("nextTaskStep(): hooks are hints", () => {
  const confirmed = task({ delivery: "confirmed", promptId: "pB" });
  const open = { exists: true, turn: turn(null, "pB"), nextTurn: null };

  test("a Stop naming the task's turn ends it with the hook's message", () => {
    expect(nextTaskStep(facts({ task: confirmed, ledger: open, hook: { promptId: "pB", end: { kind: "done", reply: "B done" } } })))
      .toEqual({ kind: "done", result: "B done", promptId: "pB" });
  });

  test("a late or duplicated Stop of another turn changes nothing", () => {
    expect(nextTaskStep(facts({ task: confirmed, ledger: open, hook: { promptId: "pA", end: { kind: "done", reply: "A done" } } }))).toEqual({ kind: "wait" });
  });

  test("a Stop with no prompt id cannot end a turn whose transcript has ids", () => {
    expect(nextTaskStep(facts({ task: confirmed, ledger: open, hook: { promptId: null, end: { kind: "done", reply: "?" } } }))).toEqual({ kind: "wait" });
  });

  test("with no readable transcript, the prompt id confirmed by UserPromptSubmit decides", () => {
    const noLedger = { exists: false, turn: null, nextTurn: null };
    expect(nextTaskStep(facts({ task: confirmed, ledger: noLedger, hook: { promptId: "pB", end: { kind: "done", reply: "ok" } } }))).toMatchObject({ kind: "done" });
    expect(nextTaskStep(facts({ task: confirmed, ledger: noLedger, hook: { promptId: "pZ", end: { kind: "done", reply: "no" } } }))).toEqual({ kind: "wait" });
  });
});

describe("nextTaskStep(): cut turns and restarts", () => {
  test("a turn cut by a limit or a server error is recorded as ended", () => {
    expect(nextTaskStep(facts({ task: task({ delivery: "confirmed" }), ledger: { exists: true, turn: turn(limitEnd), nextTurn: null } }))).toMatchObject({ kind: "ended", endKind: "quota" });
    expect(nextTaskStep(facts({ task: task({ delivery: "confirmed" }), ledger: { exists: true, turn: turn(errorEnd), nextTurn: null } }))).toMatchObject({ kind: "ended", endKind: "transient" });
  });

  test("a limit waits for an account with quota, then continues at once; Claude Code's own continue, once fired, is never doubled", () => {
    const parked = task({ delivery: "ended", endedKind: "quota", endedAt: T0, promptId: "pA" });
    const idle = { activity: "idle" as const, input: "", autoContinueFiring: false };
    expect(nextTaskStep(facts({ task: parked, pane: idle, session: { alive: true, launchedAt: T0 - 1, conversation: CONV, accountUsable: false, relaunchable: true } }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ task: parked, pane: { ...idle, autoContinueFiring: true } }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ task: parked, pane: idle }))).toMatchObject({ kind: "continue" });
    // Moved by a swap (relaunched after typing): whatever the old process had armed is gone with it.
    expect(nextTaskStep(facts({ task: parked, pane: { ...idle, autoContinueFiring: true }, session: { alive: true, launchedAt: T0 + 500, conversation: CONV, accountUsable: true, relaunchable: true } })))
      .toMatchObject({ kind: "continue" });
  });

  test("a turn cut by a lost login (authentication_failed) waits for a usable account, then continues at once, with no pause", () => {
    const loginEnd = { kind: "api-error" as const, error: "authentication_failed", text: "OAuth token revoked · Please run /login", quota: null };
    expect(nextTaskStep(facts({ task: task({ delivery: "confirmed" }), ledger: { exists: true, turn: turn(loginEnd), nextTurn: null } }))).toMatchObject({ kind: "ended", endKind: "login" });
    const parked = task({ delivery: "ended", endedKind: "login", endedAt: T0, promptId: "pA" });
    const idle = { activity: "idle" as const, input: "", autoContinueFiring: false };
    expect(nextTaskStep(facts({ task: parked, pane: idle, session: { alive: true, launchedAt: T0 - 1, conversation: CONV, accountUsable: false, relaunchable: true } }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ task: parked, pane: idle, now: T0 + 1 }))).toEqual({ kind: "continue", reason: "after a lost login" });
  });

  test("Claude Code's own continue after the reset becomes the task's turn", () => {
    const parked = task({ delivery: "ended", endedKind: "quota", endedAt: T0, promptId: "pA" });
    expect(nextTaskStep(facts({ task: parked, ledger: { exists: true, turn: turn(limitEnd), nextTurn: { promptId: "pAuto", offset: 400, end: null } } })))
      .toEqual({ kind: "confirm", promptId: "pAuto", offset: 400 });
  });

  test("never types a continue into a dialog: it closes the dialog first", () => {
    const parked = task({ delivery: "ended", endedKind: "quota", endedAt: T0 });
    expect(nextTaskStep(facts({ task: parked, pane: { activity: "dialog", input: null, autoContinueFiring: false } }))).toEqual({ kind: "close-dialog" });
  });

  test("a server error is continued after a pause, a bounded number of times", () => {
    const errored = task({ delivery: "ended", endedKind: "transient", endedAt: T0, apiErrors: 1 });
    const idle = { activity: "idle" as const, input: "", autoContinueFiring: false };
    expect(nextTaskStep(facts({ task: errored, pane: idle, now: T0 + API_ERROR_PAUSE_MS - 1 }))).toEqual({ kind: "wait" });
    expect(nextTaskStep(facts({ task: errored, pane: idle, now: T0 + API_ERROR_PAUSE_MS }))).toMatchObject({ kind: "continue" });
    expect(nextTaskStep(facts({ task: task({ ...errored, apiErrors: MAX_API_ERRORS }), pane: idle, now: T0 + API_ERROR_PAUSE_MS }))).toMatchObject({ kind: "fail" });
  });

  test("an agent that died mid-task: its turn is cut, then continued at once in the resumed conversation", () => {
    const running = task({ delivery: "confirmed", promptId: "pA" });
    const relaunched = { alive: true, launchedAt: T0 + 500, conversation: CONV, accountUsable: true, relaunchable: true };
    expect(nextTaskStep(facts({ task: running, session: relaunched, ledger: { exists: true, turn: turn(), nextTurn: null } }))).toMatchObject({ kind: "ended", endKind: "restart" });
    const cut = task({ delivery: "ended", endedKind: "restart", endedAt: T0 + 600, promptId: "pA" });
    expect(nextTaskStep(facts({ task: cut, session: relaunched, pane: { activity: "idle", input: "", autoContinueFiring: false } }))).toMatchObject({ kind: "continue" });
  });

  test("a conversation that could not be resumed sends the task back to the queue, its attempt counted", () => {
    const running = task({ delivery: "confirmed", promptId: "pA" });
    const fresh = { alive: true, launchedAt: T0 + 500, conversation: "00000000-0000-4000-8000-000000000000", accountUsable: true, relaunchable: true };
    expect(nextTaskStep(facts({ task: running, session: fresh }))).toMatchObject({ kind: "requeue", typed: true });
  });

  test("a prompt typed into a process that died before it reached the transcript is requeued", () => {
    expect(nextTaskStep(facts({ session: { alive: true, launchedAt: T0 + 10, conversation: CONV, accountUsable: true, relaunchable: true } }))).toMatchObject({ kind: "requeue" });
  });

  test("a retiring session that stopped before its task ended sends the task back to the queue", () => {
    const running = task({ delivery: "confirmed", promptId: "pA" });
    const gone = { alive: false, launchedAt: T0 - 60_000, conversation: CONV, accountUsable: true, relaunchable: false };
    expect(nextTaskStep(facts({ task: running, session: gone, ledger: { exists: true, turn: turn(), nextTurn: null } }))).toMatchObject({ kind: "requeue", typed: true });
    expect(nextTaskStep(facts({ task: running, session: gone, ledger: { exists: true, turn: turn({ kind: "done", reply: "ok" }), nextTurn: null } }))).toMatchObject({ kind: "done" });
  });

  test("fails and interrupts a task past its timeout", () => {
    expect(nextTaskStep(facts({ now: T0 + 3_600_001 }))).toMatchObject({ kind: "fail", interrupt: true });
  });
});
