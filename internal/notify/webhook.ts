/**
 * @module notify/webhook
 * The generic webhook channel: a POST of the typed event as JSON (`kind`, `level`, `at`, the event's own fields,
 * `count`, `host`, and the rendered `title` and `text`), signed so the receiver can trust it. The signature is
 * HMAC-SHA256, keyed with the secret, of `<timestamp>.<body>`, sent as `X-Claude-Failover-Signature: sha256=<hex>`
 * beside `X-Claude-Failover-Timestamp: <unix seconds>`; signing the timestamp too lets a receiver refuse replays.
 * The README shows the check. Delivery, retries and errors are http.ts and notify.ts.
 */
import { createHmac } from "node:crypto";
import { eventLevel, type Level, type NotifyEvent, type RenderedMessage } from "./events.ts";
import { createHttpChannel, type HttpChannelDeps } from "./http.ts";
import type { Channel } from "./notify.ts";

/** Webhook settings (the config's `notifications.webhook` slice plus the resolved secret). */
export interface WebhookOptions {
  url: string;
  /** HMAC key; empty disables the channel (an unsigned webhook would be forgeable). */
  secret: string;
  /** Variable the secret comes from, for the warning when it is empty. */
  secretEnv: string;
  /** @default "info" */
  minLevel?: Level;
  /** This machine's name, put in every body as `host`. */
  host: string;
  /** Daemon version for the User-Agent. */
  version: string;
}

export const SIGNATURE_HEADER = "X-Claude-Failover-Signature";
export const TIMESTAMP_HEADER = "X-Claude-Failover-Timestamp";

/** Creates the webhook channel. */
export function createWebhookChannel(deps: HttpChannelDeps, options: WebhookOptions): Channel {
  return createHttpChannel(deps, {
    name: "webhook", label: "webhook", minLevel: options.minLevel ?? "info", secrets: [options.secret],
    missing: options.secret ? null : `missing secret: $${options.secretEnv} is empty`,
    request(message, event, now) {
      const body = JSON.stringify(webhookBody(event, message, options.host));
      const timestamp = String(Math.floor(now / 1000));
      return {
        url: options.url, body,
        headers: {
          [SIGNATURE_HEADER]: `sha256=${sign(options.secret, timestamp, body)}`,
          [TIMESTAMP_HEADER]: timestamp,
          "X-Claude-Failover-Event": event.kind,
          "User-Agent": `claude-failover/${options.version}`,
        },
      };
    },
  });
}

/** The JSON a webhook receives. Times are epoch milliseconds, like every time field of the event. */
export function webhookBody(event: NotifyEvent, message: RenderedMessage, host: string): Record<string, unknown> {
  const { kind, at, level: _level, key: _key, ...fields } = event;
  return { kind, level: eventLevel(event), at, ...fields, count: message.count ?? 1, host, title: message.title, text: message.text };
}

/** Hex HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`: the value after `sha256=`. */
export function sign(secret: string, timestamp: string, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}
