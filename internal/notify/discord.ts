/**
 * @module notify/discord
 * The Discord channel, over a channel webhook (its URL is the secret): one embed per message, coloured by level and
 * stamped with the event's time; a swap is one line, with the account and its reset; other events have a title and
 * their details. Mentions are switched off so a task named `@everyone` pings no one; Markdown in names is escaped.
 * Discord allows 5 requests per 2 s per webhook: one every 500 ms. Delivery, retries and errors are http.ts and notify.ts.
 */
import { eventLevel, messageBody, SWAP_KINDS, type Level } from "./events.ts";
import { createHttpChannel, urlSecrets, type HttpChannelDeps } from "./http.ts";
import type { Channel } from "./notify.ts";

/** Discord settings (the config's `notifications.discord` slice plus the resolved URL). */
export interface DiscordOptions {
  /** The webhook's URL; empty disables the channel. */
  url: string;
  /** Variable the URL comes from, for the warning when it is empty. */
  urlEnv: string;
  /** @default "warning" */
  minLevel?: Level;
}

export const DISCORD_MIN_INTERVAL_MS = 500;
export const DISCORD_COLORS: Readonly<Record<Level, number>> = { info: 0x3498db, warning: 0xf1c40f, critical: 0xe74c3c };
const TITLE_CHARS = 256;
const DESCRIPTION_CHARS = 4_096;

/** Creates the Discord channel. */
export function createDiscordChannel(deps: HttpChannelDeps, options: DiscordOptions): Channel {
  return createHttpChannel(deps, {
    name: "discord", label: "Discord", minLevel: options.minLevel ?? "warning", minIntervalMs: DISCORD_MIN_INTERVAL_MS,
    secrets: urlSecrets(options.url), rejected: [401, 404],
    missing: options.url ? null : `missing webhook URL: $${options.urlEnv} is empty`,
    request(message, event) {
      const swap = SWAP_KINDS.has(event.kind);
      const description = escapeMarkdown(swap ? message.line ?? message.title : messageBody(message)).slice(0, DESCRIPTION_CHARS);
      const embed = {
        ...(swap ? {} : { title: escapeMarkdown(message.title).slice(0, TITLE_CHARS) }),
        ...(description ? { description } : {}), // Discord refuses an empty description
        color: DISCORD_COLORS[eventLevel(event)],
        timestamp: new Date(event.at).toISOString(),
      };
      return { url: options.url, body: JSON.stringify({ embeds: [embed], allowed_mentions: { parse: [] } }) };
    },
  });
}

/** Escapes Discord's Markdown so file and session names show as written. */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\*_~`|])/g, "\\$1").replace(/^([>#-])/gm, "\\$1");
}
