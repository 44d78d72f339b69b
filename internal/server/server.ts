/**
 * @module server/server
 * The daemon's HTTP surface: health, status, metrics, live events (SSE), the dashboard, the
 * bearer-protected control API and the hook sink. Owns routes, authentication, body limits, status
 * codes and the Bun listener. It decides nothing: every action goes through the
 * {@link OperatorControl} it is given, and hook payloads are handed to `ingestHook` unread.
 */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { NONCE, secureHeaders, type SecureHeadersVariables } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import type { Server } from "bun";
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Logger } from "../log.ts";
import type { StatusSnapshot } from "../state/status.ts";
import type { ActionResult, OperatorControl } from "../control/control.ts";
import { renderDashboard } from "./dashboard.ts";
import { METRICS_CONTENT_TYPE, statusGauges, type Metrics } from "./metrics.ts";

/** One line of the event log as pushed to live clients. */
export interface LiveEvent { id: number; at: number; level: string; kind: string; message: string }

/** Result of the daemon's self-check. */
/** `/health`: each check says ok or not; a `warning` is shown in `detail` but never fails the check. */
export interface HealthReport { ok: boolean; checks: Record<string, { ok: boolean; detail?: string; warning?: boolean }> }

/** What the HTTP surface needs from the rest of the daemon. */
export interface ServerDeps {
  control: OperatorControl;
  health(): Promise<HealthReport>;
  metrics: Metrics;
  /** Live events; `recent(limit)` (optional) gives the latest ones, oldest first, replayed to each new viewer. */
  events: { subscribe(listener: (event: LiveEvent) => void): () => void; recent?(limit: number): LiveEvent[] };
  /** Bearer token for the control API; "" = none configured (every POST answers 503). */
  token: string;
  /** Shared secret the `claude-failover hook` subcommand sends in `X-Claude-Failover-Hook`; "" = hooks refused. */
  hookToken: string;
  /** Takes one hook event; must not block (queue it and return). */
  ingestHook(event: string, session: string | null, payload: unknown): void;
  log: Logger;
  version: string;
  /**
   * Host names (without port) the server answers to; others get 421. Stops a web page from reading `/status` or
   * `/tasks` through DNS rebinding. @default loopback names only; `["*"]` accepts any host (listening on all interfaces).
   */
  allowedHosts?: readonly string[];
}

/** Hono environment of the app (`c.env` is the Bun server when served by {@link startServer}, undefined under `app.request`). */
export type AppEnv = { Variables: SecureHeadersVariables };

/** A listening server. */
export interface RunningServer { url: string; port: number; stop(): Promise<void> }

/** Largest request body accepted (hooks, tasks), bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Header carrying the hook secret. */
export const HOOK_HEADER = "X-Claude-Failover-Hook";
const DEFAULT_HOSTNAME = "127.0.0.1";
/** Host names a loopback listener answers to. */
export const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"] as const;
const IDLE_TIMEOUT_SECONDS = 30;
const STATUS_CHECK_MS = 1_000;
const HEARTBEAT_MS = 15_000;
const HEALTH_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;
const SSE_RETRY_MS = 3_000;
const MAX_LIVE_CLIENTS = 32;
/** Past events sent to a new live viewer so the event log is not empty on load. */
const REPLAYED_EVENTS = 30;
const MAX_PENDING_WRITES = 500;
const NO_TOKEN_MESSAGE = "no API token configured: set the variable named by http.token_env";

const NAME = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "use letters, digits, '.', '-' or '_' (at most 100)");
const TASK_INPUT = z.strictObject({
  project: NAME,
  prompt: z.string().max(MAX_BODY_BYTES).refine((s) => s.trim() !== "", "must not be empty"),
  name: NAME.optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  workdir: z.string().max(4096).startsWith("/", "must be an absolute path").optional(),
  timeout: z.string().regex(/^\d+(ms|s|m|h|d)$/, "must be a duration like 30s, 5m, 2h").optional(),
});
const SWAP_INPUT = z.strictObject({ account: NAME.optional() }).optional();

interface LiveClient { status(json: string): void; log(event: LiveEvent): void; ping(): void; close(): void }
const LIVE_HUBS = new WeakMap<object, { closeAll(): void }>();

/** Builds the Hono app (no socket). Test it with `app.request()`; serve it with {@link startServer}. */
export function createApp(deps: ServerDeps): Hono<AppEnv> {
  const log = deps.log.child({ module: "server" });
  const app = new Hono<AppEnv>();
  const hub = createLiveHub(deps, log);
  LIVE_HUBS.set(app, hub);
  const secrets = [deps.token, deps.hookToken].filter((s) => s !== "");
  const redact = (text: string) => secrets.reduce((t, s) => t.replaceAll(s, "[redacted]"), text);

  const allowedHosts = new Set(deps.allowedHosts ?? LOOPBACK_HOSTS);
  app.use("*", async (c, next) => {
    // Under Bun.serve the Host header is the authority; app.request() (tests) has none, and its URL's host stands in.
    const authority = (c.req.header("Host") ?? URL.parse(c.req.url)?.host ?? "").trim();
    if (authority === "") return c.json({ ok: false, message: "Cannot answer: the request has no Host header" }, 400);
    if (allowedHosts.has("*")) return next();
    const host = hostName(authority);
    if (!allowedHosts.has(host)) return c.json({ ok: false, message: `Cannot answer for host "${host}": not in the allowed host names` }, 421);
    return next();
  });
  app.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    log.debug("http request", { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) });
  });
  app.use("*", secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"], scriptSrc: ["'self'", NONCE], styleSrc: ["'self'", NONCE], imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"], objectSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"], frameAncestors: ["'none'"],
    },
  }));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    log.error("request failed", { method: c.req.method, path: c.req.path, error: { name: err.name, message: redact(err.message) } });
    return c.json({ ok: false, message: "internal error" }, 500);
  });
  app.notFound((c) => c.json({ ok: false, message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  const api = requireSecret(log, "API", () => deps.token, (c) => c.req.header("Authorization")?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim());
  const hook = requireSecret(log, "hook", () => deps.hookToken, (c) => c.req.header(HOOK_HEADER));
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ ok: false, message: `Cannot accept request body: larger than ${MAX_BODY_BYTES} bytes` }, 413),
  });
  const answer = (c: Context, action: string, result: ActionResult, okStatus: 200 | 201 = 200) => {
    log.info("operator action", { action, ok: result.ok, message: result.message });
    return c.json(result, result.ok ? okStatus : 409);
  };

  app.get("/health", async (c) => {
    const report = await withTimeout(deps.health(), HEALTH_TIMEOUT_MS).catch((err: unknown): HealthReport => ({
      ok: false, checks: { health: { ok: false, detail: redact(err instanceof Error ? err.message : String(err)) } },
    }));
    const failing = Object.entries(report.checks).filter(([, check]) => !check.ok).map(([name]) => name);
    if (report.ok && failing.length === 0) return c.json({ ok: true, checks: report.checks });
    return c.json({ ok: false, failing, checks: report.checks }, 503);
  });
  app.get("/status", (c) => { c.header("Cache-Control", "no-store"); return c.json(deps.control.status()); });
  // Prompts are private: the task list needs the bearer token, like every control route.
  app.get("/tasks", api, (c) => { c.header("Cache-Control", "no-store"); return c.json(deps.control.tasks()); });
  app.get("/metrics", (c) =>
    c.body(deps.metrics.render(statusGauges(deps.control.status(), deps.version)), 200, { "Content-Type": METRICS_CONTENT_TYPE }));
  app.get("/", (c) => {
    c.header("Cache-Control", "no-store");
    return c.html(renderDashboard(deps.control.status(), { nonce: c.get("secureHeadersNonce") }));
  });

  app.get("/events", (c) => {
    if (hub.size() >= MAX_LIVE_CLIENTS) return c.json({ ok: false, message: `Cannot open event stream: ${MAX_LIVE_CLIENTS} already open` }, 503);
    const server = c.env as Partial<Server<unknown>> | undefined;
    if (typeof server?.timeout === "function") server.timeout(c.req.raw, 0);
    const initial = JSON.stringify(deps.control.status());
    c.header("X-Accel-Buffering", "no");
    return streamSSE(c, async (stream) => {
      let chain: Promise<unknown> = Promise.resolve();
      let pending = 0;
      let finish = () => {};
      const done = new Promise<void>((resolve) => { finish = resolve; });
      const enqueue = (write: () => Promise<unknown>) => {
        if (++pending > MAX_PENDING_WRITES) return finish();
        chain = chain.then(write).catch(() => {}).finally(() => { pending--; });
      };
      enqueue(() => stream.writeSSE({ event: "status", data: initial, retry: SSE_RETRY_MS }));
      for (const event of deps.events.recent?.(REPLAYED_EVENTS) ?? []) {
        enqueue(() => stream.writeSSE({ event: "log", id: String(event.id), data: JSON.stringify(event) }));
      }
      const remove = hub.add({
        status: (json) => enqueue(() => stream.writeSSE({ event: "status", data: json })),
        log: (event) => enqueue(() => stream.writeSSE({ event: "log", id: String(event.id), data: JSON.stringify(event) })),
        ping: () => enqueue(() => stream.write(": ping\n\n")),
        close: () => finish(),
      });
      stream.onAbort(() => finish());
      await done;
      remove();
    }, async (err) => { log.warn("event stream failed", { error: { name: err.name, message: redact(err.message) } }); });
  });

  app.post("/swap", api, limit, async (c) => {
    const body = parse(SWAP_INPUT, await readJson(c, true), "Cannot swap");
    return answer(c, "swap", await deps.control.swap(body?.account));
  });
  app.post("/pause", api, (c) => answer(c, "pause", deps.control.pause()));
  app.post("/resume", api, (c) => answer(c, "resume", deps.control.resume()));
  app.post("/accounts/:name/disable", api, (c) => answer(c, "disable", deps.control.setAccountEnabled(c.req.param("name"), false)));
  app.post("/accounts/:name/enable", api, (c) => answer(c, "enable", deps.control.setAccountEnabled(c.req.param("name"), true)));
  app.post("/tasks", api, limit, async (c) => {
    const input = parse(TASK_INPUT, await readJson(c, false), "Cannot add task");
    const result = await deps.control.addTask(input);
    return answer(c, "add task", { ok: result.ok, message: result.message, ...(result.file ? { file: result.file } : {}) }, 201);
  });

  app.post("/hooks/:event", hook, limit, async (c) => {
    const event = c.req.param("event");
    const session = c.req.query("session") ?? null;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(event)) return c.json({ ok: false, message: "Cannot accept hook: invalid event name" }, 400);
    if (session !== null && !/^[A-Za-z0-9._-]{1,128}$/.test(session)) {
      return c.json({ ok: false, message: "Cannot accept hook: invalid session name" }, 400);
    }
    const payload = await readJson(c, true);
    try {
      deps.ingestHook(event, session, payload ?? null);
    } catch (err) {
      log.error("hook ingestion failed", { event, session, error: { name: (err as Error).name, message: redact(String((err as Error).message)) } });
    }
    return c.json({ ok: true, message: "accepted" }, 202);
  });
  return app;
}

/** Serves `app` with Bun on `hostname` (default 127.0.0.1, loopback only) and `port` (0 = any free port). */
export function startServer(app: Hono<AppEnv>, options: { hostname?: string; port: number }): RunningServer {
  const server = Bun.serve({
    hostname: options.hostname ?? DEFAULT_HOSTNAME, port: options.port,
    development: false, idleTimeout: IDLE_TIMEOUT_SECONDS, fetch: app.fetch,
  });
  return {
    url: server.url.href,
    port: server.port ?? options.port,
    async stop() {
      LIVE_HUBS.get(app)?.closeAll();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const forced = new Promise<void>((resolve) => {
        timer = setTimeout(() => void server.stop(true).then(resolve, resolve), STOP_GRACE_MS);
      });
      await Promise.race([server.stop(), forced]);
      clearTimeout(timer);
    },
  };
}

/** Fans status changes, log events and heartbeats out to SSE clients; polls only while someone listens. */
function createLiveHub(deps: ServerDeps, log: Logger) {
  const clients = new Set<LiveClient>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let unsubscribe = () => {};
  let lastKey = "";
  let ticks = 0;
  const each = (fn: (client: LiveClient) => void) => clients.forEach((client) => fn(client));
  const tick = () => {
    try {
      const snapshot = deps.control.status();
      const key = JSON.stringify({ ...snapshot, now: undefined } satisfies Partial<StatusSnapshot>);
      if (key !== lastKey) { lastKey = key; const json = JSON.stringify(snapshot); each((c) => c.status(json)); }
    } catch (err) {
      log.warn("status snapshot failed", { error: { name: (err as Error).name, message: String((err as Error).message) } });
    }
    if (++ticks % Math.round(HEARTBEAT_MS / STATUS_CHECK_MS) === 0) each((c) => c.ping());
  };
  const stop = () => { clearInterval(timer); timer = undefined; unsubscribe(); unsubscribe = () => {}; lastKey = ""; };
  return {
    size: () => clients.size,
    add(client: LiveClient): () => void {
      clients.add(client);
      if (!timer) {
        lastKey = JSON.stringify({ ...deps.control.status(), now: undefined });
        timer = setInterval(tick, STATUS_CHECK_MS);
        unsubscribe = deps.events.subscribe((event) => each((c) => c.log(event)));
      }
      return () => { if (clients.delete(client) && clients.size === 0) stop(); };
    },
    closeAll: () => each((c) => c.close()),
  };
}

/** Middleware: the request must carry `secret()` (compared in constant time on SHA-256 digests). */
function requireSecret(log: Logger, kind: "API" | "hook", secret: () => string, read: (c: Context) => string | undefined): MiddlewareHandler {
  return async (c, next) => {
    const expected = secret();
    if (expected === "") {
      const message = kind === "API" ? NO_TOKEN_MESSAGE : "no hook token configured";
      return c.json({ ok: false, message }, 503);
    }
    const given = read(c);
    if (given === undefined || !sameSecret(given, expected)) {
      log.warn("request refused", { kind, method: c.req.method, path: c.req.path, reason: given === undefined ? "missing credentials" : "wrong credentials" });
      if (kind === "API") c.header("WWW-Authenticate", 'Bearer realm="claude-failover"');
      return c.json({ ok: false, message: `Cannot authorize request: ${given === undefined ? "missing" : "wrong"} ${kind} token` }, 401);
    }
    await next();
  };
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

async function readJson(c: Context, optional: boolean): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") {
    if (optional) return undefined;
    throw badRequest("Cannot read request: body must be a JSON object");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("Cannot read request: body is not valid JSON");
  }
}

function parse<T extends z.ZodType>(schema: T, value: unknown, action: string): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`);
  throw badRequest(`${action}: ${problems.join("; ")}`, problems);
}

function badRequest(message: string, problems?: string[]): HTTPException {
  return new HTTPException(400, { res: Response.json({ ok: false, message, ...(problems ? { problems } : {}) }, { status: 400 }) });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `Host` header → lower-case name without port (`[::1]:8787` → `[::1]`). */
function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(0, value.indexOf("]") + 1);
  return value.split(":")[0] ?? "";
}
