/**
 * @module quota/reset-time
 * Turns the reset times Claude Code prints ("resets 3pm (Europe/Paris)", "Nov 28, 10am", "Jan 2, 2027, 9am",
 * "in 45 minutes", "2h 5m", a legacy "|1764003600" epoch) into epoch milliseconds. Pure: the caller passes `now`
 * and the zone to assume when the text names none. Zone arithmetic goes through `Intl` at the target local date,
 * so DST transitions are honoured; no fixed offsets. Never throws: odd input gives `undefined`.
 * Owns no I/O and no knowledge of which lines are quota lines (see quota/classify.ts).
 */

/**
 * How far in the past a clock time may lie and still count as "today". Claude Code prints the reset truncated to
 * the minute (`3pm` for a reset at 15:00:45), so a displayed time up to a minute old may still be the coming reset;
 * rolling it to tomorrow would keep an account cooling for a day by mistake.
 */
export const RESET_GRACE_MS = 60_000;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const UNIT_MS: Record<string, number> = { d: DAY_MS, h: HOUR_MS, m: MINUTE_MS, s: 1_000 };

/** One relative duration unit as printed ("45 minutes", "2h", "3 hrs"); the first letter picks the unit. */
const UNIT = String.raw`(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)`;
const DURATION = String.raw`(?:\d+ ?${UNIT}\b,? ?(?:and )?)+`;
/** A clock time with an optional date in front and an optional zone behind, as Claude Code formats it. */
const CLOCK = String.raw`(?:[A-Za-z]{3,9}\.? \d{1,2},? (?:\d{4},? )?)?\d{1,2}(?::\d{2})? ?[AaPp][Mm](?: \([^)]+\))?`;

const RELATIVE_RE = new RegExp(String.raw`^(?:in )?(${DURATION})$`, "i");
const DURATION_PART_RE = new RegExp(String.raw`(\d+) ?(${UNIT})\b`, "gi");
const ABSOLUTE_RE = /^(?:([A-Za-z]{3,9})\.? (\d{1,2}),? (?:(\d{4}),? )?)?(\d{1,2})(?::(\d{2}))? ?([ap])m(?: \(([^)]+)\))?$/i;

/** Where a reset time hides in a message line, most specific first; group 1 is handed to {@link parseResetTime}. */
const FIND_RES: RegExp[] = [
  /\|(\d{9,14})\b/,                                                          // legacy "Claude AI usage limit reached|1764003600"
  new RegExp(String.raw`\bresets? (?:at )?(${CLOCK}|in ${DURATION})`, "i"),   // "resets 3pm (Europe/Paris)", "reset at 3pm", "resets in 45 minutes"
  new RegExp(String.raw`\bretry(?:ing)? in [^()·]*?\((${CLOCK})\)`, "i"),     // "retrying in 2h (3pm)": the clock time is exact, "2h" is rounded
  new RegExp(String.raw`\bcontinu(?:e|ing) automatically at (${CLOCK})`, "i"), // 2.1.330 auto-continue lines
  new RegExp(String.raw`limit reached · retrying in (${DURATION})`, "i"),      // a quota retry line without the clock time
];

/**
 * Parses the text after "resets " (e.g. "3pm (Europe/Paris)", "3:30pm", "Nov 28, 10am (UTC)", "Jan 2, 2027, 9am",
 * "in 45 minutes", "2h 5m"), or a legacy epoch (10 digits = seconds, 13 = milliseconds); returns epoch ms or undefined.
 * A time without a date is its next occurrence in the zone; a date without a year is its next occurrence too
 * (on Dec 30, "Jan 2, 9am" is next year). `now` is epoch ms; `defaultZone` is the IANA zone used when the text names
 * none or an unknown one.
 */
export function parseResetTime(text: string, now: number, defaultZone: string): number | undefined {
  try {
    const trimmed = text.trim().replace(/^at /i, "").replace(/[.,;]+$/, "").replace(/\s+/g, " ");
    if (/^\d{9,11}$/.test(trimmed)) return Number(trimmed) * 1_000;
    if (/^\d{12,14}$/.test(trimmed)) return Number(trimmed);
    const relative = RELATIVE_RE.exec(trimmed);
    if (relative) return now + durationMs(relative[1] ?? "");
    const m = ABSOLUTE_RE.exec(trimmed);
    if (!m) return undefined;
    const [, monthWord, dayText, yearText, hourText, minuteText, meridiem, zoneText] = m;
    const hour12 = Number(hourText);
    const minute = minuteText === undefined ? 0 : Number(minuteText);
    if (hour12 < 1 || hour12 > 12 || minute > 59) return undefined;
    const hour = (hour12 % 12) + (meridiem?.toLowerCase() === "p" ? 12 : 0);
    const zone = resolveZone(zoneText, defaultZone);
    if (monthWord === undefined) return nextClockTime(zone, hour, minute, now);
    const month = monthIndex(monthWord);
    const day = Number(dayText);
    if (month === undefined) return undefined;
    if (yearText !== undefined) return validDate(Number(yearText), month, day) ? localToEpoch(zone, Number(yearText), month, day, hour, minute)[0] : undefined;
    return nextDateTime(zone, month, day, hour, minute, now);
  } catch {
    return undefined;
  }
}

/**
 * Finds and parses a reset time anywhere in one (already unwrapped) message line: "· resets 3pm (Europe/Paris)",
 * "resets in 45 minutes", "retrying in 2h (3pm)", "continue automatically at 3pm", legacy
 * "Claude AI usage limit reached|1764003600", "Your limit will reset at 3pm.". A plain "Retrying in 8s" of a server
 * error is not a reset time and gives undefined.
 */
export function findResetTime(line: string, now: number, defaultZone: string): number | undefined {
  const text = line.replace(/\u00a0/g, " ");
  for (const re of FIND_RES) {
    const found = re.exec(text)?.[1];
    if (found === undefined) continue;
    const at = parseResetTime(found, now, defaultZone);
    if (at !== undefined) return at;
  }
  return undefined;
}

/** Sums "2h 3m 4s" / "45 minutes" / "1 hour and 5 minutes". */
function durationMs(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(DURATION_PART_RE)) total += Number(n) * (UNIT_MS[(unit ?? "s")[0]!.toLowerCase()] ?? 0);
  return total;
}

/** `Nov`, `November`, `Sept` → 1-based month; anything else → undefined. */
function monthIndex(word: string): number | undefined {
  const lower = word.toLowerCase();
  const i = MONTHS.indexOf(lower.slice(0, 3));
  return i >= 0 && MONTH_NAMES[i]!.startsWith(lower) ? i + 1 : undefined;
}

function validDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return day >= 1 && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** The named zone when `Intl` knows it, else the default zone, else UTC. */
function resolveZone(zone: string | undefined, defaultZone: string): string {
  for (const candidate of [zone?.trim(), defaultZone]) {
    if (candidate && formatterFor(candidate)) return candidate;
  }
  return "UTC";
}

const FORMATTERS = new Map<string, Intl.DateTimeFormat | null>();

function formatterFor(zone: string): Intl.DateTimeFormat | null {
  let f = FORMATTERS.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone, hourCycle: "h23",
        year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
      });
    } catch {
      f = null;
    }
    FORMATTERS.set(zone, f);
  }
  return f;
}

/** Wall-clock fields of instant `at` in `zone`. */
function localParts(zone: string, at: number): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(zone)!.formatToParts(new Date(at))) fields[part.type] = Number(part.value);
  return {
    year: fields.year ?? 1970, month: fields.month ?? 1, day: fields.day ?? 1,
    hour: (fields.hour ?? 0) % 24, minute: fields.minute ?? 0, second: fields.second ?? 0,
  };
}

/** Local wall time minus UTC at instant `at`, in ms (e.g. +3 600 000 for Paris in winter). */
function offsetMs(zone: string, at: number): number {
  const p = localParts(zone, at);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(at / 1_000) * 1_000;
}

/**
 * Every instant whose wall time in `zone` is the given one, earliest first: two on a fall-back night, one usually.
 * A wall time skipped by a spring-forward gap maps to the instant the clock would show had it not jumped (as `Date` does).
 */
function localToEpoch(zone: string, year: number, month: number, day: number, hour: number, minute: number): number[] {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const offsets = [...new Set([offsetMs(zone, wall - 2 * DAY_MS), offsetMs(zone, wall), offsetMs(zone, wall + 2 * DAY_MS)])];
  const instants = offsets.map((o) => wall - o).filter((t) => offsetMs(zone, t) === wall - t).sort((a, b) => a - b);
  return instants.length > 0 ? instants : [wall - offsetMs(zone, wall - 2 * DAY_MS)];
}

/** The first instant at or after `now - RESET_GRACE_MS` showing `hour:minute` in `zone`. */
function nextClockTime(zone: string, hour: number, minute: number, now: number): number | undefined {
  const today = localParts(zone, now);
  for (let offset = 0; offset <= 2; offset++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const found = localToEpoch(zone, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), hour, minute)
      .find((t) => t >= now - RESET_GRACE_MS);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The next `month day, hour:minute` in `zone` that is not already past (this year, else a following year). */
function nextDateTime(zone: string, month: number, day: number, hour: number, minute: number, now: number): number | undefined {
  const thisYear = localParts(zone, now).year;
  for (let year = thisYear; year <= thisYear + 8; year++) {
    if (!validDate(year, month, day)) continue;
    const found = localToEpoch(zone, year, month, day, hour, minute).find((t) => t >= now - RESET_GRACE_MS);
    if (found !== undefined) return found;
  }
  return undefined;
}
