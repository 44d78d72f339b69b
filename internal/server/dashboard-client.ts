/**
 * @module server/dashboard-client
 * The dashboard's inline stylesheet and browser script, as strings (no build step, no external
 * assets). The script listens to `/events` (SSE), re-renders the page's panels from each `status`
 * event with `createElement`/`textContent` only (never `innerHTML` with data) and then dispatches it on `document`
 * as `cf:status` for panels drawn by their own script (dashboard-usage.ts), ticks the reset
 * countdowns, appends `log` events, and posts Swap/Pause/Resume with the bearer token the operator
 * typed once (kept in `sessionStorage`). It mirrors the markup of `dashboard.ts`; it owns no data.
 * The script is plain ES2020 in a string: keep it free of backticks and dollar-brace sequences.
 */

/** Inline stylesheet: responsive grid, readable on a phone, light and dark. */
export const DASHBOARD_CSS = `
:root{--bg:#f5f6f8;--fg:#1b1f24;--muted:#66707c;--panel:#fff;--line:#dde1e6;--code:#eef0f3;
--starting:#2f6fdf;--idle:#6b7785;--working:#17914a;--stalled:#c77a06;--dead:#d0342c}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--fg:#e6e9ed;--muted:#98a2ae;--panel:#1a1e24;--line:#2c323a;--code:#232830}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
h1{font-size:1.15rem;margin:0}h2{font-size:1rem;margin:0 0 .6rem}
.top{display:flex;flex-wrap:wrap;gap:.6rem 1.2rem;align-items:center;padding:.8rem 1rem;background:var(--panel);border-bottom:1px solid var(--line)}
.brand{display:flex;gap:.5rem;align-items:baseline}.active strong{font-size:1.1rem}
.badges{display:flex;gap:.4rem;flex-wrap:wrap}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;color:#fff;background:var(--idle)}
.b-ok{background:var(--working)}.b-swapping{background:var(--starting)}.b-paused{background:var(--stalled)}.b-exhausted{background:var(--dead)}
.conn[data-conn=live]{background:var(--working)}.conn[data-conn=reconnecting]{background:var(--dead)}
.controls{display:flex;gap:.4rem;flex-wrap:wrap;align-items:center;margin-left:auto}
button,select{font:inherit;padding:.35rem .8rem;border-radius:6px;border:1px solid var(--line);background:var(--panel);color:var(--fg);cursor:pointer}
button:hover{border-color:var(--muted)}button.danger{border-color:var(--dead);color:var(--dead)}button:disabled{opacity:.5;cursor:wait}
.result{flex-basis:100%;margin:0;min-height:1.2em;font-size:.9rem}.result.ok{color:var(--working)}.result.fail{color:var(--dead)}
.grid{display:grid;gap:1rem;padding:1rem;grid-template-columns:minmax(0,1fr)}
@media (min-width:800px){.grid{grid-template-columns:repeat(2,minmax(0,1fr))}}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem;min-width:0}
.wide{grid-column:1/-1}.count{color:var(--muted);font-weight:400}
.sessions{display:grid;gap:.6rem;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr))}
.session{--c:var(--idle);border:1px solid var(--line);border-left:5px solid var(--c);border-radius:8px;padding:.5rem .6rem;
background:color-mix(in srgb,var(--c) 8%,var(--panel))}
.st-starting{--c:var(--starting)}.st-idle{--c:var(--idle)}.st-working{--c:var(--working)}.st-stalled{--c:var(--stalled)}.st-dead{--c:var(--dead)}
.s-head{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.2rem .4rem;align-items:center}.s-name{font-weight:600;overflow-wrap:anywhere}
.pill{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.75rem;font-weight:600;color:#fff;background:var(--c,var(--idle))}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .5rem;margin:.4rem 0 0;font-size:.85rem}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;font-size:.9rem}th,td{text-align:left;padding:.35rem .3rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500}tr.is-active .a-name{font-weight:700}
.tag{font-size:.7rem;border:1px solid var(--working);color:var(--working);border-radius:4px;padding:0 .3rem}
.ac-available,.tk-done,.step-done{--c:var(--working)}.ac-cooling,.tk-stalled{--c:var(--stalled)}.ac-disabled,.tk-queued{--c:var(--idle)}.ac-needs_login{--c:var(--dead)}.login-fix{color:var(--dead)}
.tk-running{--c:var(--starting)}.tk-failed,.step-failed{--c:var(--dead)}.pill[class*=step-]:not(.step-done):not(.step-failed){--c:var(--starting)}
.chips{display:flex;flex-wrap:wrap;gap:.35rem;margin-bottom:.5rem}.chip{background:var(--code);border-radius:6px;padding:.1rem .5rem;font-size:.85rem}
ol{list-style:none;margin:0;padding:0}.queue-list li,.swaps li,.log li{padding:.35rem 0;border-bottom:1px solid var(--line)}
.swap-meta{display:flex;flex-wrap:wrap;gap:.2rem .9rem;font-size:.85rem;color:var(--muted)}.swap-meta b,.swap-meta code{color:var(--fg)}
.snippet{background:var(--code);padding:.4rem .6rem;border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem;margin:.4rem 0 0}
.error{color:var(--dead);margin:.3rem 0 0}.log{max-height:22rem;overflow:auto;font-size:.85rem}
.log li[data-level=warning]{color:var(--stalled)}.log li[data-level=critical],.log li[data-level=error]{color:var(--dead)}
.log time,.swap-head time{color:var(--muted);font-variant-numeric:tabular-nums}.kind{font-weight:600;margin:0 .3rem}
.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}.muted{color:var(--muted)}.small{font-size:.75rem}
.empty{color:var(--muted);font-style:italic}
@media (max-width:600px){.controls{margin-left:0}.grid{padding:.5rem;gap:.6rem}.top{padding:.6rem}}
`;

/** Inline browser script (see module comment for its contract). */
export const DASHBOARD_SCRIPT = `
"use strict";
(function () {
  var TOKEN_KEY = "claude-failover.api-token";
  var MAX_LOG = 200, QUEUE_PREVIEW = 10, DASH = "\\u2014";
  var skew = 0, renders = 0;
  var $ = function (id) { return document.getElementById(id); };

  function h(tag, attrs, kids) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") el.className = v; else el.setAttribute(k, String(v));
    });
    (kids || []).forEach(function (c) {
      if (c === null || c === undefined || c === false || c === "") return;
      el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return el;
  }
  function fill(el, kids) { el.replaceChildren.apply(el, kids); }
  function pad(n) { return String(n).padStart(2, "0"); }
  function countdown(iso) {
    var ms = Date.parse(iso) - (Date.now() + skew);
    if (!(ms > 0)) return "now";
    var t = Math.floor(ms / 1000), d = Math.floor(t / 86400), hr = Math.floor((t % 86400) / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    if (d > 0) return "in " + d + "d " + hr + "h";
    if (hr > 0) return "in " + hr + "h " + pad(m) + "m " + pad(s) + "s";
    return m > 0 ? "in " + m + "m " + pad(s) + "s" : "in " + s + "s";
  }
  function cd(iso) { return h("span", { class: "countdown", "data-reset-at": iso }, [countdown(iso)]); }
  function when(iso) { var d = new Date(iso); return isNaN(d) ? iso : d.toLocaleString(); }

  function badges(s) {
    var out = [];
    if (s.swapping) out.push(h("span", { class: "badge b-swapping", "data-badge": "swapping" }, ["swapping"]));
    if (s.paused) out.push(h("span", { class: "badge b-paused", "data-badge": "paused" }, ["paused"]));
    if (s.exhausted) out.push(h("span", { class: "badge b-exhausted", "data-badge": "exhausted" },
      ["exhausted", s.wake_at ? " \\u00b7 wakes " : "", s.wake_at ? cd(s.wake_at) : null]));
    if (!out.length) out.push(h("span", { class: "badge b-ok", "data-badge": "ok" }, ["running"]));
    return out;
  }
  function session(x) {
    return h("article", { class: "session st-" + x.state, "data-session": x.name, "data-state": x.state }, [
      h("div", { class: "s-head" }, [h("span", { class: "s-name" }, [x.name]), h("span", { class: "pill" }, [x.state])]),
      h("dl", {}, [h("dt", {}, ["kind"]), h("dd", {}, [x.kind]), h("dt", {}, ["account"]), h("dd", {}, [x.account || DASH]),
        h("dt", {}, ["task"]), h("dd", {}, [x.task || DASH]), h("dt", {}, ["id"]),
        h("dd", { class: "mono", title: x.session_id || "" }, [x.session_id ? x.session_id.slice(0, 8) : DASH])])]);
  }
  function account(a, active) {
    var isActive = a.name === active;
    return h("tr", { "data-account": a.name, "data-state": a.state, class: isActive ? "is-active" : "" }, [
      h("td", {}, [h("span", { class: "a-name" }, [a.name]), isActive ? " " : null, isActive ? h("span", { class: "tag" }, ["active"]) : null,
        h("div", { class: "muted small mono" }, [a.home]), a.login_fix ? h("div", { class: "small mono login-fix" }, ["run " + a.login_fix + ", then /login"]) : null]),
      h("td", {}, [h("span", { class: "pill ac-" + a.state }, [a.state])]),
      h("td", {}, [a.reset_at ? cd(a.reset_at) : DASH].concat((a.models || []).map(function (m) {
        return h("div", { class: "muted small", "data-model": m.model }, [m.model + " limited · ", cd(m.reset_at)]);
      })))]);
  }
  function queue(s) {
    var shown = s.queue.filter(function (t) { return t.state === "queued" || t.state === "running"; }).slice(0, QUEUE_PREVIEW);
    var chips = Object.keys(s.tasks).map(function (k) { return h("span", { class: "chip", "data-task-state": k }, [k + " ", h("b", {}, [s.tasks[k]])]); });
    var items = shown.map(function (t) {
      return h("li", { "data-task-id": t.id, "data-state": t.state }, [h("span", { class: "pill tk-" + t.state }, [t.state]), " ",
        h("span", { class: "mono" }, [t.project + "/" + t.file]), " ", h("span", { class: "muted" }, ["p" + t.priority + (t.session ? " \\u00b7 " + t.session : "")])]);
    });
    return [h("div", { class: "chips" }, chips), h("ol", { class: "queue-list" }, items.length ? items : [h("li", { class: "empty" }, ["queue is empty"])])];
  }
  function swap(x) {
    function field(label, value, code) { return value ? h("span", {}, [label + " ", h(code ? "code" : "b", {}, [value])]) : null; }
    return h("li", { class: "swap", "data-swap-id": x.id, "data-step": x.step }, [
      h("div", { class: "swap-head" }, [h("time", { datetime: x.at }, [when(x.at)]), " ", h("strong", {}, [(x.from || "?") + " \\u2192 " + (x.to || "?")]), " ",
        h("span", { class: "pill step-" + x.step }, [x.step])]),
      h("div", { class: "swap-meta" }, [field("reason", x.reason), field("limit", x.limit), field("session", x.trigger_session), field("signal", x.signal),
        field("pattern", x.pattern, true), x.reset_at ? h("span", {}, ["resets ", cd(x.reset_at)]) : null]),
      x.snippet ? h("pre", { class: "snippet" }, [x.snippet]) : null, x.error ? h("p", { class: "error" }, [x.error]) : null]);
  }

  function render(s) {
    skew = Date.parse(s.now) - Date.now() || 0;
    $("version").textContent = "v" + s.version;
    $("active-account").textContent = s.active_account || "none";
    fill($("badges"), badges(s));
    var sel = $("swap-account"), keep = sel.value;
    fill(sel, [h("option", { value: "" }, ["next available"])].concat(s.accounts.map(function (a) { return h("option", { value: a.name }, [a.name]); })));
    sel.value = s.accounts.some(function (a) { return a.name === keep; }) ? keep : "";
    $("sessions-count").textContent = String(s.sessions.length);
    fill($("sessions"), s.sessions.length ? s.sessions.map(session) : [h("p", { class: "empty" }, ["no owned sessions"])]);
    fill($("accounts").tBodies[0], s.accounts.map(function (a) { return account(a, s.active_account); }));
    fill($("queue"), queue(s));
    fill($("swaps"), s.swaps.length ? s.swaps.map(swap) : [h("li", { class: "empty" }, ["no swaps yet"])]);
    document.dispatchEvent(new CustomEvent("cf:status", { detail: s }));
    document.body.dataset.renders = String(++renders);
  }
  function addLog(e) {
    var log = $("log"), empty = log.querySelector(".empty");
    if (empty) empty.remove();
    log.prepend(h("li", { "data-level": e.level, "data-event-id": e.id }, [h("time", {}, [new Date(e.at).toLocaleTimeString()]),
      h("span", { class: "kind" }, [e.kind]), e.message]));
    while (log.children.length > MAX_LOG) log.lastElementChild.remove();
  }
  function tick() { document.querySelectorAll("[data-reset-at]").forEach(function (el) { el.textContent = countdown(el.getAttribute("data-reset-at")); }); }
  function setConn(state) { var el = $("conn"); el.dataset.conn = state; el.textContent = state; }

  function token() {
    var t = sessionStorage.getItem(TOKEN_KEY);
    if (!t) { t = (window.prompt("API token (kept for this browser tab only)") || "").trim(); if (t) sessionStorage.setItem(TOKEN_KEY, t); }
    return t || null;
  }
  function show(message, ok) { var el = $("action-result"); el.textContent = message; el.className = "result " + (ok ? "ok" : "fail"); }
  function act(path, body) {
    var t = token();
    if (!t) { show("Cancelled: no API token given", false); return; }
    var buttons = document.querySelectorAll(".controls button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(path, { method: "POST", headers: { Authorization: "Bearer " + t, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined })
      .then(function (res) {
        if (res.status === 401) sessionStorage.removeItem(TOKEN_KEY);
        return res.json().catch(function () { return {}; }).then(function (data) { show(data.message || res.status + " " + res.statusText, res.ok); });
      })
      .catch(function (err) { show("Request failed: " + err.message, false); })
      .finally(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  }
  $("btn-swap").addEventListener("click", function () {
    var target = $("swap-account").value;
    if (window.confirm("Swap every owned session to " + (target || "the next available account") + "?")) act("/swap", target ? { account: target } : null);
  });
  $("btn-pause").addEventListener("click", function () { act("/pause"); });
  $("btn-resume").addEventListener("click", function () { act("/resume"); });

  var es = new EventSource("/events");
  es.addEventListener("open", function () { setConn("live"); });
  es.addEventListener("error", function () { setConn("reconnecting"); });
  es.addEventListener("status", function (e) { render(JSON.parse(e.data)); });
  es.addEventListener("log", function (e) { addLog(JSON.parse(e.data)); });
  window.addEventListener("pagehide", function () { es.close(); });
  setInterval(tick, 1000);
})();
`;
