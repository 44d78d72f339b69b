/**
 * @module test/fleet/bridge-support
 * Two (or more) "hosts" for the fleet bridge's tests, in one process: each its own local store (in memory), queue
 * folder and bridge, all on one SQLite fleet file, one fake clock. Each host reaches the fleet through a switch that
 * can make every call throw FleetUnavailable (the database away), and a small bus plays PostgreSQL's NOTIFY for
 * account writes (the SQLite backend has nothing to watch), delivering the committed row to every watcher.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { createTaskQueue } from "../../internal/dispatcher/queue.ts";
import { createFleetBridge, type AccountChange, type FleetBridge, type TaskEvent } from "../../internal/fleet/bridge.ts";
import { queueFiles } from "../../internal/fleet/files.ts";
import { openSqliteFleet } from "../../internal/fleet/sqlite.ts";
import { FleetUnavailable, type FleetAccountRow, type FleetStore } from "../../internal/fleet/store.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store, type TaskRow } from "../../internal/state/state.ts";

export const HEARTBEAT_MS = 5_000;
export const LEASE_MS = 60_000;
export const PROJECT = "proj";

/** A fleet store whose every call fails while `down`, and whose account writes are "notified" on `bus`. */
export interface Switch {
  fleet: FleetStore;
  down: boolean;
  calls: string[];
}

/** A subscribed watcher, heard only while its host's switch is up (a lost LISTEN connection misses notifications). */
export type Watcher = { onChange: (row: FleetAccountRow) => void; sw: Switch };

export function switched(inner: FleetStore, bus: Set<Watcher>): Switch {
  const sw: Switch = { fleet: inner, down: false, calls: [] };
  const notify = async (name: string) => {
    const row = (await inner.accounts()).find((a) => a.name === name);
    if (row) for (const watcher of bus) if (!watcher.sw.down) watcher.onChange(row);
  };
  sw.fleet = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || key === "close") return value;
      return async (...args: unknown[]) => {
        sw.calls.push(String(key));
        if (sw.down) throw new FleetUnavailable(String(key), new Error("connect ECONNREFUSED 127.0.0.1:5432"));
        if (key === "watchAccounts") {
          const watcher = { onChange: args[0] as Watcher["onChange"], sw };
          bus.add(watcher);
          return async () => { bus.delete(watcher); };
        }
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if ((key === "setAccountState" || key === "setModelLimit") && result === true) await notify(String(args[0]));
        return result;
      };
    },
  });
  return sw;
}

export interface TestHost {
  name: string;
  store: Store;
  sw: Switch;
  bridge: FleetBridge;
  queueDir: string;
  workdir: string;
  /** Notifications the bridge sent. */
  events: TaskEvent[];
  /** Account changes the supervisor was told of. */
  changes: AccountChange[];
  /** Free sessions the dispatcher reports. */
  free: number;
  gate: { open: true } | { open: false; reason: string };
  /** Paused by the operator (no export). */
  paused: boolean;
  /** Workdirs that exist on this host (default: the shared workdir). */
  existing: Set<string>;
  /** Front matter `host:` by file name. */
  pins: Map<string, string>;
  /** Drops a task file in the inbox and queues its local row, as the dispatcher's ingest does. */
  drop(file: string, extra?: { priority?: number; workdir?: string; pin?: string }): TaskRow;
  /** The local rows the bridge claimed for this host and the dispatcher would run. */
  claimed(): TaskRow[];
  /** Types a claimed row into a session, as the dispatcher would. */
  run(task: TaskRow): void;
  files(folder: "inbox" | "processing" | "done" | "failed"): string[];
  /** The daemon restarted: a new bridge on the same local store, queue and fleet connection (the old one closed). */
  restart(): Promise<void>;
}

export interface Fleet {
  clock: FakeClock;
  hosts: TestHost[];
  /** The first two hosts. */
  pair(): [TestHost, TestHost];
  /**
   * `origin` drops `files` and exports them; `runner` (one free session) claims the first and types it. Returns the
   * runner's local row.
   */
  handOver(origin: TestHost, runner: TestHost, files: string[]): Promise<TaskRow>;
  /** A host that joins the fleet (same file, same clock). */
  add(name: string): TestHost;
  cleanup(): Promise<void>;
}

/** A fleet of `names` hosts on one SQLite fleet file in a fresh temp dir. */
export function createTestFleet(names: string[]): Fleet {
  const dir = mkdtempSync(join(tmpdir(), "cf-bridge-"));
  const clock = createFakeClock();
  const bus = new Set<Watcher>();
  const shared = join(dir, "fleet.db");
  const workdir = join(dir, "work");
  mkdirSync(workdir);
  const stores: FleetStore[] = [];
  const fleet: Fleet = {
    clock,
    hosts: [],
    pair: () => [fleet.hosts[0]!, fleet.hosts[1]!],
    async handOver(origin, runner, files) {
      for (const file of files) origin.drop(file);
      await origin.bridge.tick();
      runner.free = 1;
      await runner.bridge.tick();
      const held = runner.claimed()[0]!;
      runner.run(held);
      return held;
    },
    add(name) {
      const inner = openSqliteFleet(shared);
      stores.push(inner);
      const sw = switched(inner, bus);
      const store = openStore(":memory:");
      store.syncAccounts([{ name: "max", home: "/h/max", priority: 0 }, { name: "pro", home: "/h/pro", priority: 1 }], clock.now());
      const queueDir = join(dir, name, "queue");
      const log = memoryLog();
      const queue = createTaskQueue({ queueDir, maxTaskBytes: 64 * 1024, log, clock, settleMs: 0 });
      queue.ensureProject(PROJECT);
      const host: TestHost = {
        name, store, sw, queueDir, workdir, events: [], changes: [], free: 0, gate: { open: true }, paused: false,
        existing: new Set([workdir]), pins: new Map(),
        bridge: undefined as unknown as FleetBridge,
        drop(file, extra = {}) {
          writeFileSync(join(queueDir, PROJECT, "inbox", file), `do ${file}\n`);
          if (extra.pin) host.pins.set(file, extra.pin);
          return store.addTask({ project: PROJECT, file, priority: extra.priority ?? 0, workdir: extra.workdir ?? workdir,
            timeoutMs: null, prompt: `do ${file}`, createdAt: clock.now() });
        },
        claimed: () => store.bridge.tasksInFleetState(["claimed"]),
        run(task) {
          store.updateTask(task.id, { state: "running", session: "pool-1", startedAt: clock.now(), delivery: "typed" });
        },
        files: (folder) => readdirSync(join(queueDir, PROJECT, folder)).sort(),
        async restart() {
          await host.bridge.close();
          host.bridge = bridge();
        },
      };
      const bridge = () => createFleetBridge({
        host: name, store, fleet: sw.fleet, clock, log,
        files: queueFiles(queue, log, (_project, file) => host.pins.get(file) ?? null),
        local: {
          freeSessions: () => host.free,
          gate: () => host.gate,
          paused: () => host.paused,
          workdirs: () => [workdir],
          workdirExists: (path) => host.existing.has(path) && existsSync(path),
        },
        info: () => ({ startedAt: 0, version: "test", url: null }),
        notify: (event) => host.events.push(event),
        onAccountChanged: (change) => host.changes.push(change),
      }, { heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS });
      host.bridge = bridge();
      fleet.hosts.push(host);
      return host;
    },
    async cleanup() {
      for (const h of fleet.hosts) { await h.bridge.close(); h.store.close(); }
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const name of names) fleet.add(name);
  return fleet;
}
