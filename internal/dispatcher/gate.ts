/**
 * @module dispatcher/gate
 * Whether new tasks may be handed out now, and why not: paused by the operator, a swap running (its row is in the
 * store from the moment it is requested), every account exhausted, or the cooldown after a swap. Continues of tasks
 * already running do not pass through it (watcher/follow.ts has its own rules). Reads only.
 */
import type { Clock } from "../clock.ts";
import type { Runtime } from "../state/runtime.ts";
import type { Store } from "../state/state.ts";

/** Open, or closed with the reason (logged by the dispatcher when it changes). */
export type GateState = { open: true } | { open: false; reason: string };

/** Creates the dispatch gate; `cooldownMs` is `quota.reactivate_cooldown`. */
export function createDispatchGate(deps: { store: Store; runtime: Runtime; clock: Clock }, cooldownMs: number): () => GateState {
  const { store, runtime, clock } = deps;
  return () => {
    if (runtime.paused()) return { open: false, reason: "paused by the operator" };
    if (store.openSwap()) return { open: false, reason: "a swap is running" };
    const exhausted = runtime.exhaustedUntil();
    if (exhausted !== null) return { open: false, reason: `all accounts exhausted until ${new Date(exhausted).toISOString()}` };
    const last = store.lastDoneSwap();
    if (last && clock.now() - last.updatedAt < cooldownMs) return { open: false, reason: "cooldown after a swap" };
    return { open: true };
  };
}
