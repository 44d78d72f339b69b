/**
 * @module switcher/placement
 * Where sessions run in `switcher.placement: spread` (pure functions: sessions + accounts → accounts). Sessions are
 * spread over the usable accounts; the account with the most headroom comes first: the fewest sessions on it, then
 * the one limited least recently (never limited first), then config order. A limit on one account moves only its
 * sessions, each to the account with the most headroom at that moment. A session pinned to an account
 * (`dedicated[].account`) is never moved by placement: on a limit of its account it waits there for the reset (its
 * own Claude Code, or the task follower, continues the cut turn). `failover` placement does not use this module.
 */
import type { AccountRow } from "../state/state.ts";
import { isUsable } from "./accounts.ts";

/** `switcher.placement` from config. */
export type Placement = "failover" | "spread";

/** A session as placement sees it. */
export interface PlacedSession {
  name: string;
  /** The account it runs on now (null: none yet). */
  account: string | null;
  /** The account it is pinned to (`dedicated[].account`), if any. */
  pinned?: string | null;
}

/** What placement knows of the accounts beyond their rows: when each was last limited (epoch ms). */
export type LimitedAt = ReadonlyMap<string, number>;

/** Sessions per account name. */
function loads(sessions: readonly PlacedSession[]): Map<string, number> {
  const load = new Map<string, number>();
  for (const s of sessions) if (s.account) load.set(s.account, (load.get(s.account) ?? 0) + 1);
  return load;
}

/** Usable accounts (other than `exclude`), the one with the most headroom first. */
export function byHeadroom(accounts: readonly AccountRow[], load: ReadonlyMap<string, number>, limitedAt: LimitedAt, now: number, exclude: ReadonlySet<string> = new Set()): AccountRow[] {
  return accounts.filter((a) => !exclude.has(a.name) && isUsable(a, now)).sort((a, b) =>
    (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || (limitedAt.get(a.name) ?? 0) - (limitedAt.get(b.name) ?? 0) || a.priority - b.priority);
}

/** The account a new (or unplaced) session starts on, given the sessions already placed; null when none is usable. */
export function placeNew(accounts: readonly AccountRow[], placed: readonly PlacedSession[], limitedAt: LimitedAt, now: number): string | null {
  return byHeadroom(accounts, loads(placed), limitedAt, now)[0]?.name ?? null;
}

/**
 * Places every session: a pinned one on its pin, one already on a usable account stays while that account holds no
 * more than its share (the rest is rebalanced), the others one by one on the account with the most headroom.
 * Sessions no usable account can take keep their account (null when they had none). Returns session → account.
 */
export function placeAll(sessions: readonly PlacedSession[], accounts: readonly AccountRow[], limitedAt: LimitedAt, now: number): Map<string, string | null> {
  const usable = accounts.filter((a) => isUsable(a, now));
  const out = new Map<string, string | null>();
  const placed: PlacedSession[] = [];
  const free = sessions.filter((s) => !s.pinned);
  const share = usable.length ? Math.ceil(free.length / usable.length) : 0;
  for (const s of sessions.filter((s) => s.pinned)) {
    out.set(s.name, s.pinned!);
    placed.push({ name: s.name, account: s.pinned! });
  }
  const kept = new Map<string, number>();
  const waiting: PlacedSession[] = [];
  for (const s of free) {
    const count = s.account ? kept.get(s.account) ?? 0 : 0;
    if (s.account && usable.some((a) => a.name === s.account) && count < share) {
      kept.set(s.account, count + 1);
      out.set(s.name, s.account);
      placed.push(s);
    } else waiting.push(s);
  }
  for (const s of waiting) {
    const to = placeNew(accounts, placed, limitedAt, now) ?? s.account;
    out.set(s.name, to);
    placed.push({ name: s.name, account: to });
  }
  return out;
}

/** One session a swap moves, and where to. */
export interface Move {
  name: string;
  to: string;
}

/** Outcome of {@link planMoves}. */
export type MovePlan = { kind: "moves"; moves: Move[] } | { kind: "exhausted" };

/**
 * Moves the sessions `leaving` (not pinned) off their accounts: each to the usable account with the most headroom,
 * counting the sessions that stay (`staying`) and those already moved. `to` sends every one to that account instead.
 * `avoid`: accounts no session may move to (the limited ones). Exhausted when a session has nowhere to go.
 */
export function planMoves(leaving: readonly PlacedSession[], staying: readonly PlacedSession[], accounts: readonly AccountRow[], limitedAt: LimitedAt, now: number, options: { avoid?: ReadonlySet<string>; to?: string } = {}): MovePlan {
  const load = loads(staying);
  const moves: Move[] = [];
  for (const s of leaving) {
    if (s.pinned) continue;
    const avoid = new Set([...(options.avoid ?? []), ...(s.account ? [s.account] : [])]);
    const to = options.to ?? byHeadroom(accounts, load, limitedAt, now, avoid)[0]?.name;
    if (!to) return { kind: "exhausted" };
    moves.push({ name: s.name, to });
    load.set(to, (load.get(to) ?? 0) + 1);
  }
  return { kind: "moves", moves };
}

/**
 * An account that still holds sessions placement should move (not pinned, on an account that cannot take requests)
 * while another account could take them; null when there is none. Such sessions are left by a limit seen while a
 * swap already ran, or by exhausted mode.
 */
export function strandedAccount(sessions: readonly PlacedSession[], accounts: readonly AccountRow[], now: number): string | null {
  if (!accounts.some((a) => isUsable(a, now))) return null;
  const usable = new Set(accounts.filter((a) => isUsable(a, now)).map((a) => a.name));
  return sessions.find((s) => !s.pinned && s.account !== null && !usable.has(s.account))?.account ?? null;
}
