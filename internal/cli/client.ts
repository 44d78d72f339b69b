/**
 * @module cli/client
 * The operator commands that talk to a running daemon over its HTTP API (`status`, `accounts`, `tasks`, `swap`,
 * `pause`, `resume`, `accounts disable|enable`), and the plain-text rendering of what they get back. Fails with a
 * clear message when the daemon is not running. Never reads the config itself: the caller gives the URL and token.
 */
import { fleetLines } from "../fleet/view.ts";
import type { StatusSnapshot } from "../state/status.ts";
import type { TaskRow } from "../state/state.ts";
import { formatDuration } from "../notify/events.ts";

/** The daemon could not be reached or refused the request. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(message: string, readonly status: number | null) {
    super(message);
  }
}

/** A small client for the daemon's HTTP API. */
export interface ApiClient {
  status(): Promise<StatusSnapshot>;
  tasks(): Promise<TaskRow[]>;
  post(path: string, body?: unknown): Promise<{ ok: boolean; message: string }>;
}

/** Creates an {@link ApiClient} for `baseUrl` (e.g. `http://127.0.0.1:8787`). */
export function createApiClient(baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): ApiClient {
  const call = async (path: string, init?: RequestInit) => {
    let response: Response;
    try {
      response = await fetchImpl(`${baseUrl}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    } catch {
      throw new ApiError(`Cannot reach the daemon at ${baseUrl}: is it running? (systemctl status claude-failover)`, null);
    }
    const body = (await response.json().catch(() => null)) as { message?: string } | null;
    if (response.status === 401) throw new ApiError(`The daemon refused the request: set the API token in the variable named by http.token_env`, 401);
    if (!response.ok && !body?.message) throw new ApiError(`The daemon answered ${response.status} for ${path}`, response.status);
    return { status: response.status, body };
  };
  const auth = { Authorization: `Bearer ${token}` };
  /** A read: its body on success; the daemon's own message as an ApiError otherwise. */
  const read = async (path: string, init?: RequestInit) => {
    const { status, body } = await call(path, init);
    if (status >= 400) throw new ApiError(`The daemon refused ${path}: ${body?.message ?? status}`, status);
    return body;
  };
  return {
    status: async () => (await read("/status")) as unknown as StatusSnapshot,
    // Prompts are private: the task list needs the token like the control routes.
    tasks: async () => (await read("/tasks", { headers: auth })) as unknown as TaskRow[],
    async post(path, body) {
      const { body: answer } = await call(path, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify(body ?? {}),
      });
      return { ok: Boolean((answer as { ok?: boolean } | null)?.ok), message: answer?.message ?? "" };
    },
  };
}

/** Formats the time until `iso` as `2h 05m`, `45m`, `now`. */
export function countdown(iso: string | null, now: number): string {
  if (!iso) return "-";
  const ms = Date.parse(iso) - now;
  if (ms <= 0) return "now";
  const minutes = Math.ceil(ms / 60_000);
  const h = Math.floor(minutes / 60);
  return h ? `${h}h ${String(minutes % 60).padStart(2, "0")}m` : `${minutes}m`;
}

/** Renders rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** The human-readable `claude-failover status`. */
export function renderStatus(s: StatusSnapshot, now: number): string {
  const flags = [s.swapping && "SWAPPING", s.paused && "PAUSED", s.exhausted && `EXHAUSTED until ${s.wake_at}`].filter(Boolean).join(" ");
  const out = [`claude-failover ${s.version} · active account: ${s.active_account ?? "-"}${flags ? ` · ${flags}` : ""}`, ""];
  out.push(renderAccounts(s, now), "");
  out.push(table(["SESSION", "KIND", "STATE", "ACCOUNT", "TASK", "CONVERSATION"],
    s.sessions.map((x) => [x.name, x.kind, x.state, x.account ?? "-", x.task ?? "-", x.session_id ?? "-"])), "");
  const t = s.tasks;
  out.push(`tasks: ${t.queued} queued · ${t.running} running · ${t.done} done · ${t.failed} failed · ${t.stalled} stalled`);
  const last = s.last_swap;
  out.push(last
    ? `last swap: ${last.at} ${last.from ?? "-"} → ${last.to ?? "-"} (${last.reason}${last.limit ? ` ${last.limit}` : ""}, ${last.step})${last.trigger_session ? ` trigger ${last.trigger_session}` : ""}${last.snippet ? `\n  "${last.snippet}"` : ""}`
    : "last swap: none");
  if (s.placement === "spread") {
    const moved = (last?.sessions ?? []).filter((x) => x.to).map((x) => `${x.name} → ${x.to}`);
    out.push(`placement: spread${moved.length ? ` · last swap moved ${moved.join(", ")}` : ""}`);
  }
  const hosts = fleetLines(s.fleet);
  if (hosts.length) out.push("", ...hosts);
  return out.join("\n");
}

/** The accounts table (also `claude-failover accounts`), then the fix for each account that needs a login. */
export function renderAccounts(s: StatusSnapshot, now: number): string {
  const rows = table(["ACCOUNT", "STATE", "RESETS IN", "HOME"], s.accounts.map((a) => [
    (a.name === s.active_account ? "* " : "  ") + a.name, a.state, a.state === "cooling" ? countdown(a.reset_at, now) : "-", a.home,
  ]));
  const fixes = s.accounts.filter((a) => a.state === "needs_login")
    .map((a) => `${a.name} needs a login: run ${a.login_fix ?? `CLAUDE_CONFIG_DIR=${a.home} claude`}, then /login in it; then claude-failover accounts enable ${a.name}`);
  // Per-model limits (quota.on_model_limit: fallback): the account stays usable, one of its models does not.
  const models = s.accounts.flatMap((a) => (a.models ?? []).map((m) => `${a.name}: ${m.model} limited, resets in ${countdown(m.reset_at, now)} (sessions on the fallback model)`));
  return [rows, ...fixes, ...models].join("\n");
}

/**
 * `claude-failover accounts`: each account's state and usage at a glance: the last limit (kind, how long ago, which
 * session), limits in 7 days, time active today (UTC) and over 7 days, tasks done and failed, turns. A daemon too old
 * to report usage shows `-` in those columns.
 */
export function renderAccountUsage(s: StatusSnapshot, now: number): string {
  const pair = (today: number | undefined, week: number | undefined) => (today === undefined || week === undefined ? "-" : `${today}/${week}`);
  const time = (seconds: number | undefined) => (seconds === undefined ? "-" : formatDuration(seconds * 1000));
  const lastLimit = (l: StatusSnapshot["accounts"][number]["last_limit"]) =>
    l ? `${l.kind} ${formatDuration(now - Date.parse(l.at))} ago${l.session ? ` on ${l.session}` : ""}` : "-";
  return table(
    ["ACCOUNT", "STATE", "RESETS IN", "LAST LIMIT", "LIMITS 7D", "ACTIVE TODAY", "ACTIVE 7D", "DONE TODAY/7D", "FAILED TODAY/7D", "TURNS TODAY/7D", "HOME"],
    s.accounts.map((a) => [
      (a.name === s.active_account ? "* " : "  ") + a.name, a.state, a.state === "cooling" ? countdown(a.reset_at, now) : "-",
      lastLimit(a.last_limit), a.limits_7d === undefined ? "-" : String(a.limits_7d), time(a.active_today_s), time(a.active_7d_s),
      pair(a.tasks_done_today, a.tasks_done_7d), pair(a.tasks_failed_today, a.tasks_failed_7d), pair(a.turns_today, a.turns_7d), a.home,
    ]));
}

/** The task list (`claude-failover tasks`). */
export function renderTasks(tasks: TaskRow[]): string {
  if (!tasks.length) return "no tasks";
  return table(["ID", "STATE", "PRIO", "PROJECT", "FILE", "SESSION", "ERROR"], tasks.map((t) => [
    String(t.id), t.state, String(t.priority), t.project, t.file, t.session ?? "-", (t.error ?? "").slice(0, 60),
  ]));
}
