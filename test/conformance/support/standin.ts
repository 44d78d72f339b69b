/**
 * @module test/conformance/support/standin
 * The project's own Anthropic API stand-in for the real Claude Code CLI (reference/real-claude.md §1.5): one
 * `Bun.serve` on 127.0.0.1, port 0, per test account. `POST /v1/messages` answers a streamed SSE reply that echoes
 * the prompt and the user-turn number, or — switchable at run time — a quota 429 with the unified headers of one limit
 * kind, a throttling 429 without them, a 529, a 500, a refused login (a 403 "revoked", a 401 "expired":
 * reference/real-claude.md §13.3), or a normal reply whose per-window headers make 2.1.330 draw its usage warning
 * (`warn_5h`, `warn_7d`) or its usage-credits line (`credits`, §13.1). Every request is logged (its whole bearer token,
 * which names the account whose login sent it; user texts, whether it carried tools). Errors hit only conversation
 * requests (those with `tools`), like the recipe's.
 */

/** What the stand-in answers to conversation requests. */
export type StandInMode = "normal" | "five_hour" | "seven_day" | "seven_day_opus" | "throttle" | "overloaded" | "server_error" | "auth_revoked" | "auth_expired"
  | "warn_5h" | "warn_7d" | "credits";

/**
 * A mode change: `times` limits how many conversation requests get it (then `normal`); `resetAt` is epoch seconds;
 * `match` limits it to requests whose last user text contains that string (one rule per session's task), `model` to
 * requests for that model.
 */
export interface ModeChange {
  mode: StandInMode;
  /** Only requests whose last user text contains this. @default every conversation request */
  match?: string;
  /** Only requests for a model whose name contains this (e.g. `opus`: a per-model limit). @default any model */
  model?: string;
  /** Requests answered with this mode before falling back to `normal`. @default unlimited */
  times?: number;
  /** Reset of a quota limit, epoch seconds. @default the next full hour at least 1 h ahead (five_hour), 3 days (others) */
  resetAt?: number;
}

/** One logged request. */
export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  /** The bearer token (the conformance homes' tokens are fake and name their account: claude.ts accessToken). */
  token: string;
  /** Text parts of the user turns, system reminders left out. */
  userTexts: string[];
  tools: boolean;
  /** The `model` the request asked for (e.g. `claude-sonnet-4-5`); empty when it named none. */
  model: string;
  sessionId: string | null;
  /** The status the stand-in answered. */
  status: number;
  /** When the answer was sent (later than `at` while a {@link StandIn.hold} kept it back). */
  answeredAt: number;
}

/** A running stand-in. */
export interface StandIn {
  url: string;
  /** Replaces every rule with this one. */
  setMode(change: ModeChange): void;
  /** Adds a rule; the first rule that matches a request answers it. */
  addRule(change: ModeChange): void;
  requests(): LoggedRequest[];
  /**
   * Keeps every conversation request unanswered until `release()` (e.g. to cut a whole fleet's turns by one limit at
   * the same moment); `waiting()` counts the requests held now.
   */
  hold(): { waiting(): number; release(): void };
  /** Conversation requests only (the ones that carry tools). */
  turns(): LoggedRequest[];
  stop(): void;
}

const QUOTA_MODES = new Set<StandInMode>(["five_hour", "seven_day", "seven_day_opus"]);
/** Modes answered with a normal reply whose headers say the account is near (or past) a plan limit. */
const WARNING_MODES = new Set<StandInMode>(["warn_5h", "warn_7d", "credits"]);

/** The default reset of a limit kind, epoch seconds. */
export function defaultReset(mode: StandInMode, nowMs = Date.now()): number {
  const hour = 3600;
  const now = Math.floor(nowMs / 1000);
  if (mode === "five_hour" || mode === "warn_5h" || mode === "credits") return (Math.floor(now / hour) + 2) * hour;
  return (Math.floor(now / hour) + 72) * hour;
}

/** Starts a stand-in on a free loopback port. */
export function startStandIn(): StandIn {
  let rules: Array<ModeChange & { times: number }> = [];
  const log: LoggedRequest[] = [];
  let gate: { promise: Promise<void>; release(): void; waiting: number } | null = null;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const body = request.method === "POST" ? await request.json().catch(() => ({})) as Record<string, unknown> : {};
      const entry: LoggedRequest = {
        at: Date.now(), method: request.method, path: url.pathname,
        token: (request.headers.get("authorization") ?? "").replace(/^Bearer /, ""),
        userTexts: userTexts(body.messages), tools: Array.isArray(body.tools) && body.tools.length > 0,
        model: typeof body.model === "string" ? body.model : "",
        sessionId: request.headers.get("x-claude-code-session-id"), status: 200, answeredAt: 0,
      };
      log.push(entry);
      if (gate && entry.tools) {
        const held = gate;
        held.waiting++;
        await held.promise;
      }
      entry.answeredAt = Date.now();
      const response = answer(url.pathname, body, entry);
      entry.status = response.status;
      return response;
    },
  });

  const answer = (path: string, body: Record<string, unknown>, entry: LoggedRequest): Response => {
    if (path === "/v1/messages/count_tokens") return Response.json({ input_tokens: 100 });
    if (path !== "/v1/messages") return errorResponse(404, "not_found_error", "Not found");
    const rule = entry.tools ? rules.find((r) => r.times > 0 && (r.match === undefined || (entry.userTexts.at(-1) ?? "").includes(r.match))
      && (r.model === undefined || entry.model.toLowerCase().includes(r.model))) : undefined;
    let headers = allowedHeaders();
    if (rule && WARNING_MODES.has(rule.mode)) {
      rule.times--;
      headers = warningHeaders(rule.mode, rule.resetAt ?? defaultReset(rule.mode));
    } else if (rule && rule.mode !== "normal") {
      const mode = rule.mode;
      const resetAt = rule.resetAt ?? defaultReset(mode);
      rule.times--;
      if (QUOTA_MODES.has(mode)) return quotaResponse(mode, resetAt);
      if (mode === "throttle") return errorResponse(429, "rate_limit_error", "Number of concurrent connections has exceeded your rate limit. Please try again later.");
      if (mode === "overloaded") return errorResponse(529, "overloaded_error", "Overloaded");
      if (mode === "auth_revoked") return errorResponse(403, "permission_error", "OAuth token has been revoked. Please obtain a new token.");
      if (mode === "auth_expired") return errorResponse(401, "authentication_error", "OAuth token has expired. Please obtain a new token or refresh your existing token.");
      return errorResponse(500, "api_error", "Internal server error");
    }
    const texts = entry.userTexts;
    const text = `Fake API reply: I received your prompt "${(texts.at(-1) ?? "").slice(0, 200)}" (user turn ${texts.length} of this conversation). Done.`;
    return body.stream === true ? streamed(text, headers) : Response.json(message(text), { headers });
  };

  return {
    url: `http://127.0.0.1:${server.port}`,
    setMode(change) {
      rules = [{ ...change, times: change.times ?? Infinity }];
    },
    addRule(change) {
      rules.push({ ...change, times: change.times ?? Infinity });
    },
    requests: () => [...log],
    hold() {
      let release = () => {};
      const promise = new Promise<void>((resolve) => (release = resolve));
      const held = { promise, release: () => { if (gate === held) gate = null; release(); }, waiting: 0 };
      gate = held;
      return { waiting: () => held.waiting, release: held.release };
    },
    turns: () => log.filter((r) => r.path === "/v1/messages" && r.tools),
    stop: () => void server.stop(true),
  };
}

/** The user turns' own texts: string contents, and text blocks that are not `<system-reminder>` context. */
export function userTexts(messages: unknown): string[] {
  if (!Array.isArray(messages)) return [];
  const out: string[] = [];
  for (const m of messages as Array<{ role?: string; content?: unknown }>) {
    if (m.role !== "user") continue;
    const parts = typeof m.content === "string" ? [m.content]
      : Array.isArray(m.content) ? (m.content as Array<{ type?: string; text?: string }>).filter((c) => c.type === "text" && typeof c.text === "string").map((c) => c.text!) : [];
    const own = parts.filter((t) => !t.trimStart().startsWith("<system-reminder>")).map((t) => t.trim()).filter(Boolean);
    if (own.length > 0) out.push(own.join("\n"));
  }
  return out;
}

function message(text: string) {
  return {
    id: `msg_${crypto.randomUUID().replace(/-/g, "")}`, type: "message", role: "assistant", model: "claude-opus-5-5",
    content: [{ type: "text", text }], stop_reason: "end_turn", stop_sequence: null,
    usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  };
}

/** The SSE event sequence of one text reply. */
function streamed(text: string, headers: Record<string, string>): Response {
  const full = message(text);
  const events: Array<[string, unknown]> = [
    ["message_start", { type: "message_start", message: { ...full, content: [], stop_reason: null, usage: { ...full.usage, output_tokens: 1 } } }],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
    ["ping", { type: "ping" }],
    ...(text.match(/.{1,40}/gs) ?? []).map((chunk): [string, unknown] => ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: chunk } }]),
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 20 } }],
    ["message_stop", { type: "message_stop" }],
  ];
  const sse = events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
  return new Response(sse, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers } });
}

function requestId(): string {
  return `req_${crypto.randomUUID().replace(/-/g, "").slice(0, 24)}`;
}

/** Unified headers of an account far from its limits. */
function allowedHeaders(): Record<string, string> {
  const now = Math.floor(Date.now() / 1000);
  return {
    "request-id": requestId(),
    "anthropic-ratelimit-unified-status": "allowed",
    "anthropic-ratelimit-unified-reset": String(defaultReset("five_hour") ),
    "anthropic-ratelimit-unified-representative-claim": "five_hour",
    "anthropic-ratelimit-unified-5h-status": "allowed",
    "anthropic-ratelimit-unified-5h-reset": String(defaultReset("five_hour")),
    "anthropic-ratelimit-unified-5h-utilization": "0.1",
    "anthropic-ratelimit-unified-7d-status": "allowed",
    "anthropic-ratelimit-unified-7d-reset": String(now + 5 * 86400),
    "anthropic-ratelimit-unified-7d-utilization": "0.05",
  };
}

/**
 * Headers of a reply near a limit (§13.1): `warn_5h` 5-hour window at 91 % past its 90 % threshold, `warn_7d` weekly
 * window at 91 % past 75 %, `credits` the 5-hour window spent and usage credits in use (`rejected` + overage `allowed`).
 */
function warningHeaders(mode: StandInMode, resetAt: number): Record<string, string> {
  const headers = allowedHeaders();
  if (mode === "warn_5h") {
    Object.assign(headers, { "anthropic-ratelimit-unified-5h-status": "allowed_warning", "anthropic-ratelimit-unified-5h-reset": String(resetAt),
      "anthropic-ratelimit-unified-5h-utilization": "0.91", "anthropic-ratelimit-unified-5h-surpassed-threshold": "0.9" });
  } else if (mode === "warn_7d") {
    Object.assign(headers, { "anthropic-ratelimit-unified-7d-status": "allowed_warning", "anthropic-ratelimit-unified-7d-reset": String(resetAt),
      "anthropic-ratelimit-unified-7d-utilization": "0.91", "anthropic-ratelimit-unified-7d-surpassed-threshold": "0.75" });
  } else {
    Object.assign(headers, { "anthropic-ratelimit-unified-status": "rejected", "anthropic-ratelimit-unified-reset": String(resetAt),
      "anthropic-ratelimit-unified-5h-status": "rejected", "anthropic-ratelimit-unified-5h-reset": String(resetAt),
      "anthropic-ratelimit-unified-5h-utilization": "1.0", "anthropic-ratelimit-unified-overage-status": "allowed" });
  }
  return headers;
}

/** A quota 429 as a claude.ai subscriber gets it: rejected, with the representative claim and the reset. */
function quotaResponse(mode: StandInMode, resetAt: number): Response {
  const five = mode === "five_hour";
  const later = Math.floor(Date.now() / 1000) + 5 * 86400;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "request-id": requestId(),
    "retry-after": String(Math.max(1, resetAt - Math.floor(Date.now() / 1000))),
    "anthropic-ratelimit-unified-status": "rejected",
    "anthropic-ratelimit-unified-reset": String(resetAt),
    "anthropic-ratelimit-unified-representative-claim": mode,
    "anthropic-ratelimit-unified-5h-status": five ? "rejected" : "allowed",
    "anthropic-ratelimit-unified-5h-reset": String(five ? resetAt : defaultReset("five_hour")),
    "anthropic-ratelimit-unified-5h-utilization": five ? "1.0" : "0.2",
    "anthropic-ratelimit-unified-7d-status": five ? "allowed" : "rejected",
    "anthropic-ratelimit-unified-7d-reset": String(five ? later : resetAt),
    "anthropic-ratelimit-unified-7d-utilization": five ? "0.3" : "1.0",
    "anthropic-ratelimit-unified-fallback-percentage": "0.5",
    "anthropic-ratelimit-unified-overage-status": "rejected",
    "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
  };
  const body = { type: "error", error: { type: "rate_limit_error", message: "This request would exceed your account's rate limit. Please try again later." }, request_id: headers["request-id"] };
  return new Response(JSON.stringify(body), { status: 429, headers });
}

function errorResponse(status: number, type: string, text: string): Response {
  const id = requestId();
  return Response.json({ type: "error", error: { type, message: text }, request_id: id }, { status, headers: { "request-id": id } });
}
