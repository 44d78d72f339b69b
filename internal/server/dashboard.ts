/**
 * @module server/dashboard
 * The operator's web page (`GET /`): one self-contained HTML document, server-rendered from a
 * {@link StatusSnapshot} with `hono/html` (every value escaped), inline CSS and the inline client
 * script from `dashboard-client.ts` that keeps it live over SSE. Owns the markup and its stable
 * test hooks (`#active-account`, `[data-session]`, `#accounts`, `#usage`, `#hosts`, `#queue`, `#swaps`, `#log`); it does
 * not fetch data, authenticate or act — the client script posts to the control API itself.
 */
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { StatusSnapshot, SwapSummary } from "../state/status.ts";
import { DASHBOARD_CSS, DASHBOARD_SCRIPT } from "./dashboard-client.ts";
import { USAGE_CSS, USAGE_SCRIPT, usagePanel } from "./dashboard-usage.ts";
import { FLEET_CSS, FLEET_SCRIPT, hostsPanel } from "./dashboard-fleet.ts";

/** Options for {@link renderDashboard}. */
export interface DashboardOptions {
  /** CSP nonce put on the inline `<style>` and `<script>` (from `secureHeaders`' NONCE). */
  nonce?: string;
}

/** How many queued or running tasks the queue panel lists. */
export const QUEUE_PREVIEW = 10;
const DASH = "—";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** Renders the whole dashboard page for `snapshot`. */
export function renderDashboard(snapshot: StatusSnapshot, options: DashboardOptions = {}): string {
  const nonce = options.nonce ?? "";
  const now = Date.parse(snapshot.now);
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>claude-failover</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${raw(DASHBOARD_CSS + USAGE_CSS + FLEET_CSS)}</style>
</head>
<body data-renders="0">
<header class="top">
  <div class="brand">
    <h1>claude-failover</h1>
    <span class="muted" id="version">v${snapshot.version}</span>
    <span class="badge conn" id="conn" data-conn="connecting">connecting</span>
  </div>
  <div class="active">Active account <strong id="active-account">${snapshot.active_account ?? "none"}</strong></div>
  <div class="badges" id="badges">${badges(snapshot, now)}</div>
  <div class="controls">
    <label>Swap to <select id="swap-account">${swapOptions(snapshot)}</select></label>
    <button type="button" id="btn-swap" class="danger">Swap</button>
    <button type="button" id="btn-pause">Pause</button>
    <button type="button" id="btn-resume">Resume</button>
  </div>
  <p id="action-result" class="result" role="status" aria-live="polite"></p>
</header>
<main class="grid">
  <section class="panel wide">
    <h2>Sessions <span class="count" id="sessions-count">${snapshot.sessions.length}</span></h2>
    <div class="sessions" id="sessions">${snapshot.sessions.length ? snapshot.sessions.map(sessionCard) : html`<p class="empty">no owned sessions</p>`}</div>
  </section>
  <section class="panel">
    <h2>Accounts</h2>
    <table id="accounts">
      <thead><tr><th>Account</th><th>State</th><th>Resets</th></tr></thead>
      <tbody>${snapshot.accounts.map((a) => accountRow(a, snapshot.active_account, now))}</tbody>
    </table>
  </section>
  <section class="panel">
    <h2>Queue</h2>
    <div id="queue">${queue(snapshot)}</div>
  </section>
  ${usagePanel(snapshot)}
  ${hostsPanel(snapshot)}
  <section class="panel wide">
    <h2>Swaps</h2>
    <ol class="swaps" id="swaps">${snapshot.swaps.length ? snapshot.swaps.map((s) => swapItem(s, now)) : html`<li class="empty">no swaps yet</li>`}</ol>
  </section>
  <section class="panel wide">
    <h2>Events</h2>
    <ol class="log" id="log"><li class="empty">waiting for events…</li></ol>
  </section>
</main>
<script nonce="${nonce}">${raw(USAGE_SCRIPT)}</script>
<script nonce="${nonce}">${raw(FLEET_SCRIPT)}</script>
<script nonce="${nonce}">${raw(DASHBOARD_SCRIPT)}</script>
</body>
</html>`;
  if (page instanceof Promise) throw new Error("Cannot render dashboard: template resolved asynchronously");
  return page.toString();
}

function badges(s: StatusSnapshot, now: number): Html[] {
  const out: Html[] = [];
  if (s.swapping) out.push(html`<span class="badge b-swapping" data-badge="swapping">swapping</span>`);
  if (s.paused) out.push(html`<span class="badge b-paused" data-badge="paused">paused</span>`);
  if (s.exhausted) {
    out.push(html`<span class="badge b-exhausted" data-badge="exhausted">exhausted${s.wake_at
      ? html` · wakes <span class="countdown" data-reset-at="${s.wake_at}">${countdown(s.wake_at, now)}</span>` : ""}</span>`);
  }
  if (!out.length) out.push(html`<span class="badge b-ok" data-badge="ok">running</span>`);
  return out;
}

function swapOptions(s: StatusSnapshot): Html[] {
  return [html`<option value="">next available</option>`, ...s.accounts.map((a) => html`<option value="${a.name}">${a.name}</option>`)];
}

function sessionCard(s: StatusSnapshot["sessions"][number]): Html {
  return html`<article class="session st-${s.state}" data-session="${s.name}" data-state="${s.state}">
<div class="s-head"><span class="s-name">${s.name}</span><span class="pill">${s.state}</span></div>
<dl><dt>kind</dt><dd>${s.kind}</dd><dt>account</dt><dd>${s.account ?? DASH}</dd><dt>task</dt><dd>${s.task ?? DASH}</dd><dt>id</dt><dd class="mono" title="${s.session_id ?? ""}">${s.session_id ? s.session_id.slice(0, 8) : DASH}</dd></dl>
</article>`;
}

function accountRow(a: StatusSnapshot["accounts"][number], active: string | null, now: number): Html {
  return html`<tr data-account="${a.name}" data-state="${a.state}" class="${a.name === active ? "is-active" : ""}">
<td><span class="a-name">${a.name}</span>${a.name === active ? html` <span class="tag">active</span>` : ""}<div class="muted small mono">${a.home}</div>${a.login_fix ? html`<div class="small mono login-fix">run ${a.login_fix}, then /login</div>` : ""}</td>
<td><span class="pill ac-${a.state}">${a.state}</span></td>
<td>${a.reset_at ? html`<span class="countdown" data-reset-at="${a.reset_at}">${countdown(a.reset_at, now)}</span>` : DASH}${(a.models ?? []).map((m) => html`<div class="muted small" data-model="${m.model}">${m.model} limited · <span class="countdown" data-reset-at="${m.reset_at}">${countdown(m.reset_at, now)}</span></div>`)}</td>
</tr>`;
}

function queue(s: StatusSnapshot): Html {
  const shown = s.queue.filter((t) => t.state === "queued" || t.state === "running").slice(0, QUEUE_PREVIEW);
  return html`<div class="chips">${Object.entries(s.tasks).map(([state, n]) =>
    html`<span class="chip" data-task-state="${state}">${state} <b>${n}</b></span>`)}</div>
<ol class="queue-list">${shown.length ? shown.map((t) => html`<li data-task-id="${t.id}" data-state="${t.state}">
<span class="pill tk-${t.state}">${t.state}</span> <span class="mono">${t.project}/${t.file}</span> <span class="muted">p${t.priority}${t.session ? ` · ${t.session}` : ""}</span></li>`)
    : html`<li class="empty">queue is empty</li>`}</ol>`;
}

function swapItem(s: SwapSummary, now: number): Html {
  const field = (label: string, value: string | null, code = false) =>
    value ? html`<span>${label} ${code ? html`<code>${value}</code>` : html`<b>${value}</b>`}</span>` : "";
  return html`<li class="swap" data-swap-id="${s.id}" data-step="${s.step}">
<div class="swap-head"><time datetime="${s.at}">${s.at.replace("T", " ").slice(0, 19)}</time> <strong>${s.from ?? "?"} → ${s.to ?? "?"}</strong> <span class="pill step-${s.step}">${s.step}</span></div>
<div class="swap-meta">${field("reason", s.reason)}${field("limit", s.limit ?? null)}${field("session", s.trigger_session)}${field("signal", s.signal)}${field("pattern", s.pattern, true)}${s.reset_at
    ? html`<span>resets <span class="countdown" data-reset-at="${s.reset_at}">${countdown(s.reset_at, now)}</span></span>` : ""}</div>
${s.snippet ? html`<pre class="snippet">${s.snippet}</pre>` : ""}${s.error ? html`<p class="error">${s.error}</p>` : ""}
</li>`;
}

/** "in 1h 02m 03s" until `iso`, "now" once passed (the client script keeps it ticking). */
export function countdown(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  if (!(ms > 0)) return "now";
  const t = Math.floor(ms / 1000);
  const d = Math.floor(t / 86400), h = Math.floor((t % 86400) / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (d > 0) return `in ${d}d ${h}h`;
  if (h > 0) return `in ${h}h ${pad(m)}m ${pad(sec)}s`;
  return m > 0 ? `in ${m}m ${pad(sec)}s` : `in ${sec}s`;
}
