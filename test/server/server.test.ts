/**
 * @module test/server/server
 * Specs for the HTTP surface through `app.request()` (no socket) with fake deps, plus the real Bun
 * listener for binding and shutdown. Covers health, status contract, auth on every POST, task
 * validation, the hook sink, Prometheus text (checked by a strict parser), SSE and secret hygiene.
 */
import { describe, expect, test } from "bun:test";
import { memoryLog } from "../../internal/log.ts";
import { createMetrics } from "../../internal/server/metrics.ts";
import { createApp, startServer, type HealthReport, type LiveEvent, type ServerDeps } from "../../internal/server/server.ts";
import type { StatusSnapshot } from "../../internal/state/status.ts";
import type { ActionResult, OperatorControl } from "../../internal/control/control.ts";
import { NO_DELIVERY } from "../../internal/state/state.ts";

const TOKEN = "api-s3cret-token-value";
const HOOK_TOKEN = "hook-s3cret-token-value";
const ISO = "2026-03-01T12:00:00.000Z";

function snapshot(): StatusSnapshot {
  const swap = { id: 1, at: ISO, step: "done" as const, from: "alpha", to: "beta", reason: "quota", trigger_session: "ccl-auto-11",
    signal: "hook", pattern: "usage limit", snippet: "Claude usage limit reached", reset_at: "2026-03-01T15:00:00.000Z", error: null, sessions: [{ name: "ccl-auto-11", outcome: "resumed" }] };
  return {
    version: "0.4.0", now: ISO, started_at: ISO, active_account: "beta", swapping: false, paused: false, exhausted: false, wake_at: null,
    accounts: [{ name: "alpha", home: "/h/a", state: "cooling", reset_at: "2026-03-01T15:00:00.000Z" }, { name: "beta", home: "/h/b", state: "available", reset_at: null }],
    sessions: [
      { name: "ccl-auto-11", kind: "pool", state: "working", account: "beta", session_id: "0f0e0d0c-1111-2222-3333-444455556666", task: "web/fix.md", workdir: "/w" },
      { name: "ccl-1-vault", kind: "dedicated", state: "idle", account: "beta", session_id: null, task: null, workdir: "/v" },
    ],
    tasks: { queued: 2, running: 1, done: 5, failed: 0, stalled: 0 },
    queue: [{ id: 7, project: "web", file: "fix.md", priority: 0, state: "running", session: "ccl-auto-11" }],
    last_swap: swap, swaps: [swap],
  };
}

function setup(options: { token?: string; hookToken?: string; health?: () => Promise<HealthReport>; recent?: LiveEvent[] } = {}) {
  const calls: unknown[][] = [];
  const hooks: unknown[][] = [];
  const listeners = new Set<(e: LiveEvent) => void>();
  const ok = (message: string): ActionResult => ({ ok: true, message });
  const state = { snap: snapshot(), result: ok("done"), fail: "" };
  const control: OperatorControl = {
    status: () => { if (state.fail) throw new Error(state.fail); return state.snap; },
    swap: async (account) => { calls.push(["swap", account]); return state.result; },
    pause: () => { calls.push(["pause"]); return state.result; },
    resume: () => { calls.push(["resume"]); return state.result; },
    setAccountEnabled: (name, enabled) => { calls.push(["setAccountEnabled", name, enabled]); return state.result; },
    addTask: async (input) => { calls.push(["addTask", input]); return { ...state.result, file: "/q/web/inbox/x.md" }; },
    tasks: () => [{ id: 7, project: "web", file: "fix.md", state: "queued", priority: 0, workdir: "/w", timeoutMs: null, prompt: "private plan",
      session: null, attempts: 0, createdAt: 1, startedAt: null, finishedAt: null, error: null, ...NO_DELIVERY }],
    tail: async () => null,
  };
  const log = memoryLog();
  const metrics = createMetrics();
  const deps: ServerDeps = {
    control, metrics, log, version: "0.4.0", token: options.token ?? TOKEN, hookToken: options.hookToken ?? HOOK_TOKEN,
    health: options.health ?? (async () => ({ ok: true, checks: { loop: { ok: true }, store: { ok: true }, tmux: { ok: true } } })),
    events: { subscribe: (l) => { listeners.add(l); return () => listeners.delete(l); }, recent: () => options.recent ?? [] },
    ingestHook: (...args) => { hooks.push(args); },
  };
  return { app: createApp(deps), calls, hooks, listeners, state, log, metrics };
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const post = (body?: unknown, headers: Record<string, string> = {}): RequestInit =>
  ({ method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });

describe("GET /health", () => {
  test("answers 200 with every check when all pass", async () => {
    const res = await setup().app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, checks: { loop: { ok: true }, store: { ok: true }, tmux: { ok: true } } });
  });
  test("answers 503 naming the failing check", async () => {
    const health = async () => ({ ok: false, checks: { loop: { ok: true }, tmux: { ok: false, detail: "no server running" } } });
    const res = await setup({ health }).app.request("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, failing: ["tmux"], checks: { tmux: { ok: false, detail: "no server running" } } });
  });
  test("answers 503 when the health check itself throws", async () => {
    const res = await setup({ health: async () => { throw new Error("store closed"); } }).app.request("/health");
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, failing: ["health"] });
  });
});

describe("GET /status", () => {
  test("returns every field of the /status contract", async () => {
    const body = await (await setup().app.request("/status")).json() as Record<string, any>;
    for (const key of ["active_account", "swapping", "paused", "accounts", "sessions", "tasks", "last_swap"]) expect(body).toHaveProperty(key);
    for (const key of ["name", "home", "state", "reset_at"]) expect(body.accounts[0]).toHaveProperty(key);
    for (const key of ["name", "kind", "state", "account", "session_id", "task"]) expect(body.sessions[0]).toHaveProperty(key);
    for (const key of ["at", "from", "to", "reason", "trigger_session", "pattern", "snippet"]) expect(body.last_swap).toHaveProperty(key);
    expect(body.tasks).toEqual({ queued: 2, running: 1, done: 5, failed: 0, stalled: 0 });
  });
  test("answers unknown routes with a JSON 404 and control failures with a JSON 500", async () => {
    const { app, state } = setup();
    expect((await app.request("/nope")).status).toBe(404);
    state.fail = `store exploded near ${TOKEN}`;
    const res = await app.request("/status");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ ok: false, message: "internal error" });
  });
});

const ROUTES: Array<[string, unknown, unknown[]]> = [
  ["/swap", { account: "alpha" }, ["swap", "alpha"]],
  ["/pause", undefined, ["pause"]],
  ["/resume", undefined, ["resume"]],
  ["/accounts/alpha/disable", undefined, ["setAccountEnabled", "alpha", false]],
  ["/accounts/alpha/enable", undefined, ["setAccountEnabled", "alpha", true]],
  ["/tasks", { project: "web", prompt: "Fix the tests" }, ["addTask", { project: "web", prompt: "Fix the tests" }]],
];

describe("control API", () => {
  test.each(ROUTES)("refuses POST %s without a token", async (path, body) => {
    const { app, calls } = setup();
    const res = await app.request(path, post(body));
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toStartWith("Bearer");
    expect(calls).toEqual([]);
  });
  test.each(ROUTES)("refuses POST %s with a wrong token or scheme", async (path, body) => {
    const { app, calls } = setup();
    expect((await app.request(path, post(body, bearer("wrong")))).status).toBe(401);
    expect((await app.request(path, post(body, bearer(`${TOKEN}x`)))).status).toBe(401);
    expect((await app.request(path, post(body, { Authorization: `Basic ${TOKEN}` }))).status).toBe(401);
    expect(calls).toEqual([]);
  });
  test.each(ROUTES)("answers 503 to POST %s when no token is configured", async (path, body) => {
    const { app, calls } = setup({ token: "" });
    const res = await app.request(path, post(body, bearer("")));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, message: "no API token configured: set the variable named by http.token_env" });
    expect(calls).toEqual([]);
  });
  test.each(ROUTES)("POST %s with the right token acts through control", async (path, body, call) => {
    const { app, calls } = setup();
    const res = await app.request(path, post(body, bearer(TOKEN)));
    expect(res.status).toBe(path === "/tasks" ? 201 : 200);
    expect(await res.json()).toMatchObject({ ok: true, message: "done" });
    expect(calls).toEqual([call]);
  });
  test("answers 409 with control's message when it refuses", async () => {
    const { app, state } = setup();
    state.result = { ok: false, message: "already paused" };
    const res = await app.request("/pause", post(undefined, bearer(TOKEN)));
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ ok: false, message: "already paused" });
  });
  test("POST /swap without a body swaps to the next account; bad JSON is a 400", async () => {
    const { app, calls } = setup();
    expect((await app.request("/swap", post(undefined, bearer(TOKEN)))).status).toBe(200);
    expect(calls).toEqual([["swap", undefined]]);
    expect((await app.request("/swap", { method: "POST", headers: bearer(TOKEN), body: "{nope" })).status).toBe(400);
  });
  test("POST /tasks answers 400 listing every problem", async () => {
    const { app, calls } = setup();
    const res = await app.request("/tasks", post({ project: "../etc", prompt: "  ", priority: "high", workdir: "rel", timeout: "soon", extra: 1 }, bearer(TOKEN)));
    expect(res.status).toBe(400);
    const body = await res.json() as { ok: boolean; problems: string[] };
    expect(body.ok).toBe(false);
    for (const key of ["project", "prompt", "priority", "workdir", "timeout", "body"]) expect(body.problems.some((p) => p.startsWith(`${key}:`))).toBe(true);
    expect((await app.request("/tasks", post(undefined, bearer(TOKEN)))).status).toBe(400);
    expect(calls).toEqual([]);
  });
});

describe("POST /hooks/:event", () => {
  const hookInit = (body: BodyInit | null, token?: string): RequestInit =>
    ({ method: "POST", headers: token === undefined ? {} : { "X-Claude-Failover-Hook": token }, body, ...({ duplex: "half" } as object) });
  test("refuses a missing or wrong hook token, and everything when none is configured", async () => {
    const { app, hooks } = setup();
    expect((await app.request("/hooks/Stop?session=ccl-auto-11", hookInit("{}"))).status).toBe(401);
    expect((await app.request("/hooks/Stop?session=ccl-auto-11", hookInit("{}", "nope"))).status).toBe(401);
    expect((await app.request("/hooks/Stop", hookInit("{}", TOKEN))).status).toBe(401);
    expect((await setup({ hookToken: "" }).app.request("/hooks/Stop", hookInit("{}", ""))).status).toBe(503);
    expect(hooks).toEqual([]);
  });
  test("answers 202 and hands the payload to ingestHook", async () => {
    const { app, hooks } = setup();
    const payload = { hook_event_name: "StopFailure", error: "rate_limit" };
    const res = await app.request("/hooks/StopFailure?session=ccl-auto-11", hookInit(JSON.stringify(payload), HOOK_TOKEN));
    expect(res.status).toBe(202);
    expect(hooks).toEqual([["StopFailure", "ccl-auto-11", payload]]);
    expect((await app.request("/hooks/SessionStart", hookInit("", HOOK_TOKEN))).status).toBe(202);
    expect(hooks[1]).toEqual(["SessionStart", null, null]);
  });
  test("answers 413 to a body over 1 MiB, with or without Content-Length", async () => {
    const { app, hooks } = setup();
    const huge = JSON.stringify({ text: "x".repeat(1024 * 1024) });
    expect((await app.request("/hooks/Stop", hookInit(huge, HOOK_TOKEN))).status).toBe(413);
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode("y".repeat(65536))); c.close(); } });
    expect((await app.request("/hooks/Stop", hookInit(stream, HOOK_TOKEN))).status).toBe(413);
    expect(hooks).toEqual([]);
  });
});

/** A strict reader of Prometheus text format 0.0.4; throws on the first violation. */
function parseExposition(text: string) {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const VALUE = /^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/;
  const families = new Map<string, { type: string; help?: string; samples: Array<{ name: string; labels: Record<string, string>; value: number }> }>();
  const closed = new Set<string>();
  let current = "";
  const enter = (family: string) => { if (family !== current) { if (closed.has(family)) throw new Error(`${family} is not contiguous`); if (current) closed.add(current); current = family; } };
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = line.match(/^# (HELP|TYPE) (\S+) ?(.*)$/);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      enter(name);
      const f = families.get(name);
      if (kind === "TYPE") {
        if (f) throw new Error(`TYPE after samples or twice: ${line}`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`bad type: ${line}`);
        families.set(name, { type: rest, samples: [] });
      } else if (/\\[^\\n]/.test(rest.replaceAll("\\\\", ""))) throw new Error(`bad HELP escape: ${line}`);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/);
    if (!m || !VALUE.test(m[3]!)) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? "";
    while (rest) {
      const l = rest.match(/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/);
      if (!l) throw new Error(`bad labels in: ${line}`);
      if (l[1]! in labels) throw new Error(`duplicate label in: ${line}`);
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      rest = rest.slice(l[0].length);
    }
    const name = m[1]!;
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const family = families.get(name) ?? (families.get(base)?.type === "histogram" ? families.get(base) : undefined);
    if (!family) throw new Error(`sample before its TYPE: ${line}`);
    enter(families.has(name) ? name : base);
    family.samples.push({ name, labels, value: m[3] === "+Inf" ? Infinity : Number(m[3]) });
  }
  for (const [name, f] of families) {
    if (f.type !== "histogram") continue;
    const groups = new Map<string, typeof f.samples>();
    for (const s of f.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const samples of groups.values()) {
      const buckets = samples.filter((s) => s.name === `${name}_bucket`);
      const count = samples.find((s) => s.name === `${name}_count`);
      if (!count || !samples.some((s) => s.name === `${name}_sum`)) throw new Error(`${name} lacks _sum or _count`);
      buckets.forEach((b, i) => { if (i > 0 && b.value < buckets[i - 1]!.value) throw new Error(`${name} buckets are not cumulative`); });
      if (buckets.at(-1)?.labels.le !== "+Inf" || buckets.at(-1)?.value !== count.value) throw new Error(`${name} must end with +Inf = _count`);
    }
  }
  return families;
}

describe("GET /metrics", () => {
  test("the strict parser rejects malformed exposition", () => {
    for (const bad of ["x 1\n", "# TYPE x gauge\nx{a=\"b} 1\n", "# TYPE x gauge\nx one\n", "# TYPE x gauge\nx 1",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a=\"1\"} 2\n"]) {
      expect(() => parseExposition(bad)).toThrow();
    }
  });
  test("renders valid Prometheus text: registry, pre-described metrics and snapshot gauges", async () => {
    const { app, metrics } = setup();
    metrics.inc("claude_failover_swaps_total", { reason: "quota \"hard\"\\ line\nbreak" });
    metrics.set("claude_failover_notify_queue_depth", 3, { channel: "telegram" });
    for (const s of [0.003, 0.2, 0.2, 7, 99]) metrics.observe("claude_failover_detection_latency_seconds", s);
    metrics.observe("claude_failover_poll_duration_seconds", 0.04, { kind: "pane" });
    const res = await app.request("/metrics");
    expect(res.headers.get("Content-Type")).toStartWith("text/plain; version=0.0.4");
    const families = parseExposition(await res.text());
    for (const name of ["claude_failover_dispatch_latency_seconds", "claude_failover_notify_failures_total"]) expect(families.has(name)).toBe(true);
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(value("claude_failover_swaps_total", { reason: "quota \"hard\"\\ line\nbreak" })).toBe(1);
    expect(value("claude_failover_sessions", { state: "working" })).toBe(1);
    expect(value("claude_failover_sessions", { state: "dead" })).toBe(0);
    expect(value("claude_failover_tasks", { state: "queued" })).toBe(2);
    expect(value("claude_failover_accounts", { state: "cooling" })).toBe(1);
    expect(value("claude_failover_accounts", { state: "needs_login" })).toBe(0);
    expect(families.has("claude_failover_login_detection_latency_seconds")).toBe(true);
    expect(value("claude_failover_swapping")).toBe(0);
    expect(value("claude_failover_paused")).toBe(0);
    expect(value("claude_failover_up")).toBe(1);
    const hist = families.get("claude_failover_detection_latency_seconds")!.samples;
    expect(hist.find((s) => s.name.endsWith("_count"))?.value).toBe(5);
    expect(hist.find((s) => s.labels.le === "0.25")?.value).toBe(3);
  });
  test("shows each account's state and time active as gauges, and limits by account and kind as a counter", async () => {
    const { app, metrics, state } = setup();
    state.snap.accounts[0] = { ...state.snap.accounts[0]!, active_today_s: 5400, active_7d_s: 86_400 };
    metrics.inc("claude_failover_limits_total", { account: "alpha", kind: "five_hour" });
    metrics.inc("claude_failover_limits_total", { account: "alpha", kind: "five_hour" });
    metrics.inc("claude_failover_account_tasks_total", { account: "beta", result: "done" });
    const families = parseExposition(await (await app.request("/metrics")).text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      families.get(name)?.samples.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(families.get("claude_failover_limits_total")?.type).toBe("counter");
    expect(value("claude_failover_limits_total", { account: "alpha", kind: "five_hour" })).toBe(2);
    expect(value("claude_failover_account_tasks_total", { account: "beta", result: "done" })).toBe(1);
    expect(families.has("claude_failover_account_turns_total")).toBe(true);
    expect(value("claude_failover_account_state", { account: "alpha", state: "cooling" })).toBe(1);
    expect(value("claude_failover_account_state", { account: "alpha", state: "available" })).toBe(0);
    expect(value("claude_failover_account_state", { account: "beta", state: "available" })).toBe(1);
    expect(value("claude_failover_account_active_seconds", { account: "alpha", window: "today" })).toBe(5400);
    expect(value("claude_failover_account_active_seconds", { account: "alpha", window: "7d" })).toBe(86_400);
    expect(value("claude_failover_account_active_seconds", { account: "beta", window: "today" })).toBe(0);
  });
  test("refuses to mix metric types under one name", () => {
    const metrics = createMetrics();
    expect(() => metrics.set("claude_failover_swaps_total", 1)).toThrow(/is a counter/);
    expect(() => metrics.inc("bad name")).toThrow(/invalid name/);
  });
});

/** Reads SSE messages from a response body until `count` arrived. */
async function readSse(reader: ReadableStreamDefaultReader<Uint8Array>, count: number, buffer = { text: "" }) {
  const messages: Array<{ event?: string; data: string; id?: string }> = [];
  const decoder = new TextDecoder();
  while (messages.length < count) {
    const cut = buffer.text.indexOf("\n\n");
    if (cut < 0) { const { value, done } = await reader.read(); if (done) break; buffer.text += decoder.decode(value); continue; }
    const block = buffer.text.slice(0, cut);
    buffer.text = buffer.text.slice(cut + 2);
    const field = (k: string) => block.split("\n").filter((l) => l.startsWith(`${k}: `)).map((l) => l.slice(k.length + 2));
    if (field("data").length) messages.push({ event: field("event")[0], data: field("data").join("\n"), id: field("id")[0] });
  }
  return messages;
}

describe("GET /events", () => {
  test("opens with the full status snapshot, then streams log events and status changes", async () => {
    const { app, listeners, state } = setup();
    const res = await app.request("/events");
    expect(res.headers.get("Content-Type")).toStartWith("text/event-stream");
    const reader = res.body!.getReader();
    const buffer = { text: "" };
    const [first] = await readSse(reader, 1, buffer);
    expect(first?.event).toBe("status");
    expect(JSON.parse(first!.data)).toEqual(snapshot());
    for (const l of listeners) l({ id: 42, at: 1, level: "info", kind: "swap", message: "swapped alpha → beta" });
    const [log] = await readSse(reader, 1, buffer);
    expect(log).toMatchObject({ event: "log", id: "42" });
    state.snap = { ...state.snap, paused: true };
    const [change] = await readSse(reader, 1, buffer);
    expect(change?.event).toBe("status");
    expect(JSON.parse(change!.data).paused).toBe(true);
    await reader.cancel();
    // The hub unsubscribes when the stream's cancel reaches it (a few event-loop turns later).
    for (let i = 0; i < 1_000 && listeners.size > 0; i++) await Bun.sleep(1);
    expect(listeners.size).toBe(0);
  });
});

describe("security", () => {
  test("never writes a token to the log, even when an error message contains one", async () => {
    const { app, log, state } = setup();
    await app.request("/pause", post(undefined, bearer(TOKEN)));
    await app.request("/pause", post(undefined, bearer(`${TOKEN}-wrong`)));
    await app.request("/hooks/Stop", { method: "POST", headers: { "X-Claude-Failover-Hook": HOOK_TOKEN }, body: "{}" });
    await app.request("/hooks/Stop", { method: "POST", headers: { "X-Claude-Failover-Hook": `${HOOK_TOKEN}-x` }, body: "{}" });
    state.fail = `cannot open ${TOKEN} and ${HOOK_TOKEN}`;
    await app.request("/status");
    const text = JSON.stringify(log.records);
    expect(log.records.some((r) => r.msg === "request failed")).toBe(true);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(HOOK_TOKEN);
  });
  test("serves the dashboard with a CSP nonce on its inline code and escaped data", async () => {
    const { app, state } = setup();
    state.snap.sessions[0]!.name = "<script>alert(1)</script>";
    const res = await app.request("/");
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    const nonce = csp.match(/'nonce-([^']+)'/)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("default-src 'self'");
    const page = await res.text();
    expect(page).toContain(`<script nonce="${nonce}">`);
    expect(page).not.toContain("<script>alert(1)");
    expect(page).toContain('data-session="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(page).toContain('id="active-account">beta<');
  });
  test("shows each per-model limit under its account on the dashboard, with a countdown to its reset", async () => {
    const { app, state } = setup();
    state.snap.accounts[1] = { ...state.snap.accounts[1]!, models: [{ model: "opus", reset_at: "2026-03-01T14:00:00.000Z" }] };
    const page = await (await app.request("/")).text();
    expect(page).toMatch(/<div class="muted small" data-model="opus">opus limited · <span class="countdown" data-reset-at="2026-03-01T14:00:00.000Z">/);
  });
});

describe("startServer()", () => {
  test("binds to 127.0.0.1 by default and answers /health", async () => {
    const server = startServer(setup().app, { port: 0 });
    try {
      expect(new URL(server.url).hostname).toBe("127.0.0.1");
      expect(server.port).toBeGreaterThan(0);
      const res = await fetch(new URL("/health", server.url));
      expect(res.status).toBe(200);
    } finally {
      await server.stop();
    }
  });
  test("stops by ending an open event stream itself, not by cutting it after the grace period", async () => {
    const server = startServer(setup().app, { port: 0 });
    const res = await fetch(new URL("/events", server.url));
    const reader = res.body!.getReader();
    const [first] = await readSse(reader, 1);
    expect(first?.event).toBe("status");
    const stopped = server.stop();
    // A clean end of the body (done), which only the server closing the stream gives; a forced stop cuts the connection.
    let chunk = await reader.read();
    while (!chunk.done) chunk = await reader.read();
    expect(chunk.done).toBe(true);
    await stopped;
  });
});

describe("GET /events replay", () => {
  test("sends the latest stored events to a new viewer after the snapshot", async () => {
    const { app } = setup({ recent: [{ id: 7, at: 1, level: "warning", kind: "swap_started", message: "swap a → b" }] });
    const res = await app.request("/events");
    const reader = res.body!.getReader();
    const [first, replayed] = await readSse(reader, 2, { text: "" });
    expect(first?.event).toBe("status");
    expect(replayed).toMatchObject({ event: "log", id: "7" });
    expect(JSON.parse(replayed!.data).message).toBe("swap a → b");
    await reader.cancel();
  });
});

describe("GET /tasks", () => {
  test("refuses to list tasks (their prompts are private) without the right bearer token", async () => {
    const { app } = setup();
    for (const headers of [{}, bearer("wrong"), { Authorization: `Basic ${TOKEN}` }]) {
      const res = await app.request("/tasks", { headers });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain("private plan");
    }
  });
  test("answers 503 when no token is configured", async () => {
    const res = await setup({ token: "" }).app.request("/tasks", { headers: bearer("") });
    expect(res.status).toBe(503);
  });
  test("lists the tasks with the token, uncached", async () => {
    const res = await setup().app.request("/tasks", { headers: bearer(TOKEN) });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(await res.json()).toEqual([expect.objectContaining({ id: 7, prompt: "private plan" })]);
  });
});

describe("host check", () => {
  test("answers 400 to a request with no Host header, not 500", async () => {
    const { app, log } = setup();
    expect((await app.request("/status", { headers: { Host: "" } })).status).toBe(400);
    const server = startServer(app, { port: 0 });
    try {
      // HTTP/1.0 allows leaving Host out; Bun itself refuses an HTTP/1.1 request without one.
      const raw = await new Promise<string>((resolve) => {
        let text = "";
        void Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: {
          open: (socket) => { socket.write("GET /status HTTP/1.0\r\n\r\n"); },
          data: (_socket, chunk) => { text += chunk.toString(); },
          close: () => resolve(text), error: () => resolve(text),
        } });
      });
      expect(raw.split("\r\n")[0]).toBe("HTTP/1.1 400 Bad Request");
      expect(raw).toContain('"message":"Cannot answer: the request has no Host header"');
    } finally {
      await server.stop();
    }
    expect(log.records.filter((r) => r.level === "error")).toEqual([]);
  });

  test("refuses a request whose Host is not a loopback name (DNS rebinding)", async () => {
    const { app } = setup();
    const evil = await app.request("/status", { headers: { Host: "evil.example:8787" } });
    expect(evil.status).toBe(421);
    const good = await app.request("/status", { headers: { Host: "127.0.0.1:8787" } });
    expect(good.status).toBe(200);
    const local = await app.request("/status", { headers: { Host: "localhost:8787" } });
    expect(local.status).toBe(200);
  });
});
