/**
 * @module fleet/rows
 * What both fleet backends share: the mapping of database rows (snake_case; PostgreSQL returns BIGINT as a string)
 * to the typed rows of fleet/store.ts, and the few write rules they must apply identically (what counts as an
 * account change, how a claim orders its rows).
 */
import type { FleetAccountRow, FleetAccountState, FleetModelLimit, FleetSession, FleetTaskRow, FleetTaskState, HostRow, SwapRow } from "./store.ts";

type Raw = Record<string, unknown>;

/** A BIGINT/INTEGER column as a number (PostgreSQL's client returns BIGINT as a decimal string); null stays null. */
export function num(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`Cannot read fleet row: ${String(value)} is not a safe integer`);
  return n;
}

function int(value: unknown): number {
  const n = num(value);
  if (n === null) throw new Error("Cannot read fleet row: a required number is null");
  return n;
}

function str(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

export function taskRow(r: Raw): FleetTaskRow {
  return {
    id: int(r.id), originHost: String(r.origin_host), project: String(r.project), file: String(r.file),
    prompt: String(r.prompt), priority: int(r.priority), workdir: String(r.workdir), timeoutMs: num(r.timeout_ms),
    pinnedHost: str(r.pinned_host), createdAt: int(r.created_at), state: r.state as FleetTaskState,
    host: str(r.host), claim: int(r.claim), leaseUntil: num(r.lease_until), claimedAt: num(r.claimed_at),
    finishedAt: num(r.finished_at), result: str(r.result), error: str(r.error),
  };
}

/** Claimed rows in the order they were chosen: priority first, then age. */
export function claimOrder(rows: FleetTaskRow[]): FleetTaskRow[] {
  return rows.sort((a, b) => b.priority - a.priority || a.id - b.id);
}

export function sessionRow(r: Raw): FleetSession & { host: string } {
  return {
    host: String(r.host), name: String(r.name), kind: String(r.kind), state: String(r.state), account: str(r.account),
    taskId: num(r.task_id), updatedAt: int(r.updated_at),
  };
}

export function hostRows(hosts: Raw[], sessions: Raw[], now: number): HostRow[] {
  const byHost = new Map<string, FleetSession[]>();
  for (const raw of sessions) {
    const { host, ...session } = sessionRow(raw);
    byHost.set(host, [...(byHost.get(host) ?? []), session]);
  }
  return hosts.map((r) => {
    const heartbeatAt = int(r.heartbeat_at);
    return {
      name: String(r.name), heartbeatAt, heartbeatAgeMs: now - heartbeatAt, startedAt: int(r.started_at),
      version: String(r.version), url: str(r.url), degraded: str(r.degraded), sessions: byHost.get(String(r.name)) ?? [],
    };
  });
}

export function accountRows(accounts: Raw[], limits: Raw[]): FleetAccountRow[] {
  const byAccount = new Map<string, FleetModelLimit[]>();
  for (const r of limits) {
    const name = String(r.account);
    byAccount.set(name, [...(byAccount.get(name) ?? []), { model: String(r.model), resetAt: int(r.reset_at) }]);
  }
  return accounts.map((r) => ({
    name: String(r.name), state: r.state as FleetAccountState, resetAt: num(r.reset_at), updatedAt: int(r.updated_at),
    updatedBy: String(r.updated_by), limits: byAccount.get(String(r.name)) ?? [],
  }));
}

export function swapRow(r: Raw): SwapRow {
  return {
    host: String(r.host), id: int(r.id), session: String(r.session), fromAccount: str(r.from_account),
    toAccount: str(r.to_account), step: String(r.step), reason: String(r.reason), startedAt: int(r.started_at),
    updatedAt: int(r.updated_at),
  };
}

/**
 * Whether writing `state`/`resetAt` over the current shared row is a real change: a new account, another state, or
 * the same state with a later reset (two hosts estimating the same reset do not flap it back and forth).
 */
export function accountChanged(current: { state: string; reset_at: unknown } | undefined, state: FleetAccountState, resetAt: number | null): boolean {
  if (!current) return true;
  if (current.state !== state) return true;
  const currentReset = num(current.reset_at);
  return resetAt !== null && (currentReset === null || resetAt > currentReset);
}
