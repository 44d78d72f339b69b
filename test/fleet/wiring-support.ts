/**
 * @module test/fleet/wiring-support
 * Hosts wired as cmd/claude-failover.ts wires them, minus tmux: each its own local store (in memory), queue folder,
 * real dispatcher and fleet bridge, all on one SQLite fleet file and one fake clock. Deliveries are recorded (no
 * session), free sessions are a list the test sets, and the bridge's loop is not started: the test drives passes
 * (`bridge.tick()`) and dispatches (`dispatcher.dispatch()`), so every step is observable.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { createDispatcher, type DispatchEvent, type Dispatcher } from "../../internal/dispatcher/dispatcher.ts";
import { taskWorkdir, type DispatcherFleet } from "../../internal/dispatcher/fleet.ts";
import { createTaskQueue, type TaskQueue } from "../../internal/dispatcher/queue.ts";
import { createFleetBridge, type FleetBridge } from "../../internal/fleet/bridge.ts";
import { queueFiles } from "../../internal/fleet/files.ts";
import { openSqliteFleet } from "../../internal/fleet/sqlite.ts";
import { FleetUnavailable, type FleetStore } from "../../internal/fleet/store.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store } from "../../internal/state/state.ts";

import { HEARTBEAT_MS, LEASE_MS, PROJECT } from "./bridge-support.ts";

export { LEASE_MS };

export interface WiredHost {
  name: string;
  store: Store;
  queue: TaskQueue;
  bridge: FleetBridge;
  dispatcher: Dispatcher;
  /** The fleet connection; `down` makes every call throw FleetUnavailable. */
  link: { down: boolean };
  /** Idle pool sessions with no task (the test sets them). */
  sessions: string[];
  /** What the dispatcher typed, by session. */
  delivered: Array<{ session: string; prompt: string }>;
  /** The next delivery's outcome. */
  ready: boolean;
  /** Notifications from the dispatcher and the bridge. */
  events: DispatchEvent[];
  /** Times the dispatcher asked the bridge for a pass. */
  wakes: number;
  drop(file: string, text?: string): void;
  files(folder: "inbox" | "processing" | "done" | "failed"): string[];
  /** Ingest, a bridge pass, then a dispatch (what the daemon's loops and wake-ups do). */
  cycle(): Promise<void>;
}

export interface WiredFleet {
  clock: FakeClock;
  workdir: string;
  add(name: string): WiredHost;
  cleanup(): Promise<void>;
}

/** A fleet store whose calls all fail while `link.down`. */
function linked(inner: FleetStore, link: { down: boolean }): FleetStore {
  return new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || key === "close") return value;
      return async (...args: unknown[]) => {
        if (link.down) throw new FleetUnavailable(String(key), new Error("connect ECONNREFUSED 127.0.0.1:5432"));
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

export function createWiredFleet(): WiredFleet {
  const dir = mkdtempSync(join(tmpdir(), "cf-wired-"));
  const clock = createFakeClock();
  const workdir = join(dir, "work");
  mkdirSync(workdir);
  const shared = join(dir, "fleet.db");
  const closers: Array<() => Promise<void>> = [];
  return {
    clock, workdir,
    add(name) {
      const inner = openSqliteFleet(shared);
      const link = { down: false };
      const store = openStore(":memory:");
      const log = memoryLog();
      const queueDir = join(dir, name, "queue");
      const queue = createTaskQueue({ queueDir, maxTaskBytes: 64 * 1024, log, clock, settleMs: 0 });
      queue.ensureProject(PROJECT);
      const busy = () => new Set(store.tasks(["running", "stalled"]).map((t) => t.session));
      const host: WiredHost = {
        name, store, queue, link, sessions: [], delivered: [], ready: true, events: [], wakes: 0,
        bridge: undefined as unknown as FleetBridge, dispatcher: undefined as unknown as Dispatcher,
        drop: (file, text = `do ${file}\n`) => writeFileSync(join(queueDir, PROJECT, "inbox", file), text),
        files: (folder) => readdirSync(join(queueDir, PROJECT, folder)).sort(),
        async cycle() {
          await host.dispatcher.ingest();
          await host.bridge.tick();
          await host.dispatcher.dispatch();
        },
      };
      // As the daemon wires it (cmd/claude-failover.ts): pins read from processing/, the dispatcher's free sessions.
      host.bridge = createFleetBridge({
        host: name, store, fleet: linked(inner, link), clock, log, notify: (event) => host.events.push(event),
        files: queueFiles(queue, log, (project, file) => {
          const read = queue.readTaskSync(project, "processing", file);
          return read?.ok ? read.frontMatter.host ?? null : null;
        }, (project, own) => taskWorkdir({ defaultWorkdir: workdir, projects: {} }, project, own)),
        local: { freeSessions: () => host.sessions.filter((s) => !busy().has(s)).length, gate: () => ({ open: true }), paused: () => false, workdirs: () => [workdir], workdirExists: () => true },
        info: () => ({ startedAt: 0, version: "test", url: null }),
        onAccountChanged: () => {},
      }, { heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS });
      const fleet: DispatcherFleet = {
        host: name, finished: (id, o) => host.bridge.finished(id, o), release: (id, r) => host.bridge.release(id, r),
        mayStart: () => host.bridge.mayStart(), wake: () => { host.wakes++; },
      };
      host.dispatcher = createDispatcher({
        store, queue, clock, log, fleet,
        freeSessions: () => host.sessions.filter((s) => !busy().has(s)),
        deliver: async (task) => {
          if (!host.ready) return { kind: "not-ready", reason: "busy" };
          host.delivered.push({ session: task.session!, prompt: task.prompt });
          store.updateTask(task.id, { delivery: "typed", attempts: task.attempts + 1 });
          return { kind: "typed" };
        },
        gate: () => ({ open: true }),
        notify: (event) => host.events.push(event),
      }, { defaultWorkdir: workdir, projects: { [PROJECT]: { workdir } }, idleAlertAfterMs: 60_000, rescanIntervalMs: 30_000 });
      closers.push(async () => { await host.bridge.close(); await inner.close(); store.close(); });
      return host;
    },
    async cleanup() {
      for (const close of closers) await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
