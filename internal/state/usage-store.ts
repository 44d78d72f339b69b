/**
 * @module state/usage-store
 * The store's usage tables (created by a migration in state.ts): `account_limits` (one row per limit an account hit:
 * kind, session, time, reset), `account_periods` (spans of an account's history: `active` while sessions ran on it,
 * and every state other than `available`, e.g. `cooling`, `disabled`) and `account_days` (per account and UTC day:
 * turns, tasks done, tasks failed; maintained counters, so no read ever counts rows of another table).
 * Every read is an indexed seek by account; it holds no rule about what counts: state/usage.ts decides.
 */
import type { Database } from "bun:sqlite";

/** One limit an account hit. Times are epoch ms. */
export interface LimitRecord {
  account: string;
  /** The quota verdict's `LimitKind` (`five_hour`, `weekly`, `opus`, …) or the kind of signal that cooled it. */
  kind: string;
  session: string | null;
  /** How it was seen: `hook`, `transcript` or `pane`. */
  signal: string | null;
  at: number;
  resetAt: number | null;
}

/** A span of an account's history; `endedAt` null while it lasts. */
export interface PeriodRecord {
  account: string;
  /** `active` (sessions ran on it) or an account state (`cooling`, `disabled`, …). */
  kind: string;
  startedAt: number;
  endedAt: number | null;
}

/** The per-day counters. */
export type DayCounter = "turns" | "tasks_done" | "tasks_failed";

/** One account's counters on one UTC day (`YYYY-MM-DD`). */
export type DayRecord = { account: string; day: string } & Record<DayCounter, number>;

/** The usage tables, as the {@link import("./state.ts").Store} exposes them (`store.usage`). */
export interface UsageStore {
  addLimit(limit: LimitRecord): void;
  /** The latest limit of `account`, if any. */
  lastLimit(account: string): LimitRecord | null;
  /** Limits of `account` at or after `since`, oldest first. */
  limitsSince(account: string, since: number): LimitRecord[];
  /** Opens a `kind` period of `account` at `at` unless one is open. */
  openPeriod(account: string, kind: string, at: number): void;
  /** Closes the open `kind` period of `account`, if any. */
  closePeriod(account: string, kind: string, at: number): void;
  /** Accounts with an open `kind` period. */
  openPeriods(kind: string): string[];
  /** Periods of `account` still open or ended after `since`, oldest first. */
  periodsSince(account: string, since: number): PeriodRecord[];
  /** Adds `by` (default 1) to a counter of `account` on `day`. */
  bump(account: string, day: string, counter: DayCounter, by?: number): void;
  /** Counter rows of `account` from `sinceDay` on (inclusive). */
  daysSince(account: string, sinceDay: string): DayRecord[];
  /** Accounts that have at least one non-dead session on them now. */
  accountsInUse(): string[];
  /** Deletes limits, ended periods and day rows older than `before`; returns how many rows. */
  prune(before: number): number;
}

/** The migration creating the usage tables, and the limit kind of a swap (state.ts appends it to its list). */
export const USAGE_MIGRATION = `
  CREATE TABLE account_limits (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, kind TEXT NOT NULL, session TEXT, signal TEXT,
    at INTEGER NOT NULL, reset_at INTEGER) STRICT;
  CREATE INDEX account_limits_at ON account_limits(account, at);
  CREATE TABLE account_periods (
    id INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, kind TEXT NOT NULL, started_at INTEGER NOT NULL,
    ended_at INTEGER) STRICT;
  CREATE INDEX account_periods_end ON account_periods(account, ended_at);
  CREATE TABLE account_days (
    account TEXT NOT NULL, day TEXT NOT NULL, turns INTEGER NOT NULL DEFAULT 0, tasks_done INTEGER NOT NULL DEFAULT 0,
    tasks_failed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (account, day)) STRICT, WITHOUT ROWID;
  INSERT INTO account_periods (account, kind, started_at) SELECT name, state, updated_at FROM accounts WHERE state != 'available';
  ALTER TABLE swaps ADD COLUMN limit_kind TEXT;`;

const COUNTERS: ReadonlySet<DayCounter> = new Set(["turns", "tasks_done", "tasks_failed"]);

/** The {@link UsageStore} over an open, migrated database. */
export function createUsageStore(db: Database): UsageStore {
  const limitRow = (r: Record<string, unknown>): LimitRecord => ({
    account: r.account as string, kind: r.kind as string, session: (r.session as string | null) ?? null,
    signal: (r.signal as string | null) ?? null, at: r.at as number, resetAt: (r.reset_at as number | null) ?? null,
  });
  const periodRow = (r: Record<string, unknown>): PeriodRecord => ({
    account: r.account as string, kind: r.kind as string, startedAt: r.started_at as number, endedAt: (r.ended_at as number | null) ?? null,
  });
  const openOf = (account: string, kind: string) =>
    db.query("SELECT id FROM account_periods WHERE account = $account AND ended_at IS NULL AND kind = $kind LIMIT 1").get({ account, kind }) as { id: number } | null;

  return {
    addLimit(l) {
      db.query("INSERT INTO account_limits (account, kind, session, signal, at, reset_at) VALUES ($account, $kind, $session, $signal, $at, $resetAt)")
        .run({ account: l.account, kind: l.kind, session: l.session, signal: l.signal, at: l.at, resetAt: l.resetAt });
    },
    lastLimit(account) {
      const row = db.query("SELECT * FROM account_limits WHERE account = $account ORDER BY at DESC, id DESC LIMIT 1").get({ account }) as Record<string, unknown> | null;
      return row ? limitRow(row) : null;
    },
    limitsSince: (account, since) =>
      (db.query("SELECT * FROM account_limits WHERE account = $account AND at >= $since ORDER BY at, id").all({ account, since }) as Record<string, unknown>[]).map(limitRow),
    openPeriod(account, kind, at) {
      if (openOf(account, kind)) return;
      db.query("INSERT INTO account_periods (account, kind, started_at) VALUES ($account, $kind, $at)").run({ account, kind, at });
    },
    closePeriod(account, kind, at) {
      const open = openOf(account, kind);
      if (open) db.query("UPDATE account_periods SET ended_at = MAX(started_at, $at) WHERE id = $id").run({ id: open.id, at });
    },
    openPeriods: (kind) =>
      (db.query("SELECT DISTINCT account FROM account_periods WHERE ended_at IS NULL AND kind = $kind").all({ kind }) as Array<{ account: string }>).map((r) => r.account),
    periodsSince(account, since) {
      const rows = db.query(`SELECT * FROM account_periods WHERE account = $account AND ended_at IS NULL
                             UNION ALL SELECT * FROM account_periods WHERE account = $account AND ended_at > $since`).all({ account, since }) as Record<string, unknown>[];
      return rows.map(periodRow).sort((a, b) => a.startedAt - b.startedAt);
    },
    bump(account, day, counter, by = 1) {
      if (!COUNTERS.has(counter)) throw new TypeError(`Cannot count usage: unknown counter ${JSON.stringify(counter)}`);
      db.query(`INSERT INTO account_days (account, day, ${counter}) VALUES ($account, $day, $by)
                ON CONFLICT(account, day) DO UPDATE SET ${counter} = ${counter} + $by`).run({ account, day, by });
    },
    daysSince: (account, sinceDay) =>
      db.query("SELECT * FROM account_days WHERE account = $account AND day >= $sinceDay ORDER BY day").all({ account, sinceDay }) as DayRecord[],
    accountsInUse: () =>
      (db.query("SELECT DISTINCT account FROM sessions WHERE account IS NOT NULL AND state != 'dead'").all() as Array<{ account: string }>).map((r) => r.account),
    prune(before) {
      const day = new Date(before).toISOString().slice(0, 10);
      return db.transaction(() =>
        db.query("DELETE FROM account_limits WHERE at < $before").run({ before }).changes
        + db.query("DELETE FROM account_periods WHERE ended_at IS NOT NULL AND ended_at < $before").run({ before }).changes
        + db.query("DELETE FROM account_days WHERE day < $day").run({ day }).changes)();
    },
  };
}
