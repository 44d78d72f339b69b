/**
 * @module notify/events
 * What the daemon tells the operator: the {@link NotifyEvent} union, each kind's default level and coalescing key,
 * and {@link renderEvent}, which turns an event into a short, phone-readable title, plain text and Telegram-flavoured
 * HTML with times in the operator's zone. Pure: no I/O, no clock (relative times are measured from `event.at`).
 * It does not queue, route or deliver anything; that is notify.ts and the channels.
 */

/** Severity, lowest first. A channel receives an event when the event's level is at least the channel's `minLevel`. */
export type Level = "info" | "warning" | "critical";

/** Numeric order of {@link Level}, for comparisons. */
export const LEVEL_RANK: Readonly<Record<Level, number>> = { info: 0, warning: 1, critical: 2 };

/** The data each event kind carries; times are epoch ms, durations ms. */
export interface EventData {
  daemon_started: { version: string; accounts: number; sessions: number };
  daemon_stopping: { reason: string };
  swap_started: {
    from: string | null; to: string | null; reason: string; trigger_session: string | null;
    pattern: string | null; snippet: string | null; reset_at: number | null;
  };
  swap_done: { from: string | null; to: string; sessions: number; resumed: number; fresh: number; duration_ms: number };
  swap_failed: { from: string | null; to: string | null; error: string };
  accounts_exhausted: { wake_at: number | null };
  account_available: { account: string };
  account_enabled: { account: string; enabled: boolean };
  task_done: { project: string; file: string; session: string; duration_ms: number };
  task_failed: { project: string; file: string; reason: string };
  task_stalled: { project: string; file: string; session: string; after_ms: number };
  session_dead: { session: string; reason: string };
  tasks_waiting: { queued: number; idle_sessions: number; since: number };
  breaker_open: { swaps: number; window_ms: number };
  /** The daily summary of the period since `since` (see digest.ts). */
  daily_digest: {
    since: number;
    /**
     * Per account: limits hit (`limit_kinds` by kind: `five_hour`, `weekly`, `opus`, `switch_at`, …) and the time
     * sessions ran on it.
     */
    accounts: Array<{ account: string; limits: number; limit_kinds: Record<string, number>; active_ms: number }>;
    tasks_done: number;
    tasks_failed: number;
    /** The first few failed tasks of the period. */
    failed: Array<{ project: string; file: string; reason: string }>;
    swaps: Array<{ at: number; from: string | null; to: string | null; reason: string; ok: boolean }>;
  };
  /** `claude-failover notify test`. */
  test_message: { host: string };
  link_blocked: { link: string; reason: string };
  /**
   * An account's login was refused (reference/real-claude.md §13.3): it needs `/login` in its home. `fix` is the
   * command to run (`CLAUDE_CONFIG_DIR=<home> claude`, then `/login` in it); `line` what Claude Code showed.
   */
  login_lost: { account: string; home: string; session: string | null; cause: string; line: string; fix: string };
  /** A `needs_login` account is usable again: the operator enabled it, or its home's login file changed. */
  login_restored: { account: string; how: "enabled" | "login file changed" };
  /**
   * Claude Code said an account now bills extra usage / usage credits and `quota.on_extra_usage` is `allow`: the
   * sessions stay (once per account and window). With `move` a swap (reason `extra_usage`) says it instead.
   */
  extra_usage: { account: string; session: string | null; line: string; window: string | null; reset_at: number | null };
  /**
   * One model of an account is limited ("You've hit your Opus limit") and `quota.on_model_limit` is `fallback`: the
   * account stays usable, its sessions run `fallback` until `reset_at`.
   */
  model_limit: { account: string; model: string; fallback: string; session: string | null; line: string; reset_at: number };
  /** A per-model limit is over: the account's sessions go back to the default model once idle. */
  model_restored: { account: string; model: string };
}

/** Every kind of notification. */
export type EventKind = keyof EventData;

/** Fields every event has. `level` overrides the kind's default; `key` overrides the coalescing key. */
export interface EventBase {
  /** When it happened, epoch ms. */
  at: number;
  level?: Level;
  key?: string;
}

/** One notification, discriminated by `kind`. */
export type NotifyEvent = { [K in EventKind]: EventBase & { kind: K } & EventData[K] }[EventKind];

/** Default level of each kind. */
export const DEFAULT_LEVELS: Readonly<Record<EventKind, Level>> = {
  daemon_started: "info", daemon_stopping: "info", swap_started: "warning", swap_done: "warning",
  swap_failed: "critical", accounts_exhausted: "critical", account_available: "info", account_enabled: "info",
  task_done: "info", task_failed: "warning", task_stalled: "warning", session_dead: "critical",
  tasks_waiting: "warning", breaker_open: "critical", daily_digest: "info", test_message: "info", link_blocked: "warning",
  login_lost: "critical", login_restored: "info", extra_usage: "warning", model_limit: "warning", model_restored: "info",
};

/** Kinds every channel receives whatever its `minLevel`: the operator asked for them by name. */
export const EVERY_CHANNEL: ReadonlySet<EventKind> = new Set<EventKind>(["daily_digest", "test_message"]);

/** Kinds about swaps, shown as one line (with the account and its reset) where a chat app wants one. */
export const SWAP_KINDS: ReadonlySet<EventKind> = new Set<EventKind>(["swap_started", "swap_done", "swap_failed"]);

/** A rendered notification: `title` (email subject), plain `text`, and `html` using only Telegram's tags. */
export interface RenderedMessage {
  title: string;
  text: string;
  html: string;
  /** How many events were coalesced into it. @default 1 */
  count?: number;
  /** `title` and the gist on one line (swaps: the reason or outcome, and the account's reset). @default title */
  line?: string;
}

export const ICONS: Readonly<Record<Level, string>> = { info: "ℹ️", warning: "⚠️", critical: "🚨" };
const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

/** The event's level: its own `level`, else its kind's default. */
export function eventLevel(event: NotifyEvent): Level {
  return event.level ?? DEFAULT_LEVELS[event.kind];
}

/** The coalescing key: `event.key`, else the kind plus its main subject (account pair, task, session). */
export function eventKey(event: NotifyEvent): string {
  if (event.key) return event.key;
  const subject = (() => {
    switch (event.kind) {
      case "swap_started": case "swap_done": case "swap_failed": return `${event.from ?? ""}>${event.to ?? ""}`;
      case "account_available": case "account_enabled": case "login_lost": case "login_restored": case "extra_usage": return event.account;
      case "task_done": case "task_failed": case "task_stalled": return `${event.project}/${event.file}`;
      case "session_dead": return event.session;
      case "model_limit": case "model_restored": return `${event.account}:${event.model}`;
      case "daily_digest": return String(event.since);
      default: return "";
    }
  })();
  return `${event.kind}:${subject}`;
}

/** Escapes the three characters Telegram HTML (and HTML text) needs escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Formats a duration for a phone: `45s`, `12m`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MS_PER_MINUTE) return `${Math.round(abs / 1000)}s`;
  const minutes = Math.round(abs / MS_PER_MINUTE);
  if (minutes < 60) return `${minutes}m`;
  if (abs < MS_PER_DAY) return joinUnits(Math.floor(minutes / 60), "h", minutes % 60, "m");
  const hours = Math.round(abs / MS_PER_HOUR);
  return joinUnits(Math.floor(hours / 24), "d", hours % 24, "h");
}

/** Formats `at` in `timeZone` relative to `now`: `15:00 Europe/Paris, in 2h 10m` (with the date when not the same day). */
export function formatWhen(at: number, now: number, timeZone: string): string {
  const time = formatClock(at, timeZone);
  const day = (ms: number) => new Intl.DateTimeFormat("en-GB", { timeZone, day: "numeric", month: "short" }).format(ms);
  const date = day(at) === day(now) ? "" : `${day(at)} `;
  const relative = at >= now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
  return `${date}${time} ${timeZone}, ${relative}`;
}

/** `15:00`: the time of day of `at` in `timeZone`. */
export function formatClock(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at);
}

/**
 * Renders an event for people. `count` > 1 marks a coalesced message ("×12"); relative times count from `event.at`.
 * @example renderEvent({ kind: "accounts_exhausted", at, wake_at }, "Europe/Paris").title // "🚨 All accounts exhausted"
 */
export function renderEvent(event: NotifyEvent, timeZone: string, count = 1): RenderedMessage {
  const when = (at: number) => formatWhen(at, event.at, timeZone);
  const [headline, lines] = describe(event, when, timeZone);
  const title = `${ICONS[eventLevel(event)]} ${headline}${count > 1 ? ` ×${count}` : ""}`;
  const body = lines.filter((line): line is string => typeof line === "string" && line.length > 0);
  return {
    title,
    text: [title, ...body].join("\n"),
    html: [`<b>${escapeHtml(title)}</b>`, ...body.map(escapeHtml)].join("\n"),
    count,
    line: oneLine(event, title, when),
  };
}

/** The message's text without its title line. */
export function messageBody(message: RenderedMessage): string {
  return message.text.split("\n").slice(1).join("\n");
}

function oneLine(event: NotifyEvent, title: string, when: (at: number) => string): string {
  switch (event.kind) {
    case "swap_started": {
      const reset = event.reset_at !== null ? `, ${event.from ?? "account"} resets ${when(event.reset_at)}` : "";
      return `${title}: ${event.reason}${reset}`;
    }
    case "swap_done":
      return `${title}: ${event.sessions} sessions (${event.resumed} resumed, ${event.fresh} fresh) in ${formatDuration(event.duration_ms)}`;
    case "swap_failed":
      return `${title}: ${event.error}`;
    default:
      return title;
  }
}

type Line = string | null | false;

function describe(event: NotifyEvent, when: (at: number) => string, timeZone: string): [string, Line[]] {
  switch (event.kind) {
    case "daemon_started":
      return [`claude-failover ${event.version} started`, [`${event.accounts} accounts, ${event.sessions} sessions`]];
    case "daemon_stopping":
      return ["claude-failover stopping", [event.reason]];
    case "swap_started":
      return [`Swap ${pair(event.from, event.to)}`, [
        event.reason,
        event.trigger_session && `Trigger: ${event.trigger_session}${event.pattern ? ` matched "${event.pattern}"` : ""}`,
        event.snippet && `“${event.snippet}”`,
        event.reset_at !== null && `${event.from ?? "Account"} resets ${when(event.reset_at)}`,
      ]];
    case "swap_done":
      return [`Swap done ${pair(event.from, event.to)}`, [
        `${event.sessions} sessions (${event.resumed} resumed, ${event.fresh} fresh) in ${formatDuration(event.duration_ms)}`,
      ]];
    case "swap_failed":
      return [`Swap FAILED ${pair(event.from, event.to)}`, [event.error]];
    case "accounts_exhausted":
      return ["All accounts exhausted", [
        "Dispatch paused.",
        event.wake_at !== null ? `Next reset ${when(event.wake_at)}` : "No reset time known.",
      ]];
    case "account_available":
      return [`Account ${event.account} available again`, []];
    case "account_enabled":
      return [`Account ${event.account} ${event.enabled ? "enabled" : "disabled"}`, []];
    case "task_done":
      return [`Task done: ${event.project}/${event.file}`, [`on ${event.session} in ${formatDuration(event.duration_ms)}`]];
    case "task_failed":
      return [`Task failed: ${event.project}/${event.file}`, [event.reason]];
    case "task_stalled":
      return [`Task stalled: ${event.project}/${event.file}`, [`on ${event.session}, no progress for ${formatDuration(event.after_ms)}`]];
    case "session_dead":
      return [`Session ${event.session} dead`, [event.reason]];
    case "tasks_waiting":
      return [`${event.queued} tasks waiting`, [`${event.idle_sessions} idle sessions since ${when(event.since)}`]];
    case "breaker_open":
      return ["Swap breaker open", [`${event.swaps} swaps within ${formatDuration(event.window_ms)}; automatic swaps stopped.`]];
    case "daily_digest":
      return ["Daily digest", digestLines(event, when, timeZone)];
    case "test_message":
      return ["claude-failover test message", [`Sent by "claude-failover notify test" on ${event.host}.`]];
    case "link_blocked":
      return [`${event.link} is not managed`, [event.reason, "Swaps are refused until it is fixed."]];
    case "login_lost":
      return [`Account ${event.account} lost its login`, [
        `“${event.line}”${event.session ? ` on ${event.session}` : ""}`,
        `Fix: run ${event.fix}, then /login in it.`,
        `Then: claude-failover accounts enable ${event.account} (or /enable ${event.account}); a new login file is also noticed by itself.`,
      ]];
    case "login_restored":
      return [`Account ${event.account} logged in again`, [event.how === "enabled" ? "Enabled by the operator." : "Its login file changed; it takes sessions again."]];
    case "extra_usage":
      return [`Account ${event.account} is using extra usage`, [
        `“${event.line}”`,
        event.session && `Seen on ${event.session}.`,
        "Sessions stay on it (quota.on_extra_usage: allow).",
        event.reset_at !== null && `Plan limit resets ${when(event.reset_at)}`,
      ]];
    case "model_limit":
      return [`Account ${event.account}: ${modelName(event.model)} limit`, [
        `“${event.line}”${event.session ? ` on ${event.session}` : ""}`,
        `Its sessions run ${event.fallback} until ${when(event.reset_at)}, on the same account (quota.on_model_limit: fallback).`,
      ]];
    case "model_restored":
      return [`Account ${event.account}: ${modelName(event.model)} usable again`, ["Its sessions go back to the default model once idle."]];
  }
}

const DIGEST_LIST_LIMIT = 10;

function digestLines(d: Extract<NotifyEvent, { kind: "daily_digest" }>, when: (at: number) => string, timeZone: string): Line[] {
  const more = (n: number) => n > DIGEST_LIST_LIMIT && `… and ${n - DIGEST_LIST_LIMIT} more`;
  return [
    `Since ${when(d.since).split(",")[0]}`,
    ...d.accounts.map((a) => `${a.account}: ${a.limits} limit${a.limits === 1 ? "" : "s"} hit${kindList(a.limit_kinds)}, active ${formatDuration(a.active_ms)}`),
    `Tasks: ${d.tasks_done} done, ${d.tasks_failed} failed`,
    ...d.failed.slice(0, DIGEST_LIST_LIMIT).map((t) => `✗ ${t.project}/${t.file}: ${t.reason}`),
    more(d.failed.length),
    `Swaps: ${d.swaps.length}`,
    ...d.swaps.slice(0, DIGEST_LIST_LIMIT).map((s) => `${formatClock(s.at, timeZone)} ${pair(s.from, s.to)} (${s.reason})${s.ok ? "" : " FAILED"}`),
    more(d.swaps.length),
  ];
}

/** How the digest names a limit kind. */
const LIMIT_KIND_NAMES: Readonly<Record<string, string>> = {
  five_hour: "5-hour", weekly: "weekly", opus: "Opus", sonnet: "Sonnet", fable: "Fable", switch_at: "switch_at", credits: "credits",
};

/** ` (5-hour, 2 switch_at)` for the kinds of an account's limits; empty without any. */
function kindList(kinds: Readonly<Record<string, number>> | undefined): string {
  const parts = Object.entries(kinds ?? {}).map(([kind, n]) => `${n === 1 ? "" : `${n} `}${LIMIT_KIND_NAMES[kind] ?? kind}`);
  return parts.length === 0 ? "" : ` (${parts.join(", ")})`;
}

/** `opus` → `Opus`. */
function modelName(family: string): string {
  return family.charAt(0).toUpperCase() + family.slice(1);
}

function pair(from: string | null, to: string | null): string {
  return `${from ?? "?"} → ${to ?? "?"}`;
}

function joinUnits(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major}${majorUnit}` : `${major}${majorUnit} ${minor}${minorUnit}`;
}
