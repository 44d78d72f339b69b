/**
 * @module dispatcher/gate
 * Whether new tasks may be handed out now, and why not: paused by the operator, a swap running (its row is in the
 * store from the moment it is requested), every account exhausted, or the cooldown after a restart swap. Continues of
 * tasks already running do not pass through it (watcher/follow.ts has its own rules). Reads only.
 *
 * The cooldown (`quota.reactivate_cooldown`) follows a swap that restarted the sessions, as the seed's dispatcher did
 * after reactivating relaunched sessions: each came back with `--resume` and may still be starting (its SessionStart
 * hooks arrive seconds after its prompt box) with its old limit line redrawn, and the swap's continues go first. An
 * in-place swap restarts nothing: every session is ready the moment the swap is done, so new tasks flow at once.
 */
import type { Clock } from "../clock.ts";
import type { Runtime } from "../state/runtime.ts";
import type { Store, SwapRow } from "../state/state.ts";

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
    if (last && clock.now() - last.updatedAt < cooldownMs && restarted(last)) return { open: false, reason: "cooldown after a swap" };
    return { open: true };
  };
}

/** Whether a swap restarted its sessions: any but an in-place one (the plan says `mode: in-place`). */
function restarted(swap: SwapRow): boolean {
  try {
    return (JSON.parse(swap.plan ?? "{}") as { mode?: string }).mode !== "in-place";
  } catch {
    return true;
  }
}
