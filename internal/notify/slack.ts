/**
 * @module notify/slack
 * The Slack channel, over an incoming webhook (its URL is the secret): Block Kit with a mrkdwn section, `text` as the
 * fallback that phones show in the banner. A swap is one line, with the account and its reset; other events are a
 * bold title and their details. At most one message a second, as Slack asks of incoming webhooks.
 * Delivery, retries and errors are http.ts and notify.ts.
 */
import { SWAP_KINDS, type Level } from "./events.ts";
import { createHttpChannel, urlSecrets, type HttpChannelDeps } from "./http.ts";
import type { Channel } from "./notify.ts";

/** Slack settings (the config's `notifications.slack` slice plus the resolved URL). */
export interface SlackOptions {
  /** The incoming webhook's URL; empty disables the channel. */
  url: string;
  /** Variable the URL comes from, for the warning when it is empty. */
  urlEnv: string;
  /** @default "warning" */
  minLevel?: Level;
}

export const SLACK_MIN_INTERVAL_MS = 1_000;
/** A section's text limit. */
export const SLACK_SECTION_CHARS = 3_000;

/** Creates the Slack channel. */
export function createSlackChannel(deps: HttpChannelDeps, options: SlackOptions): Channel {
  return createHttpChannel(deps, {
    name: "slack", label: "Slack", minLevel: options.minLevel ?? "warning", minIntervalMs: SLACK_MIN_INTERVAL_MS,
    secrets: urlSecrets(options.url), rejected: [403, 404, 410],
    missing: options.url ? null : `missing webhook URL: $${options.urlEnv} is empty`,
    request(message, event) {
      const line = message.line ?? message.title;
      const [title, ...rest] = message.text.split("\n");
      const mrkdwn = SWAP_KINDS.has(event.kind) ? escapeMrkdwn(line) : [`*${escapeMrkdwn(title ?? "")}*`, ...rest.map(escapeMrkdwn)].join("\n");
      return {
        url: options.url,
        body: JSON.stringify({
          text: line,
          blocks: [{ type: "section", text: { type: "mrkdwn", text: mrkdwn.slice(0, SLACK_SECTION_CHARS) } }],
          unfurl_links: false,
        }),
      };
    },
  });
}

/** Slack's three control characters in mrkdwn. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
