/**
 * @module notify/telegram
 * The Telegram channel over one grammY `Bot`. Owns the Bot API calls (getMe once at start, setMyCommands,
 * sendMessage in HTML to every allowed chat, with action buttons under swap and exhausted messages, long polling
 * with `bot.start()`) and the mapping of grammY's two error classes to {@link NotifyError}. It does not queue or
 * retry (notify.ts does) and it changes nothing itself: commands and buttons (telegram-commands.ts) act only through
 * the injected {@link OperatorControl}. A missing or rejected token disables the channel with one warning.
 */
import { Bot, GrammyError, HttpError, type Context } from "grammy";
import { retry } from "../retry.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { OperatorControl } from "../control/control.ts";
import type { Level, NotifyEvent } from "./events.ts";
import { NotifyError, redact, type Channel } from "./notify.ts";
import { ACTION_KINDS, actionKeyboard, COMMANDS, renderStatus, serveCommands } from "./telegram-commands.ts";

/** What the Telegram channel touches. The operator control comes later, with {@link TelegramHandle.start}. */
export interface TelegramDeps {
  log: Logger;
  clock: Clock;
  /** HTTP client handed to grammY. @default grammY's own */
  fetch?: typeof fetch;
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
  /**
   * Calls getMe (retrying while Telegram is unreachable) and sets the command menu; with `control`, also adds buttons
   * under action messages and long-polls for commands. Without it, Telegram only sends.
   */
  start(control?: OperatorControl): void;
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
const DELIVERED_MEMORY = 50;


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
  const reply = (ctx: Context, html: string) =>
    ctx.reply(truncateHtml(html, TELEGRAM_MAX_CHARS), { parse_mode: "HTML", link_preview_options: { is_disabled: true } });
  /** The operator control given to start(): commands, buttons and /status need it. */
  let control: OperatorControl | null = null;
  const serve = (given: OperatorControl) => {
    if (!bot) return;
    const describeError = (e: unknown) =>
      e instanceof GrammyError || e instanceof HttpError ? fail(e).message : redact(String(e instanceof Error ? e.message : e), secrets);
    serveCommands(bot, { control: given, allowed: new Set(options.chatIds), log, describeError, reply, status: () => renderStatus(given.status(), deps.clock.now(), timeZone) });
  };
  /** The buttons under a message, from the state now; none without commands or when the state cannot be read. */
  const keyboard = (event: NotifyEvent) => {
    if (!control || !ACTION_KINDS.has(event.kind)) return undefined;
    try {
      return actionKeyboard(event, control.status()) ?? undefined;
    } catch (error) {
      log.debug("telegram buttons left out", { error: error as Error });
      return undefined;
    }
  };

  const channel: Channel = {
    name: "telegram",
    minLevel: options.minLevel ?? "info",
    minIntervalMs: options.minIntervalMs ?? 0,
    isEnabled: () => !disabled,
    async deliver(message, event, signal) {
      if (!bot || disabled) throw new NotifyError("Cannot send Telegram message: channel disabled", { channel: "telegram", retryable: false });
      const html = truncateHtml(message.html, TELEGRAM_MAX_CHARS);
      const done = delivered.get(html) ?? new Set<number>();
      const reply_markup = keyboard(event);
      let failure: NotifyError | undefined;
      for (const chatId of options.chatIds) {
        if (done.has(chatId)) continue;
        try {
          await bot.api.sendMessage(chatId, html, { parse_mode: "HTML", link_preview_options: { is_disabled: true }, reply_markup }, asSignal(signal));
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
    if (!control || abort.signal.aborted) return;
    // Polling ends on 409 (another process polls with this token) and on errors grammY does not retry: start again
    // after a growing pause, so commands come back by themselves once the other poller is gone.
    let pauseMs = POLL_RESTART_MIN_MS;
    while (!abort.signal.aborted) {
      try {
        await bot.start({ timeout: options.pollTimeoutSeconds ?? POLL_TIMEOUT_SECONDS, allowed_updates: ["message", "callback_query"] });
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
    start(given) {
      if (!bot || running) return;
      if (given) {
        control = given;
        serve(given);
      }
      running = run().catch((error) => log.error("telegram start failed", { error: fail(error).message }));
    },
    async stop(timeoutMs = BOT_STOP_TIMEOUT_MS) {
      abort.abort();
      if (!bot || !running) return;
      const stopped = (async () => {
        if (bot.isRunning()) await bot.stop().catch(() => {});
        await running;
      })();
      const timer = new AbortController();
      const expired = deps.clock.sleep(timeoutMs, timer.signal).then(() => true);
      if (await Promise.race([stopped.then(() => false), expired])) log.warn("telegram stop timed out", { timeout_ms: timeoutMs });
      timer.abort();
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
