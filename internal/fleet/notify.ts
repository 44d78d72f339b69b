/**
 * @module fleet/notify
 * One notification per event fleet-wide ({@link fleetSend}): the events several hosts see for one fact (an account
 * limited, its login lost, all accounts exhausted…) are sent by the one host that claims them first in the shared
 * store (`claimEvent`, a sliding window); the others only record them in their local feed. Events of this host alone
 * (its swap's end, its sessions, its daemon) go out as they are; task events are the bridge's own (sent once accepted).
 */
import type { Logger } from "../log.ts";
import type { NotifyEvent } from "../notify/events.ts";

/** How long one host's claim of a shared event silences the others. @default 10 minutes */
export const SHARED_EVENT_WINDOW_MS = 10 * 60_000;

/** The fleet-wide key of an event several hosts may send for one fact, or null for an event of this host alone. */
export function sharedEventKey(event: NotifyEvent): string | null {
  switch (event.kind) {
    // Host B's swap off an account host A found limited is the same fact: keyed by the account left, not the target.
    case "swap_started": return event.from === null ? null : `swap_started:${event.from}`;
    case "accounts_exhausted": return "accounts_exhausted";
    case "account_available": case "account_enabled": case "login_lost": case "login_restored": case "extra_usage":
      return `${event.kind}:${event.account}`;
    case "model_limit": case "model_restored": return `${event.kind}:${event.account}:${event.model}`;
    default: return null;
  }
}

/** Wraps the notifier's `send`: a shared event goes out only when `claim` says this host sends it. */
export function fleetSend(
  send: (event: NotifyEvent) => void,
  claim: (key: string, windowMs: number) => Promise<boolean>,
  log: Logger,
  windowMs = SHARED_EVENT_WINDOW_MS,
): (event: NotifyEvent) => void {
  return (event) => {
    const key = sharedEventKey(event);
    if (key === null) return send(event);
    void claim(key, windowMs).then((mine) => {
      if (mine) send(event);
      else log.info("notification left to another host", { kind: event.kind, key });
    }, (error) => {
      log.error("fleet event claim failed; sending", { kind: event.kind, error });
      send(event);
    });
  };
}
