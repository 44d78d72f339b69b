/**
 * @module notify
 * The notifier: `send(event)` queues and returns at once, so nothing that matters (a swap, a dispatch) ever waits on
 * a chat app or a mail API. Owns one bounded queue per channel, each drained by its own sequential loop on the injected
 * clock: level routing (the digest and test messages reach every channel), coalescing of repeats into one message with
 * a count, drop policy (oldest info, then warning, never critical), retries with backoff that honour a server's
 * `retryAfterMs` (forever for critical, bounded otherwise), per-channel pacing, and a time-boxed flush at stop. It
 * knows no wire format: channels (one file each: telegram, email, webhook, ntfy, slack, discord) format what they
 * are given and decide only whether a failure is worth retrying, via {@link NotifyError}.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { EVERY_CHANNEL, eventKey, eventLevel, LEVEL_RANK, renderEvent, type Level, type NotifyEvent, type RenderedMessage } from "./events.ts";

/** A destination. `deliver` throws {@link NotifyError} on failure; the notifier owns retrying. */
export interface Channel {
  readonly name: string;
  /** Lowest level this channel receives. */
  readonly minLevel: Level;
  /** Smallest gap between the starts of two requests (Resend allows 2 per second). @default 0 */
  readonly minIntervalMs?: number;
  /** False once the channel has disabled itself (missing or rejected credentials); its queue is dropped. @default true */
  isEnabled?(): boolean;
  /** Sends one message; `signal` aborts when the notifier stops. */
  deliver(message: RenderedMessage, event: NotifyEvent, signal: AbortSignal): Promise<void>;
}

/** A failed delivery. `retryable` separates "the API refused" (4xx) from "try again" (429, 5xx, unreachable). */
export class NotifyError extends Error {
  declare readonly channel: string;
  declare readonly status?: number;
  declare readonly retryAfterMs?: number;
  declare readonly retryable: boolean;

  /** `message` follows the house form (`Cannot send Telegram message: status 429, retry after 30000 ms`), never a secret. */
  constructor(message: string, fields: { channel: string; status?: number; retryAfterMs?: number; retryable: boolean }) {
    super(message);
    this.name = "NotifyError";
    Object.assign(this, fields);
  }
}

/** What the notifier touches. */
export interface NotifierDeps {
  log: Logger;
  clock: Clock;
  channels: Channel[];
}

/** Tuning; every field has a default. */
export interface NotifierOptions {
  /** IANA zone for times in messages. @default "UTC" */
  timeZone?: string;
  /** Messages waiting per channel before the drop policy applies (critical ones are never dropped). @default 200 */
  queueLimit?: number;
  /** A repeat of the same key within this window is merged into one message with a count. @default 60000 */
  coalesceWindowMs?: number;
  /** Delivery attempts for info messages. @default 3 */
  infoAttempts?: number;
  /** Delivery attempts for warning messages (critical ones retry until delivered or stopped). @default 5 */
  warningAttempts?: number;
  /** First retry delay when the server gives none. @default 1000 */
  minBackoffMs?: number;
  /** Largest retry delay when the server gives none. @default 30000 */
  maxBackoffMs?: number;
  /** Random in [0,1) for jitter. @default Math.random */
  random?: () => number;
}

/** Per-channel counters keyed by channel name: waiting now, delivered, given up on, dropped (queue bound, disabled, stop). */
export type NotifierStats = Record<"queued" | "sent" | "failed" | "dropped", Record<string, number>>;

/** The notifier's surface. */
export interface Notifier {
  /** Queues `event` for every channel whose `minLevel` it reaches, and returns at once. Never throws. */
  send(event: NotifyEvent): void;
  /** Starts one delivery loop per channel. */
  start(): void;
  /**
   * Flushes for up to `timeoutMs`: critical messages are retried until then; others get one try while the channel
   * is up. Then aborts; whatever is left is counted as dropped (lost critical ones are logged).
   */
  stop(timeoutMs?: number): Promise<void>;
  stats(): NotifierStats;
}

export const QUEUE_LIMIT = 200;
export const COALESCE_WINDOW_MS = 60_000;
export const INFO_ATTEMPTS = 3;
export const WARNING_ATTEMPTS = 5;
export const MIN_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 30_000;
export const STOP_TIMEOUT_MS = 3_000;
/** While stopping, a critical message is retried at least this often, whatever the backoff says. */
export const STOP_RETRY_MS = 250;

interface Entry { key: string; event: NotifyEvent; level: Level; count: number; firstAt: number; notBefore: number; attempts: number }
interface Lane {
  channel: Channel;
  queue: Entry[];
  /** The queued entry repeats of a key merge into. */
  byKey: Map<string, Entry>;
  /** When each key was last handed to the channel, for holding repeats back. */
  lastStart: Map<string, number>;
  failures: number; downSince: number; retryAt: number; lastAttemptAt: number; overflowLogged: boolean;
  wake: () => void;
  sent: number; failed: number; dropped: number;
}

/** Creates a {@link Notifier} over `deps.channels`. */
export function createNotifier(deps: NotifierDeps, options: NotifierOptions = {}): Notifier {
  const { clock } = deps;
  const log = deps.log.child({ module: "notify" });
  const timeZone = options.timeZone ?? "UTC";
  const limit = options.queueLimit ?? QUEUE_LIMIT;
  const window = options.coalesceWindowMs ?? COALESCE_WINDOW_MS;
  const random = options.random ?? Math.random;
  const attemptsFor = (level: Level) =>
    level === "critical" ? Infinity : level === "warning" ? options.warningAttempts ?? WARNING_ATTEMPTS : options.infoAttempts ?? INFO_ATTEMPTS;
  const backoff = (failures: number) =>
    Math.min(options.maxBackoffMs ?? MAX_BACKOFF_MS, (options.minBackoffMs ?? MIN_BACKOFF_MS) * 2 ** (failures - 1)) * (0.75 + random() * 0.5);
  const lanes: Lane[] = deps.channels.map((channel) => ({
    channel, queue: [], byKey: new Map(), lastStart: new Map(), failures: 0, downSince: 0, retryAt: 0, lastAttemptAt: -Infinity,
    overflowLogged: false, wake: () => {}, sent: 0, failed: 0, dropped: 0,
  }));
  const abort = new AbortController();
  let loops: Promise<void>[] | null = null;
  let stopping = false;
  let stopped: Promise<void> | null = null;

  const enabled = (lane: Lane) => lane.channel.isEnabled?.() ?? true;

  function remove(lane: Lane, entry: Entry) {
    const i = lane.queue.indexOf(entry);
    if (i >= 0) lane.queue.splice(i, 1);
    if (lane.byKey.get(entry.key) === entry) lane.byKey.delete(entry.key);
  }

  function merge(into: Entry, event: NotifyEvent, level: Level, count: number) {
    into.count += count;
    into.event = event;
    if (LEVEL_RANK[level] > LEVEL_RANK[into.level]) into.level = level;
  }

  /** Applies the drop policy before adding a `level` entry; false when the newcomer itself is the one to drop. */
  function makeRoom(lane: Lane, level: Level): boolean {
    if (lane.queue.length < limit) return true;
    if (!lane.overflowLogged) log.warn("notification queue full, dropping", { channel: lane.channel.name, limit });
    lane.overflowLogged = true;
    for (const victim of ["info", "warning"] as const) {
      const oldest = lane.queue.find((e) => e.level === victim);
      if (oldest) {
        remove(lane, oldest);
        lane.dropped++;
        return true;
      }
      if (level === victim) return false;
    }
    return true; // critical: never dropped, the queue may pass its limit
  }

  function enqueue(lane: Lane, event: NotifyEvent, level: Level, key: string, now: number) {
    const queued = lane.byKey.get(key);
    if (queued && now - queued.firstAt < window) return merge(queued, event, level, 1);
    const lastStart = lane.lastStart.get(key);
    const notBefore = lastStart !== undefined && now - lastStart < window ? lastStart + window : now;
    if (!makeRoom(lane, level)) {
      lane.dropped++;
      return;
    }
    const entry: Entry = { key, event, level, count: 1, firstAt: now, notBefore, attempts: 0 };
    lane.queue.push(entry);
    lane.byKey.set(key, entry);
  }

  /** Puts a failed entry back at the front, absorbing any repeat that was held back while it was in flight. */
  function requeue(lane: Lane, entry: Entry) {
    const held = lane.byKey.get(entry.key);
    if (held && held !== entry) {
      remove(lane, held);
      merge(entry, held.event, held.level, held.count);
    }
    lane.queue.unshift(entry);
    lane.byKey.set(entry.key, entry);
  }

  /** Highest level first, oldest first within a level. While stopping, nothing is held back and only critical
   * messages are tried on a failing channel. */
  function pickReady(lane: Lane, now: number): Entry | undefined {
    let best: Entry | undefined;
    for (const e of lane.queue) {
      if (stopping ? lane.failures > 0 && e.level !== "critical" : e.notBefore > now) continue;
      if (!best || LEVEL_RANK[e.level] > LEVEL_RANK[best.level]) best = e;
    }
    return best;
  }

  /** Resolves after `ms` on the clock (never, when null), or early on `send()` or stop. */
  function wait(lane: Lane, ms: number | null): Promise<void> {
    if (ms !== null && ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = new AbortController();
      const done = () => {
        timer.abort();
        lane.wake = () => {};
        abort.signal.removeEventListener("abort", done);
        resolve();
      };
      lane.wake = done;
      abort.signal.addEventListener("abort", done, { once: true });
      if (ms !== null) void clock.sleep(ms, timer.signal).then(done);
    });
  }

  async function attempt(lane: Lane, entry: Entry) {
    const { channel } = lane;
    remove(lane, entry);
    const startedAt = clock.now();
    lane.lastStart.set(entry.key, startedAt);
    if (lane.lastStart.size > limit) for (const [key, at] of lane.lastStart) if (startedAt - at >= window) lane.lastStart.delete(key);
    lane.lastAttemptAt = startedAt;
    entry.attempts++;
    try {
      await channel.deliver(renderEvent(entry.event, timeZone, entry.count), entry.event, abort.signal);
      lane.sent++;
      if (lane.failures > 0) log.info("notification channel recovered", { channel: channel.name, down_ms: clock.now() - lane.downSince });
      lane.failures = 0;
    } catch (error) {
      if (abort.signal.aborted) {
        lane.dropped++; // cut short by stop(); stop() has already reported what was left
        return;
      }
      const failure = asNotifyError(error, channel.name);
      if (failure.retryable) {
        if (lane.failures++ === 0) lane.downSince = startedAt;
        const delay = failure.retryAfterMs ?? backoff(lane.failures);
        lane.retryAt = clock.now() + (stopping ? Math.min(delay, STOP_RETRY_MS) : delay);
        const fields = { channel: channel.name, kind: entry.event.kind, status: failure.status, attempt: entry.attempts, retry_in_ms: Math.round(delay), error: failure.message };
        if (lane.failures === 1) log.warn("notification delivery failed", fields);
        else log.debug("notification delivery failed", fields);
      } else {
        lane.failures = 0;
      }
      const again = failure.retryable && entry.attempts < attemptsFor(entry.level) && (!stopping || entry.level === "critical");
      if (again) return requeue(lane, entry);
      lane.failed++;
      log.error("notification not delivered", {
        channel: channel.name, kind: entry.event.kind, event_level: entry.level, status: failure.status, attempts: entry.attempts, error: failure.message,
      });
    }
  }

  async function run(lane: Lane): Promise<void> {
    while (!abort.signal.aborted) {
      if (!enabled(lane)) {
        lane.dropped += lane.queue.length;
        lane.queue = [];
        lane.byKey.clear();
        await wait(lane, null);
        continue;
      }
      if (lane.queue.length === 0) lane.overflowLogged = false;
      const now = clock.now();
      const entry = pickReady(lane, now);
      if (stopping && !entry) return;
      const due = Math.max(lane.retryAt, lane.lastAttemptAt + (lane.channel.minIntervalMs ?? 0));
      if (entry && due <= now) await attempt(lane, entry);
      else if (entry) await wait(lane, due - now);
      else await wait(lane, lane.queue.length ? Math.min(...lane.queue.map((e) => e.notBefore)) - now : null);
    }
  }

  function start() {
    loops ??= lanes.map((lane) =>
      run(lane).catch((error) => log.error("notification loop crashed", { channel: lane.channel.name, error })));
  }

  return {
    start,
    send(event) {
      if (stopped) return;
      try {
        const level = eventLevel(event);
        const key = eventKey(event);
        const now = clock.now();
        for (const lane of lanes) {
          const wanted = LEVEL_RANK[level] >= LEVEL_RANK[lane.channel.minLevel] || EVERY_CHANNEL.has(event.kind);
          if (!wanted || !enabled(lane)) continue;
          enqueue(lane, event, level, key, now);
          lane.wake();
        }
      } catch (error) {
        log.error("notification not queued", { kind: event?.kind, error });
      }
    },
    stop(timeoutMs = STOP_TIMEOUT_MS) {
      stopped ??= (async () => {
        stopping = true;
        const now = clock.now();
        for (const lane of lanes) lane.retryAt = Math.min(lane.retryAt, now + STOP_RETRY_MS);
        start();
        for (const lane of lanes) lane.wake();
        const timer = new AbortController();
        if (timeoutMs > 0) await Promise.race([Promise.all(loops ?? []), clock.sleep(timeoutMs, timer.signal)]);
        timer.abort();
        abort.abort();
        for (const lane of lanes) {
          const critical = lane.queue.filter((e) => e.level === "critical").length;
          if (critical > 0) log.error("critical notifications lost at stop", { channel: lane.channel.name, count: critical });
          lane.dropped += lane.queue.length;
          lane.queue = [];
          lane.byKey.clear();
        }
      })();
      return stopped;
    },
    stats() {
      const by = (f: (lane: Lane) => number) => Object.fromEntries(lanes.map((lane) => [lane.channel.name, f(lane)]));
      return { queued: by((l) => l.queue.length), sent: by((l) => l.sent), failed: by((l) => l.failed), dropped: by((l) => l.dropped) };
    },
  };
}

/** Replaces each secret (and anything shaped like a Telegram bot token) in `text` with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join("[redacted]");
  return out.replace(/\d{5,}:[A-Za-z0-9_-]{20,}/g, "[redacted]");
}

function asNotifyError(error: unknown, channel: string): NotifyError {
  if (error instanceof NotifyError) return error;
  const name = error instanceof Error ? error.name : typeof error;
  return new NotifyError(`Cannot deliver notification: unexpected ${name}`, { channel, retryable: false });
}
