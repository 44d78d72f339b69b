/**
 * @module server/dashboard-fleet
 * The dashboard's Hosts card (`#hosts`, docs/fleet.md "Fleet view"): each host of the fleet with its heartbeat age,
 * version, whether it is degraded, and its sessions (state, account, shared task). Shown only when the fleet has more
 * than one host (a single host has nothing new to show); `hidden` otherwise, so {@link FLEET_SCRIPT} can reveal it
 * when a second host appears. Server-rendered here, re-rendered by the script on each `cf:status` event the main
 * dashboard script dispatches. Owns no data: it draws `fleet` of `/status`.
 * The script is plain ES2020 in a string: keep it free of backticks and dollar-brace sequences.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { FleetStatus, StatusSnapshot } from "../state/status.ts";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
type Host = FleetStatus["hosts"][number];

/** Whether the card is shown: more than one host in the fleet. */
export const showHostsCard = (fleet: FleetStatus | undefined): boolean => (fleet?.hosts.length ?? 0) > 1;

/** The Hosts card for `snapshot` (hidden while the fleet has one host or none). */
export function hostsPanel(snapshot: StatusSnapshot): Html {
  const fleet = snapshot.fleet;
  const shown = showHostsCard(fleet);
  return html`<section class="panel wide" id="hosts-panel" ${shown ? "" : "hidden"}>
    <h2>Hosts <span class="count" id="hosts-count">${fleet?.hosts.length ?? 0}</span> <span class="muted small" id="hosts-backend">${fleet ? `${fleet.backend}${fleet.degraded ? ` · degraded since ${fleet.degraded.since}: ${fleet.degraded.reason}` : ""}` : ""}</span></h2>
    <div id="hosts">${shown && fleet ? fleet.hosts.map((h) => hostRow(h, fleet.host)) : ""}</div>
  </section>`;
}

function hostRow(h: Host, self: string): Html {
  return html`<div class="h-host" data-host="${h.name}"${h.degraded ? html` data-degraded="1"` : ""}>
<div class="u-head"><span class="a-name">${h.name}</span>${h.name === self ? html` <span class="tag">this host</span>` : ""} <span class="u-fig" data-fig="heartbeat">heartbeat ${h.heartbeat_age_s}s ago</span> <span class="u-fig">v${h.version}</span>${h.degraded ? html` <span class="pill ac-cooling">degraded</span>` : ""}</div>
<ul class="h-sessions">${h.sessions.map((x) => html`<li data-host-session="${x.name}"><span class="pill">${x.state}</span> ${x.name} <span class="muted">${x.account ?? "—"}${x.task_id !== null ? ` · task #${x.task_id}` : ""}</span></li>`)}</ul>
</div>`;
}

export const FLEET_CSS = `
.h-host{padding:.45rem 0;border-bottom:1px solid var(--line)}.h-sessions{list-style:none;margin:.25rem 0 0;padding:0;font-size:.8rem}
`;

/** Re-renders `#hosts` from each status the main script rendered (`cf:status` on `document`). */
export const FLEET_SCRIPT = `
"use strict";
(function () {
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k === "cls" ? "class" : k, String(attrs[k])); });
    (kids || []).forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function host(h, self) {
    var head = el("div", { cls: "u-head" }, [el("span", { cls: "a-name" }, [h.name]),
      h.name === self ? el("span", { cls: "tag" }, ["this host"]) : null,
      el("span", { cls: "u-fig", "data-fig": "heartbeat" }, ["heartbeat " + h.heartbeat_age_s + "s ago"]),
      el("span", { cls: "u-fig" }, ["v" + h.version]),
      h.degraded ? el("span", { cls: "pill ac-cooling" }, ["degraded"]) : null]);
    var list = el("ul", { cls: "h-sessions" }, h.sessions.map(function (x) {
      return el("li", { "data-host-session": x.name }, [el("span", { cls: "pill" }, [x.state]), " " + x.name + " ",
        el("span", { cls: "muted" }, [(x.account || "\\u2014") + (x.task_id !== null ? " \\u00b7 task #" + x.task_id : "")])]);
    }));
    var attrs = { cls: "h-host", "data-host": h.name };
    if (h.degraded) attrs["data-degraded"] = "1";
    return el("div", attrs, [head, list]);
  }
  document.addEventListener("cf:status", function (e) {
    var f = e.detail.fleet, panel = document.getElementById("hosts-panel"), box = document.getElementById("hosts");
    if (!panel || !box) return;
    var shown = !!f && f.hosts.length > 1;
    panel.hidden = !shown;
    document.getElementById("hosts-count").textContent = String(f ? f.hosts.length : 0);
    document.getElementById("hosts-backend").textContent = f ? f.backend + (f.degraded ? " \\u00b7 degraded since " + f.degraded.since + ": " + f.degraded.reason : "") : "";
    box.replaceChildren.apply(box, shown ? f.hosts.map(function (h) { return host(h, f.host); }) : []);
  });
})();
`;
