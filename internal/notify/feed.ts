/**
 * @module notify/feed
 * The operator-facing event stream: every notable event is written to the store's event log, handed to the
 * notifier (which queues and returns at once), and pushed to live listeners (the dashboard's SSE). One producer
 * side, a few readers; not a general bus — modules do not subscribe to each other through it.
 */
import type { Logger } from "../log.ts";
import type { EventLevel, Store } from "../state/state.ts";
import type { NotifyEvent } from "./events.ts";

/** An event as modules emit it: one of the typed notification events (notify/events.ts). */
export type OperatorEvent = NotifyEvent;

/** A stored event as live listeners see it. */
export interface LiveEvent {
  id: number;
  at: number;
  level: string;
  kind: string;
  message: string;
}

/** The event stream. */
export interface EventBus {
  /** Records and forwards an event; never throws, never waits. */
  notify(event: OperatorEvent): void;
  subscribe(listener: (event: LiveEvent) => void): () => void;
  /** The latest stored events, oldest first. */
  recent(limit: number): LiveEvent[];
}

/** What the bus needs. */
export interface EventBusDeps {
  store: Store;
  log: Logger;
  /** Hands the event to the notification channels (queued). */
  send(event: OperatorEvent): void;
  /** One-line text and level for the event log. */
  describe(event: OperatorEvent): { level: EventLevel; message: string };
}

/** Creates an {@link EventBus}. */
export function createEventBus(deps: EventBusDeps): EventBus {
  const listeners = new Set<(event: LiveEvent) => void>();
  return {
    notify(event) {
      try {
        const { level, message } = deps.describe(event);
        const { kind, at, level: _ignored, ...fields } = event as NotifyEvent & Record<string, unknown>;
        const row = deps.store.addEvent({ at, level: event.level ?? level, kind, message, fields: JSON.stringify(fields) });
        for (const listener of listeners) listener({ id: row.id, at, level: row.level, kind, message });
        deps.send(event);
      } catch (error) {
        deps.log.error("event not recorded", { kind: event.kind, error });
      }
    },
    recent(limit) {
      return deps.store.recentEvents(limit).map((e) => ({ id: e.id, at: e.at, level: e.level, kind: e.kind, message: e.message }));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
