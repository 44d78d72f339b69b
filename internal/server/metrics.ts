/**
 * @module server/metrics
 * A tiny in-process Prometheus registry (counters, gauges, histograms) and its text exposition
 * format 0.0.4. Owns metric names, HELP/TYPE lines, label escaping and bucket maths; it does not
 * serve HTTP (server.ts does) nor decide what to measure (each module records its own samples).
 * Label values must come from small bounded sets (reasons, channels, states): every distinct
 * label set is a series kept for the life of the process.
 */
import { fleetGauges } from "../fleet/view.ts";
import type { AccountState, TaskState } from "../state/state.ts";
import type { SessionStatusState, StatusSnapshot } from "../state/status.ts";

/** Label names to values for one series. */
export type Labels = Record<string, string>;

/** Prometheus metric types this registry knows. */
export type MetricType = "counter" | "gauge" | "histogram";

/** A gauge computed at render time (e.g. from the status snapshot), not stored in the registry. */
export interface ExtraGauge {
  name: string;
  help: string;
  samples: Array<{ labels?: Labels; value: number }>;
}

/** The registry other modules record into and `GET /metrics` renders. */
export interface Metrics {
  /** Adds `by` (default 1, must be ≥ 0) to a counter. */
  inc(name: string, labels?: Labels, by?: number): void;
  /** Sets a gauge. */
  set(name: string, value: number, labels?: Labels): void;
  /** Records one duration in seconds into a histogram ({@link DEFAULT_BUCKETS_SECONDS}). */
  observe(name: string, seconds: number, labels?: Labels): void;
  /** Declares a metric so it is listed with HELP/TYPE even before its first sample. */
  describe(name: string, type: MetricType, help: string): void;
  /** The whole registry, then `extraGauges`, as text exposition format 0.0.4 (ends with a newline). */
  render(extraGauges?: ExtraGauge[]): string;
}

/** Histogram upper bounds, seconds (`+Inf` is implicit). */
export const DEFAULT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** `Content-Type` of the exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Metrics other modules record, declared up front so dashboards see them at zero. */
export const KNOWN_METRICS: ReadonlyArray<readonly [string, MetricType, string]> = [
  ["claude_failover_swaps_total", "counter", "Account swaps requested, by reason."],
  ["claude_failover_detection_latency_seconds", "histogram", "Time from a quota signal appearing to its verdict."],
  ["claude_failover_login_detection_latency_seconds", "histogram", "Time from a lost-login signal appearing to the operator being told."],
  ["claude_failover_dispatch_latency_seconds", "histogram", "Time from a task entering the inbox to its delivery to a session."],
  ["claude_failover_poll_duration_seconds", "histogram", "Duration of one pane/transcript poll cycle."],
  ["claude_failover_notify_queue_depth", "gauge", "Notifications waiting to be sent, by channel."],
  ["claude_failover_notify_failures_total", "counter", "Notification deliveries that failed, by channel."],
  ["claude_failover_limits_total", "counter", "Limits accounts hit, by account and kind (five_hour, weekly, opus, …)."],
  ["claude_failover_account_tasks_total", "counter", "Tasks that ended on an account, by account and result (done, failed)."],
  ["claude_failover_account_turns_total", "counter", "Turns (prompts in a session's transcript) taken on an account."],
];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Series { labels: Labels; value: number; buckets: number[]; sum: number; count: number }
interface Family { type: MetricType; help: string; series: Map<string, Series> }

/** Creates an empty registry with {@link KNOWN_METRICS} described. */
export function createMetrics(): Metrics {
  const families = new Map<string, Family>();

  const family = (name: string, type: MetricType): Family => {
    let f = families.get(name);
    if (!f) {
      if (!METRIC_NAME.test(name)) throw new TypeError(`Cannot record metric: invalid name ${JSON.stringify(name)}`);
      f = { type, help: "", series: new Map() };
      families.set(name, f);
    }
    if (f.type !== type) throw new TypeError(`Cannot record metric: ${name} is a ${f.type}, not a ${type}`);
    return f;
  };
  const series = (f: Family, labels: Labels = {}): Series => {
    const key = labelKey(labels);
    let s = f.series.get(key);
    if (!s) {
      for (const l of Object.keys(labels)) {
        if (!LABEL_NAME.test(l) || l === "le") throw new TypeError(`Cannot record metric: invalid label ${JSON.stringify(l)}`);
      }
      s = { labels: { ...labels }, value: 0, buckets: DEFAULT_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
      f.series.set(key, s);
    }
    return s;
  };

  const metrics: Metrics = {
    inc(name, labels, by = 1) {
      if (!(by >= 0)) throw new RangeError(`Cannot increment counter ${name}: increment ${by} is negative`);
      series(family(name, "counter"), labels).value += by;
    },
    set(name, value, labels) {
      series(family(name, "gauge"), labels).value = value;
    },
    observe(name, seconds, labels) {
      const s = series(family(name, "histogram"), labels);
      DEFAULT_BUCKETS_SECONDS.forEach((le, i) => { if (seconds <= le) s.buckets[i]! += 1; });
      s.sum += seconds;
      s.count += 1;
    },
    describe(name, type, help) {
      family(name, type).help = help;
    },
    render(extraGauges = []) {
      const out: string[] = [];
      for (const [name, f] of families) {
        header(out, name, f.type, f.help);
        for (const s of f.series.values()) {
          if (f.type !== "histogram") { out.push(sample(name, s.labels, s.value)); continue; }
          DEFAULT_BUCKETS_SECONDS.forEach((le, i) => out.push(sample(`${name}_bucket`, { ...s.labels, le: formatValue(le) }, s.buckets[i]!)));
          out.push(sample(`${name}_bucket`, { ...s.labels, le: "+Inf" }, s.count));
          out.push(sample(`${name}_sum`, s.labels, s.sum), sample(`${name}_count`, s.labels, s.count));
        }
      }
      for (const g of extraGauges) {
        if (families.has(g.name) || !METRIC_NAME.test(g.name)) continue;
        header(out, g.name, "gauge", g.help);
        for (const s of g.samples) out.push(sample(g.name, s.labels ?? {}, s.value));
      }
      return out.join("\n") + "\n";
    },
  };
  for (const [name, type, help] of KNOWN_METRICS) metrics.describe(name, type, help);
  return metrics;
}

function header(out: string[], name: string, type: MetricType, help: string): void {
  if (help) out.push(`# HELP ${name} ${help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`);
  out.push(`# TYPE ${name} ${type}`);
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`;
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return String(value).replaceAll("\\", "\\\\").replaceAll("\"", "\\\"").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

const SESSION_STATES = ["starting", "idle", "working", "stalled", "dead", "retiring"] as const satisfies readonly SessionStatusState[];
const TASK_STATES = ["queued", "running", "done", "failed", "stalled"] as const satisfies readonly TaskState[];
const ACCOUNT_STATES = ["available", "cooling", "disabled", "needs_login"] as const satisfies readonly AccountState[];

/** Gauges computed from the current status snapshot (every state listed, zeros included). */
export function statusGauges(snapshot: StatusSnapshot, version: string): ExtraGauge[] {
  const byState = <S extends string>(states: readonly S[], items: Array<{ state: S }>) =>
    states.map((state) => ({ labels: { state }, value: items.filter((i) => i.state === state).length }));
  const flag = (value: boolean) => [{ value: value ? 1 : 0 }];
  return [
    { name: "claude_failover_up", help: "1 while the daemon serves HTTP.", samples: [{ value: 1 }] },
    { name: "claude_failover_build_info", help: "Version of the running daemon.", samples: [{ labels: { version }, value: 1 }] },
    { name: "claude_failover_sessions", help: "Owned sessions, by state.", samples: byState(SESSION_STATES, snapshot.sessions) },
    {
      name: "claude_failover_tasks", help: "Tasks in the store, by state.",
      samples: TASK_STATES.map((state) => ({ labels: { state }, value: snapshot.tasks[state] ?? 0 })),
    },
    { name: "claude_failover_accounts", help: "Accounts, by state.", samples: byState(ACCOUNT_STATES, snapshot.accounts) },
    ...accountGauges(snapshot),
    { name: "claude_failover_swapping", help: "1 while a swap is in progress.", samples: flag(snapshot.swapping) },
    { name: "claude_failover_paused", help: "1 while dispatch is paused by the operator.", samples: flag(snapshot.paused) },
    { name: "claude_failover_exhausted", help: "1 while every account is cooling or disabled.", samples: flag(snapshot.exhausted) },
    ...fleetGauges(snapshot.fleet),
  ];
}

/** Per-account gauges: 1 for the state each account is in (0 for the others), and its time active. */
function accountGauges(snapshot: StatusSnapshot): ExtraGauge[] {
  return [
    {
      name: "claude_failover_account_state", help: "1 for the state each account is in, 0 for the others.",
      samples: snapshot.accounts.flatMap((a) => ACCOUNT_STATES.map((state) => ({ labels: { account: a.name, state }, value: a.state === state ? 1 : 0 }))),
    },
    {
      name: "claude_failover_account_active_seconds", help: "Seconds sessions ran on each account, today (UTC) and over the last 7 days.",
      samples: snapshot.accounts.flatMap((a) => [
        { labels: { account: a.name, window: "today" }, value: a.active_today_s ?? 0 },
        { labels: { account: a.name, window: "7d" }, value: a.active_7d_s ?? 0 },
      ]),
    },
  ];
}
