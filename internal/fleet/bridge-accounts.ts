/**
 * @module fleet/bridge-accounts
 * The account side of the fleet bridge (docs/fleet.md "Accounts"): a shared account row written by another host
 * (seen by `watchAccounts`, or by the re-read after a reconnect) becomes this host's local account state and model
 * limits, and the supervisor is told once per change (`onAccountChanged`) so it can move this host's sessions off an
 * account that can no longer take requests. This host's own changes go the other way through the outbox (bridge.ts).
 * Accounts are configured per host: a shared row of an account this host does not have is ignored.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";
import type { FleetAccountRow, FleetAccountState } from "./store.ts";

/** What the supervisor is told when another host changed an account this host has. */
export interface AccountChange {
  name: string;
  state: FleetAccountState;
  resetAt: number | null;
  /** The host that wrote it. */
  by: string;
}

export interface AccountSyncDeps {
  host: string;
  store: Store;
  clock: Clock;
  log: Logger;
  onAccountChanged(change: AccountChange): void;
}

export function createAccountSync(deps: AccountSyncDeps) {
  const { host, store, clock } = deps;
  const log = deps.log.child({ module: "fleet-accounts" });

  /** Makes the local model limits of `row.name` those of the shared row; true when one changed. */
  function syncLimits(row: FleetAccountRow): boolean {
    const now = clock.now();
    const mine = new Map(store.modelLimits().filter((l) => l.account === row.name).map((l) => [l.model, l.resetAt]));
    let changed = false;
    for (const limit of row.limits) {
      if (mine.get(limit.model) === limit.resetAt) continue;
      store.setModelLimit(row.name, limit.model, limit.resetAt, now);
      changed = true;
    }
    for (const model of mine.keys()) {
      if (row.limits.some((l) => l.model === model)) continue;
      store.clearModelLimit(row.name, model);
      changed = true;
    }
    return changed;
  }

  return {
    /** Applies a shared row; its own writes (`updatedBy` this host) are already local and are skipped. */
    apply(row: FleetAccountRow): void {
      if (row.updatedBy === host) return;
      const local = store.accounts().find((a) => a.name === row.name);
      if (!local) {
        log.debug("fleet account not configured here", { account: row.name, by: row.updatedBy });
        return;
      }
      const limitsChanged = syncLimits(row);
      if (local.state === row.state && local.resetAt === row.resetAt) {
        if (limitsChanged) log.info("fleet model limits applied", { account: row.name, by: row.updatedBy });
        return;
      }
      store.setAccountState(row.name, row.state, row.resetAt, clock.now());
      log.info("fleet account change applied", { account: row.name, from: local.state, to: row.state, reset_at: row.resetAt, by: row.updatedBy });
      deps.onAccountChanged({ name: row.name, state: row.state, resetAt: row.resetAt, by: row.updatedBy });
    },
  };
}

export type AccountSync = ReturnType<typeof createAccountSync>;
