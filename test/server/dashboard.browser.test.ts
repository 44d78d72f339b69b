/**
 * @module test/server/dashboard.browser
 * The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
 * against the real Bun listener and a mutable fake control: it renders, follows the SSE stream
 * without reloading, shows log events as text, acts with the bearer token the operator types once,
 * and logs no console errors (CSP violations included). Screenshots go to test-artifacts/.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { memoryLog } from "../../internal/log.ts";
import { createMetrics } from "../../internal/server/metrics.ts";
import { createApp, startServer, type LiveEvent } from "../../internal/server/server.ts";
import type { StatusSnapshot, SwapSummary } from "../../internal/state/status.ts";
import type { OperatorControl } from "../../internal/control/control.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const ARTIFACTS = join(import.meta.dir, "../../test-artifacts");
const TOKEN = "browser-test-token";
const UPDATE_TIMEOUT_MS = 5_000;

function swap(id: number, from: string, to: string, at: string): SwapSummary {
  return { id, at, step: "done", from, to, reason: "quota", trigger_session: "ccl-auto-11", signal: "StopFailure hook",
    pattern: "usage limit reached", snippet: "⎿ Claude usage limit reached. Your limit will reset at 3pm (Europe/Paris).",
    reset_at: new Date(Date.now() + 3 * 3600_000).toISOString(), error: null, sessions: [] };
}

/** Usage fields of an account: a timeline of the last 24 hours (times in hours before now) and a few figures. */
function usage(periods: Array<[string, number, number | null]>, limits: Array<[string, number, string]>) {
  const ago = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
  return {
    last_limit: limits.length ? { kind: limits.at(-1)![0], at: ago(limits.at(-1)![1]), session: limits.at(-1)![2], reset_at: null } : null,
    limits_7d: limits.length, active_today_s: 5400, active_7d_s: 72_000, tasks_done_today: 3, tasks_failed_today: 1, tasks_done_7d: 12,
    tasks_failed_7d: 2, turns_today: 40, turns_7d: 210,
    timeline: {
      from: ago(24), to: ago(0),
      periods: periods.map(([kind, from, to]) => ({ kind, from: ago(from), to: to === null ? null : ago(to) })),
      limits: limits.map(([kind, at, session]) => ({ kind, at: ago(at), session })),
    },
  };
}

function snapshot(): StatusSnapshot {
  const now = new Date().toISOString();
  const first = swap(1, "alpha", "beta", new Date(Date.now() - 3600_000).toISOString());
  const session = (n: number, state: StatusSnapshot["sessions"][number]["state"], task: string | null) => ({
    name: `ccl-auto-${n}`, kind: "pool" as const, state, account: "beta", session_id: crypto.randomUUID(), task, workdir: "/srv/work" });
  return {
    version: "0.4.0", now, started_at: now, active_account: "beta", swapping: false, paused: false, exhausted: false, wake_at: null,
    accounts: [
      { name: "alpha", home: "/home/op/.claude-alpha", state: "cooling", reset_at: new Date(Date.now() + 2 * 3600_000).toISOString(),
        ...usage([["active", 18, 6], ["cooling", 6, null]], [["five_hour", 6, "ccl-auto-11"]]) },
      { name: "beta", home: "/home/op/.claude-beta", state: "available", reset_at: null, ...usage([["active", 6, null]], []) },
      { name: "gamma", home: "/home/op/.claude-gamma", state: "disabled", reset_at: null },
    ],
    sessions: [
      session(11, "working", "web/fix-tests.md"), session(12, "idle", null), session(13, "starting", null),
      session(14, "stalled", "api/migrate.md"), session(15, "dead", null),
      { name: "ccl-1-vault", kind: "dedicated", state: "idle", account: "beta", session_id: crypto.randomUUID(), task: null, workdir: "/srv/vault" },
    ],
    tasks: { queued: 3, running: 2, done: 17, failed: 1, stalled: 1 },
    queue: [
      { id: 21, project: "web", file: "fix-tests.md", priority: 5, state: "running", session: "ccl-auto-11" },
      { id: 22, project: "api", file: "add-endpoint.md", priority: 0, state: "queued", session: null },
    ],
    last_swap: first, swaps: [first],
  };
}

test("the dashboard renders, follows live updates without reloading and pauses with the API token", async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Cannot run the dashboard browser test: ${CHROMIUM} is missing; run \`apt-get install -y chromium\` as root`);
  }
  let snap = snapshot();
  const calls: string[] = [];
  const listeners = new Set<(e: LiveEvent) => void>();
  const control: OperatorControl = {
    status: () => ({ ...snap, now: new Date().toISOString() }),
    swap: async () => ({ ok: true, message: "swap requested" }),
    pause: () => { calls.push("pause"); snap = { ...snap, paused: true }; return { ok: true, message: "dispatch paused" }; },
    resume: () => { calls.push("resume"); snap = { ...snap, paused: false }; return { ok: true, message: "dispatch resumed" }; },
    setAccountEnabled: () => ({ ok: true, message: "ok" }),
    addTask: async () => ({ ok: true, message: "ok" }),
    tasks: () => [],
    tail: async () => null,
  };
  const app = createApp({
    control, metrics: createMetrics(), log: memoryLog(), version: "0.4.0", token: TOKEN, hookToken: "hook", ingestHook: () => {},
    health: async () => ({ ok: true, checks: {} }),
    events: { subscribe: (l) => { listeners.add(l); return () => listeners.delete(l); } },
  });
  const server = startServer(app, { port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const dialogs: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("dialog", (d) => { dialogs.push(d.type()); void (d.type() === "prompt" ? d.accept(TOKEN) : d.accept()); });

    await page.goto(server.url);
    await page.waitForSelector("#conn[data-conn=live]", { timeout: UPDATE_TIMEOUT_MS });
    await page.waitForSelector("body:not([data-renders='0'])", { timeout: UPDATE_TIMEOUT_MS });
    expect(await page.textContent("#active-account")).toBe("beta");
    expect(await page.locator("#accounts tbody tr").count()).toBe(3);
    expect(await page.getAttribute('[data-session="ccl-auto-11"]', "data-state")).toBe("working");
    expect(await page.textContent('#accounts tr[data-account="alpha"] .countdown')).toMatch(/^in 1h 59m \d\ds$|^in 2h 00m 00s$/);
    expect(await page.locator("#queue .queue-list li").count()).toBe(2);
    // The usage timeline, as the client script draws it: active 18 h → 6 h ago, cooling since, the limit a mark.
    const alpha = '#usage [data-usage-account="alpha"]';
    const attrs = (selector: string) => page.$eval(selector, (e) => ["x", "width", "x1"].map((a) => Math.round(Number(e.getAttribute(a) ?? NaN))));
    expect(await attrs(`${alpha} rect[data-kind="active"]`)).toEqual([250, 500, NaN]);
    expect(await attrs(`${alpha} rect[data-kind="cooling"]`)).toEqual([750, 250, NaN]);
    expect((await attrs(`${alpha} line[data-limit-kind="five_hour"]`))[2]).toBe(750);
    expect(await page.textContent(`${alpha} [data-fig="last-limit"]`)).toMatch(/^last limit five_hour 6h 00m ago on ccl-auto-11$|^last limit five_hour 5h 59m ago/);
    expect(await page.locator('#usage [data-usage-account="gamma"] .tl-period').count()).toBe(0);
    expect((await page.$eval(`${alpha} svg`, (e) => e.getBoundingClientRect().width)) > 500).toBe(true);
    await page.evaluate(() => { (window as unknown as { __loaded: boolean }).__loaded = true; });

    snap = {
      ...snap, active_account: "alpha", swaps: [swap(2, "beta", "alpha", new Date().toISOString()), ...snap.swaps],
      sessions: snap.sessions.map((s) => (s.name === "ccl-1-vault" ? { ...s, state: "working" as const, account: "alpha" } : s)),
      accounts: snap.accounts.map((a) => (a.name === "beta" ? { ...a, ...usage([["active", 6, null]], [["weekly", 1, "ccl-auto-12"]]) } : a)),
    };
    await page.waitForSelector('[data-session="ccl-1-vault"][data-state="working"]', { timeout: UPDATE_TIMEOUT_MS });
    expect(await page.textContent("#active-account")).toBe("alpha");
    expect(await page.getAttribute("#swaps li:first-child", "data-swap-id")).toBe("2");
    expect(await page.textContent("#swaps li:first-child .snippet")).toContain("usage limit reached");
    // A mark is a line with no width: attached, never "visible" to the locator.
    await page.waitForSelector('#usage [data-usage-account="beta"] line[data-limit-kind="weekly"]', { state: "attached", timeout: UPDATE_TIMEOUT_MS });
    expect(await page.textContent('#usage [data-usage-account="beta"] [data-fig="limits"]')).toBe("1 limit in 7 d");

    for (const l of listeners) l({ id: 9, at: Date.now(), level: "warning", kind: "quota", message: "hit on <b>beta</b>" });
    await page.waitForSelector('#log li[data-event-id="9"]', { timeout: UPDATE_TIMEOUT_MS });
    expect(await page.textContent('#log li[data-event-id="9"]')).toContain("hit on <b>beta</b>");
    expect(await page.locator('#log li[data-event-id="9"] b').count()).toBe(0);

    await page.click("#btn-pause");
    await page.waitForSelector("#action-result.ok", { timeout: UPDATE_TIMEOUT_MS });
    expect(await page.textContent("#action-result")).toBe("dispatch paused");
    await page.waitForSelector('[data-badge="paused"]', { timeout: UPDATE_TIMEOUT_MS });
    await page.click("#btn-resume");
    await page.waitForFunction(() => document.getElementById("action-result")?.textContent === "dispatch resumed", undefined, { timeout: UPDATE_TIMEOUT_MS });
    expect(calls).toEqual(["pause", "resume"]);
    expect(dialogs).toEqual(["prompt"]);
    expect(await page.evaluate(() => (window as unknown as { __loaded?: boolean }).__loaded)).toBe(true);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
    await server.stop();
  }
}, 40_000);
