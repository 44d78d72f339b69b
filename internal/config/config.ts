/**
 * @module config
 * YAML → validated, frozen {@link Config}: locates every mistake (file, line, column, key) and reports them all at
 * once, adds the cross-field checks the schema cannot express, expands `~`, and looks up secrets in the environment
 * variables the file names. The schema and its defaults are in schema.ts. Reads nothing but the file and the
 * environment it is given.
 */
import { isAbsolute, join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Node } from "yaml";
import { ConfigSchema, type ParsedConfig as Parsed } from "./schema.ts";
import { resolveSessionEnv, sessionEnvProblems, type SessionEnv } from "./session-env.ts";
import { fleetProblems, resolveFleet, type FleetConfig } from "./fleet.ts";

/** A config file that cannot be used; `problems` lists every mistake found, each already located. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly path: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`Cannot use config ${path}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n` +
      problems.map((p) => `  ${formatProblem(path, p)}`).join("\n"));
  }
}

/** One mistake in a config file. `line`/`column` are 1-based, 0 when unknown. */
export interface ConfigProblem {
  line: number;
  column: number;
  key: string;
  message: string;
}


/** One Claude Code account: a config home holding one login. Order in the file is priority. */
export interface Account {
  name: string;
  home: string;
  priority: number;
  /** `switch_at`: a usage warning at or above this percent moves the account's sessions; absent: warnings never do. */
  switchAt?: number;
}

/** The validated configuration, with paths absolute and secrets resolved from the environment. */
export interface Config extends Omit<Parsed, "accounts" | "fleet"> {
  /** The file it came from ("" for text given directly). */
  source: string;
  accounts: Account[];
  /** Several hosts (config/fleet.ts): `host` resolved; the database URL is in `secrets.fleetPostgresUrl`. */
  fleet: FleetConfig;
  /** HTTP listen host and port split out of `http.listen`. */
  httpHost: string;
  httpPort: number;
  /** Where local clients (CLI, hooks) reach the API: the listen host, or loopback when it listens on all interfaces. */
  httpConnectHost: string;
  /** Secrets read from the variables the file names; empty string when unset. */
  secrets: {
    httpToken: string; telegramToken: string; resendApiKey: string;
    webhookSecret: string; ntfyToken: string; slackUrl: string; discordUrl: string;
    /** The fleet database's URL (`fleet.postgres_url_env`); empty for a single host. Never logged or shown. */
    fleetPostgresUrl: string;
  };
  /** The sessions' environment (`claude.env`, and `claude.env_from` read from the environment), session-env.ts. */
  sessionEnv: SessionEnv;
}

/** Environment and home directory used to resolve `~` and secrets. */
export interface ConfigEnv {
  env: Record<string, string | undefined>;
  home: string;
  /** The machine's name, the default of `fleet.host`. @default os.hostname() */
  hostname?: string;
}

/**
 * Parses and validates config text. Throws {@link ConfigError} listing every problem, each located.
 * Pure: the caller supplies the environment.
 */
export function parseConfig(text: string, source: string, { env, home, hostname = osHostname() }: ConfigEnv): Readonly<Config> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const problems: ConfigProblem[] = doc.errors.map((e) => ({
    line: e.linePos?.[0].line ?? 0,
    column: e.linePos?.[0].col ?? 0,
    key: "",
    message: e.message.split("\n")[0] ?? e.message,
  }));
  if (problems.length) throw new ConfigError(source, problems);
  const raw = doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(source, [{ line: 1, column: 1, key: "", message: "the file must be a YAML mapping of keys" }]);
  }
  const result = ConfigSchema.safeParse(raw);
  const semantic = semanticProblems(raw as RawConfig, doc.contents, lineCounter);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0] ?? ""] : issue.path;
      const pos = locate(doc.contents, path.map((p) => (typeof p === "symbol" ? String(p) : p)), lineCounter, issue.code === "unrecognized_keys");
      const message = issue.code === "unrecognized_keys" ? `unknown key ${JSON.stringify(issue.keys.join(", "))}` : issue.message;
      problems.push({ ...pos, key: path.join("."), message });
    }
  }
  problems.push(...semantic);
  // Needs the defaults applied (which variables hold the daemon's secrets): checked once the schema passed.
  for (const p of result.success ? [...sessionEnvProblems(result.data), ...fleetProblems(result.data.fleet, env)] : []) {
    problems.push({ ...locate(doc.contents, p.path, lineCounter, p.path[1] === "env"), key: p.path.join("."), message: p.message });
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (problems.length || !result.success) throw new ConfigError(source, problems);
  const parsed = result.data;
  return finish(parsed, source, env, home, hostname);
}

/** Reads and parses a config file. Throws {@link ConfigError} for a missing or unreadable file too. */
export function readConfig(path: string, configEnv: ConfigEnv): Readonly<Config> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message;
    throw new ConfigError(path, [{ line: 0, column: 0, key: "", message: `cannot read the file: ${reason}` }]);
  }
  return parseConfig(text, path, configEnv);
}

/** Expands a leading `~` and makes the path absolute (relative paths are relative to the config file's folder). */
export function expandPath(path: string, home: string, base = process.cwd()): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return join(home, path.slice(2));
  return isAbsolute(path) ? path : resolve(base, path);
}

/** True for a listen host meaning "every interface" (`0.0.0.0`, `::`, empty). */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

/** Names of owned pool sessions: `<prefix><i>` for i in `[start_index, start_index + max)`. */
export function poolSessionNames(config: { autonomous: { prefix: string; start_index: number; max: number } }): string[] {
  const { prefix, start_index, max } = config.autonomous;
  return Array.from({ length: max }, (_, i) => `${prefix}${start_index + i}`);
}

/** The (1-based, YAML) path of a config problem, formatted as `file:line:col key: message`. */
export function formatProblem(path: string, p: ConfigProblem): string {
  const where = p.line ? `${path}:${p.line}:${p.column}` : path;
  return `${where}${p.key ? ` ${p.key}` : ""}: ${p.message}`;
}

/** The loosely-typed shape semantic checks read: they run even when the schema failed, so every field is optional. */
interface RawConfig {
  accounts?: Array<{ name?: unknown; home?: unknown }>;
  autonomous?: { prefix?: unknown; start_index?: unknown; min?: unknown; max?: unknown };
  dedicated?: Array<{ session?: unknown; account?: unknown }>;
  switcher?: { placement?: unknown };
  quota?: { extra_quota_patterns?: unknown; extra_transient_patterns?: unknown; on_model_limit?: unknown; fallback_model?: unknown };
  claude?: { timezone?: unknown };
  notifications?: { timezone?: unknown };
  http?: { listen?: unknown };
}

/** Cross-field checks the schema cannot express. Tolerates a raw (possibly invalid) document. */
function semanticProblems(raw: RawConfig, root: Node | null, lc: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (path: (string | number)[], message: string) =>
    problems.push({ ...locate(root, path, lc, false), key: path.join("."), message });
  const auto = raw.autonomous ?? {};
  const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
  const min = num(auto.min, 0);
  const max = num(auto.max, 0);
  if (min > max) at(["autonomous", "min"], `min (${min}) must not exceed max (${max})`);
  const accounts = Array.isArray(raw.accounts) ? raw.accounts : [];
  for (const field of ["name", "home"] as const) {
    const seen = new Map<unknown, number>();
    accounts.forEach((a, i) => {
      const value = a?.[field];
      if (typeof value !== "string") return;
      if (seen.has(value)) at(["accounts", i, field], `duplicate account ${field} "${value}" (also accounts.${seen.get(value)})`);
      seen.set(value, i);
    });
  }
  const prefix = typeof auto.prefix === "string" ? auto.prefix : "ccl-auto-";
  const pool = new Set(poolSessionNames({ autonomous: { prefix, start_index: num(auto.start_index, 0), max } }));
  const seenDedicated = new Set<string>();
  (Array.isArray(raw.dedicated) ? raw.dedicated : []).forEach((d, i) => {
    if (typeof d?.session !== "string") return;
    if (pool.has(d.session)) at(["dedicated", i, "session"], `"${d.session}" is also a pool session name`);
    if (seenDedicated.has(d.session)) at(["dedicated", i, "session"], `duplicate dedicated session "${d.session}"`);
    seenDedicated.add(d.session);
    if (typeof d.account !== "string") return;
    if (!accounts.some((a) => a?.name === d.account)) at(["dedicated", i, "account"], `unknown account "${d.account}"`);
    else if (raw.switcher?.placement !== "spread") at(["dedicated", i, "account"], "pinning a session to an account needs switcher.placement: spread");
  });
  for (const field of ["extra_quota_patterns", "extra_transient_patterns"] as const) {
    const patterns = raw.quota?.[field];
    if (!Array.isArray(patterns)) continue;
    patterns.forEach((p, i) => {
      if (typeof p !== "string") return;
      try {
        new RegExp(p);
      } catch (error) {
        at(["quota", field, i], `invalid regular expression: ${(error as Error).message}`);
      }
    });
  }
  if (raw.quota?.on_model_limit === "fallback" && raw.quota.fallback_model === undefined) {
    at(["quota", "on_model_limit"], "fallback needs quota.fallback_model (the model sessions run while the default one is limited, e.g. sonnet)");
  }
  for (const [section, zone] of [["claude", raw.claude?.timezone], ["notifications", raw.notifications?.timezone]] as const) {
    if (typeof zone !== "string" || zone === "") continue;
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
    } catch {
      at([section, "timezone"], `unknown time zone "${zone}"`);
    }
  }
  const listen = raw.http?.listen;
  const port = typeof listen === "string" ? Number(listen.split(":").pop()) : 0;
  if (port > 65535) at(["http", "listen"], `port ${port} is above 65535`);
  return problems;
}

function finish(parsed: Parsed, source: string, env: ConfigEnv["env"], home: string, hostname: string): Readonly<Config> {
  const base = source ? resolve(source, "..") : process.cwd();
  const path = (p: string) => expandPath(p, home, base);
  const [host, port] = splitListen(parsed.http.listen);
  const fleet = resolveFleet(parsed.fleet, env, hostname);
  const config: Config = {
    ...parsed,
    source,
    state_dir: path(parsed.state_dir),
    claude: {
      ...parsed.claude, link: parsed.claude.link ? path(parsed.claude.link) : "",
      // The panes inherit the daemon's TZ: by default a zone-less reset time is read in the daemon's own zone.
      timezone: parsed.claude.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone,
    },
    accounts: parsed.accounts.map((a, i) => ({ name: a.name, home: path(a.home), priority: i, ...(a.switch_at !== undefined ? { switchAt: a.switch_at } : {}) })),
    autonomous: { ...parsed.autonomous, workdir: path(parsed.autonomous.workdir) },
    dedicated: parsed.dedicated.map((d) => ({ session: d.session, workdir: path(d.workdir), ...(d.account ? { account: d.account } : {}) })),
    dispatcher: {
      ...parsed.dispatcher,
      queue_dir: parsed.dispatcher.queue_dir ? path(parsed.dispatcher.queue_dir) : join(path(parsed.state_dir), "queue"),
      projects: Object.fromEntries(Object.entries(parsed.dispatcher.projects).map(([k, v]) => [k, { workdir: path(v.workdir) }])),
    },
    fleet: fleet.fleet,
    httpHost: host,
    httpPort: port,
    httpConnectHost: isWildcardHost(host) ? "127.0.0.1" : host,
    secrets: {
      httpToken: env[parsed.http.token_env] ?? "",
      telegramToken: parsed.notifications.telegram ? env[parsed.notifications.telegram.token_env] ?? "" : "",
      resendApiKey: parsed.notifications.email ? env[parsed.notifications.email.api_key_env] ?? "" : "",
      ...notifySecrets(parsed.notifications, env),
      fleetPostgresUrl: fleet.url,
    },
    sessionEnv: resolveSessionEnv(parsed.claude, env),
  };
  return deepFreeze(config);
}

/** The notification channels' secrets beyond Telegram and email; empty when the channel is off or the variable unset. */
function notifySecrets(n: Parsed["notifications"], env: ConfigEnv["env"]) {
  const read = (name: string | undefined) => (name ? env[name] ?? "" : "");
  return {
    webhookSecret: read(n.webhook?.secret_env), ntfyToken: read(n.ntfy?.token_env),
    slackUrl: read(n.slack?.url_env), discordUrl: read(n.discord?.url_env),
  };
}

function splitListen(listen: string): [string, number] {
  const idx = listen.lastIndexOf(":");
  return [listen.slice(0, idx), Number(listen.slice(idx + 1))];
}

/** Finds the line/column of a path in the YAML AST; falls back to the nearest existing parent. */
function locate(root: Node | null, path: (string | number)[], lc: LineCounter, wantKey: boolean): { line: number; column: number } {
  let node: unknown = root;
  let best: { line: number; column: number } = { line: 0, column: 0 };
  const pos = (offset: number | undefined) => {
    if (offset === undefined) return;
    const lp = lc.linePos(offset);
    best = { line: lp.line, column: lp.col };
  };
  pos((root as { range?: [number] } | null)?.range?.[0]);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      const last = i === path.length - 1;
      const keyNode = pair.key as { range?: [number] };
      if (last && wantKey) {
        pos(keyNode.range?.[0]);
        return best;
      }
      pos(((pair.value as { range?: [number] } | null)?.range ?? keyNode.range)?.[0]);
      node = pair.value;
    } else if (node && typeof node === "object" && "items" in node && Array.isArray((node as { items: unknown[] }).items)) {
      const item = (node as { items: Array<{ range?: [number] }> }).items[Number(seg)];
      if (!item) return best;
      pos(item.range?.[0]);
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
