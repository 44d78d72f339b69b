/**
 * @module test/support/fake-webhook
 * A stand-in on loopback for any service that takes one JSON POST per message (a webhook receiver, ntfy, Slack's
 * and Discord's incoming webhooks): records each request's method, path, headers and raw body, answers with the
 * service's success (`okStatus`, `okBody`), and can answer one error next (`failNext`) or be down (502) for a while.
 * Owns nothing else.
 */

/** One recorded request. */
export interface FakeWebhookRequest {
  method: string;
  /** Path with query, e.g. `/services/T0/B0/x`. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The body exactly as received (the webhook signature covers these bytes). */
  raw: string;
  /** `raw` parsed as JSON (null when it is not JSON). */
  json: Record<string, unknown> | null;
  /** Answered with `okStatus`. */
  ok: boolean;
  /** `performance.now()` when it arrived. */
  atMs: number;
}

/** How the fake answers a request that succeeds. */
export interface FakeWebhookOptions {
  /** @default 200 */
  okStatus?: number;
  /** @default "ok" */
  okBody?: string;
}

/** The running fake. */
export interface FakeWebhook {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  requests: FakeWebhookRequest[];
  /** Requests answered with success. */
  delivered(): FakeWebhookRequest[];
  /** Answers the next request with `status`, `body` (an object becomes JSON) and `headers`. */
  failNext(status: number, body?: unknown, headers?: Record<string, string>): void;
  /** While on, every request gets a 502 in HTML. */
  down(on?: boolean): void;
  /** Resolves when `predicate` holds, polling every 5 ms; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export function startFakeWebhook(options: FakeWebhookOptions = {}): FakeWebhook {
  const requests: FakeWebhookRequest[] = [];
  const failures: Array<{ status: number; body: unknown; headers: Record<string, string> }> = [];
  let isDown = false;
  const okStatus = options.okStatus ?? 200;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const raw = await request.text();
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // recorded as raw only
      }
      const record: FakeWebhookRequest = {
        method: request.method, path: url.pathname + url.search, raw, json, ok: false, atMs: performance.now(),
        headers: Object.fromEntries([...request.headers].map(([k, v]) => [k.toLowerCase(), v])),
      };
      requests.push(record);
      if (isDown) return new Response("<html><body>502 Bad Gateway</body></html>", { status: 502, headers: { "content-type": "text/html" } });
      const failure = failures.shift();
      if (failure) {
        const payload = typeof failure.body === "string" ? failure.body : JSON.stringify(failure.body ?? {});
        return new Response(payload, { status: failure.status, headers: failure.headers });
      }
      record.ok = true;
      return new Response(okStatus === 204 ? null : options.okBody ?? "ok", { status: okStatus });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    delivered: () => requests.filter((r) => r.ok),
    failNext(status, body, headers = {}) {
      failures.push({ status, body, headers });
    },
    down(on = true) {
      isDown = on;
    },
    async waitFor(predicate, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`Cannot meet condition: timed out after ${timeoutMs} ms`);
        await Bun.sleep(5);
      }
    },
    stop: () => server.stop(true),
  };
}
