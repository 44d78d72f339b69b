import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { byHeadroom, placeAll, placeNew, planMoves, strandedAccount, type PlacedSession } from "../../internal/switcher/placement.ts";
import { chooseSpread, createSpreadPlacement, groupByTarget, limitedAt, spreadMoves } from "../../internal/switcher/spread.ts";
import { openStore, type AccountRow, type Store } from "../../internal/state/state.ts";
import { tempDir } from "../support/tmux.ts";

const NOW = Date.UTC(2026, 10, 29, 5);
const row = (name: string, priority: number, state: AccountRow["state"] = "available", resetAt: number | null = null): AccountRow =>
  ({ name, home: `/h/${name}`, priority, state, resetAt, updatedAt: 0 });
const ABC = [row("a", 0), row("b", 1), row("c", 2)];
const NEVER = new Map<string, number>();
const sessions = (...accounts: Array<string | null>): PlacedSession[] => accounts.map((account, i) => ({ name: `s${i + 1}`, account }));
const counts = (assignment: Map<string, string | null>) => {
  const out: Record<string, number> = {};
  for (const account of assignment.values()) if (account) out[account] = (out[account] ?? 0) + 1;
  return out;
};

describe("placeAll()", () => {
  test("spreads six new sessions over three accounts, two on each", () => {
    const placed = placeAll(sessions(null, null, null, null, null, null), ABC, NEVER, NOW);
    expect(counts(placed)).toEqual({ a: 2, b: 2, c: 2 });
    expect([...placed.values()]).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  test("places on the account limited least recently first, a never-limited one before all", () => {
    const limited = new Map([["a", NOW - 1_000], ["b", NOW - 5_000]]);
    expect([...placeAll(sessions(null, null, null), ABC, limited, NOW).values()]).toEqual(["c", "b", "a"]);
  });

  test("skips cooling and disabled accounts, and takes back one whose reset passed", () => {
    const accounts = [row("a", 0, "cooling", NOW + 60_000), row("b", 1, "disabled"), row("c", 2, "cooling", NOW - 1)];
    expect([...placeAll(sessions(null, null), accounts, NEVER, NOW).values()]).toEqual(["c", "c"]);
  });

  test("keeps sessions on their usable account up to a fair share and rebalances the rest", () => {
    const placed = placeAll(sessions("a", "a", "a", "a", "b", "b"), ABC, NEVER, NOW);
    expect(counts(placed)).toEqual({ a: 2, b: 2, c: 2 });
    expect(placed.get("s1")).toBe("a");
    expect(placed.get("s5")).toBe("b");
  });

  test("leaves a pinned session on its account, even a cooling one, and counts it as load", () => {
    const accounts = [row("a", 0, "cooling", NOW + 60_000), row("b", 1), row("c", 2)];
    const list: PlacedSession[] = [{ name: "ded", account: null, pinned: "a" }, { name: "pin-b", account: null, pinned: "b" }, ...sessions(null, null)];
    const placed = placeAll(list, accounts, NEVER, NOW);
    expect(placed.get("ded")).toBe("a");
    expect(placed.get("pin-b")).toBe("b");
    expect([placed.get("s1"), placed.get("s2")]).toEqual(["c", "b"]);
  });

  test("gives no account when none is usable", () => {
    expect(placeAll(sessions(null), [row("a", 0, "disabled")], NEVER, NOW).get("s1")).toBeNull();
    expect(placeNew([row("a", 0, "disabled")], [], NEVER, NOW)).toBeNull();
  });
});

describe("byHeadroom()", () => {
  test("orders by fewest sessions, then least recently limited, then config order", () => {
    const load = new Map([["a", 1], ["b", 1], ["c", 2]]);
    expect(byHeadroom(ABC, load, new Map([["a", NOW]]), NOW).map((a) => a.name)).toEqual(["b", "a", "c"]);
    expect(byHeadroom(ABC, load, NEVER, NOW, new Set(["b"])).map((a) => a.name)).toEqual(["a", "c"]);
  });
});

describe("planMoves()", () => {
  test("moves only the sessions leaving, each to the account with the most headroom", () => {
    const all = sessions("a", "a", "b", "b", "c", "c");
    const plan = planMoves(all.filter((s) => s.account === "a"), all.filter((s) => s.account !== "a"), ABC, NEVER, NOW, { avoid: new Set(["a"]) });
    expect(plan).toEqual({ kind: "moves", moves: [{ name: "s1", to: "b" }, { name: "s2", to: "c" }] });
  });

  test("fills the emptier account first, config order breaking ties", () => {
    const plan = planMoves(sessions("a", "a", "a"), [{ name: "x", account: "c" }, { name: "y", account: "c" }], ABC, NEVER, NOW, { avoid: new Set(["a"]) });
    expect(plan).toEqual({ kind: "moves", moves: [{ name: "s1", to: "b" }, { name: "s2", to: "b" }, { name: "s3", to: "b" }] });
  });

  test("never moves a pinned session, sends all to `to` when given, and is exhausted when nothing can take them", () => {
    const leaving: PlacedSession[] = [{ name: "ded", account: "a", pinned: "a" }, { name: "s1", account: "a" }];
    expect(planMoves(leaving, [], ABC, NEVER, NOW, { to: "c" })).toEqual({ kind: "moves", moves: [{ name: "s1", to: "c" }] });
    expect(planMoves(leaving, [], [row("a", 0), row("b", 1, "cooling", NOW + 1)], NEVER, NOW)).toEqual({ kind: "exhausted" });
  });
});

describe("spreadMoves() and chooseSpread()", () => {
  const six = sessions("a", "a", "b", "b", "c", "c");
  const aCooling = [row("a", 0, "cooling", NOW + 3_600_000), row("b", 1), row("c", 2)];

  test("a limit on a moves its two sessions, one to each other account, and new sessions then start on the least loaded", () => {
    const choice = chooseSpread(six, aCooling, { from: "a", reason: "quota" }, new Map(), NEVER, NOW);
    expect(choice).toEqual({ kind: "moves", moves: [{ name: "s1", to: "b" }, { name: "s2", to: "c" }], newcomers: "b" });
  });

  test("a `reset` request moves every session on an account that cannot take requests", () => {
    const accounts = [row("a", 0, "cooling", NOW + 1), row("b", 1, "cooling", NOW + 1), row("c", 2)];
    const plan = spreadMoves(sessions("a", "b", "c"), accounts, { from: "a", reason: "reset" }, new Map(), NEVER, NOW);
    expect(plan).toEqual({ kind: "moves", moves: [{ name: "s1", to: "c" }, { name: "s2", to: "c" }] });
  });

  test("refuses when no session of the account can move, when `to` cannot take them, and reports the earliest reset when exhausted", () => {
    const pins = new Map([["s1", "a"], ["s2", "a"]]);
    expect(chooseSpread(six, aCooling, { from: "a", reason: "quota" }, pins, NEVER, NOW)).toEqual({ kind: "refused", result: { ok: false, message: "no session to move off a" } });
    expect(chooseSpread(six, aCooling, { from: "b", reason: "manual", to: "a" }, new Map(), NEVER, NOW)).toMatchObject({ kind: "refused" });
    const none = [row("a", 0, "cooling", NOW + 9_000), row("b", 1, "cooling", NOW + 5_000)];
    expect(chooseSpread(sessions("a"), none, { from: "a", reason: "quota" }, new Map(), NEVER, NOW))
      .toEqual({ kind: "refused", result: { ok: false, message: "no account with quota left", exhausted: { wakeAt: NOW + 5_000 } } });
  });

  test("groups planned sessions by their target", () => {
    expect([...groupByTarget([{ name: "x", to: "b" }, { name: "y" }, { name: "z", to: "b" }], "c")].map(([to, g]) => [to, g.map((s) => s.name)]))
      .toEqual([["b", ["x", "z"]], ["c", ["y"]]]);
  });
});

describe("strandedAccount()", () => {
  test("names an account holding unpinned sessions it cannot serve while another account can", () => {
    const accounts = [row("a", 0, "cooling", NOW + 1), row("b", 1)];
    expect(strandedAccount(sessions("b", "a"), accounts, NOW)).toBe("a");
    expect(strandedAccount([{ name: "ded", account: "a", pinned: "a" }], accounts, NOW)).toBeNull();
    expect(strandedAccount(sessions("a"), [row("a", 0, "cooling", NOW + 1)], NOW)).toBeNull();
  });
});

describe("the spread placement of launches", () => {
  let dirs: Array<{ cleanup(): void }> = [];
  afterEach(() => {
    for (const d of dirs) d.cleanup();
    dirs = [];
  });
  const setup = () => {
    const d = tempDir("cf-placement-");
    dirs.push(d);
    const store: Store = openStore(join(d.path, "state.db"));
    store.syncAccounts([{ name: "a", home: "/h/a", priority: 0 }, { name: "b", home: "/h/b", priority: 1 }, { name: "c", home: "/h/c", priority: 2 }], NOW);
    let active: string | null = "a";
    const owned = ["p1", "p2", "p3", "p4", "p5", "p6", "ded"];
    const placement = createSpreadPlacement({ store, now: () => NOW, owned: () => owned, pins: new Map([["ded", "c"]]), setActiveAccount: (n) => void (active = n), activeAccount: () => active });
    const launch = (name: string) => {
      const account = placement.accountFor(name, { name: "a", home: "/h/a" });
      store.upsertSession(name, name === "ded" ? "dedicated" : "pool", { account: account.name, state: "idle", workdir: "/w" }, NOW);
      return account.name;
    };
    return { store, placement, launch, active: () => active };
  };

  test("launches six pool sessions two per account and a pinned one on its account, and names the next account as active", () => {
    const { launch, active } = setup();
    expect(launch("ded")).toBe("c");
    expect(["p1", "p2", "p3", "p4", "p5"].map(launch)).toEqual(["a", "b", "a", "b", "c"]);
    expect(active()).toBe("a");
  });

  test("relaunches a session on its own account while that account is usable, elsewhere once it cools", () => {
    const { store, launch } = setup();
    ["p1", "p2", "p3"].map(launch);
    expect(launch("p2")).toBe("b");
    store.setAccountState("b", "cooling", NOW + 60_000, NOW);
    expect(launch("p2")).toBe("a");
  });

  test("knows when each account was last limited from the swaps that moved sessions off it", () => {
    const { store, placement, launch } = setup();
    launch("p1");
    store.createSwap({ fromAccount: "a", toAccount: "b", reason: "quota", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: NOW - 10 });
    store.createSwap({ fromAccount: "b", toAccount: "c", reason: "manual", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: NOW - 5 });
    store.createSwap({ fromAccount: "c", toAccount: "b", reason: "reset", triggerSession: null, signal: null, pattern: null, snippet: null, resetAt: null, requestedAt: NOW - 3 });
    expect([...limitedAt(store)].sort()).toEqual([["a", NOW - 10], ["c", NOW - 3]]);
    store.setAccountState("a", "cooling", NOW + 60_000, NOW);
    expect(placement.strandedAccount()).toBe("a");
  });
});
