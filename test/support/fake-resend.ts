/**
 * @module test/support/fake-resend
 * A fake Resend API on loopback: `POST /emails` records each request's headers and JSON body and answers
 * `{id}`; `failNext()` queues one error answer, `down()` answers 503 in plain text until lifted. Owns nothing else.
 */

/** One recorded request. */
export interface FakeResendRequest {
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: { from: string; to: string[]; subject: string; text: string; html: string };
  /** Answered 200. */
  ok: boolean;
  /** `performance.now()` when it arrived. */
  atMs: number;
}

/** The running fake. */
export interface FakeResend {
  /** Base URL for `api_base`, without trailing slash. */
  apiBase: string;
  requests: FakeResendRequest[];
  /** Requests answered 200. */
  delivered(): FakeResendRequest[];
  /** Answers the next request with `status` and `body` (an object becomes JSON), plus `retry-after` seconds if given. */
  failNext(status: number, body: unknown, retryAfterSeconds?: number): void;
  down(on?: boolean): void;
  stop(): Promise<void>;
}

/** A key shaped like a real one. */
export const FAKE_RESEND_KEY = "re_FakeKeyForTestsOnly_0123456789abcdef";

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export function startFakeResend(): FakeResend {
  const requests: FakeResendRequest[] = [];
  const failures: Array<{ status: number; body: unknown; retryAfterSeconds?: number }> = [];
  let isDown = false;
  let nextId = 1;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/emails") {
        return Response.json({ statusCode: 405, name: "method_not_allowed", message: "Method not allowed" }, { status: 405 });
      }
      const record: FakeResendRequest = {
        headers: Object.fromEntries([...request.headers].map(([k, v]) => [k.toLowerCase(), v])),
        body: await request.json() as FakeResendRequest["body"],
        ok: false,
        atMs: performance.now(),
      };
      requests.push(record);
      if (isDown) return new Response("Service Unavailable", { status: 503 });
      const failure = failures.shift();
      if (failure) {
        const headers: Record<string, string> = {};
        if (failure.retryAfterSeconds !== undefined) headers["retry-after"] = String(failure.retryAfterSeconds);
        const payload = typeof failure.body === "string" ? failure.body : JSON.stringify(failure.body);
        return new Response(payload, { status: failure.status, headers });
      }
      record.ok = true;
      return Response.json({ id: `fake-${nextId++}` });
    },
  });
  return {
    apiBase: `http://127.0.0.1:${server.port}`,
    requests,
    delivered: () => requests.filter((r) => r.ok),
    failNext(status, body, retryAfterSeconds) {
      failures.push({ status, body, retryAfterSeconds });
    },
    down(on = true) {
      isDown = on;
    },
    stop: () => server.stop(true),
  };
}
