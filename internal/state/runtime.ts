/**
 * @module state/runtime
 * The daemon's runtime flags, in one place: the active account, whether dispatch is paused by the operator, and
 * until when every account is exhausted. Each is persisted as a store flag (so a restart keeps it) and cached here;
 * the switcher, the dispatch gate, the supervisor and the control surface all read and write them through this one
 * object. It decides nothing.
 */
import type { Store } from "./state.ts";

/** The runtime flags. */
export interface Runtime {
  activeAccount(): string | null;
  setActiveAccount(name: string): void;
  paused(): boolean;
  setPaused(paused: boolean): void;
  /** End of exhausted mode (epoch ms), or null when some account has quota. */
  exhaustedUntil(): number | null;
  setExhaustedUntil(until: number | null): void;
}

const FLAG_ACTIVE = "active_account";
const FLAG_PAUSED = "paused";
/** Store flag holding the end of exhausted mode (epoch ms), so a restart stays in it. */
export const FLAG_EXHAUSTED = "exhausted_until";

/**
 * Creates the {@link Runtime} over `store`. An active account that is no longer configured falls back to the first
 * configured one (`accounts` in priority order).
 */
export function createRuntime(store: Store, accounts: ReadonlyArray<{ name: string }>): Runtime {
  let active = store.getFlag(FLAG_ACTIVE);
  let paused = store.getFlag(FLAG_PAUSED) === "1";
  let exhaustedUntil = Number(store.getFlag(FLAG_EXHAUSTED)) || null;
  if (!active || !accounts.some((a) => a.name === active)) {
    active = accounts[0]?.name ?? null;
    if (active) store.setFlag(FLAG_ACTIVE, active);
  }
  return {
    activeAccount: () => active,
    setActiveAccount(name) {
      active = name;
      store.setFlag(FLAG_ACTIVE, name);
    },
    paused: () => paused,
    setPaused(value) {
      paused = value;
      store.setFlag(FLAG_PAUSED, value ? "1" : null);
    },
    exhaustedUntil: () => exhaustedUntil,
    setExhaustedUntil(until) {
      exhaustedUntil = until;
      store.setFlag(FLAG_EXHAUSTED, until === null ? null : String(until));
    },
  };
}
