/**
 * @module switcher/in-place
 * The steps of an in-place swap (DESIGN.md "The swap", preferred path), run by the switcher's persisted machine:
 * `writing` (the target's login into the session homes), `closing` (Esc for what the limit left on screen: an armed
 * automatic continue or a dialog — reference/real-claude.md §9, §14; nothing is ever typed; a session running a task
 * is left to its continue), `moving` (the session
 * rows' account) and `verifying` (every pane still runs the same process). No process is restarted, so a session
 * keeps its history, background shells and MCP servers. Each step is safe to run twice. The continue prompt of a cut
 * task is not typed here: the task follower types it once the session's account is usable and its pane is idle.
 */
import type { SessionWriter } from "../watcher/session-state.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { SessionHomes } from "../claude/session-homes.ts";
import type { SessionKind, Store } from "../state/state.ts";
import type { PaneInfo, Snapshot, Tmux } from "../tmux/tmux.ts";
import { classifyPane, paneActivity } from "../quota/classify.ts";
import { isBusyStatus } from "../quota/patterns.ts";
import { flipLink } from "../lifecycle/link.ts";
import { recordMove } from "./moved.ts";

/** What the in-place steps touch. */
export interface InPlaceDeps {
  store: Store;
  tmux: Tmux;
  clock: Clock;
  log: Logger;
  homes: Pick<SessionHomes, "moveTo" | "fleetHome"> & Partial<Pick<SessionHomes, "moveSession">>;
  /** `claude.link` ("" when unset). */
  link: string;
  setActiveAccount(name: string): void;
  /** Where each session's move is recorded (the session tracker). */
  sessions: Pick<SessionWriter, "apply">;
}

/** A session in the swap plan, as the in-place steps use it. */
export interface InPlaceSession {
  name: string;
  kind: SessionKind;
  /** The pane's process when the swap started: the same one must still run at the end. */
  pid?: number | null;
  /** Escape already sent for what the limit left on screen (never twice). */
  closed?: boolean;
  /** The limit line its screen showed before anything was closed (the Esc adds a line below it). */
  limitLine?: string | null;
  /**
   * A pool session running a task: if the limit cut its turn, the task follower types the continue, which disarms an
   * armed automatic continue (§14), and closes a limit dialog first (watcher/follow.ts); `closing` leaves it alone.
   */
  midTask?: boolean;
  /** The task it runs (pool sessions; null or absent when none). */
  taskId?: number | null;
  outcome?: "kept" | "resumed" | "fresh" | "dead";
}

/** An armed automatic continue (§9): `Esc` cancels it; typing a prompt would also disarm it, but nothing is typed here. */
export const ARMED_RE = /Continuing automatically at|Continuing shortly/;
/** How long `closing` waits for a screen to show the Esc took effect. @default 3000 */
const CLOSE_WAIT_MS = 3_000;
const CLOSE_POLL_MS = 100;
/** The footer of a running turn. */
const BUSY_FOOTER_RE = /esc to interrupt/i;

/** The limit's own screens only: a dialog with no limit on screen may be a person's (a permission prompt) and is left alone. */
const needsEsc = (lines: string[], now: number) => {
  if (ARMED_RE.test(lines.slice(-12).join("\n"))) return true;
  const activity = paneActivity(lines);
  return activity === "dialog" || (activity === "waiting" && classifyPane(lines, { now, defaultZone: "UTC" }).kind === "quota");
};

/**
 * Every pane and the screens of the plan's sessions, read by one tmux client when the swap starts (`saving`, while the
 * login is written) or at `closing` after a restart: `closing` records the processes and reads the screens from it.
 */
export function readSessions(tmux: Tmux, sessions: ReadonlyArray<{ name: string }>): Promise<Snapshot> {
  return tmux.snapshot(sessions.map((s) => s.name));
}

/** Records each session's pane process unless the plan already has it (a swap resumed after a restart keeps its own). */
export function recordPids(sessions: InPlaceSession[], panes: ReadonlyArray<PaneInfo>): void {
  const pids = new Map(panes.filter((p) => !p.dead).map((p) => [p.session, p.pid]));
  for (const s of sessions) if (s.pid === undefined) s.pid = pids.get(s.name) ?? null;
}

/**
 * `writing`: the target's login into the session homes, `claude.link` at the fleet home, the active account. In
 * `spread` placement (`spread` given) each moved session's own home gets its target's login, and the fleet home (for
 * `claude.link` only) gets `linkAccount`'s.
 */
export function writeTargetLogin(deps: InPlaceDeps, target: string, spread?: { sessions: ReadonlyArray<{ name: string; to?: string }>; linkAccount: string }): void {
  if (spread && !deps.homes.moveSession) throw new Error("Cannot move sessions one by one: no per-session homes");
  for (const s of spread?.sessions ?? []) deps.homes.moveSession!(s.name, s.to ?? target);
  deps.homes.moveTo(spread?.linkAccount ?? target);
  flipLink(deps.link, deps.homes.fleetHome);
  deps.setActiveAccount(target);
}

/**
 * `closing`: once the turns the limit cut have settled (bounded wait), for every session whose screen shows an armed
 * automatic continue or the limit dialog, one `Escape`, then a short wait for the screen to change. Each session's
 * limit line is kept for `moving`. A screen that shows nothing to close gets no key at all (an Esc on an idle prompt
 * is not harmless: two in a row open Claude Code's rewind menu). A session running a task is not waited for and gets
 * no key here: its continue, typed as soon as the swap ends, is what closes its limit screen ({@link InPlaceSession.midTask}).
 */
export async function closeLimitScreens(deps: InPlaceDeps, sessions: InPlaceSession[], checkHalt: () => void, read?: ReadonlyMap<string, string[]>): Promise<void> {
  const unclosed = sessions.filter((s) => !s.closed && s.pid);
  if (!unclosed.length) return;
  // The limit (or lost-login) line of a turn it ended, also while its screen still shows the spinner (its hooks are running).
  const limitOf = (lines: string[]) => {
    const verdict = classifyPane(lines.filter((l) => !isBusyStatus(l) && !BUSY_FOOTER_RE.test(l)), { now: deps.clock.now(), defaultZone: "UTC" });
    return verdict.kind === "quota" || verdict.kind === "login" ? verdict.line : null;
  };
  let screens = read ? new Map(read) : await deps.tmux.capture(unclosed.map((s) => s.name));
  for (const s of unclosed.filter((u) => u.midTask)) {
    s.limitLine = limitOf(screens.get(s.name) ?? []);
    s.closed = true;
  }
  const open = unclosed.filter((s) => !s.midTask);
  if (!open.length) return;
  // A key is sent only on what the screen shows now: screens read when the swap started are read again first.
  if (read && open.some((s) => needsEsc(screens.get(s.name) ?? [], deps.clock.now()) || paneActivity(screens.get(s.name) ?? []) === "busy")) {
    screens = await deps.tmux.capture(open.map((s) => s.name));
  }
  // A turn the limit cut can look busy a moment longer (Claude Code runs its StopFailure hooks): let it settle, bounded.
  const settling = () => open.filter((s) => paneActivity(screens.get(s.name) ?? []) === "busy" && limitOf(screens.get(s.name) ?? []) !== null);
  const settleBy = deps.clock.now() + CLOSE_WAIT_MS;
  while (settling().length && deps.clock.now() < settleBy) {
    await deps.clock.sleep(CLOSE_POLL_MS);
    checkHalt();
    screens = await deps.tmux.capture(open.map((s) => s.name));
  }
  checkHalt();
  const toClose = open.filter((s) => {
    const lines = screens.get(s.name) ?? [];
    s.limitLine = limitOf(lines);
    return needsEsc(lines, deps.clock.now());
  });
  // One Esc per session, all sessions in one tmux invocation.
  if (toClose.length) {
    const escaped = await deps.tmux.sendKeysEach(toClose.map((s) => s.name), "Escape").catch((error) => {
      deps.log.warn("cannot close limit screens", { error });
      return new Set<string>();
    });
    for (const s of toClose) {
      if (escaped.has(s.name)) deps.log.info("limit screen closed", { session: s.name });
      else deps.log.warn("cannot close limit screen", { session: s.name });
    }
  }
  for (const s of open) s.closed = true;
  // Only a dialog is waited for; an armed footer leaves the prompt idle, and the continue typed after this Esc
  // (keys stay in order) disarms it as well.
  const pressed = toClose.filter((s) => paneActivity(screens.get(s.name) ?? []) !== "idle");
  const deadline = deps.clock.now() + CLOSE_WAIT_MS;
  let waiting = pressed;
  while (waiting.length && deps.clock.now() < deadline) {
    await deps.clock.sleep(CLOSE_POLL_MS);
    const again = await deps.tmux.capture(waiting.map((s) => s.name));
    waiting = waiting.filter((s) => needsEsc(again.get(s.name) ?? [], deps.clock.now()));
  }
  for (const s of waiting) deps.log.warn("limit screen still open after Esc", { session: s.name });
}

/**
 * `moving`: each session row's account becomes the target. A session whose screen still shows the limit line gets
 * `launchedAt` now: like a relaunched one, its old limit line is not evidence against the new account until its next turn.
 * Every move is recorded (switcher/moved.ts) with the old account's limit line (the screen's, else `triggerLine`, the
 * swap's), so a late limit event of the old account still counts for it.
 */
export async function moveRows(deps: InPlaceDeps, sessions: InPlaceSession[], target: string, triggerLine: string | null = null): Promise<void> {
  const now = deps.clock.now();
  // `closing` already read the limit line of every session it handled (null: none on screen): only the others are looked at.
  const unread = sessions.filter((s) => s.limitLine === undefined);
  const screens = unread.length ? await deps.tmux.capture(unread.map((s) => s.name)) : new Map<string, string[]>();
  for (const s of sessions) {
    const lines = screens.get(s.name) ?? [];
    const verdict = paneActivity(lines) !== "busy" ? classifyPane(lines, { now, defaultZone: "UTC" }) : null;
    // A lost login's line stays on screen like a limit line: old news on the new account until the next turn.
    const line = s.limitLine ?? (verdict?.kind === "quota" || verdict?.kind === "login" ? verdict.line : null);
    const from = deps.store.session(s.name)?.account ?? null;
    if (from && from !== target) recordMove(deps.store, s.name, { from, line: line ?? triggerLine, at: now });
    // A session whose task's turn was cut may still be drawing the limit line of that turn: old news until its next turn.
    const cut = s.midTask === true && s.taskId != null && deps.store.task(s.taskId)?.delivery === "ended";
    deps.sessions.apply(s.name, { kind: "moved", at: now, account: target, stale: line !== null || cut });
  }
  deps.log.info("sessions moved in place", { account: target, sessions: sessions.map((s) => s.name) });
}

/** `verifying`: each session still runs the process it ran before the swap (`kept`); any other is reported `dead`. */
export async function verifyInPlace(deps: InPlaceDeps, sessions: InPlaceSession[]): Promise<void> {
  const panes = new Map((await deps.tmux.listPanes()).filter((p) => !p.dead).map((p) => [p.session, p.pid]));
  for (const s of sessions) {
    s.outcome = s.pid && panes.get(s.name) === s.pid ? "kept" : "dead";
    if (s.outcome === "dead") deps.log.warn("session not running its process after the in-place swap", { session: s.name, pid: s.pid ?? null });
  }
}
