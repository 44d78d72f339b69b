/**
 * @module config
 * YAML → validated, frozen {@link Config}. Owns every default (named constants below), `~` expansion,
 * duration parsing and the lookup of secrets in the environment variables the file names. Every mistake in a
 * file is reported at once, each with file, line, column and key. Does not read anything but the file and the
 * environment it is given.
 */
import { isAbsolute, join, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Node } from "yaml";
import { z } from "zod";

/** Where `claude-failover` looks for its config unless `--config` says otherwise. */
export const DEFAULT_CONFIG_PATH = "/etc/claude-failover/config.yaml";
export const DEFAULT_STATE_DIR = "/var/lib/claude-failover";
export const DEFAULT_HTTP_LISTEN = "127.0.0.1:8787";
export const DEFAULT_TOKEN_ENV = "CLAUDE_FAILOVER_TOKEN";
export const DEFAULT_RECONCILE_INTERVAL = "15s";
export const DEFAULT_QUOTA_POLL_INTERVAL = "5s";
export const DEFAULT_REACTIVATE_COOLDOWN = "5m";
export const DEFAULT_CONFIRM_POLLS = 2;
export const DEFAULT_WATCHER_POLL_INTERVAL = "5s";
export const DEFAULT_TASK_TIMEOUT = "2h";
export const DEFAULT_IDLE_POLLS = 3;
export const DEFAULT_MAX_TASK_BYTES = 256 * 1024;
export const DEFAULT_JANITOR_INTERVAL = "1h";
export const DEFAULT_RETENTION = "7d";
export const DEFAULT_RELAUNCH_STAGGER = "2s";
export const DEFAULT_VERIFY_TIMEOUT = "60s";
export const DEFAULT_MAX_SWAPS_PER_HOUR = 6;
export const DEFAULT_TELEGRAM_API_ROOT = "https://api.telegram.org";
export const DEFAULT_RESEND_API_BASE = "https://api.resend.com";

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

const DURATION_UNITS_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `30s`, `5m`, `2h`, `7d`, `1h30m` or a bare number of milliseconds. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isInteger(text) && text >= 0 ? text : undefined;
  const trimmed = text.trim();
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    total += Number(n) * DURATION_UNITS_MS[unit as keyof typeof DURATION_UNITS_MS];
  }
  return total;
}

const Duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms !== undefined) return ms;
  ctx.issues.push({ code: "custom", input: value, message: `invalid duration ${JSON.stringify(value)}: use "30s", "5m", "2h", "7d" or milliseconds` });
  return z.NEVER;
});

const ByteSize = z.union([z.number().int().positive(), z.string()]).transform((value, ctx) => {
  if (typeof value === "number") return value;
  const match = /^(\d+)\s*(B|KiB|MiB|KB|MB)?$/.exec(value.trim());
  if (match) {
    const unit = { B: 1, KB: 1000, MB: 1_000_000, KiB: 1024, MiB: 1024 * 1024 }[match[2] ?? "B"] ?? 1;
    return Number(match[1]) * unit;
  }
  ctx.issues.push({ code: "custom", input: value, message: `invalid size ${JSON.stringify(value)}: use bytes or "256KiB", "1MiB"` });
  return z.NEVER;
});

const Path = z.string().min(1, "must not be empty");
const SessionName = z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be letters, digits, '.', '_' or '-' (tmux session names)");
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");
const Level = z.enum(["info", "warning", "critical"]);

const Schema = z.strictObject({
  state_dir: Path.default(DEFAULT_STATE_DIR),
  log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  http: z.strictObject({
    listen: z.string().regex(/^[^:\s]+:\d{1,5}$/, "must be host:port, e.g. 127.0.0.1:8787").default(DEFAULT_HTTP_LISTEN),
    token_env: EnvName.default(DEFAULT_TOKEN_ENV),
  }).prefault({}),
  tmux: z.strictObject({
    socket: z.string().regex(/^[A-Za-z0-9_.-]*$/, "must be a plain -L socket name (letters, digits, '.', '_', '-') or empty").default(""),
  }).prefault({}),
  claude: z.strictObject({
    command: z.string().min(1).default("claude"),
    args: z.array(z.string()).default([]),
    link: z.string().default(""),
  }).prefault({}),
  accounts: z.array(z.strictObject({ name: SessionName, home: Path })).min(1, "at least one account is needed"),
  autonomous: z.strictObject({
    prefix: SessionName.default("ccl-auto-"),
    start_index: z.number().int().min(0, "must be 0 or more").default(0),
    min: z.number().int().min(0).default(0),
    max: z.number().int().min(0).max(500).default(0),
    workdir: Path.default("~"),
  }).prefault({}),
  dedicated: z.array(z.strictObject({ session: SessionName, workdir: Path })).default([]),
  lifecycle: z.strictObject({
    reconcile_interval: Duration.prefault(DEFAULT_RECONCILE_INTERVAL),
  }).prefault({}),
  quota: z.strictObject({
    poll_interval: Duration.prefault(DEFAULT_QUOTA_POLL_INTERVAL),
    reactivate_cooldown: Duration.prefault(DEFAULT_REACTIVATE_COOLDOWN),
    confirm_polls: z.number().int().min(1).default(DEFAULT_CONFIRM_POLLS),
    extra_quota_patterns: z.array(z.string()).default([]),
    extra_transient_patterns: z.array(z.string()).default([]),
  }).prefault({}),
  switcher: z.strictObject({
    relaunch_stagger: Duration.prefault(DEFAULT_RELAUNCH_STAGGER),
    verify_timeout: Duration.prefault(DEFAULT_VERIFY_TIMEOUT),
    relaunch_attempts: z.number().int().min(1).max(10).default(2),
    max_swaps_per_hour: z.number().int().min(1).default(DEFAULT_MAX_SWAPS_PER_HOUR),
    continue_prompt: z.string().min(1).default("Continue where you left off."),
  }).prefault({}),
  watcher: z.strictObject({
    poll_interval: Duration.prefault(DEFAULT_WATCHER_POLL_INTERVAL),
    task_timeout: Duration.prefault(DEFAULT_TASK_TIMEOUT),
    idle_polls: z.number().int().min(1).default(DEFAULT_IDLE_POLLS),
  }).prefault({}),
  dispatcher: z.strictObject({
    queue_dir: z.string().default(""),
    max_task_bytes: ByteSize.prefault(DEFAULT_MAX_TASK_BYTES),
    rescan_interval: Duration.prefault("30s"),
    idle_alert_after: Duration.prefault("1m"),
    projects: z.record(SessionName, z.strictObject({ workdir: Path })).default({}),
  }).prefault({}),
  janitor: z.strictObject({
    interval: Duration.prefault(DEFAULT_JANITOR_INTERVAL),
    retention: Duration.prefault(DEFAULT_RETENTION),
    mode: z.enum(["archive", "delete"]).default("archive"),
  }).prefault({}),
  notifications: z.strictObject({
    timezone: z.string().default("UTC"),
    telegram: z.strictObject({
      token_env: EnvName.default("TELEGRAM_BOT_TOKEN"),
      chat_ids: z.array(z.number().int()).min(1, "at least one chat id is needed"),
      api_root: z.url().default(DEFAULT_TELEGRAM_API_ROOT).transform((u) => u.replace(/\/+$/, "")),
      min_level: Level.default("info"),
    }).optional(),
    email: z.strictObject({
      api_key_env: EnvName.default("RESEND_API_KEY"),
      from: z.string().min(3),
      to: z.array(z.email()).min(1, "at least one recipient is needed"),
      api_base: z.url().default(DEFAULT_RESEND_API_BASE).transform((u) => u.replace(/\/+$/, "")),
      min_level: Level.default("critical"),
    }).optional(),
  }).prefault({}),
});

type Parsed = z.output<typeof Schema>;

/** One Claude Code account: a config home holding one login. Order in the file is priority. */
export interface Account {
  name: string;
  home: string;
  priority: number;
}

/** The validated configuration, with paths absolute and secrets resolved from the environment. */
export interface Config extends Omit<Parsed, "accounts"> {
  /** The file it came from ("" for text given directly). */
  source: string;
  accounts: Account[];
  /** HTTP listen host and port split out of `http.listen`. */
  httpHost: string;
  httpPort: number;
  /** Secrets read from the variables the file names; empty string when unset. */
  secrets: { httpToken: string; telegramToken: string; resendApiKey: string };
}

/** Environment and home directory used to resolve `~` and secrets. */
export interface ConfigEnv {
  env: Record<string, string | undefined>;
  home: string;
}

/**
 * Parses and validates config text. Throws {@link ConfigError} listing every problem, each located.
 * Pure: the caller supplies the environment.
 */
export function parseConfig(text: string, source: string, { env, home }: ConfigEnv): Readonly<Config> {
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
  const result = Schema.safeParse(raw);
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
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (problems.length || !result.success) throw new ConfigError(source, problems);
  const parsed = result.data;
  return finish(parsed, source, env, home);
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
  dedicated?: Array<{ session?: unknown }>;
  quota?: { extra_quota_patterns?: unknown; extra_transient_patterns?: unknown };
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
  const zone = raw.notifications?.timezone;
  if (typeof zone === "string") {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
    } catch {
      at(["notifications", "timezone"], `unknown time zone "${zone}"`);
    }
  }
  const listen = raw.http?.listen;
  const port = typeof listen === "string" ? Number(listen.split(":").pop()) : 0;
  if (port > 65535) at(["http", "listen"], `port ${port} is above 65535`);
  return problems;
}

function finish(parsed: Parsed, source: string, env: ConfigEnv["env"], home: string): Readonly<Config> {
  const base = source ? resolve(source, "..") : process.cwd();
  const path = (p: string) => expandPath(p, home, base);
  const [host, port] = splitListen(parsed.http.listen);
  const config: Config = {
    ...parsed,
    source,
    state_dir: path(parsed.state_dir),
    claude: { ...parsed.claude, link: parsed.claude.link ? path(parsed.claude.link) : "" },
    accounts: parsed.accounts.map((a, i) => ({ name: a.name, home: path(a.home), priority: i })),
    autonomous: { ...parsed.autonomous, workdir: path(parsed.autonomous.workdir) },
    dedicated: parsed.dedicated.map((d) => ({ session: d.session, workdir: path(d.workdir) })),
    dispatcher: {
      ...parsed.dispatcher,
      queue_dir: parsed.dispatcher.queue_dir ? path(parsed.dispatcher.queue_dir) : join(path(parsed.state_dir), "queue"),
      projects: Object.fromEntries(Object.entries(parsed.dispatcher.projects).map(([k, v]) => [k, { workdir: path(v.workdir) }])),
    },
    httpHost: host,
    httpPort: port,
    secrets: {
      httpToken: env[parsed.http.token_env] ?? "",
      telegramToken: parsed.notifications.telegram ? env[parsed.notifications.telegram.token_env] ?? "" : "",
      resendApiKey: parsed.notifications.email ? env[parsed.notifications.email.api_key_env] ?? "" : "",
    },
  };
  return deepFreeze(config);
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
