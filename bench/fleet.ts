/**
 * @module bench/fleet
 * The fleet store (issue 14, docs/fleet.md) on its own, printed (not a test): `bun bench/fleet.ts [--tasks N]
 * [--changes N] [--rounds N]`.
 * 1. Claims: N tasks (default 1,000) enqueued (timed apart), then 2 hosts, each its own store object (PostgreSQL: its
 *    own connection pool), claim at once in a loop, each claim asking for 1 to 5 tasks (seeded random), and finish
 *    every task they get, until the queue is empty. Figures: tasks/s over the claiming, doubles (a task claimed twice
 *    or a finish refused: must be 0; every task must end `done`), the split between the hosts.
 * 2. Account change on host A → seen by host B's watch (LISTEN/NOTIFY, the committed row re-read): M changes
 *    (default 50), one at a time, from before A's `setAccountState` to B's `onChange` with that row: p50, p95, max.
 * 3. Two whole daemons (test/support/fleet-case.ts: two processes, two private tmux sockets, the simulated Claude Code,
 *    one PostgreSQL database), R rounds (default 5, `--rounds N`), each a fresh pair: host A's session hits a 5-hour
 *    limit on account a; from A's `quota hit` log line to B's `swap requested` (B's own sessions never saw a limit),
 *    by the daemons' log timestamps: p50, p95, max.
 * PostgreSQL runs on a private cluster (scripts/postgres.sh, in a temp dir, stopped at the end); when it cannot be
 * installed or started its figures are skipped with a line saying why. SQLite (the single-host backend: two store
 * objects on one file) runs the claims only: one host has nothing to watch.
 */
import { join } from "node:path";
import { openPostgresFleet } from "../internal/fleet/postgres.ts";
import { openSqliteFleet } from "../internal/fleet/sqlite.ts";
import type { FleetStore } from "../internal/fleet/store.ts";
import { writeFileSync } from "node:fs";
import { startFleetCase } from "../test/support/fleet-case.ts";
import { makeTask } from "../test/support/ledger.ts";
import { startCluster, type PrivatePostgres } from "../test/support/postgres.ts";
import { eventually } from "../test/support/tmux.ts";
import { defer, main, ms, say, stats, summary, tempDir, type SummaryRow } from "./support.ts";

/** `--name N` from the command line, else `fallback`. */
function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at === -1 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of 1 or more`);
  return value;
}

const TASKS = flag("tasks", 1_000);
const CHANGES = flag("changes", 50);
const ROUNDS = flag("rounds", 5);
const HOSTS = ["host-a", "host-b"] as const;
const WORKDIR = "/srv/bench";
const LEASE_MS = 60_000;
const WATCH_TIMEOUT_MS = 10_000;

/** A small seeded generator (mulberry32): the same claim sizes on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ClaimRun {
  enqueueMs: number;
  claimMs: number;
  perHost: Record<string, number>;
  claimCalls: number;
  /** Tasks claimed more than once, plus finishes refused. */
  doubles: number;
  done: number;
}

/** Enqueues {@link TASKS} through `stores[0]`, then lets every store claim and finish until the queue is empty. */
async function claims(stores: FleetStore[]): Promise<ClaimRun> {
  const t0 = performance.now();
  for (let i = 0; i < TASKS; i++) {
    await stores[0]!.enqueue({ originHost: HOSTS[i % 2]!, project: "bench", file: `task-${i}.md`, prompt: `Task ${i}.`, priority: 0, workdir: WORKDIR, timeoutMs: null, pinnedHost: null, createdAt: i });
  }
  const enqueueMs = performance.now() - t0;
  const claimed = new Map<number, number>();
  const perHost: Record<string, number> = {};
  let claimCalls = 0;
  let refused = 0;
  async function host(store: FleetStore, name: string, next: () => number) {
    perHost[name] = 0;
    for (;;) {
      const rows = await store.claim(name, { workdirs: [WORKDIR], limit: 1 + Math.floor(next() * 5), now: Date.now(), leaseMs: LEASE_MS });
      claimCalls++;
      // Nothing this time: the other host may hold the last rows' locks for an instant; stop once none is queued.
      if (rows.length === 0 && (await store.counts()).queued === 0) return;
      for (const row of rows) {
        claimed.set(row.id, (claimed.get(row.id) ?? 0) + 1);
        perHost[name]!++;
        if (!(await store.finish(row.id, name, row.claim, { state: "done", at: Date.now(), result: "ok" }))) refused++;
      }
    }
  }
  const t1 = performance.now();
  await Promise.all(stores.map((store, i) => host(store, HOSTS[i]!, random(14 + i))));
  const claimMs = performance.now() - t1;
  const twice = [...claimed.values()].filter((n) => n > 1).length;
  return { enqueueMs, claimMs, perHost, claimCalls, doubles: twice + refused, done: (await stores[0]!.counts()).done };
}

/** Prints one backend's claim figures and returns its summary rows. */
function claimRows(backend: string, r: ClaimRun): SummaryRow[] {
  const rate = Math.round(TASKS / (r.claimMs / 1000));
  const split = HOSTS.map((h) => `${h} ${r.perHost[h] ?? 0}`).join(" · ");
  const ok = r.doubles === 0 && r.done === TASKS;
  say(`${backend} claims: ${TASKS} tasks enqueued in ${ms(r.enqueueMs)} (${Math.round(TASKS / (r.enqueueMs / 1000))}/s)`);
  say(`  2 hosts claiming 1..5 at a time and finishing each: ${ms(r.claimMs)}, ${rate} tasks/s, ${r.claimCalls} claim calls`);
  say(`  split ${split}; done ${r.done}/${TASKS}; doubles ${r.doubles}`);
  return [
    { figure: `claims, ${backend}: 2 hosts × ${TASKS.toLocaleString("en")} tasks (claim 1..5, finish each)`, median: `${rate} tasks/s (${ms(r.claimMs)} total)`, runs: 1, target: "0 doubles", met: ok },
    { figure: `  split between the hosts, ${backend}`, median: split, runs: 1 },
  ];
}

/** M account changes on `a`, each awaited on `b`'s watch; returns the latencies in ms. */
async function watchLatency(a: FleetStore, b: FleetStore): Promise<number[]> {
  const waiting = new Map<number, () => void>();
  const unsubscribe = await b.watchAccounts((row) => {
    if (row.name === "bench" && row.updatedBy === "host-a") waiting.get(row.updatedAt)?.();
  });
  const samples: number[] = [];
  const marker = Date.now();
  try {
    for (let i = 0; i < CHANGES; i++) await change(i);
  } finally {
    await unsubscribe();
  }
  return samples;

  async function change(i: number) {
    const at = marker + i;
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`change ${i + 1} not seen by host B within ${WATCH_TIMEOUT_MS} ms`)), WATCH_TIMEOUT_MS);
      waiting.set(at, () => { clearTimeout(timer); resolve(); });
    });
    void seen.catch(() => {}); // awaited below; a failed write must not leave it unhandled
    const t0 = performance.now();
    const cooling = i % 2 === 0;
    if (!(await a.setAccountState("bench", cooling ? "cooling" : "available", cooling ? at + 3_600_000 : null, at, "host-a"))) {
      throw new Error(`change ${i + 1} was not a change`);
    }
    await seen;
    samples.push(performance.now() - t0);
    waiting.delete(at);
  }
}

/** The epoch ms of the first log line of `logs` with `msg` (and `fields`), or null. */
function logTime(logs: Array<Record<string, unknown>>, msg: string, fields: Record<string, unknown> = {}): number | null {
  const line = logs.find((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  return line ? Date.parse(String(line.ts)) : null;
}

/** {@link ROUNDS} fresh pairs of daemons: A's limit on account a → B's swap requested; the latencies in ms. */
async function hostsLatency(pg: PrivatePostgres): Promise<number[]> {
  const samples: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const fc = await startFleetCase(pg, { pool: 1 });
    try {
      await eventually(async () => (await fc.a.status()).fleet?.hosts.length === 2 && (await fc.b.status()).fleet?.hosts.length === 2, 30_000);
      // Only host A's login of account a is out of quota: B learns it from the fleet, not from its own sessions.
      writeFileSync(join(fc.a.d.home("a"), "sim-quota"), "You've hit your 5-hour limit · resets 11pm (UTC)\n");
      fc.a.dropPinned("a", makeTask(`hit-${round}`, { work: "0s" }));
      const times = await eventually(() => {
        const hit = logTime(fc.a.d.logs(), "quota hit", { account: "a" });
        const moved = logTime(fc.b.d.logs(), "swap requested", { from: "a" });
        return hit !== null && moved !== null ? { hit, moved } : null;
      }, 60_000, 100);
      samples.push(times.moved - times.hit);
      say(`  round ${round}: A's quota hit → B's swap requested ${ms(times.moved - times.hit)}`);
    } finally {
      await fc.cleanup();
    }
  }
  return samples;
}

async function postgres(): Promise<SummaryRow[]> {
  const cluster = startCluster(tempDir("pg"));
  if (typeof cluster === "string") {
    say(`postgres: SKIPPED, no private PostgreSQL (${cluster})`);
    return [{ figure: "claims and account watch, PostgreSQL: SKIPPED (no private cluster could be started)", median: "–", runs: 0 }];
  }
  defer(() => cluster.stop());
  const stores = await Promise.all(HOSTS.map(() => openPostgresFleet(cluster.url)));
  for (const store of stores) defer(() => store.close());
  const rows = claimRows("PostgreSQL", await claims(stores));
  const s = stats(await watchLatency(stores[0]!, stores[1]!));
  say(`PostgreSQL account change on host A → host B's watch, ${s.n} changes: p50 ${ms(s.median)}, p95 ${ms(s.p95)}, max ${ms(s.max)}`);
  rows.push({ figure: `account change on host A → seen by host B's watch (LISTEN/NOTIFY + re-read), PostgreSQL, max ${ms(s.max)}`, median: ms(s.median), p95: ms(s.p95), runs: s.n, target: "p95 < 1 s", met: s.p95 < 1000 });
  say(`two daemons on PostgreSQL, ${ROUNDS} rounds: host A's limit → host B's swap requested`);
  const h = stats(await hostsLatency(cluster));
  say(`  p50 ${ms(h.median)}, p95 ${ms(h.p95)}, max ${ms(h.max)}`);
  rows.push({ figure: `limit on host A (quota hit) → host B's swap requested, two daemons, PostgreSQL, max ${ms(h.max)}`, median: ms(h.median), p95: ms(h.p95), runs: h.n, target: "p95 < 1 s", met: h.p95 < 1000 });
  return rows;
}

async function sqlite(): Promise<SummaryRow[]> {
  const file = join(tempDir("sqlite"), "state.db");
  const stores = HOSTS.map(() => openSqliteFleet(file));
  for (const store of stores) defer(() => store.close());
  const rows = claimRows("SQLite", await claims(stores));
  say("SQLite account watch: not applicable (one host, nothing to watch)");
  return rows;
}

await main(async () => {
  say(`fleet: ${TASKS} tasks, ${CHANGES} account changes, 2 hosts (--tasks N, --changes N to change)`);
  const rows = [...await postgres(), ...await sqlite()];
  summary("fleet", rows);
  const failed = rows.filter((r) => r.met === false && r.target === "0 doubles");
  if (failed.length) throw new Error(`fleet bench: ${failed.map((r) => r.figure.trim()).join("; ")}: doubles or tasks not done`);
});
