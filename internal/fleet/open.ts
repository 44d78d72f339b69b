/**
 * @module fleet/open
 * Opens the daemon's fleet store ({@link openFleet}): a single host (no `fleet.postgres_url_env`) gets the SQLite
 * backend in its own state.db, at once; a fleet gets PostgreSQL, opened on first use ({@link lazyFleet}) so the daemon
 * starts, and its agents run, while the database is away: until it answers, every call throws {@link FleetUnavailable}
 * (the bridge is degraded, with the reason) and the next call tries to open it again.
 */
import type { Logger } from "../log.ts";
import { openPostgresFleet } from "./postgres.ts";
import { openSqliteFleet } from "./sqlite.ts";
import { FleetUnavailable, type FleetStore } from "./store.ts";

/** The fleet store for `url` (PostgreSQL) or, when it is empty, the SQLite file `statePath`. */
export function openFleet(url: string, statePath: string, log: Logger): FleetStore {
  if (url === "") return openSqliteFleet(statePath);
  return lazyFleet("postgres", () => openPostgresFleet(url, { onWatchError: (error) => log.warn("fleet account watch error", { error }) }));
}

/**
 * A store opened by `open` on the first call, and again on the next call after a failed open. Every failure to open
 * (unreachable, refused login, a schema newer than this binary) is a {@link FleetUnavailable}: the daemon keeps going.
 */
export function lazyFleet(backend: FleetStore["backend"], open: () => Promise<FleetStore>): FleetStore {
  let opening: Promise<FleetStore> | null = null;
  let closed = false;
  const store = (): Promise<FleetStore> => {
    if (closed) return Promise.reject(new Error("the fleet store is closed"));
    opening ??= open().catch((error) => {
      opening = null;
      throw error instanceof FleetUnavailable ? error : new FleetUnavailable("open the fleet store", error);
    });
    return opening;
  };
  return new Proxy({} as FleetStore, {
    get(_, key) {
      if (key === "backend") return backend;
      if (key === "then") return undefined;
      if (key === "close") {
        return async () => {
          closed = true;
          const pending = opening;
          opening = null;
          const inner = await pending?.catch(() => null);
          await inner?.close();
        };
      }
      return async (...args: unknown[]) => {
        const inner = (await store()) as unknown as Record<PropertyKey, (...a: unknown[]) => Promise<unknown>>;
        return inner[key]!(...args);
      };
    },
  });
}
