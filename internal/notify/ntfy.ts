/**
 * @module notify/ntfy
 * The ntfy channel: one JSON publish per message to the server's root (`POST https://ntfy.sh/` with `topic` in the
 * body, which keeps emoji and accents out of HTTP headers), with the title, the body, a priority from the level
 * (info 3, warning 4, critical 5) and tags (an emoji for the level, the event's kind). An access token, when
 * configured, goes in `Authorization: Bearer`. Delivery, retries and errors are http.ts and notify.ts.
 */
import { eventLevel, ICONS, messageBody, type Level } from "./events.ts";
import { createHttpChannel, type HttpChannelDeps } from "./http.ts";
import type { Channel } from "./notify.ts";

/** ntfy settings (the config's `notifications.ntfy` slice plus the resolved token). */
export interface NtfyOptions {
  /** The topic's URL, e.g. `https://ntfy.sh/my-topic`. */
  url: string;
  /** Access token; empty sends anonymously. */
  token: string;
  /** Variable the token comes from; when named but empty, the channel is disabled rather than sent anonymously. */
  tokenEnv?: string;
  /** @default "warning" */
  minLevel?: Level;
}

/** ntfy's priorities: 3 default, 4 high, 5 max (urgent). */
export const NTFY_PRIORITY: Readonly<Record<Level, number>> = { info: 3, warning: 4, critical: 5 };
/** Emoji short codes ntfy shows in front of the title. */
export const NTFY_TAG: Readonly<Record<Level, string>> = { info: "information_source", warning: "warning", critical: "rotating_light" };

/** Creates the ntfy channel. */
export function createNtfyChannel(deps: HttpChannelDeps, options: NtfyOptions): Channel {
  const { root, topic } = splitTopicUrl(options.url);
  return createHttpChannel(deps, {
    name: "ntfy", label: "ntfy", minLevel: options.minLevel ?? "warning", secrets: [options.token], rejected: [401, 403],
    missing: options.tokenEnv && !options.token ? `missing token: $${options.tokenEnv} is empty` : null,
    request(message, event) {
      const level = eventLevel(event);
      const title = message.title.startsWith(`${ICONS[level]} `) ? message.title.slice(ICONS[level].length + 1) : message.title;
      return {
        url: root,
        headers: options.token ? { Authorization: `Bearer ${options.token}` } : undefined,
        body: JSON.stringify({
          topic, title, message: messageBody(message) || title, priority: NTFY_PRIORITY[level], tags: [NTFY_TAG[level], event.kind],
        }),
      };
    },
  });
}

/** `https://host/base/topic` → root `https://host/base/` and topic `topic`. */
export function splitTopicUrl(url: string): { root: string; topic: string } {
  const parsed = new URL(url);
  const parts = parsed.pathname.split("/");
  const topic = decodeURIComponent(parts.pop() ?? "");
  parsed.pathname = `${parts.join("/")}/`;
  parsed.search = "";
  return { root: parsed.toString(), topic };
}
