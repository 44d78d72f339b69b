/**
 * @module notify/channels
 * Builds the notification channels the config asks for (Telegram, email, webhook, ntfy, Slack, Discord) and one
 * handle for the Telegram side's lifecycle (getMe and command polling). Owns only this assembly and the list of the
 * variables that hold their secrets; delivery is in one file per channel, queueing in notify.ts. A channel whose
 * secret is missing is still returned, disabled, after one warning.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { OperatorControl } from "../control/control.ts";
import { createDiscordChannel } from "./discord.ts";
import { createEmailChannel } from "./email.ts";
import { createNtfyChannel } from "./ntfy.ts";
import { createSlackChannel } from "./slack.ts";
import { createWebhookChannel } from "./webhook.ts";
import type { Channel } from "./notify.ts";
import type { TelegramHandle } from "./telegram.ts";
import { notificationSecretEnvs } from "../config/session-env.ts";

/** What building the channels needs. */
export interface ChannelsDeps {
  log: Logger;
  clock: Clock;
  fetch: typeof fetch;
  /** Daemon version, for the User-Agent of Resend and webhook requests. */
  version: string;
  /** This machine's name (os.hostname()), sent in webhook bodies. */
  host: string;
}

/** The channels for {@link import("./notify.ts").createNotifier}, plus start/stop for Telegram polling. */
export interface NotifyChannels {
  channels: Channel[];
  /** Starts Telegram's getMe and, with `control`, its buttons and command polling (no-op without Telegram). */
  start(control?: OperatorControl): void;
  /** Stops Telegram polling within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/** The secrets the channels use, resolved from the environment by config.ts. */
export type NotifySecrets = Pick<Config["secrets"], "telegramToken" | "resendApiKey" | "webhookSecret" | "ntfyToken" | "slackUrl" | "discordUrl">;

/** Names of the environment variables holding notification secrets, so they can be kept out of the panes' environment. */
export function notifySecretEnvNames(config: Config["notifications"]): string[] {
  return notificationSecretEnvs(config).map((secret) => secret.name);
}

/** Creates the channels configured in `config` (the `notifications` slice) with `secrets` resolved from the environment. */
export function createChannels(
  config: Config["notifications"],
  secrets: NotifySecrets,
  deps: ChannelsDeps,
): NotifyChannels {
  const channels: Channel[] = [];
  let telegram: Promise<TelegramHandle> | null = null;
  let loaded: TelegramHandle | null = null;
  if (config.telegram) {
    const telegramConfig = config.telegram;
    // grammY costs ~25 ms of start-up: it is loaded only when Telegram is configured, beside the daemon's start.
    telegram = import("./telegram.ts").then(({ createTelegram }) => {
      loaded = createTelegram({ log: deps.log, clock: deps.clock, fetch: deps.fetch }, {
        token: secrets.telegramToken, chatIds: telegramConfig.chat_ids, apiRoot: telegramConfig.api_root,
        minLevel: telegramConfig.min_level, timeZone: config.timezone,
      });
      return loaded;
    });
    const pending = telegram;
    channels.push({
      name: "telegram",
      minLevel: telegramConfig.min_level,
      isEnabled: () => loaded?.channel.isEnabled?.() ?? true,
      deliver: async (message, event, signal) => (await pending).channel.deliver(message, event, signal),
    });
  }
  if (config.email) {
    channels.push(createEmailChannel({ log: deps.log, fetch: deps.fetch }, {
      apiKey: secrets.resendApiKey, from: config.email.from, to: config.email.to, apiBase: config.email.api_base,
      minLevel: config.email.min_level, version: deps.version,
    }));
  }
  const http = { log: deps.log, fetch: deps.fetch, clock: deps.clock };
  const { webhook, ntfy, slack, discord } = config;
  if (webhook) {
    channels.push(createWebhookChannel(http, {
      url: webhook.url, secret: secrets.webhookSecret, secretEnv: webhook.secret_env, minLevel: webhook.min_level, host: deps.host, version: deps.version,
    }));
  }
  if (ntfy) channels.push(createNtfyChannel(http, { url: ntfy.url, token: secrets.ntfyToken, tokenEnv: ntfy.token_env, minLevel: ntfy.min_level }));
  if (slack) channels.push(createSlackChannel(http, { url: secrets.slackUrl, urlEnv: slack.url_env, minLevel: slack.min_level }));
  if (discord) channels.push(createDiscordChannel(http, { url: secrets.discordUrl, urlEnv: discord.url_env, minLevel: discord.min_level }));
  return {
    channels,
    start: (control) => void telegram?.then((t) => t.start(control)),
    stop: async (timeoutMs) => (telegram ? (await telegram).stop(timeoutMs) : undefined),
  };
}
