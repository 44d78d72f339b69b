/**
 * @module test/fleet/contract
 * The one contract every {@link FleetStore} backend passes (docs/fleet.md): run by test/fleet/sqlite.test.ts and
 * test/fleet/postgres.test.ts. Each test gets a fresh database and opens as many store objects on it as it needs
 * (two objects act as two hosts).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { FleetAccountRow, FleetStore, NewTask } from "../../internal/fleet/store.ts";

export interface FleetBackend {
  name: "sqlite" | "postgres";
  /** The number of migrations the backend ships. */
  migrations: number;
  /** Whether `watchAccounts` delivers changes made by another store object. */
  watches: boolean;
  /** A fresh empty database; the returned function opens a store object on it (each call a new one). */
  fresh(): Promise<() => Promise<FleetStore>>;
}

const info = { startedAt: 500, version: "0.4.0", url: null, degraded: null };

/** A task of host `a` in project `p` (unique per `file`). */
export function task(file: string, extra: Partial<NewTask> = {}): NewTask {
  return {
    originHost: "a", project: "p", file, prompt: `do ${file}`, priority: 0, workdir: "/w", timeoutMs: null,
    pinnedHost: null, createdAt: 1000, ...extra,
  };
}

async function until(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(10);
  }
  return true;
}

export function fleetContract(backend: FleetBackend): void {
  const opened: FleetStore[] = [];
  /** Opens `n` store objects on one fresh database. */
  async function stores(n: number): Promise<FleetStore[]> {
    const open = await backend.fresh();
    const list: FleetStore[] = [];
    for (let i = 0; i < n; i++) list.push(await open());
    opened.push(...list);
    return list;
  }
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => {})));
  });

  describe(`FleetStore contract (${backend.name})`, () => {
    test("schemaVersion() equals the number of migrations, and reopening applies none twice", async () => {
      const open = await backend.fresh();
      const [a, b] = await Promise.all([open(), open()]);
      opened.push(a!, b!);
      expect(await a!.schemaVersion()).toBe(backend.migrations);
      const id = await a!.enqueue(task("kept"));
      await a!.close();
      const again = await open();
      opened.push(again);
      expect(await again.schemaVersion()).toBe(backend.migrations);
      expect((await again.tasks()).map((t) => t.id)).toEqual([id]);
    });

    test("enqueue() is idempotent on origin host, project, file and creation time", async () => {
      const [a, b] = await stores(2);
      const id = await a!.enqueue(task("t1"));
      expect(await b!.enqueue(task("t1", { prompt: "other text" }))).toBe(id);
      expect(await a!.enqueue(task("t1", { createdAt: 2000 }))).not.toBe(id);
      const rows = await a!.tasks();
      expect(rows).toHaveLength(2);
      expect(rows.find((t) => t.id === id)).toMatchObject({ state: "queued", host: null, claim: 0, prompt: "do t1", createdAt: 1000 });
      expect(await a!.counts()).toEqual({ queued: 2, running: 0, done: 0, failed: 0 });
    });

    test("claim() takes the highest priority first and leaves pinned tasks and missing workdirs to others", async () => {
      const [a] = await stores(1);
      const low = await a!.enqueue(task("low", { priority: 0 }));
      const high = await a!.enqueue(task("high", { priority: 5 }));
      const pinned = await a!.enqueue(task("pinned", { priority: 9, pinnedHost: "h2" }));
      const elsewhere = await a!.enqueue(task("elsewhere", { priority: 9, workdir: "/other" }));
      const claimed = await a!.claim("h1", { workdirs: ["/w"], limit: 10, now: 1000, leaseMs: 100 });
      expect(claimed.map((t) => t.id)).toEqual([high, low]);
      expect(claimed[0]).toMatchObject({ state: "running", host: "h1", claim: 1, leaseUntil: 1100, claimedAt: 1000 });
      expect(await a!.claim("h1", { workdirs: ["/w", "/other"], limit: 1, now: 1000, leaseMs: 100 })).toMatchObject([{ id: elsewhere }]);
      expect(await a!.claim("h1", { workdirs: ["/w", "/other"], limit: 5, now: 1000, leaseMs: 100 })).toEqual([]);
      expect(await a!.claim("h2", { workdirs: [], limit: 5, now: 1000, leaseMs: 100 })).toEqual([]);
      expect(await a!.claim("h2", { workdirs: ["/w"], limit: 5, now: 1000, leaseMs: 100 })).toMatchObject([{ id: pinned, host: "h2" }]);
    });

    test("two hosts claiming 1,000 tasks at once get each task exactly once", async () => {
      const [a, b] = await stores(2);
      for (let i = 0; i < 1000; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => a!.enqueue(task(`t${i + j}`, { priority: (i + j) % 7 }))));
      }
      const seen = new Map<number, string>();
      let doubles = 0;
      const started = performance.now();
      const run = async (store: FleetStore, host: string) => {
        for (;;) {
          const got = await store.claim(host, { workdirs: ["/w"], limit: 10, now: 1000, leaseMs: 60_000 });
          if (got.length === 0) return;
          for (const t of got) {
            if (seen.has(t.id)) doubles++;
            seen.set(t.id, host);
          }
        }
      };
      await Promise.all([run(a!, "h1"), run(a!, "h1"), run(b!, "h2"), run(b!, "h2")]);
      const ms = performance.now() - started;
      process.stderr.write(`fleet ${backend.name}: 1,000 tasks claimed by 2 hosts in ${ms.toFixed(0)} ms (${(1000 / ms * 1000).toFixed(0)} tasks/s), ${doubles} doubles\n`);
      expect(doubles).toBe(0);
      expect(seen.size).toBe(1000);
      const counts = await a!.counts();
      expect(counts).toEqual({ queued: 0, running: 1000, done: 0, failed: 0 });
      const perHost = [...seen.values()].reduce((m, h) => m.set(h, (m.get(h) ?? 0) + 1), new Map<string, number>());
      expect([...perHost.keys()].sort()).toEqual(["h1", "h2"]);
    });

    test("finish() with a stale claim returns false and changes nothing", async () => {
      const [a] = await stores(1);
      const id = await a!.enqueue(task("t"));
      const [claimed] = await a!.claim("h1", { workdirs: ["/w"], limit: 1, now: 1000, leaseMs: 100 });
      expect(await a!.finish(id, "h1", claimed!.claim + 1, { state: "done", at: 1050 })).toBe(false);
      expect(await a!.finish(id, "h2", claimed!.claim, { state: "done", at: 1050 })).toBe(false);
      expect((await a!.tasks())[0]).toMatchObject({ state: "running", host: "h1", finishedAt: null });
      expect(await a!.finish(id, "h1", claimed!.claim, { state: "done", at: 1060, result: "ok" })).toBe(true);
      expect((await a!.tasks())[0]).toMatchObject({ state: "done", host: "h1", finishedAt: 1060, result: "ok", leaseUntil: null });
      expect(await a!.finish(id, "h1", claimed!.claim, { state: "failed", at: 1070, error: "again" })).toBe(false);
      expect((await a!.tasks({ state: "done" }))[0]).toMatchObject({ state: "done", result: "ok", error: null });
    });

    test("a lease that expires is requeued, claimed by the other host, and the first host's finish is refused", async () => {
      const [a, b] = await stores(2);
      const id = await a!.enqueue(task("t"));
      const [first] = await a!.claim("h1", { workdirs: ["/w"], limit: 1, now: 1000, leaseMs: 100 });
      expect(await b!.requeueExpired(1100)).toEqual([]);
      expect(await b!.requeueExpired(1101)).toEqual([id]);
      expect((await b!.tasks())[0]).toMatchObject({ state: "queued", host: null, error: "lease of h1 expired" });
      const [second] = await b!.claim("h2", { workdirs: ["/w"], limit: 1, now: 1200, leaseMs: 100 });
      expect(second).toMatchObject({ id, host: "h2", claim: first!.claim + 1 });
      expect(await a!.finish(id, "h1", first!.claim, { state: "done", at: 1250 })).toBe(false);
      expect(await b!.finish(id, "h2", second!.claim, { state: "done", at: 1260 })).toBe(true);
      expect((await a!.tasks())[0]).toMatchObject({ state: "done", host: "h2", finishedAt: 1260 });
    });

    test("renew() keeps a lease alive; release() puts a task back for anyone", async () => {
      const [a] = await stores(1);
      const id = await a!.enqueue(task("t"));
      await a!.enqueue(task("other"));
      await a!.claim("h1", { workdirs: ["/w"], limit: 1, now: 1000, leaseMs: 100 });
      const [mine] = await a!.claim("h2", { workdirs: ["/w"], limit: 1, now: 1000, leaseMs: 100 });
      expect(await a!.renew("h1", 1080, 100)).toBe(1);
      expect(await a!.requeueExpired(1150)).toEqual([mine!.id]);
      expect(await a!.requeueExpired(1180)).toEqual([]);
      expect((await a!.tasks({ host: "h1" }))[0]).toMatchObject({ id, state: "running", leaseUntil: 1180 });
      expect(await a!.release(id, "h1", 2, "swap started", 1190)).toBe(false);
      expect(await a!.release(id, "h1", 1, "swap started", 1190)).toBe(true);
      expect((await a!.tasks({ state: "queued" })).map((t) => t.id).sort()).toEqual([id, mine!.id].sort());
      expect((await a!.claim("h3", { workdirs: ["/w"], limit: 1, now: 1200, leaseMs: 100 }))[0]).toMatchObject({ id, claim: 2 });
    });

    test("tasks({ ids }) returns only the tasks named, with the other filters", async () => {
      const [a] = await stores(1);
      const one = await a!.enqueue(task("one"));
      const two = await a!.enqueue(task("two"));
      await a!.enqueue(task("three"));
      expect((await a!.tasks({ ids: [one, two] })).map((t) => t.id)).toEqual([two, one]);
      expect(await a!.tasks({ ids: [] })).toEqual([]);
      await a!.claim("h1", { workdirs: ["/w"], limit: 1, now: 1000, leaseMs: 100 });
      expect((await a!.tasks({ ids: [one, two], state: "queued" })).map((t) => t.id)).toEqual([two]);
    });

    test("setAccountState() writes only real changes, and accounts() lists states and model limits", async () => {
      const [a, b] = await stores(2);
      expect(await a!.setAccountState("max", "cooling", 5000, 1000, "h1")).toBe(true);
      expect(await b!.setAccountState("max", "cooling", 5000, 1001, "h2")).toBe(false);
      expect(await b!.setAccountState("max", "cooling", 4000, 1002, "h2")).toBe(false);
      expect(await b!.setAccountState("max", "cooling", 6000, 1003, "h2")).toBe(true);
      expect(await a!.setAccountState("pro", "needs_login", null, 1004, "h1")).toBe(true);
      expect(await a!.setModelLimit("max", "opus", 9000, 1005, "h1")).toBe(true);
      expect(await b!.setModelLimit("max", "opus", 9000, 1006, "h2")).toBe(false);
      expect(await a!.accounts()).toEqual([
        { name: "max", state: "cooling", resetAt: 6000, updatedAt: 1003, updatedBy: "h2", limits: [{ model: "opus", resetAt: 9000 }] },
        { name: "pro", state: "needs_login", resetAt: null, updatedAt: 1004, updatedBy: "h1", limits: [] },
      ]);
      expect(await a!.setAccountState("max", "available", null, 7000, "h1")).toBe(true);
      expect(await a!.setModelLimit("max", "opus", null, 9100, "h1")).toBe(true);
      expect(await a!.setModelLimit("max", "opus", null, 9100, "h1")).toBe(false);
      expect((await b!.accounts())[0]).toMatchObject({ state: "available", resetAt: null, limits: [] });
    });

    test("of two hosts writing the same account change at once, exactly one is told it changed it", async () => {
      const [a, b] = await stores(2);
      for (let i = 1; i <= 20; i++) {
        const both = await Promise.all([a!.setAccountState("max", "cooling", 1000 * i, i, "h1"), b!.setAccountState("max", "cooling", 1000 * i, i, "h2")]);
        expect(both.filter(Boolean)).toHaveLength(1);
      }
    });

    test(backend.watches ? "an account change reaches a watcher on another store (by NOTIFY, not by polling)"
      : "watchAccounts() can be started and stopped (one host: nothing to watch)", async () => {
      const [a, b] = await stores(2);
      const seen: FleetAccountRow[] = [];
      const stop = await b!.watchAccounts((row) => seen.push(row));
      const at = performance.now();
      expect(await a!.setAccountState("max", "cooling", 5000, 1000, "h1")).toBe(true);
      if (backend.watches) {
        // How fast is a figure (bench/); here only that it arrives. A generous deadline: CI shares two cores.
        expect(await until(() => seen.some((r) => r.name === "max" && r.state === "cooling"), 15_000)).toBe(true);
        process.stderr.write(`fleet ${backend.name}: account change seen by the other store in ${(performance.now() - at).toFixed(1)} ms\n`);
        expect(seen.at(-1)).toMatchObject({ name: "max", state: "cooling", resetAt: 5000, updatedBy: "h1" });
      }
      await stop();
      const count = seen.length;
      expect(await a!.setAccountState("max", "available", null, 2000, "h1")).toBe(true);
      await a!.accounts();
      expect(seen.length).toBe(count);
    });

    test("claimEvent() is true once per key and window across hosts", async () => {
      const [a, b] = await stores(2);
      expect(await a!.claimEvent("cooling:max", 1000, 60_000)).toBe(true);
      expect(await b!.claimEvent("cooling:max", 1500, 60_000)).toBe(false);
      expect(await b!.claimEvent("cooling:pro", 1500, 60_000)).toBe(true);
      expect(await b!.claimEvent("cooling:max", 61_000, 60_000)).toBe(true);
      expect(await a!.claimEvent("cooling:max", 61_500, 60_000)).toBe(false);
      const both = await Promise.all([a!.claimEvent("k", 1000, 1000), b!.claimEvent("k", 1000, 1000)]);
      expect(both.filter(Boolean)).toHaveLength(1);
    });

    test("heartbeat() replaces the host's sessions, and hosts() lists every host with its heartbeat age", async () => {
      const [a, b] = await stores(2);
      const session = { name: "pool-1", kind: "pool", state: "working", account: "max", taskId: 7, updatedAt: 900 };
      await a!.heartbeat("h1", 1000, info, [session, { ...session, name: "pool-2", taskId: null }]);
      await b!.heartbeat("h2", 1500, { ...info, url: "http://h2:7777", degraded: "fleet database unreachable" }, []);
      await a!.heartbeat("h1", 2000, info, [{ ...session, state: "idle", taskId: null }]);
      expect(await b!.hosts(2500)).toEqual([
        { name: "h1", heartbeatAt: 2000, heartbeatAgeMs: 500, ...info, sessions: [{ ...session, state: "idle", taskId: null }] },
        { name: "h2", heartbeatAt: 1500, heartbeatAgeMs: 1000, ...info, url: "http://h2:7777", degraded: "fleet database unreachable", sessions: [] },
      ]);
    });

    test("recordSwap() upserts one summary per host swap, newest first", async () => {
      const [a, b] = await stores(2);
      const swap = { id: 1, session: "pool-1", fromAccount: "max", toAccount: null, step: "requested", reason: "limit", startedAt: 1000, updatedAt: 1000 };
      await a!.recordSwap("h1", swap);
      await b!.recordSwap("h2", { ...swap, updatedAt: 1100 });
      await a!.recordSwap("h1", { ...swap, toAccount: "pro", step: "done", updatedAt: 1200 });
      expect(await b!.swaps()).toEqual([
        { host: "h1", ...swap, toAccount: "pro", step: "done", updatedAt: 1200 },
        { host: "h2", ...swap, updatedAt: 1100 },
      ]);
      expect(await b!.swaps(1)).toHaveLength(1);
    });
  });
}
