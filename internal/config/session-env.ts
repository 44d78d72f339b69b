/**
 * @module config/session-env
 * The sessions' environment: `claude.env` (variables set for every session: proxy, CA bundle, model settings) and
 * `claude.env_from` (names whose values are copied from the daemon's own environment when it starts). Owns which
 * variables hold the daemon's own secrets, and refuses them here, with `CLAUDE_CONFIG_DIR` (the daemon sets it per
 * session), the variables that would stop Claude Code writing transcripts, and anything that is not a variable name.
 * Pure: the caller gives the parsed config and the environment; config.ts locates and reports the problems.
 */
import { LEGACY_TOKEN_ENV } from "../hook/hook.ts";
import { TRANSCRIPT_KILLER_ENV } from "../lifecycle/launch.ts";
import type { ParsedConfig } from "./schema.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One variable holding a secret of the daemon, and the config key (or fact) that makes it one. */
export interface SecretEnv {
  name: string;
  key: string;
}

/** The notification channels' secret variables (only those of configured channels). */
export function notificationSecretEnvs(n: ParsedConfig["notifications"]): SecretEnv[] {
  const found: Array<[string | undefined, string]> = [
    [n.telegram?.token_env, "notifications.telegram.token_env"], [n.email?.api_key_env, "notifications.email.api_key_env"],
    [n.webhook?.secret_env, "notifications.webhook.secret_env"], [n.ntfy?.token_env, "notifications.ntfy.token_env"],
    [n.slack?.url_env, "notifications.slack.url_env"], [n.discord?.url_env, "notifications.discord.url_env"],
  ];
  return found.filter((f): f is [string, string] => Boolean(f[0])).map(([name, key]) => ({ name, key }));
}

/** Every variable holding a secret of the daemon: never copied into, and always stripped from, a pane's environment. */
export function daemonSecretEnvs(config: Pick<ParsedConfig, "http" | "notifications"> & { fleet?: Pick<ParsedConfig["fleet"], "postgres_url_env"> }): SecretEnv[] {
  const fleetUrl = config.fleet?.postgres_url_env;
  return [
    { name: config.http.token_env, key: "http.token_env" },
    ...notificationSecretEnvs(config.notifications),
    ...(fleetUrl ? [{ name: fleetUrl, key: "fleet.postgres_url_env" }] : []),
    { name: LEGACY_TOKEN_ENV, key: "the hook token" },
  ];
}

/** A problem with the sessions' environment, at a path of the config file. */
export interface SessionEnvProblem {
  path: Array<string | number>;
  message: string;
}

/** Why `name` may not be set for sessions, or null when it may. */
function refusal(name: string, secrets: SecretEnv[]): string | null {
  if (!ENV_NAME.test(name)) return `${JSON.stringify(name)} is not an environment variable name (letters, digits and '_', not starting with a digit)`;
  const secret = secrets.find((s) => s.name === name);
  if (secret) return `${name} holds the daemon's own secret (${secret.key}) and is never passed to sessions`;
  if (name === "CLAUDE_CONFIG_DIR") return "CLAUDE_CONFIG_DIR is set by the daemon for each session (its config home); configure accounts instead";
  if (TRANSCRIPT_KILLER_ENV.includes(name)) return `${name} would stop Claude Code writing the transcripts the daemon follows`;
  return null;
}

/** Every refused name, duplicate and unusable value in `claude.env` and `claude.env_from`. */
export function sessionEnvProblems(config: Pick<ParsedConfig, "claude" | "http" | "notifications"> & { fleet?: Pick<ParsedConfig["fleet"], "postgres_url_env"> }): SessionEnvProblem[] {
  const problems: SessionEnvProblem[] = [];
  const secrets = daemonSecretEnvs(config);
  for (const [name, value] of Object.entries(config.claude.env)) {
    const why = refusal(name, secrets);
    if (why) problems.push({ path: ["claude", "env", name], message: why });
    else if (value.includes("\0")) problems.push({ path: ["claude", "env", name], message: "must not contain a NUL character" });
  }
  const seen = new Map<string, number>();
  config.claude.env_from.forEach((name, i) => {
    const at = ["claude", "env_from", i];
    const why = refusal(name, secrets);
    if (why) problems.push({ path: at, message: why });
    else if (seen.has(name)) problems.push({ path: at, message: `duplicate name ${name} (also claude.env_from.${seen.get(name)})` });
    else if (Object.hasOwn(config.claude.env, name)) problems.push({ path: at, message: `${name} is also set in claude.env: keep one` });
    seen.set(name, seen.get(name) ?? i);
  });
  return problems;
}

/** The sessions' environment resolved at start: `claude.env_from` read from `env`, then `claude.env`. */
export interface SessionEnv {
  /** Name → value, set in every session's Claude Code. */
  values: Readonly<Record<string, string>>;
  /** Names of `claude.env_from` absent from the daemon's environment (not set in sessions; warned about at start). */
  missing: readonly string[];
}

/** Resolves the sessions' environment from a valid config and the daemon's environment. */
export function resolveSessionEnv(claude: Pick<ParsedConfig["claude"], "env" | "env_from">, env: Record<string, string | undefined>): SessionEnv {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of claude.env_from) {
    const value = env[name];
    if (value === undefined) missing.push(name);
    else values[name] = value;
  }
  return { values: { ...values, ...claude.env }, missing };
}
