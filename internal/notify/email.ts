/**
 * @module notify/email
 * The email channel over Resend's HTTP API with plain `fetch`: one `POST /emails` per message, an idempotency key
 * derived from the event so a retry can never send twice, and the mapping of Resend's answers to {@link NotifyError}
 * (branching on the error body's `name`). It does not queue, pace or retry: notify.ts does, at most 2 requests/s as
 * `minIntervalMs` asks. A missing API key (or one Resend rejects) disables the channel with one warning.
 */
import type { Logger } from "../log.ts";
import { escapeHtml, type Level, type NotifyEvent, type RenderedMessage } from "./events.ts";
import { NotifyError, redact, type Channel } from "./notify.ts";

/** What the email channel touches. */
export interface EmailDeps {
  log: Logger;
  fetch: typeof fetch;
}

/** Email settings (the config's `notifications.email` slice plus the resolved key). */
export interface EmailOptions {
  /** Resend API key; empty disables the channel. */
  apiKey: string;
  /** `Name <addr@verified-domain>`. */
  from: string;
  to: readonly string[];
  /** API base without trailing slash. @default "https://api.resend.com" */
  apiBase?: string;
  /** @default "critical" */
  minLevel?: Level;
  /** Daemon version for the User-Agent. */
  version: string;
  /** Per-request timeout. @default 15000 */
  timeoutMs?: number;
  /** Gap between two requests. @default 500 (Resend's default limit is 2 requests/s) */
  minIntervalMs?: number;
}

export const RESEND_MIN_INTERVAL_MS = 500;
export const RESEND_TIMEOUT_MS = 15_000;
export const SUBJECT_PREFIX = "[claude-failover] ";
/** Retry delay for a 429 that carries no `retry-after`. */
export const RATE_LIMIT_RETRY_MS = 1_000;
/** Retry delay for a daily or monthly quota without `retry-after`. */
export const QUOTA_RETRY_MS = 3_600_000;

const KEY_REJECTED = new Set(["missing_api_key", "invalid_api_key", "restricted_api_key"]);
const QUOTA_EXCEEDED = new Set(["daily_quota_exceeded", "monthly_quota_exceeded"]);

/** Creates the Resend channel. */
export function createEmailChannel(deps: EmailDeps, options: EmailOptions): Channel {
  const log = deps.log.child({ module: "email" });
  const secrets = [options.apiKey];
  const url = `${(options.apiBase ?? "https://api.resend.com").replace(/\/+$/, "")}/emails`;
  let disabled = false;
  const disable = (reason: string) => {
    if (!disabled) log.warn("email disabled", { reason });
    disabled = true;
  };
  if (!options.apiKey) disable("missing api key");
  const failure = (message: string, fields: { status?: number; retryAfterMs?: number; retryable: boolean }) =>
    new NotifyError(redact(message, secrets), { channel: "email", ...fields });

  return {
    name: "email",
    minLevel: options.minLevel ?? "critical",
    minIntervalMs: options.minIntervalMs ?? RESEND_MIN_INTERVAL_MS,
    isEnabled: () => !disabled,
    async deliver(message, event, signal) {
      if (disabled) throw failure("Cannot send email: channel disabled", { retryable: false });
      let response: Response;
      try {
        response = await deps.fetch(url, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${options.apiKey}`,
            "Content-Type": "application/json",
            "Idempotency-Key": idempotencyKey(event, message),
            "User-Agent": `claude-failover/${options.version}`,
          },
          body: JSON.stringify({
            from: options.from, to: options.to, subject: SUBJECT_PREFIX + message.title, text: message.text, html: emailHtml(message),
          }),
          signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs ?? RESEND_TIMEOUT_MS)]),
        });
      } catch (error) {
        const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw failure(`Cannot reach Resend: ${why}`, { retryable: true });
      }
      if (response.ok) {
        await response.body?.cancel().catch(() => {});
        return;
      }
      const { name, detail } = await readError(response);
      const status = response.status;
      const retryAfterSeconds = Number(response.headers.get("retry-after"));
      const headerMs = Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : undefined;
      const text = `Cannot send email: status ${status} ${name} (${detail})`;
      if (KEY_REJECTED.has(name)) disable(`api key rejected: ${name}`);
      if (status === 429) {
        const retryAfterMs = headerMs ?? (QUOTA_EXCEEDED.has(name) ? QUOTA_RETRY_MS : RATE_LIMIT_RETRY_MS);
        throw failure(`${text}, retry after ${retryAfterMs} ms`, { status, retryAfterMs, retryable: true });
      }
      const retryable = status >= 500 || name === "concurrent_idempotent_requests" || name === "application_error";
      throw failure(text, { status, retryAfterMs: retryable ? headerMs : undefined, retryable });
    },
  };
}

/** `claude-failover/<kind>/<at>/<hash of the content>`: stable across retries of one message, distinct per message. */
export function idempotencyKey(event: NotifyEvent, message: RenderedMessage): string {
  return `claude-failover/${event.kind}/${event.at}/${Bun.hash(message.title + "\n" + message.text).toString(16)}`;
}

/** Resend errors are `{statusCode, name, message}`; a body that is not JSON counts as `application_error` (as the SDK does). */
async function readError(response: Response): Promise<{ name: string; detail: string }> {
  const body = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(body) as { name?: unknown; message?: unknown };
    if (typeof parsed.name === "string") return { name: parsed.name, detail: String(parsed.message ?? "").slice(0, 200) };
  } catch {
    // not JSON: fall through
  }
  return { name: "application_error", detail: body.slice(0, 200) || response.statusText };
}

/** The Telegram-flavoured HTML as a small document: newlines become line breaks. */
function emailHtml(message: RenderedMessage): string {
  return `<!doctype html><html><body style="font-family:sans-serif">${message.html.split("\n").join("<br>\n")}`
    + `<p style="color:#888;font-size:small">${escapeHtml("Sent by claude-failover")}</p></body></html>`;
}
