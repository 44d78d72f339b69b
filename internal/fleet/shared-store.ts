/**
 * @module fleet/shared-store
 * The store the deciders get when a fleet bridge runs ({@link sharingStore}): the daemon's own store, whose account
 * writes (state, model limits) are also handed to the bridge, which shares them through its outbox. Only the parts that
 * decide (supervisor, operator control) write through it; the bridge writes the rows other hosts changed through the
 * plain store, so a remote change is never echoed back.
 */
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";
import type { FleetBridge } from "./bridge.ts";

/** `store` with its account writes shared through `bridge` (the local write first, as without a fleet). */
export function sharingStore(store: Store, bridge: Pick<FleetBridge, "accountChanged" | "modelLimitChanged">, log: Logger): Store {
  const shared = (what: string, send: () => Promise<void>) =>
    void send().catch((error) => log.error("fleet account write not queued", { what, error }));
  return Object.assign(Object.create(store) as Store, {
    setAccountState(name: string, state: Parameters<Store["setAccountState"]>[1], resetAt: number | null, now: number) {
      store.setAccountState(name, state, resetAt, now);
      shared("account", () => bridge.accountChanged(name, state, resetAt));
    },
    setModelLimit(account: string, model: string, resetAt: number, now: number) {
      store.setModelLimit(account, model, resetAt, now);
      shared("model_limit", () => bridge.modelLimitChanged(account, model, resetAt));
    },
    clearModelLimit(account: string, model: string) {
      store.clearModelLimit(account, model);
      shared("model_limit", () => bridge.modelLimitChanged(account, model, null));
    },
  });
}
