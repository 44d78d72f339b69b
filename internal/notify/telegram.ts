/**
 * @module notify/telegram
 * The Telegram channel and the operator's Telegram commands, over one grammY `Bot`. Owns the Bot API calls
 * (getMe once at start, setMyCommands, sendMessage in HTML to every allowed chat, long polling with `bot.start()`),
 * the mapping of grammY's two error classes to {@link NotifyError}, the chat allowlist and the replies' wording.
 * It does not queue or retry (notify.ts does) and it changes nothing itself: commands act only through the injected
 * {@link OperatorControl}. A missing or rejected token disables the channel with one warning; the daemon runs on.
 */
import { Bot, GrammyError, HttpError, type Context } from "grammy";
import { retry } from "../retry.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { OperatorControl, StatusSnapshot } from "../state/status.ts";
import type { TaskRow } from "../state/state.ts";
import { escapeHtml, formatWhen, type Level } from "./events.ts";
import { NotifyError, redact, type Channel } from "./notify.ts";

/** What the Telegram channel touches. Without `control`, no commands are served and no polling happens. */
export interface TelegramDeps {
  log: Logger;
  clock: Clock;
  /** HTTP client handed to grammY. @default grammY's own */
  fetch?: typeof fetch;
  control?: OperatorControl;
}

/** Telegram settings (the config's `notifications.telegram` slice plus the resolved token). */
export interface TelegramOptions {
  /** Bot token; empty disables the channel. */
  token: string;
  /** Chats that receive notifications and may send commands; every other chat is ignored. */
  chatIds: readonly number[];
  /** Bot API root without trailing slash. @default "https://api.telegram.org" */
  apiRoot?: string;
  /** @default "info" */
  minLevel?: Level;
  /** Zone for times in `/status`. @default "UTC" */
  timeZone?: string;
  /** Long-poll duration of one getUpdates. @default 30 */
  pollTimeoutSeconds?: number;
  /** Smallest gap between two notification sends. @default 0 (Telegram answers 429 with retry_after when needed) */
  minIntervalMs?: number;
}

/** The channel plus the lifecycle of getMe and command polling. */
export interface TelegramHandle {
  channel: Channel;
  /** Calls getMe (retrying while Telegram is unreachable), sets the command menu, then long-polls for commands. */
  start(): void;
  /** Stops polling, time-boxed in wall time because grammY's final getUpdates cannot be aborted. */
  stop(timeoutMs?: number): Promise<void>;
}

export const TELEGRAM_MAX_CHARS = 4096;
/** First pause before polling starts again after it stopped on an error (409: another poller). */
export const POLL_RESTART_MIN_MS = 5_000;
/** Longest pause between two polling restarts. */
export const POLL_RESTART_MAX_MS = 300_000;
export const TELEGRAM_REQUEST_TIMEOUT_SECONDS = 40;
export const POLL_TIMEOUT_SECONDS = 30;
export const BOT_STOP_TIMEOUT_MS = 2_500;
export const TAIL_LINES = 20;
const DELIVERED_MEMORY = 50;
const LIST_LIMIT = 30;

/** The command menu, also shown by /help. */
export const COMMANDS: ReadonlyArray<{ command: string; description: string }> = [
  { command: "status", description: "Accounts, sessions, queue, last swap" },
  { command: "swap", description: "Swap now: /swap [account]" },
  { command: "pause", description: "Pause task dispatch" },
  { command: "resume", description: "Resume task dispatch" },
  { command: "tasks", description: "Queued and running tasks" },
  { command: "tail", description: "Last lines of a session: /tail <session>" },
  { command: "help", description: "This list" },
];

/** Creates the Telegram channel; call `start()` to verify the token and serve commands. */
export function createTelegram(deps: TelegramDeps, options: TelegramOptions): TelegramHandle {
  const log = deps.log.child({ module: "telegram" });
  const secrets = [options.token];
  const timeZone = options.timeZone ?? "UTC";
  const abort = new AbortController();
  const delivered = new Map<string, Set<number>>(); // chats already served, so a retry does not repeat them
  let disabled = false;
  let running: Promise<void> | null = null;
  const disable = (reason: string) => {
    if (!disabled) log.warn("telegram disabled", { reason });
    disabled = true;
  };
  const fail = (error: unknown) => toNotifyError(error, secrets);

  const bot = options.token
    ? new Bot(options.token, { client: { apiRoot: options.apiRoot, timeoutSeconds: TELEGRAM_REQUEST_TIMEOUT_SECONDS, fetch: deps.fetch } })
    : null;
  if (!bot) disable("missing token");
  if (bot && deps.control) serveCommands(bot, deps.control, new Set(options.chatIds), log, () => formatStatusNow(deps, timeZone), secrets);

  const channel: Channel = {
    name: "telegram",
    minLevel: options.minLevel ?? "info",
    minIntervalMs: options.minIntervalMs ?? 0,
    isEnabled: () => !disabled,
    async deliver(message, _event, signal) {
      if (!bot || disabled) throw new NotifyError("Cannot send Telegram message: channel disabled", { channel: "telegram", retryable: false });
      const html = truncateHtml(message.html, TELEGRAM_MAX_CHARS);
      const done = delivered.get(html) ?? new Set<number>();
      let failure: NotifyError | undefined;
      for (const chatId of options.chatIds) {
        if (done.has(chatId)) continue;
        try {
          await bot.api.sendMessage(chatId, html, { parse_mode: "HTML", link_preview_options: { is_disabled: true } }, asSignal(signal));
          done.add(chatId);
        } catch (error) {
          const f = fail(error);
          if (f.status === 401) disable("token rejected");
          if (!failure || (f.retryable && !failure.retryable)) failure = f;
        }
      }
      delivered.delete(html);
      if (!failure) return;
      if (failure.retryable) delivered.set(html, done);
      if (delivered.size > DELIVERED_MEMORY) delivered.delete(delivered.keys().next().value!);
      throw failure;
    },
  };

  async function identify() {
    if (!bot) return null;
    try {
      return await retry(async (attempt) => {
        try {
          return await bot.api.getMe(asSignal(abort.signal));
        } catch (error) {
          if (attempt === 1 && !abort.signal.aborted) log.warn("telegram getMe failed", { error: fail(error).message });
          throw error;
        }
      }, {
        attempts: Infinity, clock: deps.clock, signal: abort.signal,
        isRetryable: (e) => fail(e).retryable, retryAfterMs: (e) => fail(e).retryAfterMs,
      });
    } catch (error) {
      if (!abort.signal.aborted) disable(fail(error).status === 401 ? "token rejected by getMe" : fail(error).message);
      return null;
    }
  }

  async function run() {
    const me = await identify();
    if (!bot || !me || abort.signal.aborted) return;
    bot.botInfo = me;
    log.info("telegram ready", { username: me.username, chats: options.chatIds.length });
    await bot.api.setMyCommands(COMMANDS, undefined, asSignal(abort.signal))
      .catch((error) => log.debug("telegram command menu not set", { error: fail(error).message }));
    if (!deps.control || abort.signal.aborted) return;
    // Polling ends on 409 (another process polls with this token) and on errors grammY does not retry: start again
    // after a growing pause, so commands come back by themselves once the other poller is gone.
    let pauseMs = POLL_RESTART_MIN_MS;
    while (!abort.signal.aborted) {
      try {
        await bot.start({ timeout: options.pollTimeoutSeconds ?? POLL_TIMEOUT_SECONDS, allowed_updates: ["message"] });
      } catch (error) {
        const f = fail(error);
        if (f.status === 401) {
          disable("token rejected");
          return;
        }
        log.error("telegram polling stopped; restarting", { status: f.status, error: f.message, restart_in_ms: pauseMs });
      }
      if (abort.signal.aborted) return;
      await deps.clock.sleep(pauseMs, abort.signal);
      pauseMs = Math.min(pauseMs * 2, POLL_RESTART_MAX_MS);
    }
  }

  return {
    channel,
    start() {
      if (!bot || running) return;
      running = run().catch((error) => log.error("telegram start failed", { error: fail(error).message }));
    },
    async stop(timeoutMs = BOT_STOP_TIMEOUT_MS) {
      abort.abort();
      if (!bot || !running) return;
      const stopped = (async () => {
        if (bot.isRunning()) await bot.stop().catch(() => {});
        await running;
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
      if (await Promise.race([stopped.then(() => false), expired])) log.warn("telegram stop timed out", { timeout_ms: timeoutMs });
      clearTimeout(timer);
    },
  };
}

/** Maps grammY's errors: GrammyError (the API said no: 429 and 5xx retryable) and HttpError (unreachable: retryable). */
export function toNotifyError(error: unknown, secrets: readonly string[]): NotifyError {
  const channel = "telegram";
  if (error instanceof NotifyError) return error;
  if (error instanceof GrammyError) {
    const status = error.error_code;
    const retryAfterMs = error.parameters.retry_after !== undefined ? error.parameters.retry_after * 1000 : undefined;
    const after = retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : "";
    const message = `Cannot call Telegram ${error.method}: status ${status} (${redact(error.description, secrets)})${after}`;
    return new NotifyError(message, { channel, status, retryAfterMs, retryable: status === 429 || status >= 500 });
  }
  if (error instanceof HttpError) {
    const cause = error.error as { code?: unknown; name?: unknown } | undefined;
    const why = String(cause?.code ?? cause?.name ?? "network error");
    return new NotifyError(`Cannot reach Telegram: ${redact(`${error.message} ${why}`, secrets)}`, { channel, retryable: true });
  }
  const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new NotifyError(`Cannot call Telegram: ${redact(name, secrets)}`, { channel, retryable: true });
}

function serveCommands(bot: Bot, control: OperatorControl, allowed: Set<number>, log: Logger, status: () => string, secrets: string[]) {
  // Registered first: nothing below runs for a chat that is not on the list.
  bot.use(async (ctx, next) => {
    const chatId = ctx.chat?.id;
    if (chatId !== undefined && allowed.has(chatId)) return next();
    log.warn("telegram update from unknown chat dropped", { chat_id: chatId ?? null, update_id: ctx.update.update_id });
  });
  bot.catch((err) => {
    const e = err.error;
    const error = e instanceof GrammyError || e instanceof HttpError ? toNotifyError(e, secrets).message : redact(String(e instanceof Error ? e.message : e), secrets);
    log.error("telegram command failed", { update_id: err.ctx.update.update_id, error });
  });
  const reply = (ctx: Context, html: string) =>
    ctx.reply(truncateHtml(html, TELEGRAM_MAX_CHARS), { parse_mode: "HTML", link_preview_options: { is_disabled: true } });
  const outcome = (r: { ok: boolean; message: string }) => `${r.ok ? "✅" : "❌"} ${escapeHtml(r.message)}`;
  bot.command("status", (ctx) => reply(ctx, status()));
  bot.command("swap", async (ctx) => reply(ctx, outcome(await control.swap(ctx.match.trim() || undefined))));
  bot.command("pause", (ctx) => reply(ctx, outcome(control.pause())));
  bot.command("resume", (ctx) => reply(ctx, outcome(control.resume())));
  bot.command("tasks", (ctx) => reply(ctx, renderTasks(control.tasks())));
  bot.command("tail", async (ctx) => {
    const name = ctx.match.trim();
    if (!name) return reply(ctx, "Usage: /tail &lt;session&gt;");
    const lines = await control.tail(name, TAIL_LINES);
    if (!lines) return reply(ctx, `${escapeHtml(name)}: not an owned session`);
    return reply(ctx, `<b>${escapeHtml(name)}</b>\n<pre>${escapeHtml(lines.join("\n").slice(-3500))}</pre>`);
  });
  bot.command(["help", "start"], (ctx) => reply(ctx, COMMANDS.map((c) => `/${c.command} — ${escapeHtml(c.description)}`).join("\n")));
}

function formatStatusNow(deps: TelegramDeps, timeZone: string): string {
  return deps.control ? renderStatus(deps.control.status(), deps.clock.now(), timeZone) : "";
}

/** `/status` for a phone: accounts with countdowns, sessions by state, queue counts, last swap. */
export function renderStatus(s: StatusSnapshot, now: number, timeZone: string): string {
  const at = (iso: string) => formatWhen(Date.parse(iso), now, timeZone);
  const flags = [s.paused && "paused", s.swapping && "swapping", s.exhausted && `exhausted${s.wake_at ? `, wakes ${at(s.wake_at)}` : ""}`];
  const head = `<b>claude-failover ${escapeHtml(s.version)}</b> — active ${escapeHtml(s.active_account ?? "none")}`;
  const lines = [head + flags.filter(Boolean).map((f) => ` · ${f}`).join(""), "<b>Accounts</b>"];
  for (const a of s.accounts) {
    const reset = a.state === "cooling" && a.reset_at ? `, resets ${at(a.reset_at)}` : "";
    lines.push(`• ${escapeHtml(a.name)}${a.name === s.active_account ? " ★" : ""} ${a.state}${reset}`);
  }
  const byState = new Map<string, string[]>();
  for (const x of s.sessions) byState.set(x.state, [...(byState.get(x.state) ?? []), x.task ? `${x.name} (${x.task})` : x.name]);
  lines.push(`<b>Sessions</b> ${[...byState].map(([state, names]) => `${names.length} ${state}`).join(", ") || "none"}`);
  for (const [state, names] of byState) if (state !== "idle") lines.push(`${state}: ${escapeHtml(names.join(", "))}`);
  lines.push(`<b>Tasks</b> ${Object.entries(s.tasks).map(([state, n]) => `${n} ${state}`).join(", ")}`);
  const last = s.last_swap;
  if (last) lines.push(`<b>Last swap</b> ${escapeHtml(`${last.from ?? "?"} → ${last.to ?? "?"}, ${at(last.at)}, ${last.step}: ${last.reason}`)}`);
  return lines.join("\n");
}

function renderTasks(rows: TaskRow[]): string {
  const open = rows.filter((t) => t.state === "queued" || t.state === "running" || t.state === "stalled");
  if (open.length === 0) return "No queued or running tasks.";
  const lines = open.slice(0, LIST_LIMIT).map((t) => `#${t.id} ${t.state} ${t.project}/${t.file}${t.session ? ` on ${t.session}` : ""}`);
  if (open.length > LIST_LIMIT) lines.push(`… and ${open.length - LIST_LIMIT} more`);
  return escapeHtml(lines.join("\n"));
}

/** grammY's Node typings name the abort-controller polyfill's AbortSignal; Bun maps that package to the native one. */
function asSignal(signal: AbortSignal): Parameters<Bot["api"]["getMe"]>[0] {
  return signal as unknown as Parameters<Bot["api"]["getMe"]>[0];
}

/** Cuts HTML to `max` characters without splitting an entity or a tag, closing the tags left open. */
function truncateHtml(html: string, max: number): string {
  if (html.length <= max) return html;
  const cut = html.slice(0, max - 16).replace(/<[^>]*$/, "").replace(/&[a-z#0-9]*$/i, "");
  const open: string[] = [];
  for (const m of cut.matchAll(/<(\/?)([a-z]+)[^>]*>/gi)) {
    if (m[1]) open.pop();
    else open.push(m[2]!);
  }
  return `${cut}…${open.reverse().map((t) => `</${t}>`).join("")}`;
}
