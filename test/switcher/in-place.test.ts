import { createSessionWriter } from "../../internal/watcher/session-state.ts";
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { closeLimitScreens, moveRows, verifyInPlace, type InPlaceDeps, type InPlaceSession } from "../../internal/switcher/in-place.ts";
import { accountOfLateEvent, isLatePrompt, LATE_EVENT_MS, recordMove } from "../../internal/switcher/moved.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { memoryLog } from "../../internal/log.ts";
import type { Tmux } from "../../internal/tmux/tmux.ts";
import { tempDir } from "../support/tmux.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dir, "../fixtures/panes", name), "utf8").split("\n");
const IDLE = fixture("idle.txt");
const LIMIT_DIALOG = fixture("modal-dialog.txt");
const LIMIT = fixture("quota-2.1.330.txt");
const LIMIT_LINE = "You've hit your 5-hour limit · resets 3pm (Europe/Paris) · progress saved";
const ARMED = [...LIMIT.slice(0, -3), "  Continuing automatically at 3pm · Esc to cancel", ""];
const PERMISSION = ["● Bash(rm -rf build)", "", " Do you want to proceed?", " ❯ 1. Yes", "   2. No", "", " Esc to cancel"];

let dirs: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const d of dirs) d.cleanup();
  dirs = [];
});

/**
 * A tmux whose panes show `screens`; `Escape` turns a screen into what Claude Code shows after it (the limit line
 * stays, what Esc closed goes). Records every key sent.
 */
function fakeTmux(screens: Map<string, string[]>, pids: Map<string, number>) {
  const keys: Array<[string, string]> = [];
  const tmux = {
    capture: async (targets: string[]) => new Map(targets.flatMap((t) => (screens.has(t) ? [[t, screens.get(t)!] as [string, string[]]] : []))),
    sendKeys: async (target: string, key: string) => {
      keys.push([target, key]);
      if (key === "Escape") screens.set(target, LIMIT);
    },
    sendKeysEach: async (targets: string[], key: string) => {
      for (const target of targets) {
        keys.push([target, key]);
        if (key === "Escape") screens.set(target, LIMIT);
      }
      return new Set(targets);
    },
    listPanes: async () => [...pids].map(([session, pid]) => ({ session, pid, dead: false })),
  } as unknown as Tmux;
  return { tmux, keys };
}

function setup(screens: Record<string, string[]>) {
  const d = tempDir("cf-inplace-");
  dirs.push(d);
  const store: Store = openStore(join(d.path, "state.db"));
  let now = Date.UTC(2026, 10, 29, 12, 0, 0);
  // Sleeping moves time on at once: the steps' short waits never depend on the wall clock.
  const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
  const pids = new Map(Object.keys(screens).map((name, i) => [name, 100 + i]));
  const fake = fakeTmux(new Map(Object.entries(screens)), pids);
  const deps: InPlaceDeps = { store, tmux: fake.tmux, clock, log: memoryLog(), homes: { moveTo() {}, fleetHome: "/unused" }, link: "", setActiveAccount() {}, sessions: createSessionWriter(store, () => "pool") };
  const sessions: InPlaceSession[] = Object.keys(screens).map((name) => ({ name, kind: "pool", pid: pids.get(name)! }));
  for (const s of sessions) store.upsertSession(s.name, "pool", { account: "a", state: "idle", launchedAt: 1, workdir: "/w" }, 1);
  return { store, deps, sessions, keys: fake.keys, pids, clock, halt: () => {} };
}

describe("closeLimitScreens()", () => {
  test("sends one Escape to an armed automatic continue and to the limit dialog, and no key to anything else", async () => {
    const { deps, sessions, keys, halt } = setup({ armed: ARMED, dialog: LIMIT_DIALOG, permission: PERMISSION, limit: LIMIT, idle: IDLE });
    await closeLimitScreens(deps, sessions, halt);
    expect(keys).toEqual([["armed", "Escape"], ["dialog", "Escape"]]);
    expect(sessions.map((s) => [s.name, s.limitLine])).toEqual([
      ["armed", LIMIT_LINE], ["dialog", "You've hit your session limit · resets 3pm (Europe/Paris)"], ["permission", null], ["limit", LIMIT_LINE], ["idle", null],
    ]);
  });

  test("leaves a session running a task to its continue: no key, no wait, its limit line kept even while busy", async () => {
    const rule = LIMIT.findIndex((l) => l.startsWith("────"));
    const busyCut = [...LIMIT.slice(0, rule), "✽ Working… (0s · esc to interrupt)", "", ...LIMIT.slice(rule)]
      .map((l) => (l.includes("bypass permissions on") ? "  ⏵⏵ bypass permissions on · esc to interrupt" : l));
    const { deps, sessions, keys, halt, clock } = setup({ armed: ARMED, dialog: LIMIT_DIALOG, cut: busyCut, other: ARMED });
    for (const s of sessions) s.midTask = s.name !== "other";
    const before = clock.now();
    await closeLimitScreens(deps, sessions, halt);
    expect(keys).toEqual([["other", "Escape"]]);
    expect(clock.now()).toBe(before);
    expect(sessions.map((s) => [s.name, s.closed, s.limitLine])).toEqual([
      ["armed", true, LIMIT_LINE], ["dialog", true, "You've hit your session limit · resets 3pm (Europe/Paris)"], ["cut", true, LIMIT_LINE], ["other", true, LIMIT_LINE],
    ]);
  });

  test("given the screens read when the swap started: no capture for the tasks' limit lines, a fresh one before any Esc", async () => {
    const { deps, sessions, keys, halt } = setup({ cut: LIMIT, was: LIMIT_DIALOG, idle: IDLE });
    sessions[0]!.midTask = true;
    // "was" showed the limit dialog when the swap started; someone closed it since: its screen now is the idle prompt.
    const read = new Map([["cut", LIMIT], ["was", LIMIT_DIALOG], ["idle", IDLE]]);
    const captured: string[][] = [];
    deps.tmux.capture = async (targets) => (captured.push(targets), new Map(targets.map((t) => [t, IDLE])));
    await closeLimitScreens(deps, sessions, halt, read);
    expect(captured).toEqual([["was", "idle"]]);
    expect(keys).toEqual([]);
    expect(sessions[0]!.limitLine).toBe(LIMIT_LINE);
  });

  test("given screens showing nothing to close, it sends nothing and captures nothing", async () => {
    const { deps, sessions, keys, halt } = setup({ cut: LIMIT, idle: IDLE });
    sessions[0]!.midTask = true;
    let captures = 0;
    deps.tmux.capture = async () => (captures++, new Map());
    await closeLimitScreens(deps, sessions, halt, new Map([["cut", LIMIT], ["idle", IDLE]]));
    expect(captures).toBe(0);
    expect(keys).toEqual([]);
    expect(sessions.map((s) => [s.name, s.closed, s.limitLine])).toEqual([["cut", true, LIMIT_LINE], ["idle", true, null]]);
  });

  test("run again after a crash, it sends nothing to a session already handled", async () => {
    const { deps, sessions, keys, halt } = setup({ armed: ARMED });
    await closeLimitScreens(deps, sessions, halt);
    await closeLimitScreens(deps, sessions, halt);
    expect(keys).toEqual([["armed", "Escape"]]);
  });
});

describe("closeLimitScreens() with a cut turn still busy", () => {
  test("waits for it to settle, then closes its armed automatic continue and keeps its limit line", async () => {
    // As Claude Code draws it while the StopFailure hook runs: the limit line, a spinner, the busy footer.
    const rule = LIMIT.findIndex((l) => l.startsWith("────"));
    const busyCut = [...LIMIT.slice(0, rule), "✽ Working… (0s · esc to interrupt)", "", ...LIMIT.slice(rule)]
      .map((l) => (l.includes("bypass permissions on") ? "  ⏵⏵ bypass permissions on · esc to interrupt" : l));
    const { deps, sessions, keys, halt } = setup({ cut: busyCut });
    const { paneActivity } = await import("../../internal/quota/classify.ts");
    expect(paneActivity(busyCut)).toBe("busy");
    let captures = 0;
    const capture = deps.tmux.capture.bind(deps.tmux);
    // The StopFailure hook returns after two polls: the armed footer shows then.
    deps.tmux.capture = async (targets) => (++captures <= 2 ? new Map([["cut", busyCut]]) : captures === 3 ? new Map([["cut", ARMED]]) : capture(targets));
    await closeLimitScreens(deps, sessions, halt);
    expect(keys).toEqual([["cut", "Escape"]]);
    expect(sessions[0]!.limitLine).toBe(LIMIT_LINE);
  });
});

describe("moveRows()", () => {
  test("moves every row to the target; only a session showing a limit gets a new launchedAt and a recorded move", async () => {
    const { deps, sessions, store, clock, halt } = setup({ cut: LIMIT, idle: IDLE });
    await closeLimitScreens(deps, sessions, halt);
    await moveRows(deps, sessions, "b");
    expect(store.sessions().map((s) => [s.name, s.account, s.launchedAt === clock.now()])).toEqual([["cut", "b", true], ["idle", "b", false]]);
    const at = clock.now() + 500;
    expect(accountOfLateEvent(store, "cut", `  ${LIMIT_LINE}`, at)).toBe("a");
    expect(accountOfLateEvent(store, "cut", "You've hit your weekly limit · resets Dec 2", at)).toBeNull();
    expect(accountOfLateEvent(store, "cut", LIMIT_LINE, clock.now() + LATE_EVENT_MS + 1)).toBeNull();
    expect(accountOfLateEvent(store, "idle", LIMIT_LINE, at)).toBeNull();
    // A transcript record written before the move is the old account's, whatever it says.
    expect(accountOfLateEvent(store, "idle", "anything", at, clock.now() - 1)).toBe("a");
    expect(accountOfLateEvent(store, "idle", "anything", at, clock.now() + 1)).toBeNull();
    // Received before the move, handled after it (queued behind other events while the swap moved the row): the old account's.
    expect(accountOfLateEvent(store, "idle", "anything", clock.now() - 200)).toBe("a");
  });

  test("a session whose task's turn was cut gets a new launchedAt even before its limit line is drawn: that line is old news on b", async () => {
    const { deps, sessions, store, clock } = setup({ cut: IDLE, running: IDLE, idle: IDLE });
    for (const [i, name] of ["cut", "running"].entries()) {
      const task = store.addTask({ project: "p", file: `${name}.md`, priority: 0, workdir: "/w", timeoutMs: null, prompt: name, createdAt: i });
      store.updateTask(task.id, { state: "running", session: name, delivery: name === "cut" ? "ended" : "confirmed" });
      Object.assign(sessions.find((s) => s.name === name)!, { midTask: true, taskId: task.id });
    }
    await moveRows(deps, sessions, "b", LIMIT_LINE);
    // A turn still running (a warning swap moves it before any limit) keeps its pane a witness of what comes next.
    expect(store.sessions().map((s) => [s.name, s.launchedAt === clock.now()])).toEqual([["cut", true], ["idle", false], ["running", false]]);
  });

  test("a session busy during the move takes the swap's limit line: a request it sent before, answered after, counts for a", async () => {
    const { deps, sessions, store, clock } = setup({ busy: fixture("busy.txt") });
    await moveRows(deps, sessions, "b", LIMIT_LINE);
    expect(store.session("busy")!.launchedAt).toBe(1);
    expect(accountOfLateEvent(store, "busy", `${LIMIT_LINE}`, clock.now() + 800)).toBe("a");
    expect(accountOfLateEvent(store, "busy", "You've hit your 5-hour limit · resets 4am (UTC)", clock.now() + 800)).toBeNull();
  });
});

describe("an in-place move off a lost login", () => {
  test("a session whose login line is drawn while its StopFailure hook still runs keeps that line: old news on b", async () => {
    const revoked = "OAuth token revoked · Please run /login";
    const rule = "─".repeat(80);
    const busy = ["❯ Write the notes", `  ⎿ \u00a0${revoked}`, "", "✽ Working… (1s · esc to interrupt)", "", rule, "❯\u00a0", rule, "  ⏵⏵ bypass permissions on · esc to interrupt"];
    const idle = ["❯ Write the notes", `  ⎿ \u00a0${revoked}`, "", rule, "❯\u00a0Once fixed, resend your message", rule, "  ⏵⏵ bypass permissions on (shift+tab to cycle)"];
    const { deps, sessions, store, clock, keys, halt } = setup({ cut: busy });
    let captures = 0;
    deps.tmux.capture = async () => new Map([["cut", ++captures <= 2 ? busy : idle]]);
    await closeLimitScreens(deps, sessions, halt);
    expect(keys).toEqual([]);
    expect(sessions[0]!.limitLine).toBe(revoked);
    await moveRows(deps, sessions, "b");
    expect(store.session("cut")).toMatchObject({ account: "b", launchedAt: clock.now() });
    expect(accountOfLateEvent(store, "cut", revoked, clock.now() + 500)).toBe("a");
  });
});

describe("verifyInPlace()", () => {
  test("a session still running its process is kept; one whose process changed is reported dead", async () => {
    const { deps, sessions, pids } = setup({ same: IDLE, restarted: IDLE });
    pids.set("restarted", 999);
    await verifyInPlace(deps, sessions);
    expect(sessions.map((s) => [s.name, s.outcome])).toEqual([["same", "kept"], ["restarted", "dead"]]);
  });
});

describe("isLatePrompt()", () => {
  test("after a restart swap relaunched a session, its prompts are the old process's until the new one reports SessionStart", () => {
    const { store } = setup({});
    const at = 1_000_000;
    recordMove(store, "s", { from: "a", line: null, at, restart: true });
    expect(isLatePrompt(store, "s", at + 500, null)).toBe(true);
    expect(isLatePrompt(store, "s", at + 500, at - 10_000)).toBe(true);
    expect(isLatePrompt(store, "s", at + 900, at + 400)).toBe(false);
    expect(isLatePrompt(store, "s", at + LATE_EVENT_MS + 1, null)).toBe(false);
    expect(isLatePrompt(store, "other", at + 500, null)).toBe(false);
    recordMove(store, "s", { from: "a", line: null, at: at + 1 });
    expect(isLatePrompt(store, "s", at + 500, null)).toBe(false);
  });
});
