/**
 * @module config/schema
 * The config file's schema (zod 4, strict at every level) with every default as a named constant, and the duration and
 * size forms it accepts. Pure data; reading files, locating mistakes and resolving paths and secrets is config.ts.
 */
import { join } from "node:path";
import { z } from "zod";

/** Where `claude-failover` looks for its config unless `--config` says otherwise. */
export const DEFAULT_CONFIG_PATH = "/etc/claude-failover/config.yaml";
export const DEFAULT_STATE_DIR = "/var/lib/claude-failover";
export const DEFAULT_HTTP_LISTEN = "127.0.0.1:8787";
export const DEFAULT_TOKEN_ENV = "CLAUDE_FAILOVER_TOKEN";
export const DEFAULT_RECONCILE_INTERVAL = "15s";
/** Least time between two launches of Claude Code on one account (one login refreshing its token): `0` = no spacing. */
export const DEFAULT_LOGIN_SPACING = "2s";
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
export const DEFAULT_WEBHOOK_SECRET_ENV = "CLAUDE_FAILOVER_WEBHOOK_SECRET";
export const DEFAULT_SLACK_URL_ENV = "SLACK_WEBHOOK_URL";
export const DEFAULT_DISCORD_URL_ENV = "DISCORD_WEBHOOK_URL";
/** How often a host reports to the fleet store (its row, its sessions, its leases). */
export const DEFAULT_FLEET_HEARTBEAT = "5s";
/** How long a host's claim on a task holds without a heartbeat; at least 3 heartbeats (config/fleet.ts). */
export const DEFAULT_FLEET_LEASE = "60s";
/** A fleet host name (`fleet.host`): what its rows carry in the shared store. */
export const FLEET_HOST_NAME = /^[A-Za-z0-9_.-]{1,63}$/;

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
const HttpUrl = z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" });

/** The config file's shape: strict at every level, defaults applied, durations and sizes converted. */
export const ConfigSchema = z.strictObject({
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
    /** Zone of a reset time printed without one ("resets 4am"); "" = the daemon's own (resolved in config.ts). */
    timezone: z.string().default(""),
    /** Variables set for every session (names and refusals checked in session-env.ts). */
    env: z.record(z.string(), z.string({ error: "must be a string: quote the value (e.g. \"8080\")" })).default({}),
    /** Names copied from the daemon's own environment when it starts. */
    env_from: z.array(z.string()).default([]),
  }).prefault({}),
  accounts: z.array(z.strictObject({
    name: SessionName, home: Path,
    /** Usage percent of a warning at or above which the account's sessions move before its limit; absent: never. */
    switch_at: z.number().int().min(1, "must be 1 to 100").max(100, "must be 1 to 100").optional(),
  })).min(1, "at least one account is needed"),
  autonomous: z.strictObject({
    prefix: SessionName.default("ccl-auto-"),
    start_index: z.number().int().min(0, "must be 0 or more").default(0),
    min: z.number().int().min(0).default(0),
    max: z.number().int().min(0).max(500).default(0),
    workdir: Path.default("~"),
  }).prefault({}),
  dedicated: z.array(z.strictObject({ session: SessionName, workdir: Path, account: z.string().min(1).optional() })).default([]),
  lifecycle: z.strictObject({
    reconcile_interval: Duration.prefault(DEFAULT_RECONCILE_INTERVAL),
    login_spacing: Duration.prefault(DEFAULT_LOGIN_SPACING),
  }).prefault({}),
  quota: z.strictObject({
    poll_interval: Duration.prefault(DEFAULT_QUOTA_POLL_INTERVAL),
    reactivate_cooldown: Duration.prefault(DEFAULT_REACTIVATE_COOLDOWN),
    confirm_polls: z.number().int().min(1).default(DEFAULT_CONFIRM_POLLS),
    extra_quota_patterns: z.array(z.string()).default([]),
    extra_transient_patterns: z.array(z.string()).default([]),
    /**
     * What "You've hit your Opus limit" (Sonnet, Fable) does: `swap` the account like any limit, or `fallback`: the
     * account stays usable, its sessions on that model are relaunched with `--model <fallback_model>` until the reset.
     */
    on_model_limit: z.enum(["swap", "fallback"]).default("swap"),
    /** The model sessions fall back to (`--model`), e.g. `sonnet`; required with `on_model_limit: fallback`. */
    fallback_model: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:[\]-]{0,99}$/, "must be a model name or alias such as sonnet or claude-sonnet-4-5").optional(),
    /** Claude Code says it now bills extra usage / usage credits: `move` treats it as the account's limit, `allow` only tells. */
    on_extra_usage: z.enum(["move", "allow"]).default("move"),
  }).prefault({}),
  switcher: z.strictObject({
    relaunch_stagger: Duration.prefault(DEFAULT_RELAUNCH_STAGGER),
    verify_timeout: Duration.prefault(DEFAULT_VERIFY_TIMEOUT),
    relaunch_attempts: z.number().int().min(1).max(10).default(2),
    max_swaps_per_hour: z.number().int().min(1).default(DEFAULT_MAX_SWAPS_PER_HOUR),
    continue_prompt: z.string().min(1).default("Continue where you left off."),
    mode: z.enum(["auto", "in-place", "restart"]).default("auto"),
    placement: z.enum(["failover", "spread"]).default("failover"),
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
    settle: Duration.prefault("1s"),
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
    webhook: z.strictObject({
      url: HttpUrl,
      secret_env: EnvName.default(DEFAULT_WEBHOOK_SECRET_ENV),
      min_level: Level.default("info"),
    }).optional(),
    ntfy: z.strictObject({
      url: HttpUrl.refine((u) => /^[^/]+\/\/[^/]+\/[^?#]*[^/?#]$/.test(u), "must be the topic's URL, e.g. https://ntfy.sh/my-topic"),
      token_env: EnvName.optional(),
      min_level: Level.default("warning"),
    }).optional(),
    slack: z.strictObject({ url_env: EnvName.default(DEFAULT_SLACK_URL_ENV), min_level: Level.default("warning") }).optional(),
    discord: z.strictObject({ url_env: EnvName.default(DEFAULT_DISCORD_URL_ENV), min_level: Level.default("warning") }).optional(),
    /** Local time ("09:00", in `timezone`) of the daily digest; absent: no digest. */
    digest_at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time like "09:00"').optional(),
  }).prefault({}),
  /** Several hosts sharing accounts and one queue (docs/fleet.md); cross-field checks and the secret in config/fleet.ts. */
  fleet: z.strictObject({
    /** This host's name in the fleet; absent: the machine's hostname (config/fleet.ts). */
    host: z.string().regex(FLEET_HOST_NAME, "must be 1 to 63 letters, digits, '.', '_' or '-'").optional(),
    /** The variable holding the fleet database's URL (a secret); absent: a single host on SQLite. */
    postgres_url_env: EnvName.optional(),
    heartbeat: Duration.prefault(DEFAULT_FLEET_HEARTBEAT).refine((ms) => ms >= 1000, "must be at least 1s"),
    lease: Duration.prefault(DEFAULT_FLEET_LEASE),
  }).prefault({}),
});

/** The schema's output, before paths and secrets are resolved. */
export type ParsedConfig = z.output<typeof ConfigSchema>;
