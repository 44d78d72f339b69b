/**
 * @module fleet/outbox
 * The fleet writes a host must not lose (a task's finish or release, an account's state, a model limit), kept in the
 * local store (`bridge_outbox`, state/bridge-store.ts) and sent in order ({@link createOutbox}). A write is stored
 * first and sent after, so an unreachable database only delays it. Sending stops at the first entry the database
 * cannot take: an unreachable database ({@link FleetUnavailable}) leaves it at the head for the bridge's next try
 * (the bridge owns the backoff); any other error is retried on its own backoff (1 s doubling to 30 s) and, after
 * {@link MAX_ATTEMPTS}, parked: kept in the table and logged, no longer blocking the writes behind it.
 * Every entry may be sent twice (a crash between sending and deleting it); each is idempotent, and a finish sent again
 * is recognised as this host's own (see {@link sendFinish}).
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { BridgeStore, OutboxEntry } from "../state/bridge-store.ts";
import { FleetUnavailable, type FleetAccountState, type FleetStore, type TaskOutcome } from "./store.ts";

/** Tries of an entry that fails with an error other than an unreachable database before it is parked. */
export const MAX_ATTEMPTS = 5;
/** First and longest wait between two tries (entries and the bridge's reconnects alike). */
export const BACKOFF_MIN_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;

/** The wait before try `attempt + 1` (1 s, 2 s, 4 s, … 30 s). */
export function backoff(attempt: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempt));
}

/** One write, as stored. `taskId` is the local row the write is about. */
export type OutboxWrite =
  | { kind: "finish"; taskId: number; fleetId: number; claim: number; outcome: TaskOutcome }
  | { kind: "release"; taskId: number; fleetId: number; claim: number; reason: string; at: number }
  | { kind: "account"; name: string; state: FleetAccountState; resetAt: number | null; at: number }
  | { kind: "model_limit"; account: string; model: string; resetAt: number | null; at: number };

export interface OutboxDeps {
  store: BridgeStore;
  fleet: FleetStore;
  host: string;
  clock: Clock;
  log: Logger;
  /**
   * Called once a write was taken, with what the store answered (`finish`/`release`: false for a stale claim), inside
   * the transaction that removes the entry. What it returns runs after that commit (notifications: none for an
   * answer a crash then undoes).
   */
  onSent(write: OutboxWrite, accepted: boolean): (() => void) | void;
}

export interface Outbox {
  /** Stores a write (sent by the next {@link Outbox.flush}). */
  push(write: OutboxWrite): void;
  /** Sends what is due, in order; throws {@link FleetUnavailable} (the rest stays) when the database is away. */
  flush(): Promise<number>;
  /** Writes waiting (parked ones excluded). */
  size(): number;
}

/**
 * Sends a finish; a refusal is checked against the shared row, so a finish this host already wrote (sent again after a
 * crash) counts as accepted, and only a claim another host took since is refused.
 */
async function sendFinish(fleet: FleetStore, host: string, w: Extract<OutboxWrite, { kind: "finish" }>): Promise<boolean> {
  if (await fleet.finish(w.fleetId, host, w.claim, w.outcome)) return true;
  const [row] = await fleet.tasks({ ids: [w.fleetId] });
  return row !== undefined && row.state === w.outcome.state && row.host === host && row.claim === w.claim;
}

async function send(fleet: FleetStore, host: string, w: OutboxWrite): Promise<boolean> {
  switch (w.kind) {
    case "finish": return sendFinish(fleet, host, w);
    case "release": return fleet.release(w.fleetId, host, w.claim, w.reason, w.at);
    case "account": return fleet.setAccountState(w.name, w.state, w.resetAt, w.at, host);
    case "model_limit": return fleet.setModelLimit(w.account, w.model, w.resetAt, w.at, host);
  }
}

export function createOutbox(deps: OutboxDeps): Outbox {
  const { store, fleet, host, clock } = deps;
  const log = deps.log.child({ module: "fleet-outbox" });

  /** Sends one entry; `retry`: the flush stops here (order kept). */
  async function sendEntry(entry: OutboxEntry): Promise<"sent" | "parked" | "retry"> {
    const write = JSON.parse(entry.payload) as OutboxWrite;
    let accepted: boolean;
    try {
      accepted = await send(fleet, host, write);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof FleetUnavailable) {
        store.failed(entry.id, message, clock.now(), false, clock.now());
        throw error;
      }
      const park = entry.attempts + 1 >= MAX_ATTEMPTS;
      store.failed(entry.id, message, clock.now() + backoff(entry.attempts), park, clock.now());
      log.error(park ? "fleet write parked" : "fleet write failed", { entry: entry.id, kind: entry.kind, attempts: entry.attempts + 1, error });
      return park ? "parked" : "retry";
    }
    // The answer's effect on the local row and the entry's removal commit together: a crash leaves both or neither.
    const afterCommit = store.atomically(() => {
      const then = deps.onSent(write, accepted);
      store.done(entry.id);
      return then;
    });
    afterCommit?.();
    return "sent";
  }

  return {
    push(write) {
      store.push(write.kind, write, clock.now());
    },
    async flush() {
      let sent = 0;
      for (const entry of store.pending()) {
        if (entry.nextAt > clock.now()) break;
        const outcome = await sendEntry(entry);
        if (outcome === "retry") break;
        if (outcome === "sent") sent++;
      }
      return sent;
    },
    size: () => store.pending().length,
  };
}
