/**
 * @module sim-screen
 * The pure core of the simulated Claude Code: how one frame is drawn with the real program's glyphs
 * (reference/claude-code.md §0.1, §5), how terminal bytes (bracketed paste included) become keys, how a reset time is
 * written (§0.2), what `[sim:…]` prompt directives ask for, and how an error line is filed (§1.8, §6 StopFailure).
 * No I/O and no clock: callers pass `now` and write the frame. Widths count code points (CJK and emoji drawn wide
 * by the terminal are counted as one column).
 */

/** Gutter in front of error and limit lines: two spaces, `⎿`, a space, a no-break space. */
export const GUTTER = "  \u23bf \u00a0";
/** Indent of continuation and hint lines under a gutter line. */
export const GUTTER_INDENT = "     ";
/** Spinner glyphs; the spinner plays them forwards then backwards. */
export const SPINNER_GLYPHS = ["·", "✢", "*", "✶", "✻", "✽"] as const;
/** The hint Claude Code prints under a subscriber's limit line. */
export const UPGRADE_HINT = "/upgrade to increase your usage limit.";
/** Text shown (in the gutter) after a turn is interrupted. */
export const INTERRUPTED_TEXT = "Interrupted · What should Claude do instead?";
/** The dim placeholder of the empty input box after an auth failure (reference/real-claude.md §13.3). */
export const LOGIN_PLACEHOLDER = "Once fixed, resend your message";

/** The lines 2.1.330 ends a turn with when its login is refused (§13.3, verbatim), by failure. */
export const LOGIN_LINES = {
  /** A 403 "OAuth token has been revoked" (or a 401 saying "revoked"). */
  revoked: "OAuth token revoked · Please run /login",
  /** A 401 "OAuth token has expired" whose refresh failed. */
  expired: "Please run /login · API Error: 401 OAuth token has expired. Please obtain a new token or refresh your existing token.",
  /** A 401 "Invalid bearer token". */
  invalid: "Please run /login · API Error: 401 Invalid bearer token",
  /** No `.credentials.json`. */
  "not-logged-in": "Not logged in · Please run /login",
} as const;

/** A failure named in a sim switch (`revoked`, `expired`, `invalid`, `not-logged-in`); anything else reads as `revoked`. */
export function loginLine(kind: string | undefined): string {
  const key = (kind ?? "").trim().split(/\s+/)[0] ?? "";
  return Object.hasOwn(LOGIN_LINES, key) ? LOGIN_LINES[key as keyof typeof LOGIN_LINES] : LOGIN_LINES.revoked;
}

const SPINNER_CYCLE = [...SPINNER_GLYPHS, ...[...SPINNER_GLYPHS].reverse()];
const SPINNER_FRAME_MS = 120;
const dim = (s: string) => (s ? `\x1b[2m${s}\x1b[22m` : s);
const red = (s: string) => (s ? `\x1b[31m${s}\x1b[39m` : s);

/** One block of the conversation. */
export type SimEntry =
  | { kind: "user"; text: string }
  | { kind: "assistant"; text: string }
  | { kind: "error"; text: string; hint?: string };

/** Everything one frame shows. */
export interface FrameState {
  header: string;
  entries: readonly SimEntry[];
  input: string;
  /** When the running turn started (epoch ms); absent when idle. */
  busySince?: number;
  now: number;
  /** Mode indicator such as `⏵⏵ bypass permissions on`; empty in default mode. */
  mode: string;
  /** Replaces the idle footer for a moment, e.g. `Press Ctrl-C again to exit`. */
  notice?: string;
  /** Dim text in the empty input box (e.g. {@link LOGIN_PLACEHOLDER}); the cursor stays at its start. */
  placeholder?: string;
  /**
   * A transient notification (a usage warning, `You're now using usage credits …`), drawn as 2.1.330's fullscreen
   * renderer does: right-aligned on the row just above the input box's top rule (reference/real-claude.md §13.2).
   */
  notification?: string;
  /** `❯` normally, `>` under `TERM=linux`. */
  promptChar: string;
  cols: number;
  rows: number;
  /** Leaves out the spinner and the prompt box (the last frame before exit). */
  final?: boolean;
  /** The limit dialog that replaces the prompt box (reference/real-claude.md §3), from {@link limitDialogLines}. */
  dialog?: readonly string[];
}

/** A drawn frame: rows (with SGR colour codes) and where the cursor goes, both 0-based. */
export interface Frame {
  lines: string[];
  cursorRow: number;
  cursorCol: number;
}

/**
 * Draws one frame, top-aligned like Ink: the header, the tail of the conversation that fits (a blank line before each
 * block), then unless final: a blank line and the spinner line when busy, a blank line, a `─` rule, the `❯ ` prompt,
 * a rule and the footer.
 */
export function renderFrame(s: FrameState): Frame {
  const cols = Math.max(20, Math.floor(s.cols));
  const rows = Math.max(8, Math.floor(s.rows));
  const bottom: string[] = [];
  let promptRows: string[] = [];
  if (!s.final && s.dialog) {
    bottom.push("", "\u2594".repeat(cols), ...s.dialog);
  } else if (!s.final) {
    if (s.busySince !== undefined) bottom.push("", spinnerLine(s.now - s.busySince));
    promptRows = chunk(s.input, cols - 2).slice(-Math.max(1, rows - 10));
    const rule = dim("─".repeat(cols));
    const shown = !s.input && s.placeholder ? [dim(s.placeholder)] : promptRows;
    bottom.push(s.notification ? notificationRow(s.notification, cols) : "", rule, ...shown.map((row, i) => (i ? "  " : `${s.promptChar}\u00a0`) + row), rule, footer(s));
  }
  const conversation = s.entries.flatMap((entry) => ["", ...entryLines(entry, cols)]);
  const room = Math.max(0, rows - 1 - bottom.length);
  const lines = [s.header, ...(room ? conversation.slice(-room) : []), ...bottom].slice(-rows);
  const lastPrompt = promptRows.at(-1) ?? "";
  const cursorRow = s.final ? lines.length - 1 : s.dialog ? Math.max(0, lines.length - s.dialog.length + DIALOG_CURSOR_LINE) : lines.length - 3;
  const cursorCol = s.final ? 0 : Math.min(cols - 1, 2 + Array.from(lastPrompt).length);
  return { lines, cursorRow, cursorCol };
}

/** Row of the dialog's selected option in {@link limitDialogLines}. */
const DIALOG_CURSOR_LINE = 2;

/**
 * The limit dialog 2.1.330 opens in place of the prompt box when it does not continue by itself (a per-model limit, a
 * reset days away): `resetAt` as the limit line writes it, without the zone. Option 3 would bill usage credits.
 */
export function limitDialogLines(resetAt: string): string[] {
  return [
    "  What do you want to do?", "", "  ❯ 1. Stop and wait for limit to reset", `    2. Wait here, then continue automatically at ${resetAt}`,
    "    3. Switch to usage credits", "    4. Upgrade your plan", "", "  Enter to confirm · Esc to cancel",
  ];
}

/**
 * The notification row: right-aligned to end at column `cols − 2`; a text longer than `cols − 4` is cut to fit with
 * `…` after a two-space indent, never wrapped (§13.2: `  You've used 91% of your 5-hour limit · … /upgrade to keep …`).
 */
export function notificationRow(text: string, cols: number): string {
  const chars = Array.from(text);
  if (chars.length <= cols - 4) return `${" ".repeat(cols - 2 - chars.length)}${text}`;
  return `  ${chars.slice(0, Math.max(0, cols - 5)).join("")}…`;
}

/**
 * 2.1.330's usage warning for a Max login (reference/real-claude.md §13.1–§13.2): `You've used 91% of your 5-hour limit
 * · resets 4am (UTC) · /upgrade to keep using Claude Code`, or `You've used 91% of your weekly limit · resets Dec 2, 1am
 * (UTC)` (no hint on the weekly window).
 */
export function usageWarningText(percent: number, window: "five_hour" | "weekly", resetAt: Date, now: Date, timeZone: string): string {
  const limit = window === "weekly" ? "weekly limit" : "5-hour limit";
  const hint = window === "weekly" ? "" : " · /upgrade to keep using Claude Code";
  return `You've used ${Math.floor(percent)}% of your ${limit} · resets ${formatResetTime(resetAt, now, timeZone)} (${timeZone})${hint}`;
}

/** 2.1.330's line when a Max login starts billing usage credits: `You're now using usage credits · Your 5-hour limit resets 4am (UTC)`. */
export function extraUsageText(window: "five_hour" | "weekly", resetAt: Date, now: Date, timeZone: string): string {
  return `You're now using usage credits · Your ${window === "weekly" ? "weekly" : "5-hour"} limit resets ${formatResetTime(resetAt, now, timeZone)} (${timeZone})`;
}

/** `✻ Working… (3s · esc to interrupt)`, the glyph chosen by elapsed time. */
export function spinnerLine(elapsedMs: number): string {
  const glyph = SPINNER_CYCLE[Math.floor(Math.max(0, elapsedMs) / SPINNER_FRAME_MS) % SPINNER_CYCLE.length];
  return `${glyph} Working… (${Math.floor(Math.max(0, elapsedMs) / 1000)}s · esc to interrupt)`;
}

function footer(s: FrameState): string {
  if (s.busySince !== undefined) return `  ${s.mode ? `${s.mode} · esc to interrupt` : "esc to interrupt"}`;
  if (s.notice) return `  ${s.notice}`;
  return `  ${s.mode ? `${s.mode} (shift+tab to cycle)` : "? for shortcuts"}`;
}

/** The rows of one conversation block: `> ` user, `● ` assistant and `API Error…`, gutter for other error lines. */
export function entryLines(entry: SimEntry, cols: number): string[] {
  const block = (text: string, first: string, rest: string, style: (s: string) => string) =>
    wrapText(text, cols - Array.from(first).length).map((row, i) => (i ? rest : first) + style(row));
  if (entry.kind === "user") return block(entry.text, "> ", "  ", (t) => t);
  if (entry.kind === "assistant") return block(entry.text, "● ", "  ", (t) => t);
  if (/^(?:API Error|Please run \/login)/.test(entry.text)) return block(entry.text, "● ", "  ", red);
  const hint = entry.hint ? block(entry.hint, GUTTER_INDENT, GUTTER_INDENT, dim) : [];
  return [...block(entry.text, GUTTER, GUTTER_INDENT, red), ...hint];
}

/** Splits text into rows of at most `width` code points, breaking at spaces where it can (as Ink's wrap does). */
export function wrapText(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split("\n")) {
    let chars = Array.from(paragraph);
    while (chars.length > width) {
      let cut = chars.lastIndexOf(" ", width);
      if (cut <= 0) cut = width;
      out.push(chars.slice(0, cut).join("").trimEnd());
      chars = chars.slice(cut);
      while (chars[0] === " ") chars.shift();
    }
    out.push(chars.join(""));
  }
  return out;
}

/** Hard-wraps input text (no word breaks, trailing spaces kept) into rows of `width` code points. */
function chunk(text: string, width: number): string[] {
  return text.split("\n").flatMap((line) => {
    const chars = Array.from(line);
    const rows: string[] = [];
    for (let i = 0; i < chars.length; i += width) rows.push(chars.slice(i, i + width).join(""));
    return rows.length ? rows : [""];
  });
}

/** A key (or a whole paste) decoded from terminal input. */
export type SimKey =
  | { type: "text"; text: string }
  | { type: "paste"; text: string }
  | { type: "enter" | "newline" | "backspace" | "interrupt" | "eof" | "escape" };

/** Decodes raw-mode terminal input; keeps partial escape sequences and pastes across chunks. */
export interface KeyReader {
  /** Decodes what can be decoded so far. */
  feed(chunk: string): SimKey[];
  /** True when a lone ESC is held back: call {@link KeyReader.flush} if nothing follows within ~30 ms. */
  waiting(): boolean;
  /** Treats a held-back ESC as the Escape key. */
  flush(): SimKey[];
}

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

/** Creates a {@link KeyReader}. Enter is CR, LF (Ctrl-J) and Alt-Enter insert a newline, CR inside a paste is a newline. */
export function createKeyReader(): KeyReader {
  let buf = "";
  let paste: string | null = null;
  const drain = (final: boolean): SimKey[] => {
    const keys: SimKey[] = [];
    let text = "";
    const key = (k: SimKey) => {
      if (text) keys.push({ type: "text", text });
      text = "";
      keys.push(k);
    };
    while (buf) {
      if (paste !== null) {
        const end = buf.indexOf(PASTE_END);
        const keep = end >= 0 ? 0 : partialSuffix(buf, PASTE_END);
        paste += buf.slice(0, end >= 0 ? end : buf.length - keep);
        buf = end >= 0 ? buf.slice(end + PASTE_END.length) : buf.slice(buf.length - keep);
        if (end < 0) break;
        key({ type: "paste", text: paste.replace(/\r\n?/g, "\n") });
        paste = null;
        continue;
      }
      const c = buf[0]!;
      if (c === "\x1b") {
        if (buf.length === 1 && !final) break;
        const seq = /^\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|[^[O]|$)/s.exec(buf)?.[0];
        if (seq === undefined) break; // an unfinished CSI/SS3: wait for the rest
        buf = buf.slice(seq.length);
        if (seq === PASTE_START) paste = "";
        else if (seq === "\x1b") key({ type: "escape" });
        else if (seq === "\x1b\r") key({ type: "newline" });
        continue;
      }
      buf = buf.slice(1);
      if (c === "\r") key({ type: "enter" });
      else if (c === "\n") key({ type: "newline" });
      else if (c === "\x7f" || c === "\b") key({ type: "backspace" });
      else if (c === "\x03") key({ type: "interrupt" });
      else if (c === "\x04") key({ type: "eof" });
      else if (c >= " ") text += c;
    }
    if (text) keys.push({ type: "text", text });
    return keys;
  };
  return { feed: (chunk) => ((buf += chunk), drain(false)), waiting: () => paste === null && buf === "\x1b", flush: () => drain(true) };
}

function partialSuffix(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) if (text.endsWith(marker.slice(0, n))) return n;
  return 0;
}

/** Writes a reset time as Claude Code does: `3pm`, `3:30pm`, `Nov 28, 10am`, `Jan 2, 2027, 9am` (no zone). */
export function formatResetTime(at: Date, now: Date, timeZone: string): string {
  const parts = (date: Date, options: Intl.DateTimeFormatOptions) =>
    Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone, ...options }).formatToParts(date).map((p) => [p.type, p.value]));
  const t = parts(at, { hour: "numeric", minute: "2-digit", hour12: true });
  const time = `${t.hour}${t.minute === "00" ? "" : `:${t.minute}`}${String(t.dayPeriod ?? "").toLowerCase()}`;
  if (at.getTime() - now.getTime() <= 24 * 3_600_000) return time;
  const day = parts(at, { month: "short", day: "numeric", year: "numeric" });
  const year = day.year === parts(now, { year: "numeric" }).year ? "" : `, ${day.year}`;
  return `${day.month} ${day.day}${year}, ${time}`;
}

/** A valid IANA zone: `tz` (a `TZ` value, leading `:` allowed) if Intl knows it, else the process zone, else `UTC`. */
export function resolveTimeZone(tz: string | undefined): string {
  const name = tz?.replace(/^:/, "");
  try {
    if (name) return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    // unknown zone name: fall through
  }
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** `You've hit your 5-hour limit · resets 4pm (Europe/Paris)`, resetting on the whole hour nearest to one hour from now. */
export function defaultQuotaLine(now: Date, timeZone: string): string {
  const reset = new Date(Math.round((now.getTime() + 3_600_000) / 3_600_000) * 3_600_000);
  return `You've hit your 5-hour limit · resets ${formatResetTime(reset, now, timeZone)} (${timeZone})`;
}

/** What the `[sim:…]` markers in a prompt ask of its turn. */
export interface SimDirectives {
  /** `[sim:work=4s]` (`ms`, `s`, `m`; a bare number is ms): how long the turn stays busy. */
  workMs?: number;
  /** `[sim:say=<text>]`: end the turn with this error line instead of a reply. */
  say?: string;
  /** `[sim:reply=<text>]`: the assistant's reply, verbatim. */
  reply?: string;
  /** `[sim:refresh=1]`: refresh the login's token set before the request, as the CLI does near expiry. */
  refresh?: boolean;
  /** `[sim:until=<epoch ms>]`: the turn ends at that moment (turns of several sessions ending together). */
  untilMs?: number;
  /** `[sim:exit=<code>]`: exit with this code once the turn has ended. */
  exitCode?: number;
  /** `[sim:crash=<code>]` (`[sim:crash]` = 1): exit with this code halfway through the turn, with no reply, hook or end record. */
  crashCode?: number;
}

/** Reads the `[sim:key=value]` markers (value up to the next `]`) and returns the prompt without them. */
export function parseDirectives(prompt: string): { directives: SimDirectives; text: string } {
  const directives: SimDirectives = {};
  const text = prompt.replace(/\[sim:(\w+)(?:=([^\]]*))?\]/g, (marker, key: string, value = "") => {
    const work = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
    if (key === "work" && work) directives.workMs = Number(work[1]) * { ms: 1, s: 1000, m: 60_000 }[(work[2] ?? "ms") as "ms" | "s" | "m"];
    else if (key === "say") directives.say = value;
    else if (key === "reply") directives.reply = value;
    else if (key === "refresh") directives.refresh = value.trim() !== "0";
    else if (key === "until" && /^\d+$/.test(value.trim())) directives.untilMs = Number(value.trim());
    else if (key === "exit" && /^\d+$/.test(value.trim())) directives.exitCode = Number(value.trim()) & 255;
    else if (key === "crash" && /^\d*$/.test(value.trim())) directives.crashCode = Number(value.trim() || 1) & 255;
    else return marker;
    return "";
  });
  return { directives, text: text.replace(/\s+/g, " ").trim() };
}

/** How an error line is filed: the transcript's `error`/`apiErrorStatus`/`apiErrorType`/`apiError` and the StopFailure `error`. */
export interface ErrorFiling {
  error: "rate_limit" | "server_error" | "authentication_failed";
  /** Null when no request was answered (no credentials: the record has no status, type nor requestId). */
  status: number | null;
  type: "rate_limit_error" | "overloaded_error" | "api_error" | "authentication_error" | "permission_error" | null;
  /** `usage_limit_reached` for a real quota hit (2.1.330), absent otherwise. */
  apiError?: "usage_limit_reached";
  /** The quota's `rate_limit_info.rateLimitType`, for a quota hit. */
  rateLimitType?: "five_hour" | "seven_day" | "seven_day_opus" | "seven_day_sonnet" | "seven_day_overage_included";
  /** `apiErrorIsTransient`: only the 429 without rate-limit headers ("not your usage limit") has it. */
  transient: boolean;
}

const QUOTA_PREFIXES = ["You've hit your", "You've reached your", "You're out of usage credits", "You're out of extra usage", "Your org is out of usage"];

/** Files an error line as 2.1.330 does (reference/real-claude.md §5): quota sentences as `rate_limit` 429 `usage_limit_reached`, the
 * unheadered 429 as transient `rate_limit`, 529 and 5xx as `server_error`. */
export function classifyErrorText(text: string): ErrorFiling {
  // §13.3: `error: "authentication_failed"`, 403 `permission_error` for a revoked token, 401 `authentication_error` else.
  if (text.startsWith(LOGIN_LINES["not-logged-in"])) return { error: "authentication_failed", status: null, type: null, transient: false };
  if (text.startsWith(LOGIN_LINES.revoked)) return { error: "authentication_failed", status: 403, type: "permission_error", transient: false };
  if (/^Please run \/login · API Error: 40[13]/.test(text)) return { error: "authentication_failed", status: 401, type: "authentication_error", transient: false };
  if (QUOTA_PREFIXES.some((p) => text.startsWith(p))) {
    const rateLimitType = /opus/i.test(text) ? "seven_day_opus" : /sonnet/i.test(text) ? "seven_day_sonnet" : /fable/i.test(text) ? "seven_day_overage_included"
      : /weekly|7-day/i.test(text) ? "seven_day" : "five_hour";
    return { error: "rate_limit", status: 429, type: "rate_limit_error", apiError: "usage_limit_reached", rateLimitType, transient: false };
  }
  if (/not your usage limit|\b429\b/i.test(text)) return { error: "rate_limit", status: 429, type: "rate_limit_error", transient: true };
  if (/\b529\b|overloaded/i.test(text)) return { error: "server_error", status: 529, type: "overloaded_error", transient: false };
  const status = Number(/\b(5\d\d)\b/.exec(text)?.[1] ?? 500);
  return { error: "server_error", status, type: "api_error", transient: false };
}
