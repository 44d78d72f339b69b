/**
 * @module config/fleet
 * The `fleet` section (docs/fleet.md): this host's name (default: the machine's hostname, made a safe name), the
 * variable holding the fleet database's URL (a secret: read here into `config.secrets.fleetPostgresUrl`, never printed,
 * not even in an error), the heartbeat and the lease. Checks what the schema cannot: the variable set and holding a
 * `postgres://` URL, a lease of at least 3 heartbeats. Pure: the caller gives the environment and the hostname.
 */
import { FLEET_HOST_NAME, type ParsedConfig } from "./schema.ts";

/** The `fleet` section once resolved: `host` always set. */
export interface FleetConfig {
  /** This host's name in the fleet (`fleet.host`, default the machine's hostname). */
  host: string;
  /** The variable holding the database URL; absent: a single host on SQLite. The URL is in `secrets.fleetPostgresUrl`. */
  postgres_url_env?: string;
  /** Milliseconds between two heartbeats. */
  heartbeat: number;
  /** Milliseconds a claim holds without a heartbeat. */
  lease: number;
}

/** A lease shorter than this many heartbeats would requeue the tasks of a host that merely missed one or two. */
export const MIN_LEASE_HEARTBEATS = 3;

/** One problem of the `fleet` section, at a path of the config file. */
export interface FleetProblem {
  path: string[];
  message: string;
}

/**
 * The machine's hostname as a fleet host name: as is when it is one, else its first label (a long FQDN), else its
 * characters outside `[A-Za-z0-9_.-]` replaced by `-` and cut to 63; `localhost` for an empty one.
 */
export function defaultFleetHost(hostname: string): string {
  if (FLEET_HOST_NAME.test(hostname)) return hostname;
  const label = hostname.split(".")[0] ?? "";
  if (FLEET_HOST_NAME.test(label)) return label;
  const safe = hostname.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 63);
  return safe === "" ? "localhost" : safe;
}

/** True for a URL Bun's PostgreSQL client takes: `postgres://` or `postgresql://`, and parseable. */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(value) && URL.canParse(value);
}

/** `5s`, `1m30s` style (whole seconds), or milliseconds below a second. */
function duration(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return `${ms}ms`;
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}` : `${s}s`;
}

/** What is wrong with a schema-valid `fleet` section in `env`; never includes the URL. */
export function fleetProblems(fleet: ParsedConfig["fleet"], env: Record<string, string | undefined>): FleetProblem[] {
  const problems: FleetProblem[] = [];
  const name = fleet.postgres_url_env;
  if (name !== undefined) {
    const value = env[name] ?? "";
    if (value === "") {
      problems.push({ path: ["fleet", "postgres_url_env"], message: `the variable ${name} is unset or empty: set it to the fleet database's URL (postgres://user:password@host:5432/database), or remove fleet.postgres_url_env to run a single host on SQLite` });
    } else if (!isPostgresUrl(value)) {
      problems.push({ path: ["fleet", "postgres_url_env"], message: `the variable ${name} does not hold a postgres:// or postgresql:// URL (its value is a secret and is not shown)` });
    }
  }
  if (fleet.lease < MIN_LEASE_HEARTBEATS * fleet.heartbeat) {
    problems.push({ path: ["fleet", "lease"], message: `${duration(fleet.lease)} is shorter than ${MIN_LEASE_HEARTBEATS} × fleet.heartbeat (${duration(MIN_LEASE_HEARTBEATS * fleet.heartbeat)}): a host that missed two heartbeats would lose its running tasks` });
  }
  return problems;
}

/** The resolved section and the URL (empty without `postgres_url_env`), from a section {@link fleetProblems} passed. */
export function resolveFleet(fleet: ParsedConfig["fleet"], env: Record<string, string | undefined>, hostname: string): { fleet: FleetConfig; url: string } {
  const { postgres_url_env, heartbeat, lease } = fleet;
  return {
    fleet: { host: fleet.host ?? defaultFleetHost(hostname), ...(postgres_url_env ? { postgres_url_env } : {}), heartbeat, lease },
    url: postgres_url_env ? env[postgres_url_env] ?? "" : "",
  };
}
