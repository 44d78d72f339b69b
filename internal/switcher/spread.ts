/**
 * @module switcher/spread
 * `spread` placement (switcher/placement.ts) against the store: the sessions and accounts placement reads, when each
 * account was last limited (the swaps that moved sessions off it), which sessions a swap moves and where to, and the
 * placement of a launch (`accountFor`, used by lifecycle for new and relaunched sessions). The runtime's active
 * account in `spread` is the account new sessions start on: the one with the most headroom. Decides nothing in
 * `failover` placement.
 */
import type { AccountRow, Store } from "../state/state.ts";
import { isUsable } from "./accounts.ts";
import { planMoves, placeNew, strandedAccount, type LimitedAt, type Move, type MovePlan, type PlacedSession } from "./placement.ts";

/**
 * Swap reasons that do not say the account left could not take requests (an operator's move, a config change). A
 * `reset` swap moves sessions off an account that is cooling or disabled, so it counts.
 */
const NOT_A_LIMIT = new Set(["manual", "config"]);
/** How many recent swaps are read to know when each account was last limited. */
const SWAPS_READ = 200;

/** When each account was last limited: the last swap that moved sessions off it for a limit (login, warning…). */
export function limitedAt(store: Pick<Store, "recentSwaps">): Map<string, number> {
  const at = new Map<string, number>();
  for (const swap of store.recentSwaps(SWAPS_READ)) {
    if (!swap.fromAccount || NOT_A_LIMIT.has(swap.reason)) continue;
    at.set(swap.fromAccount, Math.max(at.get(swap.fromAccount) ?? 0, swap.requestedAt));
  }
  return at;
}

/** The owned sessions placement counts (not dead), with their pins. */
export function placedSessions(store: Pick<Store, "sessions">, owned: ReadonlySet<string>, pins: ReadonlyMap<string, string>): PlacedSession[] {
  return store.sessions().filter((s) => owned.has(s.name) && s.state !== "dead").map((s) => ({ name: s.name, account: s.account, pinned: pins.get(s.name) ?? null }));
}

/** A session a swap looks at: its name and the account it runs on. */
export interface SwapCandidate {
  name: string;
  account: string | null;
}

/**
 * Which of `sessions` a `spread` swap moves off `from`, and where: the sessions on `from` (for reason `reset`, every
 * session on an account that cannot take requests), pinned ones excepted; each to the account with the most headroom,
 * or all to `to`. The others stay and count as load.
 */
export function spreadMoves(sessions: readonly SwapCandidate[], accounts: readonly AccountRow[], input: { from: string | null; reason: string; to?: string | null }, pins: ReadonlyMap<string, string>, limited: LimitedAt, now: number): MovePlan {
  const usable = new Set(accounts.filter((a) => isUsable(a, now)).map((a) => a.name));
  const leavesFrom = (s: SwapCandidate) => s.account === input.from || (input.reason === "reset" && s.account !== null && !usable.has(s.account));
  const placed = sessions.map((s) => ({ name: s.name, account: s.account, pinned: pins.get(s.name) ?? null }));
  const leaving = placed.filter((s) => !s.pinned && leavesFrom(s));
  const staying = placed.filter((s) => !leaving.includes(s));
  const avoid = new Set([...(input.from ? [input.from] : []), ...accounts.filter((a) => !usable.has(a.name)).map((a) => a.name)]);
  return planMoves(leaving, staying, accounts, limited, now, { avoid, to: input.to ?? undefined });
}

/** What the launch placement reads and writes. */
export interface SpreadPlacementDeps {
  store: Store;
  now(): number;
  /** Owned session names. */
  owned(): readonly string[];
  /** Pinned sessions (`dedicated[].account`). */
  pins: ReadonlyMap<string, string>;
  /** Records the account new sessions start on (the runtime's active account). */
  setActiveAccount(name: string): void;
  activeAccount(): string | null;
}

/** The launch placement of `spread`. */
export interface SpreadPlacement {
  /**
   * The account a (re)launch of `session` uses: its pin, else its own account while usable and holding no more than
   * its share of the sessions, else the account with the most headroom.
   */
  accountFor(session: string, proposed: { name: string; home: string }): { name: string; home: string };
  /** An account whose (unpinned) sessions should move now that another account can take them; null when none. */
  strandedAccount(): string | null;
}

/** Creates the {@link SpreadPlacement}. */
export function createSpreadPlacement(deps: SpreadPlacementDeps): SpreadPlacement {
  const { store, pins } = deps;
  const placed = () => placedSessions(store, new Set(deps.owned()), pins);
  return {
    accountFor(session, proposed) {
      const accounts = store.accounts();
      const now = deps.now();
      const byName = (name: string | null | undefined) => accounts.find((a) => a.name === name);
      const row = store.session(session);
      const own = byName(row?.account);
      const others = placed().filter((s) => s.name !== session);
      const limited = limitedAt(store);
      const usable = accounts.filter((a) => isUsable(a, now)).length;
      const share = Math.ceil((others.filter((s) => !s.pinned).length + 1) / Math.max(1, usable));
      const keep = own && isUsable(own, now) && row?.state !== "dead" && others.filter((s) => s.account === own.name && !s.pinned).length < share;
      const chosen = byName(pins.get(session)) ?? (keep ? own : byName(placeNew(accounts, others, limited, now)) ?? byName(proposed.name));
      if (!chosen) return proposed;
      const next = placeNew(accounts, [...others, { name: session, account: chosen.name }], limited, now);
      if (next && next !== deps.activeAccount()) deps.setActiveAccount(next);
      return { name: chosen.name, home: chosen.home };
    },
    strandedAccount: () => strandedAccount(placed(), store.accounts(), deps.now()),
  };
}

/** Outcome of {@link chooseSpread}: the moves and where new sessions start afterwards, or the refusal to return. */
export type SpreadChoice =
  | { kind: "moves"; moves: Move[]; newcomers: string }
  | { kind: "refused"; result: { ok: false; message: string; exhausted?: { wakeAt: number | null } } };

/**
 * A `spread` swap request: refused when `to` cannot take sessions, when no session of `from` can move (nothing to
 * do), or when no account is left (exhausted, with the earliest reset). `newcomers`: the account with the most
 * headroom once the moves are done (the active account after the swap, its `to_account`).
 */
export function chooseSpread(sessions: readonly SwapCandidate[], accounts: readonly AccountRow[], input: { from: string | null; reason: string; to?: string | null }, pins: ReadonlyMap<string, string>, limited: LimitedAt, now: number): SpreadChoice {
  const refuse = (message: string, exhausted?: { wakeAt: number | null }): SpreadChoice => ({ kind: "refused", result: { ok: false, message, ...(exhausted ? { exhausted } : {}) } });
  if (input.to && !accounts.some((a) => a.name === input.to && a.name !== input.from && isUsable(a, now))) {
    return refuse(`account "${input.to}" is not available (cooling, disabled or the one left)`);
  }
  const plan = spreadMoves(sessions, accounts, input, pins, limited, now);
  if (plan.kind === "exhausted") {
    const resets = accounts.filter((a) => a.state === "cooling" && a.resetAt !== null).map((a) => a.resetAt!);
    return refuse("no account with quota left", { wakeAt: resets.length ? Math.min(...resets) : null });
  }
  if (!plan.moves.length) return refuse(`no session to move off ${input.from ?? "its account"}`);
  const moved = new Map(plan.moves.map((m) => [m.name, m.to]));
  const after = sessions.map((s) => ({ name: s.name, account: moved.get(s.name) ?? s.account }));
  const newcomers = placeNew(accounts.filter((a) => a.name !== input.from), after, limited, now) ?? plan.moves[0]!.to;
  return { kind: "moves", moves: plan.moves, newcomers };
}

/** Planned sessions grouped by the account each moves to (`fallback` for one without its own target). */
export function groupByTarget<T extends { to?: string }>(sessions: readonly T[], fallback: string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const s of sessions) groups.set(s.to ?? fallback, [...(groups.get(s.to ?? fallback) ?? []), s]);
  return groups;
}
