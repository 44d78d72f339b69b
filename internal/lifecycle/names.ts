/**
 * @module lifecycle/names
 * The names the daemon owns: the pool `<prefix><i>` for i in `[start_index, start_index+max)`, then every dedicated
 * session, and the kind of each. Nothing outside this set is ever created, killed or typed into.
 */
import type { SessionKind } from "../state/state.ts";

/** The owned names and their kinds. */
export interface OwnedNames {
  /** Pool range first, then dedicated. */
  ownedNames(): string[];
  /** The pool range, lowest index first. */
  poolNames(): string[];
  kindOf(name: string): SessionKind | null;
}

/** Computes the owned names from the pool range and the dedicated sessions of the config. */
export function ownedNames(pool: { prefix: string; startIndex: number; max: number }, dedicated: ReadonlyArray<{ session: string }>): OwnedNames {
  const poolNames = Array.from({ length: pool.max }, (_, i) => `${pool.prefix}${pool.startIndex + i}`);
  const pooled = new Set(poolNames);
  const dedicatedNames = new Set(dedicated.map((d) => d.session));
  const all = [...poolNames, ...dedicatedNames];
  return {
    ownedNames: () => [...all],
    poolNames: () => [...poolNames],
    kindOf: (name) => (dedicatedNames.has(name) ? "dedicated" : pooled.has(name) ? "pool" : null),
  };
}
