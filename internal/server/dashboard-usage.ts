/**
 * @module server/dashboard-usage
 * The dashboard's Usage panel (`#usage`): per account its figures (time active, limits, tasks, turns, last limit) and
 * a 24-hour timeline drawn as inline SVG: an upper lane when sessions ran on the account (`active`), a lower lane for
 * its states (`cooling`, `disabled`, …), limits as marks. SVG attributes, not `style`, place everything, so the page's
 * CSP (no inline styles) holds. Server-rendered here, and re-rendered by {@link USAGE_SCRIPT} on each `cf:status`
 * event the main dashboard script dispatches after it renders a status. Owns no data: it draws `accounts[]` of `/status`.
 * The script is plain ES2020 in a string: keep it free of backticks and dollar-brace sequences.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { StatusSnapshot } from "../state/status.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
type Account = StatusSnapshot["accounts"][number];

/** Width of the timeline in SVG units (the SVG stretches to the panel). */
export const TIMELINE_UNITS = 1000;
/** Where the 6-hour grid lines fall, and the axis labels under them. */
const GRID = [250, 500, 750];
const AXIS = ["24 h ago", "18 h", "12 h", "6 h", "now"];

/** The Usage panel for `snapshot`. */
export function usagePanel(snapshot: StatusSnapshot): Html {
  const now = Date.parse(snapshot.now);
  return html`<section class="panel wide">
    <h2>Usage <span class="count">last 24 h</span></h2>
    <div id="usage">${snapshot.accounts.map((a) => usageRow(a, now))}</div>
  </section>`;
}

function usageRow(a: Account, now: number): Html {
  const t = a.timeline;
  const from = t ? Date.parse(t.from) : now - 86_400_000;
  const to = t ? Date.parse(t.to) : now;
  const x = (iso: string | null) => Math.round(((Math.min(to, Math.max(from, iso === null ? to : Date.parse(iso))) - from) / (to - from || 1)) * TIMELINE_UNITS * 10) / 10;
  const hhmm = (iso: string | null) => (iso === null ? "now" : `${iso.slice(11, 16)} UTC`);
  return html`<div class="u-acct" data-usage-account="${a.name}" data-state="${a.state}">
<div class="u-head"><span class="a-name">${a.name}</span> <span class="pill ac-${a.state}">${a.state}</span>${figures(a, now).map((f) => html` <span class="u-fig" data-fig="${f[0]}">${f[1]}</span>`)}</div>
<svg class="timeline" viewBox="0 0 ${TIMELINE_UNITS} 14" preserveAspectRatio="none" role="img" aria-label="${a.name}: the last 24 hours">
<rect class="tl-bg" x="0" y="0" width="${TIMELINE_UNITS}" height="14"></rect>
${GRID.map((g) => html`<line class="tl-grid" x1="${g}" x2="${g}" y1="0" y2="14"></line>`)}
${(t?.periods ?? []).map((p) => html`<rect class="tl-period tl-${p.kind}" data-kind="${p.kind}" x="${x(p.from)}" y="${p.kind === "active" ? 1 : 8}" width="${Math.max(1, x(p.to) - x(p.from))}" height="5"><title>${p.kind} ${hhmm(p.from)} – ${hhmm(p.to)}</title></rect>`)}
${(t?.limits ?? []).map((l) => html`<line class="tl-limit" data-limit-kind="${l.kind}" x1="${x(l.at)}" x2="${x(l.at)}" y1="0" y2="14"><title>${l.kind} limit at ${hhmm(l.at)}${l.session ? ` on ${l.session}` : ""}</title></line>`)}
</svg>
<div class="tl-axis muted small">${AXIS.map((label) => html`<span>${label}</span>`)}</div>
</div>`;
}

/** The figures of one account as `[name, text]` pairs (the client script builds the same). */
export function figures(a: Account, now: number): Array<[string, string]> {
  if (a.limits_7d === undefined) return [];
  const last = a.last_limit;
  return [
    ["active", `active ${duration(a.active_today_s ?? 0)} today · ${duration(a.active_7d_s ?? 0)} in 7 d`],
    ["limits", `${a.limits_7d} limit${a.limits_7d === 1 ? "" : "s"} in 7 d`],
    ["tasks", `tasks ${a.tasks_done_today ?? 0} done · ${a.tasks_failed_today ?? 0} failed today (${a.tasks_done_7d ?? 0} · ${a.tasks_failed_7d ?? 0} in 7 d)`],
    ["turns", `turns ${a.turns_today ?? 0} today · ${a.turns_7d ?? 0} in 7 d`],
    ["last-limit", last ? `last limit ${last.kind} ${duration((now - Date.parse(last.at)) / 1000)} ago${last.session ? ` on ${last.session}` : ""}` : "no limit yet"],
  ];
}

/** `0m`, `45m`, `3h 05m`, `2d 4h`. */
export function duration(seconds: number): string {
  const m = Math.max(0, Math.floor(seconds / 60));
  if (m < 60) return `${m}m`;
  if (m < 1440) return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h`;
}

/** Stylesheet of the panel (appended to the dashboard's). */
export const USAGE_CSS = `
.u-acct{padding:.45rem 0;border-bottom:1px solid var(--line)}.u-head{display:flex;flex-wrap:wrap;gap:.2rem .8rem;align-items:baseline;font-size:.85rem}
.u-fig{color:var(--muted)}.timeline{display:block;width:100%;height:1.4rem;margin-top:.3rem;border-radius:3px}
.tl-bg{fill:var(--code)}.tl-period{fill:var(--dead)}.tl-active{fill:var(--working)}.tl-cooling{fill:var(--stalled)}.tl-disabled{fill:var(--idle)}
.tl-limit{stroke:var(--dead);stroke-width:2;vector-effect:non-scaling-stroke}
.tl-grid{stroke:var(--line);stroke-width:1;vector-effect:non-scaling-stroke}
.tl-axis{display:flex;justify-content:space-between}
`;

/** Re-renders `#usage` from each status the main script rendered (`cf:status` on `document`). */
export const USAGE_SCRIPT = `
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg", UNITS = ${TIMELINE_UNITS}, GRID = ${JSON.stringify(GRID)}, AXIS = ${JSON.stringify(AXIS)};
  function el(ns, tag, attrs, kids) {
    var e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k === "cls" ? "class" : k, String(attrs[k])); });
    (kids || []).forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function duration(seconds) {
    var m = Math.max(0, Math.floor(seconds / 60));
    if (m < 60) return m + "m";
    if (m < 1440) return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(m / 1440) + "d " + Math.floor((m % 1440) / 60) + "h";
  }
  function figures(a, now) {
    if (a.limits_7d === undefined) return [];
    var l = a.last_limit;
    return [["active", "active " + duration(a.active_today_s || 0) + " today \\u00b7 " + duration(a.active_7d_s || 0) + " in 7 d"],
      ["limits", a.limits_7d + " limit" + (a.limits_7d === 1 ? "" : "s") + " in 7 d"],
      ["tasks", "tasks " + (a.tasks_done_today || 0) + " done \\u00b7 " + (a.tasks_failed_today || 0) + " failed today (" + (a.tasks_done_7d || 0) + " \\u00b7 " + (a.tasks_failed_7d || 0) + " in 7 d)"],
      ["turns", "turns " + (a.turns_today || 0) + " today \\u00b7 " + (a.turns_7d || 0) + " in 7 d"],
      ["last-limit", l ? "last limit " + l.kind + " " + duration((now - Date.parse(l.at)) / 1000) + " ago" + (l.session ? " on " + l.session : "") : "no limit yet"]];
  }
  function hhmm(iso) { return iso === null ? "now" : new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
  function row(a, now) {
    var t = a.timeline || { from: new Date(now - 86400000).toISOString(), to: new Date(now).toISOString(), periods: [], limits: [] };
    var from = Date.parse(t.from), to = Date.parse(t.to);
    function x(iso) { var ms = iso === null ? to : Date.parse(iso); return Math.round(((Math.min(to, Math.max(from, ms)) - from) / (to - from || 1)) * UNITS * 10) / 10; }
    var svg = el(SVG, "svg", { cls: "timeline", viewBox: "0 0 " + UNITS + " 14", preserveAspectRatio: "none", role: "img", "aria-label": a.name + ": the last 24 hours" },
      [el(SVG, "rect", { cls: "tl-bg", x: 0, y: 0, width: UNITS, height: 14 })].concat(GRID.map(function (g) {
        return el(SVG, "line", { cls: "tl-grid", x1: g, x2: g, y1: 0, y2: 14 });
      })));
    t.periods.forEach(function (p) {
      svg.appendChild(el(SVG, "rect", { cls: "tl-period tl-" + p.kind, "data-kind": p.kind, x: x(p.from), y: p.kind === "active" ? 1 : 8,
        width: Math.max(1, x(p.to) - x(p.from)), height: 5 }, [el(SVG, "title", {}, [p.kind + " " + hhmm(p.from) + " \\u2013 " + hhmm(p.to)])]));
    });
    t.limits.forEach(function (l) {
      svg.appendChild(el(SVG, "line", { cls: "tl-limit", "data-limit-kind": l.kind, x1: x(l.at), x2: x(l.at), y1: 0, y2: 14 },
        [el(SVG, "title", {}, [l.kind + " limit at " + hhmm(l.at) + (l.session ? " on " + l.session : "")])]));
    });
    var head = el(null, "div", { cls: "u-head" }, [el(null, "span", { cls: "a-name" }, [a.name]), " ", el(null, "span", { cls: "pill ac-" + a.state }, [a.state])]);
    figures(a, now).forEach(function (f) { head.appendChild(document.createTextNode(" ")); head.appendChild(el(null, "span", { cls: "u-fig", "data-fig": f[0] }, [f[1]])); });
    return el(null, "div", { cls: "u-acct", "data-usage-account": a.name, "data-state": a.state }, [head, svg,
      el(null, "div", { cls: "tl-axis muted small" }, AXIS.map(function (label) { return el(null, "span", {}, [label]); }))]);
  }
  document.addEventListener("cf:status", function (e) {
    var s = e.detail, box = document.getElementById("usage");
    if (!box) return;
    var now = Date.parse(s.now);
    box.replaceChildren.apply(box, s.accounts.map(function (a) { return row(a, now); }));
  });
})();
`;
