/**
 * @module notify/digest
 * The daily digest: at `notifications.digest_at` in `notifications.timezone`, one `daily_digest` event summarising
 * the 24 hours before, read from the store: per account the limits hit (quota swaps away from it, and entries into
 * exhausted mode while it was active) and the time it was the active account (from the swap journal); tasks done and
 * failed; the swaps. {@link summarize} is the pure core; this file only schedules it on the clock and reads the store.
 * Sending is the notifier's (queued, never blocking); rendering is events.ts.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store, SwapRow, TaskRow } from "../state/state.ts";
import type { EventData, NotifyEvent } from "./events.ts";

/** What the digest reads and where it sends. */
export interface DigestDeps {
  store: Pick<Store, "accounts" | "tasks" | "recentSwaps" | "events">;
  clock: Clock;
  log: Logger;
  send(event: NotifyEvent): void;
  /** The active account now: the whole period's, when no swap says otherwise. */
  activeAccount(): string | null;
}

/** When, and over what. */
export interface DigestOptions {
  /** `HH:MM`; undefined: no digest. */
  at?: string;
  /** IANA zone of `at`. @default "UTC" */
  timeZone?: string;
  /** Length of the period summarised. @default 86400000 (24 hours) */
  periodMs?: number;
}

/** The digest's loop. */
export interface Digest {
  /** Sends a digest at every occurrence of `at` until `signal` aborts; does nothing without `at`. */
  start(signal: AbortSignal): void;
  /** Builds the digest of the period ending `until` (used by the loop; exposed for tests). */
  build(until: number): NotifyEvent;
}

export const DIGEST_PERIOD_MS = 86_400_000;
/** Most swaps and tasks read back from the store for one digest. */
const READ_LIMIT = 100_000;
const EVENT_PAGE = 1_000;

/** What {@link summarize} reads: the store's rows, already fetched. */
export interface DigestInput {
  since: number;
  until: number;
  /** Account names in priority order. */
  accounts: string[];
  swaps: SwapRow[];
  /** Finished tasks (done or failed); others are ignored. */
  tasks: TaskRow[];
  /** When exhausted mode was entered. */
  exhaustedAt: number[];
  activeNow: string | null;
}

/** Creates the digest scheduler. */
export function createDigest(deps: DigestDeps, options: DigestOptions): Digest {
  const { store, clock } = deps;
  const timeZone = options.timeZone ?? "UTC";
  const period = options.periodMs ?? DIGEST_PERIOD_MS;
  let eventCursor = 0;

  /** Times exhausted mode was entered up to `until`, reading the event log from where the last digest stopped. */
  const exhaustedUntil = (until: number) => {
    const times: number[] = [];
    for (;;) {
      const page = store.events(eventCursor, EVENT_PAGE);
      for (const e of page) {
        if (e.at > until) return times;
        if (e.kind === "accounts_exhausted") times.push(e.at);
        eventCursor = e.id;
      }
      if (page.length < EVENT_PAGE) return times;
    }
  };

  const build = (until: number): NotifyEvent => {
    const since = until - period;
    const data = summarize({
      since, until, accounts: store.accounts().map((a) => a.name), swaps: store.recentSwaps(READ_LIMIT),
      tasks: store.tasks(["done", "failed"], READ_LIMIT), exhaustedAt: exhaustedUntil(until), activeNow: deps.activeAccount(),
    });
    return { kind: "daily_digest", at: until, ...data };
  };

  return {
    build,
    start(signal) {
      const at = options.at;
      if (!at) return;
      void (async () => {
        while (!signal.aborted) {
          const due = nextOccurrence(at, timeZone, clock.now());
          await clock.sleep(due - clock.now(), signal);
          if (signal.aborted) return;
          try {
            const digest = build(due);
            deps.send(digest);
            deps.log.info("daily digest queued", { since: new Date(due - period).toISOString() });
          } catch (error) {
            deps.log.error("daily digest failed", { error });
          }
        }
      })();
    },
  };
}

/** The digest's numbers for `[since, until)`, from the store's rows. Pure. */
export function summarize(input: DigestInput): EventData["daily_digest"] {
  const { since, until } = input;
  const within = (t: number | null) => t !== null && t >= since && t < until;
  const done = input.swaps.filter((s) => s.step === "done").sort((a, b) => a.updatedAt - b.updatedAt);
  const before = done.filter((s) => s.updatedAt < since).at(-1);
  const during = done.filter((s) => within(s.updatedAt));
  // The account active at `since`: the last swap before says; else the first swap after came from it; else it is today's.
  const timeline: Array<{ from: number; account: string | null }> = [{ from: since, account: before?.toAccount ?? during[0]?.fromAccount ?? input.activeNow }];
  for (const s of during) timeline.push({ from: s.updatedAt, account: s.toAccount });
  const activeAt = (t: number) => timeline.filter((x) => x.from <= t).at(-1)?.account ?? null;

  const limits = new Map<string, number>();
  const active = new Map<string, number>();
  const add = (map: Map<string, number>, key: string | null, n: number) => key && map.set(key, (map.get(key) ?? 0) + n);
  timeline.forEach((x, i) => add(active, x.account, (timeline[i + 1]?.from ?? until) - x.from));
  const swaps = input.swaps.filter((s) => within(s.requestedAt)).sort((a, b) => a.requestedAt - b.requestedAt);
  for (const s of swaps) if (s.reason === "quota") add(limits, s.fromAccount, 1);
  for (const t of input.exhaustedAt) if (within(t)) add(limits, activeAt(t), 1);

  const finished = input.tasks.filter((t) => within(t.finishedAt)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
  const failed = finished.filter((t) => t.state === "failed");
  return {
    since,
    accounts: input.accounts.map((account) => ({ account, limits: limits.get(account) ?? 0, active_ms: active.get(account) ?? 0 })),
    tasks_done: finished.filter((t) => t.state === "done").length,
    tasks_failed: failed.length,
    failed: failed.map((t) => ({ project: t.project, file: t.file, reason: t.error ?? "failed" })),
    swaps: swaps.map((s) => ({ at: s.requestedAt, from: s.fromAccount, to: s.toAccount, reason: s.reason, ok: s.step !== "failed" })),
  };
}

/** The first instant after `now` whose wall time in `timeZone` is `hhmm` (`"09:00"`); DST-safe. */
export function nextOccurrence(hhmm: string, timeZone: string, now: number): number {
  const [hour, minute] = hhmm.split(":").map(Number) as [number, number];
  const parts = (at: number) => Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", hourCycle: "h23",
  }).formatToParts(at).map((p) => [p.type, Number(p.value)])) as Record<string, number>;
  const offset = (at: number) => {
    const p = parts(at);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!) - Math.floor(at / 60_000) * 60_000;
  };
  const today = parts(now);
  for (let day = 0; day <= 2; day++) {
    const wall = Date.UTC(today.year!, today.month! - 1, today.day! + day, hour, minute);
    const at = wall - offset(wall - offset(wall));
    if (at > now) return at;
  }
  return now + DIGEST_PERIOD_MS;
}
