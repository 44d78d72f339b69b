/**
 * @module quota/classify
 * The pure core of quota detection: turns a captured pane, a hook event, a transcript record or a message text
 * into a {@link Verdict} — quota exhausted (with limit kind and reset time), transient server error, warning, or
 * nothing — or a lost login (`login`: the account needs `/login` in its home, reference/real-claude.md §13.3). Also
 * tells busy/idle/waiting/shell from a pane. Owns which lines are read and what wins when several
 * match; the text rules and the wrapped-line joining live in quota/patterns.ts, reset-time parsing in
 * quota/reset-time.ts. Owns no I/O, no state and no decision to swap (confirmation of a verdict without `resetAt`,
 * cooldowns and swaps belong to the quota monitor).
 *
 * Why conversation text cannot trigger a swap (seed 0.2.3, DESIGN invariant 4):
 * - Only the bottom region of a pane is read: from the last block start (a `●` assistant/tool bullet or a `❯` user
 *   echo) down to the prompt box, at most {@link REGION_MAX_LINES} non-blank lines. Scrollback never counts.
 * - Rules match at the start of a logical line, after wrapped lines are joined. A file shown by a Read/Bash tool
 *   renders as one `⎿` line followed by 5-space-indented lines: those are joined into the first line, so a quoted
 *   "You've hit your limit" inside a file never starts a logical line. The first `⎿` block right under a tool
 *   header (`● Read(…)`) is the tool's own output and is never read as a limit line, even when its first line is
 *   the sentence. Assistant prose (`●` bullets and their indented paragraphs) never counts as quota either.
 * - Any transient line in the region vetoes quota (a 500 whose text says "rate limit" is not a quota).
 * - A running spinner in the region vetoes quota: a subscriber's quota 429 is not retried, it ends the turn.
 */
import { findResetTime } from "./reset-time.ts";
import { rateLimitInfo, recordText, structuredLimit } from "./records.ts";
import { warningDetails, type UsageWindow } from "./usage-warning.ts";
import {
  FAST_MODE_RULES, LOGIN_PLACEHOLDER_RE, LOGIN_RULES, NOTICE_RULES, OPTION_RE, QUOTA_BACK_RE, QUOTA_RULES, SECONDARY_RULES, TRANSIENT_RULES, WAITING_RE, WARNING_RULES,
  clean, extraRules, firstMatch, inferWidth, isBusyStatus, isPromptLine, isRule, isShellPrompt, limitKindOf, normalize, toLogical,
  type Logical, type Origin, type Rule,
} from "./patterns.ts";

/** Which window or budget ran out (reference/claude-code.md §1.2); `usage` is the generic "usage limit", `unknown` when the text does not say. */
export type LimitKind = "five_hour" | "weekly" | "opus" | "sonnet" | "fable" | "credits" | "org" | "spend" | "usage" | "unknown";

export type { UsageWindow } from "./usage-warning.ts";

/**
 * What a signal means. `pattern` names the rule that matched; `line` is the matched text, unwrapped and gutter-stripped.
 * `login`: the account's login was refused (`cause`: `revoked`, `expired`, `refused`, `not-logged-in`,
 * `login-expired`, `authentication_failed` from a hook or record whose text says no more, `placeholder` from the input
 * box alone); no retry or reset brings it back, only `/login` in the account's home.
 * A `warning` carries what its line says (quota/usage-warning.ts): `percent` used, the plan `window`, the reset, and
 * `extraUsage` when the account now bills extra usage / usage credits.
 */
export type Verdict =
  | { kind: "quota"; limit: LimitKind; resetAt?: number; pattern: string; line: string }
  | { kind: "login"; cause: string; pattern: string; line: string }
  | { kind: "transient"; pattern: string; line: string }
  | { kind: "warning"; pattern: string; line: string; resetAt?: number; percent?: number; window?: UsageWindow; extraUsage?: true }
  | { kind: "none" };

/** Inputs every classifier needs besides the signal. */
export interface ClassifyOptions {
  /** Epoch ms, for resolving reset times. */
  now: number;
  /** IANA zone for reset times printed without one (the sessions' `TZ`). */
  defaultZone: string;
  /** From config `quota.extra_quota_patterns`; matched on the same logical lines as the built-in quota rules. */
  extraQuotaPatterns?: RegExp[];
  /** From config `quota.extra_transient_patterns`; vetoes quota like the built-in transient rules. */
  extraTransientPatterns?: RegExp[];
}

/**
 * What a pane shows: a running turn, an idle prompt, Claude Code's limit dialog (`What do you want to do?` and its
 * numbered options, which include paid usage credits), another dialog waiting for a person, a plain shell, or unclear.
 */
export type PaneActivity = "busy" | "idle" | "dialog" | "waiting" | "shell" | "unknown";

/** Fields of a hook event (StopFailure in particular) that carry error signals. */
export interface HookSignal {
  hook_event_name?: string;
  error?: string;
  last_assistant_message?: string;
  error_details?: string;
  /** The transcript limit record's `rate_limit_info`, attached by `claude-failover hook` (internal/hook/hook.ts). */
  rate_limit_info?: unknown;
}

/** Non-blank lines above the prompt box that may be read, at most. */
export const REGION_MAX_LINES = 8;

const QUOTA_ORIGINS = new Set<Origin>(["gutter", "status", "plain"]);
/** Transient rules specific enough to veto from a continuation line (e.g. an `API Error:` line inside tool output). */
const PART_TRANSIENT_RULES = TRANSIENT_RULES.filter((r) => ["api-error", "request-timed-out", "legacy-retry", "legacy-raw-error", "error-json-type"].includes(r.name));

/**
 * Pre-processing exposed for tests: strips ANSI escapes, the `⎿`+NBSP gutter, the `●`/`⏺`/`✻` bullets and select
 * pointers, joins wrapped continuation lines (5-space-indented lines under a gutter line, 2-space-indented lines of a
 * bullet paragraph, and a line cut at the pane width: `width` long — or one short, when tmux trimmed the space the
 * cut fell on — and followed by a non-indented line) and returns the logical lines. `width` defaults to the length of the widest `─` rule, when there is one. Hint lines that only follow
 * a limit line (e.g. `/upgrade to increase your usage limit.`) stay separate lines.
 */
export function logicalLines(lines: string[], width?: number): string[] {
  return toLogical(clean(lines), width).map((l) => l.text);
}

/**
 * Classifies one message text (a single logical line or a multi-line message) — used for hook
 * `last_assistant_message` and transcript text. All lines are read (there is no scrollback in a message), so pass
 * error texts only, never ordinary assistant prose.
 */
export function classifyText(text: string, options: ClassifyOptions): Verdict {
  return decide(toLogical(clean(text.split(/\r?\n/))), [], options, false);
}

/**
 * Classifies a captured pane (screen lines top to bottom, as `tmux capture-pane -p -J` gives them, trailing blank
 * lines allowed). Reads only the bottom region — from the last block start down to the prompt box (`─` rule above
 * the `❯` line), at most {@link REGION_MAX_LINES} non-blank lines — plus the footer below the prompt box for
 * warnings only. Without a prompt box (a dialog, a shell) the last {@link REGION_MAX_LINES} non-blank lines are read.
 * Transient lines veto quota; hint/dialog lines alone give a quota verdict without `resetAt` (see `decide` below).
 */
export function classifyPane(lines: string[], options: ClassifyOptions): Verdict {
  const screen = clean(lines);
  const box = promptBox(screen);
  const bodyEnd = box?.top ?? screen.length;
  const start = regionStart(screen, bodyEnd);
  const region = toLogical(screen.slice(0, bodyEnd), inferWidth(screen)).filter((l) => l.start >= start);
  const footer = box ? screen.slice(box.bottom + 1).flatMap((l) => l.trim().split(/\s{2,}/)).filter(Boolean) : [];
  const busy = region.some((l) => l.origin === "status" && /…/.test(l.text) && !matchAny(l, options));
  const verdict = decide(region, footer, options, busy);
  // The placeholder 2.1.330 leaves in the empty input box after an auth failure (§13.4), with a line above it that
  // names `/login` in words no rule knows (a new wording). Alone it is not enough: other errors a person must fix
  // (billing) may leave the same placeholder.
  const placeholder = box ? screen[box.top + 1]!.replace(/^[❯>!][\u00a0 ]?/, "").trim() : "";
  const namesLogin = region.some((l) => l.origin !== "echo" && l.origin !== "tool" && /\/login\b/.test(l.text));
  if ((verdict.kind === "none" || verdict.kind === "warning") && !busy && namesLogin && LOGIN_PLACEHOLDER_RE.test(placeholder)) {
    return { kind: "login", cause: "placeholder", pattern: "login:placeholder", line: placeholder };
  }
  return verdict;
}

/**
 * Busy (spinner or "esc to interrupt"), idle (prompt box, no spinner), dialog (the limit dialog, in either renderer),
 * waiting (another dialog), shell (shell prompt last), or unknown.
 */
export function paneActivity(lines: string[]): PaneActivity {
  const screen = clean(lines);
  if (isLimitDialog(screen)) return "dialog";
  const box = promptBox(screen);
  if (box) {
    const above = screen.slice(Math.max(0, box.top - 10), box.top);
    const footer = screen.slice(box.bottom + 1).join("\n");
    return above.some(isBusyStatus) || /esc to interrupt/i.test(footer) ? "busy" : "idle";
  }
  const tail = screen.filter((l) => l.trim() !== "").slice(-15);
  if (tail.some((l) => WAITING_RE.test(l))) return "waiting";
  if (tail.some(isBusyStatus) || tail.some((l) => /esc to interrupt/i.test(l))) return "busy";
  const last = tail.at(-1);
  return last !== undefined && isShellPrompt(last) ? "shell" : "unknown";
}

/** Dim placeholder texts Claude Code draws in an empty input box (capture-pane shows them as plain text). */
const PLACEHOLDER_RE = /^(?:Resend your message to try again|Once fixed, resend your message|Try "[^"]*")$/;

/**
 * The text in the input box: `""` when it is empty (placeholders count as empty), null when no input box is on
 * screen (a dialog, a shell, a starting session). A prompt left there unsent is what Enter would submit.
 */
export function inputText(lines: string[]): string | null {
  const screen = clean(lines);
  const box = promptBox(screen);
  if (!box) return null;
  const text = screen
    .slice(box.top + 1, box.bottom)
    .map((line, i) => (i === 0 ? line.replace(/^[❯>!][\u00a0 ]?/, "") : line))
    .join("\n")
    .trim();
  return PLACEHOLDER_RE.test(text) ? "" : text;
}

/** The part of Claude Code's live-session registry record (`<home>/sessions/<pid>.json`) that says it waits. */
export interface LiveStatus {
  status?: unknown;
  waitingFor?: unknown;
}

/**
 * True only when text typed now lands in Claude Code's input box: the pane shows an idle prompt, no dialog, and the
 * live-session registry (when known) does not say `"status":"waiting"` (2.1.330 writes `"waitingFor":"dialog open"`
 * while the limit dialog is up). Keys typed into the limit dialog choose its options, one of which bills usage
 * credits: a task or a continue prompt is typed only when this holds (DESIGN.md "never type into a dialog").
 */
export function safeToType(lines: string[], live?: LiveStatus | null): boolean {
  if (live && live.status === "waiting") return false;
  return paneActivity(lines) === "idle";
}

/** The limit dialog: `What do you want to do?` followed by numbered options, in the last lines of the screen. */
function isLimitDialog(screen: string[]): boolean {
  const tail = screen.filter((l) => l.trim() !== "").slice(-12);
  const title = tail.findIndex((l) => /^\s*What do you want to do\?\s*$/.test(l));
  return title !== -1 && tail.slice(title + 1).some((l) => /^\s*(?:❯[\u00a0 ]*)?\d+\.\s+(?:Stop and wait|Wait here|Switch to|Upgrade your plan)/.test(l));
}

/**
 * The StopFailure hook. Quota only when `error` is `rate_limit` AND the message is a quota line; a `rate_limit`
 * whose text is not (e.g. "Server is temporarily limiting requests (not your usage limit)") is transient, as are
 * `server_error` and `overloaded`. Other errors (auth, billing, …) give transient/warning only when the text says so.
 * A quota verdict takes its reset and limit kind from `rate_limit_info` when the hook attached it (exact, zone-free).
 */
export function classifyStopFailure(event: HookSignal, options: ClassifyOptions): Verdict {
  if (event.hook_event_name !== undefined && event.hook_event_name !== "StopFailure") return { kind: "none" };
  const message = event.last_assistant_message ?? "";
  const line = (message || event.error_details || "").trim();
  const text = classifyText(message, options);
  switch (event.error) {
    case "rate_limit":
      if (text.kind === "quota" && !/not your usage limit/i.test(event.error_details ?? "")) {
        const info = structuredLimit(event.rate_limit_info);
        return { ...text, pattern: `stop_failure:${text.pattern}`, ...(info.limit ? { limit: info.limit } : {}), ...(info.resetAt !== undefined ? { resetAt: info.resetAt } : {}) };
      }
      return { kind: "transient", pattern: text.kind === "transient" ? `stop_failure:${text.pattern}` : "stop_failure:rate_limit", line };
    case "server_error":
    case "overloaded":
      return { kind: "transient", pattern: `stop_failure:${event.error}`, line };
    case "authentication_failed":
      // §13.3: the most reliable auth signal; its text says which failure, when it is one of the known four.
      return text.kind === "login" ? { ...text, pattern: `stop_failure:${text.pattern}` } : { kind: "login", cause: "authentication_failed", pattern: "stop_failure:authentication_failed", line };
    default:
      return text.kind === "transient" || text.kind === "warning" || text.kind === "login" ? { ...text, pattern: `stop_failure:${text.pattern}` } : { kind: "none" };
  }
}

/**
 * One parsed transcript JSONL record. Only records with `isApiErrorMessage: true` count: `apiError:
 * "usage_limit_reached"` is quota, its reset and limit kind taken from `apiErrorParams.rate_limit_info` (`resetsAt`,
 * `rateLimitType`) when the record has them and from its text otherwise; `apiErrorIsTransient` is transient;
 * `error: "rate_limit"` is quota only with a quota text, else transient; a record without `error` (1.0.x) is quota
 * only for a quota text; anything else is transient when its text or status says so, else none.
 */
export function classifyTranscriptRecord(record: unknown, options: ClassifyOptions): Verdict {
  if (typeof record !== "object" || record === null) return { kind: "none" };
  const r = record as Record<string, unknown>;
  if (r.isApiErrorMessage !== true) return { kind: "none" };
  const line = recordText(r);
  const text = classifyText(line, options);
  const tag = (pattern: string) => `transcript:${pattern}`;
  if (r.apiError === "usage_limit_reached") {
    const info = rateLimitInfo(r);
    const verdict = text.kind === "quota" ? { ...text, pattern: tag(`usage_limit_reached:${text.pattern}`) }
      : withReset({ kind: "quota" as const, limit: limitKindOf(line), pattern: tag("usage_limit_reached"), line }, findResetTime(line, options.now, options.defaultZone));
    // The structured fields are exact and zone-free: they win over what the text says.
    return { ...verdict, ...(info.limit ? { limit: info.limit } : {}), ...(info.resetAt !== undefined ? { resetAt: info.resetAt } : {}) };
  }
  if (r.error === "authentication_failed" || text.kind === "login") {
    return text.kind === "login" ? { ...text, pattern: tag(text.pattern) } : { kind: "login", cause: "authentication_failed", pattern: tag("authentication_failed"), line };
  }
  if (r.apiErrorIsTransient === true) return { kind: "transient", pattern: tag("apiErrorIsTransient"), line };
  if ((r.error === "rate_limit" || r.error === undefined) && text.kind === "quota") return { ...text, pattern: tag(text.pattern) };
  if (r.error === "rate_limit") return { kind: "transient", pattern: tag(text.kind === "transient" ? text.pattern : "rate_limit"), line };
  if (text.kind === "transient") return { ...text, pattern: tag(text.pattern) };
  const status = typeof r.apiErrorStatus === "number" ? r.apiErrorStatus : 0;
  if (status >= 500 || r.error === "server_error" || r.error === "overloaded") return { kind: "transient", pattern: tag(`error:${String(r.error ?? status)}`), line };
  return { kind: "none" };
}

/**
 * A lost login or a transient line first, the lowest on screen winning (a transient line vetoes everything below it;
 * an auth failure's own `API Error: 401` text is not a transient line), then quota lines (the one with a reset time and a known limit wins, the
 * lowest on screen breaking ties), then hint/dialog lines, then warnings (region, then footer).
 * Decision on secondary lines: a strong hint/dialog line (anything but the bare "What do you want to do?" title)
 * without a limit line and without a transient line gives quota `unknown` with no `resetAt`, so the monitor must
 * confirm it over `confirm_polls` before swapping. It covers a limit line scrolled out of the region by a dialog.
 */
function decide(lines: Logical[], footer: string[], options: ClassifyOptions, busy: boolean): Verdict {
  const extraTransient = extraRules(options.extraTransientPatterns, "extra-transient");
  for (const l of [...lines].reverse()) {
    if (l.origin === "echo") continue;
    const auth = l.origin !== "tool" ? firstMatch(LOGIN_RULES, l.text) : undefined;
    if (auth) return { kind: "login", cause: auth.name, pattern: `login:${auth.name}`, line: l.text };
    const rule = firstMatch(TRANSIENT_RULES, l.text) ?? firstMatch(extraTransient, l.text)
      ?? l.parts.slice(1).map((part) => firstMatch(PART_TRANSIENT_RULES, part)).find(Boolean);
    if (rule) return { kind: "transient", pattern: rule.name.startsWith("extra") ? rule.name : `transient:${rule.name}`, line: l.text };
  }
  // A `● Usage limit reset · Continuing automatically` below a limit line: the quota is back, the old line is history.
  const back = lines.findLastIndex((l) => l.origin === "bullet" && QUOTA_BACK_RE.test(l.text));
  if (back !== -1) lines = lines.slice(back + 1);
  const candidates = busy ? [] : lines.filter((l) => QUOTA_ORIGINS.has(l.origin) || (l.origin === "bullet" && firstMatch(NOTICE_RULES, l.text)));
  const extraQuota = extraRules(options.extraQuotaPatterns, "extra-quota");
  let best: { score: number; verdict: Verdict & { kind: "quota" } } | undefined;
  for (const l of candidates) {
    const rule = firstMatch(FAST_MODE_RULES, l.text) ? undefined : (firstMatch(QUOTA_RULES, l.text) ?? firstMatch(extraQuota, l.text));
    if (!rule) continue;
    const resetAt = findResetTime(l.text, options.now, options.defaultZone);
    const limit = limitKindOf(l.text);
    // A 2.1.330 `●` notice names no window: the limit line it follows, when on screen, says which one ran out.
    const score = (resetAt !== undefined ? 2 : 0) + (limit !== "unknown" ? 1 : 0) - (l.origin === "bullet" ? 1 : 0);
    const verdict = { kind: "quota" as const, limit, pattern: rule.name.startsWith("extra") ? rule.name : `quota:${rule.name}`, line: l.text };
    if (!best || score >= best.score) best = { score, verdict: withReset(verdict, resetAt) };
  }
  if (!best && !busy && back === -1) {
    // The 2.1.330 footer (`⚠ Usage limit reached · limit resets 3am`) holds the limit when the lines above scrolled away.
    const notice = footer.map(normalize).find((t) => firstMatch(NOTICE_RULES, t));
    if (notice) return withReset({ kind: "quota", limit: limitKindOf(notice), pattern: "quota:footer-limit-reached", line: notice }, findResetTime(notice, options.now, options.defaultZone));
  }
  if (best) return best.verdict;
  const secondary = candidates.map((l) => ({ l, rule: firstMatch(SECONDARY_RULES, l.text) })).filter((s) => s.rule && !s.rule.weak).at(-1);
  if (secondary?.rule) return { kind: "quota", limit: "unknown", pattern: `secondary:${secondary.rule.name}`, line: secondary.l.text };
  const warnings = [...lines.filter((l) => QUOTA_ORIGINS.has(l.origin)).map((l) => l.text), ...footer.map(normalize)];
  for (const text of warnings.reverse()) {
    const rule = firstMatch(WARNING_RULES, text);
    if (!rule) continue;
    return withReset({ kind: "warning", pattern: `warning:${rule.name}`, line: text, ...warningDetails(text) }, findResetTime(text, options.now, options.defaultZone));
  }
  return { kind: "none" };
}

/** The verdict with `resetAt` set only when known (no `resetAt: undefined` key). */
function withReset<V extends Verdict & { kind: "quota" | "warning" }>(verdict: V, resetAt: number | undefined): V {
  return resetAt === undefined ? verdict : { ...verdict, resetAt };
}

/** True when a line matches any transient or quota rule (so a `✻ … retrying…` line is not mistaken for a spinner). */
function matchAny(l: Logical, options: ClassifyOptions): boolean {
  const rules: Rule[] = [...TRANSIENT_RULES, ...QUOTA_RULES, ...extraRules(options.extraQuotaPatterns, "q"), ...extraRules(options.extraTransientPatterns, "t")];
  return firstMatch(rules, l.text) !== undefined;
}

/** The last `─` rule immediately followed by a prompt line, and the rule closing the box (or the screen end). */
function promptBox(screen: string[]): { top: number; bottom: number } | undefined {
  for (let i = screen.length - 1; i > 0; i--) {
    if (!isPromptLine(screen[i]!) || !isRule(screen[i - 1]!)) continue;
    const close = screen.findIndex((l, j) => j > i && isRule(l));
    return { top: i - 1, bottom: close === -1 ? screen.length : close };
  }
  return undefined;
}

/** Index of the first screen line of the bottom region: the last block start, or the REGION_MAX_LINES-th non-blank line up. */
function regionStart(screen: string[], end: number): number {
  let count = 0;
  for (let i = end - 1; i >= 0; i--) {
    const line = screen[i]!;
    if (line.trim() === "" || isRule(line)) continue;
    // `❯ /rate-limit-options` is the classic renderer's pseudo prompt over the limit dialog, drawn under the limit line.
    // `● Usage limit reached · set to continue automatically` belongs with the limit line above it: read both.
    const notice = /^[●⏺][\u00a0 ]*(.*)$/.exec(line);
    if (notice && firstMatch(NOTICE_RULES, normalize(notice[1]!))) {
      if (++count >= REGION_MAX_LINES) return i;
      continue;
    }
    if (/^[●⏺]/.test(line) || (isPromptLine(line) && !OPTION_RE.test(line) && !/^❯[\u00a0 ]\/rate-limit-options$/.test(line))) return i;
    if (++count >= REGION_MAX_LINES) return i;
  }
  return 0;
}
