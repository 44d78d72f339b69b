/**
 * @module notify/http
 * The plumbing the webhook, ntfy, Slack and Discord channels share: one JSON POST with a timeout, the mapping of its
 * answer to {@link NotifyError} (429, 408 and 5xx retryable, `Retry-After` in seconds or as a date, Discord's
 * `retry_after` body field), redaction of the channel's secrets from every message, and self-disabling with one
 * warning when the secret is missing or the service rejects it. What goes in the request is each channel's file.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Level, NotifyEvent, RenderedMessage } from "./events.ts";
import { NotifyError, redact, type Channel } from "./notify.ts";

/** What an HTTP channel touches. */
export interface HttpChannelDeps {
  log: Logger;
  fetch: typeof fetch;
  /** For `Retry-After` dates and the webhook's timestamp. */
  clock: Pick<Clock, "now">;
}

/** One request a channel wants sent. */
export interface HttpRequest {
  url: string;
  headers?: Record<string, string>;
  /** JSON text. */
  body: string;
}

/** How a channel differs from the others. */
export interface HttpChannelSpec {
  /** Channel name in logs and stats: `webhook`, `ntfy`, `slack`, `discord`. */
  name: string;
  /** Name in messages: `Cannot send <label> message: …`. */
  label: string;
  minLevel: Level;
  /** @default 0 */
  minIntervalMs?: number;
  /** Per-request timeout. @default 15000 */
  timeoutMs?: number;
  /** Values never to appear in a log line or an error (tokens, secret URLs). */
  secrets: readonly string[];
  /** Why the channel cannot send at all (e.g. `missing secret: $SLACK_WEBHOOK_URL is empty`), or null. */
  missing: string | null;
  /** Statuses that mean the URL or secret was rejected for good: the channel disables itself. @default [] */
  rejected?: readonly number[];
  /** Builds the request for one message; `now` is the send time (epoch ms). */
  request(message: RenderedMessage, event: NotifyEvent, now: number): HttpRequest;
}

export const HTTP_TIMEOUT_MS = 15_000;
const DETAIL_CHARS = 200;

/** Creates a {@link Channel} that POSTs what `spec.request` builds. */
export function createHttpChannel(deps: HttpChannelDeps, spec: HttpChannelSpec): Channel {
  const log = deps.log.child({ module: spec.name });
  let disabled = false;
  const disable = (reason: string) => {
    if (!disabled) log.warn(`${spec.name} disabled`, { reason: redact(reason, spec.secrets) });
    disabled = true;
  };
  if (spec.missing) disable(spec.missing);
  const failure = (message: string, fields: { status?: number; retryAfterMs?: number; retryable: boolean }) =>
    new NotifyError(redact(message, spec.secrets), { channel: spec.name, ...fields });

  return {
    name: spec.name,
    minLevel: spec.minLevel,
    minIntervalMs: spec.minIntervalMs ?? 0,
    isEnabled: () => !disabled,
    async deliver(message, event, signal) {
      if (disabled) throw failure(`Cannot send ${spec.label} message: channel disabled`, { retryable: false });
      const request = spec.request(message, event, deps.clock.now());
      let response: Response;
      try {
        response = await deps.fetch(request.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...request.headers },
          body: request.body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(spec.timeoutMs ?? HTTP_TIMEOUT_MS)]),
        });
      } catch (error) {
        const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw failure(`Cannot reach ${spec.label}: ${why}`, { retryable: true });
      }
      const text = await response.text().catch(() => "");
      if (response.ok) return;
      const status = response.status;
      const { detail, retryAfterSeconds } = readBody(text);
      const retryAfterMs = retryAfter(response.headers.get("retry-after"), deps.clock.now()) ?? seconds(retryAfterSeconds);
      if (spec.rejected?.includes(status)) disable(`rejected with status ${status} (${detail})`);
      const retryable = status === 429 || status === 408 || status >= 500;
      const after = retryable && retryAfterMs !== undefined ? `, retry after ${retryAfterMs} ms` : "";
      throw failure(`Cannot send ${spec.label} message: status ${status} (${detail || response.statusText})${after}`, {
        status, retryAfterMs: retryable ? retryAfterMs : undefined, retryable,
      });
    },
  };
}

/** A secret URL and the parts of it a service may echo on their own: its path and its last segment (the token). */
export function urlSecrets(url: string): string[] {
  if (!url) return [];
  try {
    const { pathname } = new URL(url);
    return [url, pathname, pathname.split("/").filter(Boolean).pop() ?? ""].filter((part) => part.length >= 8);
  } catch {
    return [url];
  }
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfter(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return seconds(Number(trimmed));
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function seconds(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.ceil(value * 1000) : undefined;
}

/** The error's words (JSON `message`/`error`, else the text) and a body `retry_after` (Discord), if any. */
function readBody(text: string): { detail: string; retryAfterSeconds?: unknown } {
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown; retry_after?: unknown };
    const words = parsed.message ?? parsed.error;
    return { detail: String(words ?? text).slice(0, DETAIL_CHARS), retryAfterSeconds: parsed.retry_after };
  } catch {
    return { detail: text.trim().slice(0, DETAIL_CHARS) };
  }
}
