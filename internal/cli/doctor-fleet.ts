/**
 * @module cli/doctor-fleet
 * `doctor`'s fleet checks (docs/fleet.md). Without `fleet.postgres_url_env`: one line, the host runs alone on SQLite.
 * With it: whether the database answers (short connect timeout), its schema version against the one this binary
 * expects (older: migrated at start; newer: this binary is too old, a failure), and the hosts it knows with their
 * heartbeat age. Read-only (fleet/postgres-inspect.ts): it never creates the schema. The database is named by
 * host:port/database only, and the URL (and its password) is redacted from any error quoted: the URL is a secret.
 */
import type { Config } from "../config/config.ts";
import { inspectPostgresFleet, postgresTarget, type FleetInspection } from "../fleet/postgres-inspect.ts";
import { FleetUnavailable, type HostRow } from "../fleet/store.ts";
import { redact } from "../notify/notify.ts";
import type { DoctorCheck } from "./doctor.ts";

export interface FleetDoctorOptions {
  /** How long to wait for the database to accept a connection. @default 3000 */
  connectTimeoutMs?: number;
  /** The time heartbeat ages are counted to. @default Date.now() */
  now?: number;
}

/** `4.2 s`, `12 min`, `5 h`, `3 d`; a heartbeat from the future says so (clocks differ between hosts). */
export function heartbeatAge(ms: number): string {
  if (ms < -1000) return `${heartbeatAge(-ms)} in the future: this host's clock is behind`;
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return s < 172_800 ? `${Math.round(s / 3600)} h ago` : `${Math.round(s / 86_400)} d ago`;
}

function hostLine(host: HostRow, self: string, leaseMs: number): string {
  const notes = [
    `heartbeat ${heartbeatAge(host.heartbeatAgeMs)}`,
    `${host.sessions.length} session${host.sessions.length === 1 ? "" : "s"}`,
    ...(host.heartbeatAgeMs > leaseMs ? ["silent past the lease"] : []),
    ...(host.degraded ? [`degraded: ${host.degraded}`] : []),
  ];
  return `${host.name}${host.name === self ? " (this host)" : ""} (${notes.join(", ")})`;
}

function schemaCheck({ version, expected }: FleetInspection): DoctorCheck {
  const name = "fleet schema";
  if (version === null) return { name, ok: true, detail: "empty database: the schema is created at the first start" };
  if (version < expected) return { name, ok: true, detail: `version ${version}, older than this binary's ${expected}: migrated at the daemon's start` };
  if (version === expected) return { name, ok: true, detail: `version ${version}, as this binary expects` };
  return {
    name, ok: false, detail: `version ${version} is NEWER than this binary's ${expected}: this binary is too old for the fleet (its fleet store refuses to open it)`,
    fix: "upgrade claude-failover on this host to the version the other hosts run",
  };
}

/** The fleet lines of `doctor`. */
export async function fleetChecks(config: Pick<Readonly<Config>, "fleet" | "secrets">, options: FleetDoctorOptions = {}): Promise<DoctorCheck[]> {
  const variable = config.fleet.postgres_url_env;
  if (!variable) return [{ name: "fleet", ok: true, detail: `single host (SQLite), this host named ${config.fleet.host}` }];
  const url = config.secrets.fleetPostgresUrl;
  const target = `${postgresTarget(url)} (the URL in ${variable}, fleet.postgres_url_env)`;
  let found: FleetInspection;
  try {
    found = await inspectPostgresFleet(url, { connectTimeoutMs: options.connectTimeoutMs ?? 3000, now: options.now });
  } catch (error) {
    const password = URL.canParse(url) ? decodeURIComponent(new URL(url).password) : "";
    const reason = redact(error instanceof Error ? error.message : String(error), [url, password]);
    return [{
      name: "fleet database", ok: false, detail: `${target} ${error instanceof FleetUnavailable ? "does not answer" : "answers with an error"}: ${reason}`,
      fix: `start PostgreSQL there, or correct ${variable} (host, port, database, user, password) and check this host may reach it`,
    }];
  }
  const checks: DoctorCheck[] = [
    { name: "fleet database", ok: true, detail: `${target} answers; this host is ${config.fleet.host}` },
    schemaCheck(found),
  ];
  if (found.version !== null && found.version >= 1 && found.version <= found.expected) {
    checks.push({
      name: "fleet hosts", ok: true,
      detail: found.hosts.length === 0 ? "none yet: each host appears at its first heartbeat"
        : `${found.hosts.length}: ${found.hosts.map((h) => hostLine(h, config.fleet.host, config.fleet.lease)).join("; ")}`,
    });
  }
  return checks;
}
