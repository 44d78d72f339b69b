/**
 * @module fleet/postgres-accounts
 * Shared account states on PostgreSQL. A change is written and announced (`NOTIFY claude_failover_accounts` with the
 * account's name) in one transaction, so a listener sees it only once it is committed; listeners re-read the row.
 * Bun's client keeps the LISTEN connection up and re-subscribes after a drop (`onlisten` runs again): notifications
 * sent while it was away are lost, so after every re-subscription each account is reported once more.
 */
import type { SQL } from "bun";
import { accountChanged, accountRows } from "./rows.ts";
import type { FleetAccountRow, FleetStore } from "./store.ts";

/** The channel account changes are announced on. */
export const ACCOUNTS_CHANNEL = "claude_failover_accounts";

type Accounts = Pick<FleetStore, "setAccountState" | "setModelLimit" | "accounts" | "watchAccounts">;

/** `onError` receives what a watch could not deliver (a failed re-read); the watch itself goes on. */
export function postgresAccounts(sql: SQL, onError: (error: unknown) => void): Accounts {
  async function read(name?: string): Promise<FleetAccountRow[]> {
    const only = name ?? null;
    const accounts = await sql`SELECT * FROM fleet_accounts WHERE ${only}::text IS NULL OR name = ${only} ORDER BY name`;
    const limits = await sql`SELECT * FROM fleet_model_limits WHERE ${only}::text IS NULL OR account = ${only} ORDER BY account, model`;
    return accountRows([...accounts], [...limits]);
  }
  /** Runs `write` with the account locked (an advisory lock also covers a row not yet there); notifies if it changed. */
  function locked(name: string, write: (tx: SQL) => Promise<boolean>): Promise<boolean> {
    return sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`fleet_accounts:${name}`}))`;
      const changed = await write(tx);
      if (changed) await tx`SELECT pg_notify(${ACCOUNTS_CHANNEL}, ${JSON.stringify({ name })})`;
      return changed;
    });
  }

  return {
    setAccountState(name, state, resetAt, now, host) {
      return locked(name, async (tx) => {
        const [current] = await tx`SELECT state, reset_at FROM fleet_accounts WHERE name = ${name}`;
        if (!accountChanged(current, state, resetAt)) return false;
        await tx`INSERT INTO fleet_accounts (name, state, reset_at, updated_at, updated_by)
          VALUES (${name}, ${state}, ${resetAt}, ${now}, ${host})
          ON CONFLICT (name) DO UPDATE SET state = excluded.state, reset_at = excluded.reset_at,
            updated_at = excluded.updated_at, updated_by = excluded.updated_by`;
        return true;
      });
    },
    setModelLimit(account, model, resetAt, now, host) {
      return locked(account, async (tx) => {
        if (resetAt === null) return (await tx`DELETE FROM fleet_model_limits WHERE account = ${account} AND model = ${model}`).count > 0;
        const r = await tx`INSERT INTO fleet_model_limits (account, model, reset_at, updated_at, updated_by)
          VALUES (${account}, ${model}, ${resetAt}, ${now}, ${host})
          ON CONFLICT (account, model) DO UPDATE SET reset_at = excluded.reset_at, updated_at = excluded.updated_at,
            updated_by = excluded.updated_by WHERE fleet_model_limits.reset_at <> excluded.reset_at`;
        return r.count > 0;
      });
    },
    accounts() {
      return read();
    },
    async watchAccounts(onChange) {
      let active = true;
      let subscribed = false;
      const report = (rows: FleetAccountRow[]) => { if (active) for (const row of rows) onChange(row); };
      const reread = (name?: string) => { read(name).then(report, (error) => { if (active) onError(error); }); };
      const subscription = await sql.listen(ACCOUNTS_CHANNEL, (payload) => {
        try {
          reread((JSON.parse(payload) as { name: string }).name);
        } catch (error) {
          onError(error);
        }
      }, () => {
        if (subscribed) reread();
        subscribed = true;
      });
      return async () => {
        active = false;
        await subscription.unlisten();
      };
    },
  };
}
