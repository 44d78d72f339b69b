/**
 * @module fleet/bridge
 * The fleet bridge ({@link createFleetBridge}, docs/fleet.md "The bridge"): the one place where the daemon's local,
 * synchronous store meets the shared, async fleet store. Every heartbeat (`fleet.heartbeat`) it sends the outbox,
 * writes the host row with its session snapshot, renews its leases, requeues expired ones, settles this host's own
 * tasks that ended elsewhere, exports its new inbox tasks and claims tasks for its free sessions (fleet/bridge-tasks.ts);
 * account rows other hosts write come back by `watchAccounts` (fleet/bridge-accounts.ts).
 * When a fleet call throws {@link FleetUnavailable} the bridge goes degraded (reason and time kept for `/health`):
 * writes wait in the outbox (fleet/outbox.ts), nothing is exported or claimed, tasks already running go on, and
 * {@link FleetBridge.claimEvent} says "send" (twice is better than never); it retries after 1 s, doubling to 30 s.
 * Back: the outbox is flushed in order, the accounts re-read, the leases renewed, then claims resume.
 * A claimed task may start while degraded only while at least half its lease is left ({@link FleetBridge.mayStart}).
 * Each pass also upserts the summaries of this host's recent swaps (the fleet view's `recordSwap`).
 * All fleet work runs one call at a time (one serial chain), so no outbox entry is sent twice concurrently.
 * It owns no timer but its loop ({@link FleetBridge.start}), and all time comes from the injected clock.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";
import { createAccountSync, type AccountChange } from "./bridge-accounts.ts";
import { createTaskSync, type BridgeFiles, type BridgeLocal, type TaskEvent } from "./bridge-tasks.ts";
import { backoff, BACKOFF_MAX_MS, createOutbox } from "./outbox.ts";
import { FleetUnavailable, type FleetAccountState, type FleetSession, type FleetStore, type HostInfo, type HostRow, type TaskOutcome, type Unsubscribe } from "./store.ts";

export type { AccountChange } from "./bridge-accounts.ts";
export type { BridgeFiles, BridgeLocal, TaskEvent } from "./bridge-tasks.ts";

/** Settings of {@link createFleetBridge}. */
export interface BridgeOptions {
  /** `fleet.heartbeat`: the time between two passes while the database answers. @default 5000 */
  heartbeatMs?: number;
  /** `fleet.lease`: how long a claim holds without a renewal. @default 60000 */
  leaseMs?: number;
}

export interface BridgeDeps {
  /** `fleet.host`. */
  host: string;
  /** The local store (its tasks, accounts, sessions and the outbox). */
  store: Store;
  fleet: FleetStore;
  clock: Clock;
  log: Logger;
  files: BridgeFiles;
  local: BridgeLocal;
  /** What the host says about itself with every heartbeat; `degraded` is the bridge's own. */
  info(): Omit<HostInfo, "degraded">;
  /** A task finished by this host (its `finish` accepted: one notification per task fleet-wide). */
  notify(event: TaskEvent): void;
  /** Another host changed an account this host has; the local row already says so (supervisor: move sessions off it). */
  onAccountChanged(change: AccountChange): void;
  /** A pass claimed tasks for this host (the wiring pokes the dispatcher, so they start now rather than at its rescan). */
  onClaimed?(count: number): void;
}

/** The fleet database's health as `/health` shows it (`checks.fleet`). */
export interface BridgeHealth {
  ok: true;
  warning?: true;
  detail: string;
}

/** What `/status` shows of the fleet. */
export interface BridgeStatus {
  host: string;
  backend: "sqlite" | "postgres";
  /** Since when and why the database cannot be reached; null while it answers. */
  degraded: { since: number; reason: string } | null;
  /** Writes waiting in the outbox, and writes parked there (kept, no longer tried). */
  outbox: number;
  parked: number;
  /** Every host as the last successful pass read them; `heartbeatAgeMs` is counted to now. */
  hosts: HostRow[];
}

export interface FleetBridge {
  /** Runs a pass now and every heartbeat (or backoff while degraded) until `signal` aborts. */
  start(signal: AbortSignal): void;
  /** One pass (what the loop runs); resolves once it is over, whatever happened. */
  tick(): Promise<void>;
  /** A fleet task run here ended (the dispatcher's complete/fail of a row with a `fleetId`); resolves after the send was tried. */
  finished(taskId: number, outcome: TaskOutcome): Promise<void>;
  /** A claimed task was never typed (not ready, swap, recovery): back to the shared queue. */
  release(taskId: number, reason: string): Promise<void>;
  /** This host changed an account's state: shared through the outbox. */
  accountChanged(name: string, state: FleetAccountState, resetAt: number | null): Promise<void>;
  /** This host set (a time) or cleared (null) a model limit: shared through the outbox. */
  modelLimitChanged(account: string, model: string, resetAt: number | null): Promise<void>;
  /** Whether this host sends the notification `key` (one host per `windowMs` fleet-wide); true while degraded. */
  claimEvent(key: string, windowMs: number): Promise<boolean>;
  /** `/health`'s `checks.fleet`: a warning while degraded, or while writes are parked. */
  health(): BridgeHealth;
  /** For `/status` and the fleet view: as of the last pass that reached the database (see {@link BridgeStatus}). */
  status(): BridgeStatus;
  /** Asks for a pass soon (new inbox tasks, free sessions with nothing claimed); one at most waits, none while degraded. */
  wake(): void;
  /**
   * Whether the dispatcher may start a claimed task now: always while the database answers; while it is away only
   * while at least half a lease is left since the last renewal (docs/fleet.md "Wiring", item 8).
   */
  mayStart(): boolean;
  /** The wait before the loop's next pass: the heartbeat, or the backoff while degraded. */
  nextDelayMs(): number;
  /** Stops the account watch and waits for the fleet call in flight (call before closing the stores). */
  close(): Promise<void>;
}

export function createFleetBridge(deps: BridgeDeps, options: BridgeOptions = {}): FleetBridge {
  const { host, store, fleet, clock } = deps;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const leaseMs = options.leaseMs ?? 60_000;
  const log = deps.log.child({ module: "fleet-bridge", host });
  let down: { since: number; reason: string; tries: number } | null = null;
  let caughtUp = false;
  let unsubscribe: Unsubscribe | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let hosts: HostRow[] = [];
  /** When the leases were last renewed (every claim holds at least until this + leaseMs); 0: not since the start. */
  let renewedAt = 0;
  let wakePending = false;
  let closed = false;
  /**
   * No other host's claim is requeued before this time: after an outage every lease looks expired, and the other hosts
   * (on their own backoff, up to 30 s) have not renewed theirs yet. Set, when the database comes back, to one lease
   * later, or one longest backoff and a heartbeat later if that is longer (a lease may be as short as 3 heartbeats).
   */
  let requeueFrom = 0;
  /** The latest `updatedAt` of this host's swaps already shared. */
  let swapsSentUpTo = 0;

  const accounts = createAccountSync({ host, store, clock, log, onAccountChanged: deps.onAccountChanged });
  const outbox = createOutbox({ store: store.bridge, fleet, host, clock, log, onSent: (w, ok) => tasks.onSent(w, ok) });
  const tasks = createTaskSync({ host, store, fleet, clock, log, files: deps.files, local: deps.local, outbox, notify: deps.notify, leaseMs });

  /** Runs `fn` after every fleet call before it; an unreachable database degrades the bridge, other errors are logged. */
  const serial = (what: string, fn: () => Promise<unknown>): Promise<void> => {
    const run = chain.then(fn).then(() => {}, (error) => fault(what, error));
    chain = run;
    return run;
  };
  const fault = (what: string, error: unknown) => {
    if (!(error instanceof FleetUnavailable)) return log.error("fleet sync failed", { step: what, error });
    if (down) {
      down.reason = error.message;
      down.tries++;
      return;
    }
    down = { since: clock.now(), reason: error.message, tries: 1 };
    caughtUp = false;
    log.warn("fleet database unreachable", { step: what, reason: error.message, outbox: outbox.size() });
  };

  /** The host's sessions as the fleet view shows them (task ids are the shared ones). */
  const snapshot = (): FleetSession[] => store.sessions().map((s) => ({
    name: s.name, kind: s.kind, state: s.state, account: s.account, updatedAt: s.updatedAt,
    taskId: s.taskId === null ? null : store.task(s.taskId)?.fleetId ?? null,
  }));

  /** After a start or an outage: the outbox first (this host's writes win over what it would re-read), then accounts. */
  async function catchUp(): Promise<void> {
    await outbox.flush();
    unsubscribe ??= await fleet.watchAccounts((row) => {
      try { accounts.apply(row); } catch (error) { log.error("cannot apply fleet account", { account: row.name, error }); }
    });
    for (const row of await fleet.accounts()) accounts.apply(row);
    await tasks.reconcile();
  }

  async function pass(): Promise<void> {
    const wasDown = down;
    if (!caughtUp) await catchUp();
    await outbox.flush();
    const now = clock.now();
    await fleet.heartbeat(host, now, { ...deps.info(), degraded: null }, snapshot());
    await fleet.renew(host, now, leaseMs);
    renewedAt = now;
    if (wasDown) requeueFrom = now + Math.max(leaseMs, BACKOFF_MAX_MS + heartbeatMs);
    const requeued = now >= requeueFrom ? await fleet.requeueExpired(now) : [];
    if (requeued.length > 0) log.warn("expired fleet claims requeued", { ids: requeued });
    hosts = await fleet.hosts(now);
    caughtUp = true;
    if (wasDown) {
      down = null;
      log.info("fleet database reachable again", { down_ms: now - wasDown.since, outbox: outbox.size() });
    }
    await tasks.settleOrigin();
    await tasks.exportQueued();
    const claimed = await tasks.claim();
    if (claimed > 0) deps.onClaimed?.(claimed);
    await outbox.flush();
    await shareSwaps();
  }

  /** Upserts the summary of every local swap changed since the last one shared (an idempotent view: no outbox). */
  async function shareSwaps(): Promise<void> {
    const changed = store.recentSwaps(20).filter((s) => s.updatedAt > swapsSentUpTo).reverse();
    for (const s of changed) {
      await fleet.recordSwap(host, {
        id: s.id, session: s.triggerSession ?? "*", fromAccount: s.fromAccount, toAccount: s.toAccount, step: s.step,
        reason: s.reason, startedAt: s.requestedAt, updatedAt: s.updatedAt,
      });
      swapsSentUpTo = Math.max(swapsSentUpTo, s.updatedAt);
    }
  }

  /** Sends the outbox now unless the database is known to be away (the loop's backoff retries then). */
  const flushSoon = () => (down ? Promise.resolve() : serial("flush", () => outbox.flush()));

  return {
    start(signal) {
      void (async () => {
        while (!signal.aborted) {
          await this.tick();
          await clock.sleep(this.nextDelayMs(), signal);
        }
        await this.close();
      })();
    },
    tick: () => serial("pass", pass),
    finished(taskId, outcome) {
      tasks.finished(taskId, outcome);
      return flushSoon();
    },
    release(taskId, reason) {
      tasks.release(taskId, reason);
      return flushSoon();
    },
    accountChanged(name, state, resetAt) {
      outbox.push({ kind: "account", name, state, resetAt, at: clock.now() });
      return flushSoon();
    },
    modelLimitChanged(account, model, resetAt) {
      outbox.push({ kind: "model_limit", account, model, resetAt, at: clock.now() });
      return flushSoon();
    },
    async claimEvent(key, windowMs) {
      if (down) return true;
      try {
        return await fleet.claimEvent(key, clock.now(), windowMs);
      } catch (error) {
        fault("claimEvent", error);
        return true;
      }
    },
    health() {
      const parked = store.bridge.parked().length;
      if (!down && parked > 0) return { ok: true, warning: true, detail: `${parked} fleet writes parked: refused by the database (see the log)` };
      if (!down) return { ok: true, detail: `${fleet.backend} fleet, host ${host}` };
      const waited = Math.round((clock.now() - down.since) / 1000);
      return { ok: true, warning: true, detail: `fleet database unreachable since ${new Date(down.since).toISOString()} (${waited}s): ${down.reason}; ${outbox.size()} writes waiting` };
    },
    status: () => ({
      host, backend: fleet.backend, degraded: down && { since: down.since, reason: down.reason },
      outbox: outbox.size(), parked: store.bridge.parked().length,
      hosts: hosts.map((h) => ({ ...h, heartbeatAgeMs: clock.now() - h.heartbeatAt })),
    }),
    wake() {
      if (down || wakePending || closed) return;
      wakePending = true;
      void serial("pass", () => {
        wakePending = false;
        return pass();
      });
    },
    mayStart: () => !down || clock.now() - renewedAt <= leaseMs / 2,
    nextDelayMs: () => (down ? backoff(down.tries - 1) : heartbeatMs),
    async close() {
      closed = true;
      const stop = unsubscribe;
      unsubscribe = null;
      await stop?.();
      await chain;
    },
  };
}
