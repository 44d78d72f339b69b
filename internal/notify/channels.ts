/**
 * @module notify/channels
 * Builds the notification channels the config asks for (Telegram, email) and one handle for the Telegram side's
 * lifecycle (getMe and command polling). Owns only this assembly; delivery is in telegram.ts and email.ts,
 * queueing in notify.ts. A channel whose secret is missing is still returned, disabled, after one warning.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { OperatorControl } from "../state/status.ts";
import { createEmailChannel } from "./email.ts";
import type { Channel } from "./notify.ts";
import type { TelegramHandle } from "./telegram.ts";

/** What building the channels needs. `control` enables Telegram commands. */
export interface ChannelsDeps {
  log: Logger;
  clock: Clock;
  fetch: typeof fetch;
  control?: OperatorControl;
  /** Daemon version, for Resend's User-Agent. */
  version: string;
}

/** The channels for {@link import("./notify.ts").createNotifier}, plus start/stop for Telegram polling. */
export interface NotifyChannels {
  channels: Channel[];
  /** Starts Telegram's getMe and command polling (no-op without Telegram). */
  start(): void;
  /** Stops Telegram polling within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Creates the channels configured in `config` (the `notifications` slice) with `secrets` resolved from the environment. */
export function createChannels(
  config: Config["notifications"],
  secrets: Pick<Config["secrets"], "telegramToken" | "resendApiKey">,
  deps: ChannelsDeps,
): NotifyChannels {
  const channels: Channel[] = [];
  let telegram: Promise<TelegramHandle> | null = null;
  let loaded: TelegramHandle | null = null;
  if (config.telegram) {
    const telegramConfig = config.telegram;
    // grammY costs ~25 ms of start-up: it is loaded only when Telegram is configured, beside the daemon's start.
    telegram = import("./telegram.ts").then(({ createTelegram }) => {
      loaded = createTelegram({ log: deps.log, clock: deps.clock, fetch: deps.fetch, control: deps.control }, {
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
  return {
    channels,
    start: () => void telegram?.then((t) => t.start()),
    stop: async (timeoutMs) => (telegram ? (await telegram).stop(timeoutMs) : undefined),
  };
}
