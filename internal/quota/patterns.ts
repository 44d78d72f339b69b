/**
 * @module quota/patterns
 * The text rules behind quota classification, taken from reference/claude-code.md §1, §2 and §7: quota (limit)
 * lines of every Claude Code version from 1.0.128 to 2.1.330, the hint/dialog lines that only accompany a limit,
 * transient server-error lines, "getting close" warnings and the fast-mode lines that are not account quota.
 * Each rule has a stable name that ends up in verdicts and forensic logs. Rules are anchored at the start of a
 * logical line that has already been unwrapped and stripped of its gutter or bullet, except the few transient
 * signatures specific enough to veto anywhere. Also owns the screen model those logical lines come from: shape
 * predicates (rule, prompt line, spinner, shell prompt) and {@link toLogical}, which joins wrapped lines and tags each
 * line with its origin. Which lines are read and what they mean is decided in quota/classify.ts. Pure; no state.
 */
import type { LimitKind } from "./classify.ts";

/** A named text rule. `weak` secondary rules (a generic dialog title) never count on their own. */
export interface Rule {
  name: string;
  re: RegExp;
  weak?: boolean;
}

/** Separator between the parts of a status line: U+00B7 (2.x) or U+2219 (1.0.x). */
const SEP = "[·∙]";

/** The limit line itself (§7.1 primary regex, split into named rules; `✻ ` is stripped before matching). */
export const QUOTA_RULES: readonly Rule[] = [
  { name: "hit-your-limit", re: /^You've hit your (?!fast limit)/ },
  { name: "reached-your-limit", re: /^You've reached your / },
  { name: "out-of-usage-credits", re: /^You're out of usage credits/ },
  { name: "out-of-extra-usage", re: /^You're out of extra usage/ },
  { name: "org-out-of-usage", re: /^Your org is out of usage/ },
  { name: "seat-type-excludes-usage", re: /^Your seat type doesn't include / },
  { name: "service-disabled-for-org", re: /^This service is disabled for your org/ },
  { name: "allocation-disabled", re: /^Your usage allocation has been disabled/ },
  { name: "group-limit-zero", re: /^Your group's usage limit is set to \$0/ },
  { name: "usage-paused-for-org", re: /^Usage is paused for your organization/ },
  { name: "auto-continue-set", re: new RegExp(`^Usage limit reached(?: again)? ${SEP} set to continue automatically`) },
  { name: "continuing-automatically", re: new RegExp(`^Continuing automatically .+ ${SEP} Esc to cancel`) },
  { name: "model-requires-credits", re: /^(?:Fable|Haiku|Mythos|Opus|Sonnet)(?: [^·∙\n]{1,40})? requires usage credits\./ },
  { name: "credits-required-1m-context", re: /^API Error: Usage credits required for 1M context/ },
  { name: "legacy-limit-reached", re: new RegExp(`^(?:Session|Weekly|Opus weekly|Usage) limit reached ${SEP}`) },
  { name: "legacy-contact-admin", re: new RegExp(`^(?:Session|Weekly|Opus) limit (?:resets .+|reached) ${SEP} contact an admin`) },
  { name: "legacy-spending-cap", re: /^Spending cap reached/ },
  { name: "legacy-limit-contact", re: /^Limit reached [–-] contact/ },
  { name: "legacy-claude-usage-limit", re: /^Claude usage limit reached\./ },
  { name: "legacy-claude-ai-usage-limit", re: /^Claude AI usage limit reached\|/ },
  { name: "limit-retry", re: new RegExp(`^(?:Session|Weekly|Opus|Sonnet|Fable 5|Fable|5-hour|Usage|Usage credit) limit reached ${SEP} [Rr]etrying`) },
];

/** Hint and dialog lines that only appear together with a limit line (§1.6, §7.1 secondary). They carry no reset. */
export const SECONDARY_RULES: readonly Rule[] = [
  { name: "hint-upgrade", re: /^\/upgrade to increase your usage limit\.$/ },
  { name: "hint-upgrade-or-credits", re: /^\/upgrade or \/usage-credits to finish what you're working on\.$/ },
  { name: "hint-usage-credits", re: /^\/usage-credits to (?:finish what you're working on|request more usage from your admin|adjust your monthly spend limit)\.$/ },
  { name: "hint-login-api-billing", re: /^\/login to switch to an API usage-billed account\.$/ },
  { name: "hint-admin-extra-usage", re: /^Your admin can enable extra usage at .+\.$/ },
  { name: "hint-extra-usage", re: /^\/extra-usage to finish what you're working on\.$/ },
  { name: "hint-opening-options", re: /^Opening your options…$/ },
  { name: "hint-continue-after-reset", re: /^Press ⏎ to continue after reset$/ },
  { name: "dialog-stop-and-wait", re: /^Stop and wait for limit to reset$/ },
  { name: "dialog-wait-here", re: /^Wait here, then continue automatically .+$/ },
  { name: "dialog-title", re: /^What do you want to do\?$/, weak: true },
];

/** Server-side, network and capacity errors (§2, §7.2). Any of these on the screen region vetoes a quota verdict. */
export const TRANSIENT_RULES: readonly Rule[] = [
  { name: "api-error", re: /^API Error:(?! Usage credits required for 1M context)/ },
  { name: "not-your-usage-limit", re: /not your usage limit/i },
  { name: "request-timed-out", re: /^Request timed out/ },
  { name: "request-rejected-429", re: /^Request rejected \(429\)/ },
  { name: "high-demand", re: /^(?:We are experiencing high demand\b|Switched to .+ due to high demand\b)/ },
  { name: "retry-line", re: new RegExp(`^(?!.*limit reached ${SEP} [Rr]etrying).+? ${SEP} (?:[Rr]etrying|will retry)\\b`) },
  { name: "legacy-retry", re: /^Retrying in \d+ seconds?…? \(attempt \d+\/\d+\)/ },
  { name: "legacy-raw-error", re: /^\d{3} \{"type":"error"/ },
  { name: "error-json-type", re: /"type":"(?:api_error|overloaded_error)"/ },
];

/**
 * Lost logins (reference/real-claude.md §13.3): the account's login no longer works and only `/login` in its home fixes
 * it. 2.1.330 ends the turn with one of four texts, `Please run /login` always on the first line of the block: a 403
 * (or a 401 saying "revoked") as `OAuth token revoked · Please run /login` under the gutter, any other first-party
 * 401/403 (a token the CLI could not refresh) as `● Please run /login · API Error: 401 …`, no credentials, and a dead
 * refresh token. The rule's name is the verdict's `cause`. They win over the transient `API Error:` rule.
 */
export const LOGIN_RULES: readonly Rule[] = [
  { name: "revoked", re: new RegExp(`^OAuth token revoked ${SEP} Please run /login\\b`) },
  { name: "expired", re: new RegExp(`^Please run /login ${SEP} API Error: 40[13] OAuth token has expired\\b`) },
  { name: "refused", re: new RegExp(`^Please run /login ${SEP} API Error: 40[13]\\b`) },
  { name: "not-logged-in", re: new RegExp(`^Not logged in ${SEP} Please run /login\\b`) },
  { name: "login-expired", re: new RegExp(`^Login expired ${SEP} Please run /login\\b`) },
];

/** The input box's placeholder after a lost login (§13.3): dim text in an empty box, never typed by anyone. */
export const LOGIN_PLACEHOLDER_RE = /^Once fixed, resend your message$/;

/** "Soon, not yet" notices (§1.7): the session keeps working. */
export const WARNING_RULES: readonly Rule[] = [
  { name: "used-percent", re: /^You've used \d+% / },
  { name: "approaching-limit", re: /^Approaching .{1,60}limit\b/ },
  { name: "over-percent-used", re: /^Over \d+% of your .+ used\b/ },
  { name: "close-to-limit", re: /^You're close to / },
  { name: "now-using-credits", re: /^(?:You're now using|Now using) (?:usage credits|credits|your usage allocation|extra usage)\b/ },
];

/**
 * 2.1.330's own limit notices, drawn as `●` lines (not assistant prose) or in the footer under the prompt box
 * (reference/real-claude.md §3, §12): they count from those places, where other quota rules do not.
 */
export const NOTICE_RULES: readonly Rule[] = [
  { name: "auto-continue-set", re: new RegExp(`^Usage limit reached(?: again)? ${SEP} set to continue automatically`) },
  { name: "footer-limit-reached", re: new RegExp(`^⚠ Usage limit reached ${SEP} limit resets `) },
];

/** `● Usage limit reset · Continuing automatically`: the quota came back and Claude Code continues by itself. */
export const QUOTA_BACK_RE = new RegExp(`^Usage limit reset ${SEP} Continuing automatically`);

/** Fast-mode limits: Claude Code falls back to normal speed, the account is fine (§1.7). */
export const FAST_MODE_RULES: readonly Rule[] = [
  { name: "fast-limit", re: /^(?:You've hit your fast limit|Fast limit reached|Fast mode overloaded)/ },
];

const KIND_RULES: ReadonlyArray<[LimitKind, RegExp]> = [
  ["spend", /spend limit|spending cap/i],
  ["credits", /usage credits?\b|extra usage|credit limit/i],
  ["org", /\borg\b|org's|organi[sz]ation|admin|group|team's|channel's|seat type|service is disabled/i],
  ["five_hour", /5-hour|session limit/i],
  ["opus", /\bopus\b/i],
  ["sonnet", /\bsonnet\b/i],
  ["fable", /\bfable\b/i],
  ["weekly", /\bweekly\b/i],
  ["usage", /usage limit|^You've hit your limit|^Limit reached/i],
];

/** Which limit a quota line names, judged on its head (the text before the first ` · `, `|` or sentence end). */
export function limitKindOf(line: string): LimitKind {
  const head = normalize(line).split(/ [·∙] |\||\. /)[0] ?? "";
  for (const [kind, re] of KIND_RULES) if (re.test(head)) return kind;
  return "unknown";
}

/** Text as matched: NBSP → space, typographic apostrophe → ASCII, spaces collapsed and trimmed. */
export function normalize(text: string): string {
  return text.replace(/\u00a0/g, " ").replace(/[\u2018\u2019]/g, "'").replace(/[ \t]+/g, " ").trim();
}

/** The first rule of `rules` matching `text` (already normalized), if any. */
export function firstMatch(rules: readonly Rule[], text: string): Rule | undefined {
  return rules.find((rule) => rule.re.test(text));
}

/** Rules already built for a given patterns array (the daemon passes the same array on every poll). */
const EXTRA_RULES = new WeakMap<readonly RegExp[], Map<string, Rule[]>>();

/** Config-supplied regexes as named rules; `g`/`y` flags are dropped so `test()` keeps no state. */
export function extraRules(patterns: readonly RegExp[] | undefined, prefix: string): Rule[] {
  if (!patterns?.length) return [];
  let byPrefix = EXTRA_RULES.get(patterns);
  if (!byPrefix) EXTRA_RULES.set(patterns, (byPrefix = new Map()));
  let rules = byPrefix.get(prefix);
  if (!rules) {
    rules = patterns.map((re) => ({ name: `${prefix}:${re.source}`, re: new RegExp(re.source, re.flags.replace(/[gy]/g, "")) }));
    byPrefix.set(prefix, rules);
  }
  return rules;
}

/** Removes CSI and OSC escape sequences (colours, cursor moves, titles). */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, "").replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "").replace(/\x1b[@-Z\\-_]/g, "");
}

/** A horizontal rule of `─` (the prompt box's top and bottom borders). */
export function isRule(line: string): boolean {
  const t = line.trim();
  return t.length >= 3 && (t.match(/─/g)?.length ?? 0) >= t.length * 0.6;
}

/** The prompt line: `❯` (or `>` under TERM=linux, `!` in bash mode) and NBSP; not a numbered select option. */
export function isPromptLine(line: string): boolean {
  return /^[❯>!](?:[\u00a0 ]|$)/.test(line) && !/^❯[\u00a0 ]?\d+\./.test(line);
}

/** A select-list option (`❯ 1. Yes`, `  2. No`), captured without its pointer and number. */
export const OPTION_RE = /^\s*(?:❯[\u00a0 ]*)?\d+\.\s+(.*)$/;

/** A spinner or status line at column 0: a glyph of the spinner cycle, a space, then text. */
export const STATUS_RE = /^[·✢*✶✻✽✳] (\S.*)$/;

/** A spinner line of a running turn (verb followed by `…`), or a retry line: the model is working. */
export function isBusyStatus(line: string): boolean {
  return /…|[Rr]etrying|will retry/.test(STATUS_RE.exec(line)?.[1] ?? "");
}

/** Lines that show a dialog or permission prompt waiting for a person. */
export const WAITING_RE = /Do you want to (?:proceed|make this edit|create|allow|overwrite)|Waiting for permission|What do you want to do\?|Enter to confirm|Yes, I trust this folder|Yes, I accept|^\s*❯[\u00a0 ]?\d+\. /;

/** A plain shell prompt as the last line (`user@host:~$`, `root@host:/#`, zsh `host%`; not `100%`). */
export function isShellPrompt(line: string): boolean {
  return /(?:[$#]|[^\d\s]%)$/.test(line.trimEnd()) && !/^[❯●⏺⎿─]/.test(line.trim());
}

// ---- Screen model: physical pane lines → logical lines --------------------------------------------------------

/** A tool-call header once the bullet is gone: `Read(notes.md)`, `Bash(ls)`, `Web Search(…)`, `ctx7 - resolve (MCP)(…)`. */
const TOOL_HEADER_RE = /^[A-Za-z_][\w.:-]*(?: [A-Z][\w.:-]*)?(?: - [\w.:-]+)?(?: \(MCP\))?\(/;

/**
 * Where a logical line came from on screen; decides which rules may apply to it: `gutter` (a `⎿` block), `tool` (the
 * first `⎿` block under a `● Tool(…)` header: the tool's own output), `bullet` (assistant prose or an API error),
 * `status` (spinner/retry line), `echo` (a user message), `plain` (anything else: dialogs, shell output).
 */
export type Origin = "gutter" | "tool" | "bullet" | "status" | "echo" | "plain";
/** One logical line: normalized text, origin, first screen line, and the physical parts it was joined from. */
export interface Logical { text: string; origin: Origin; start: number; parts: string[] }

/** ANSI stripped, trailing spaces and trailing blank lines removed. */
export function clean(lines: string[]): string[] {
  const out = lines.map((l) => stripAnsi(l).replace(/[\s\u00a0]+$/, ""));
  while (out.length > 0 && out.at(-1) === "") out.pop();
  return out;
}

/** Width in columns, counting code points (every glyph Claude Code draws here is one column). */
function width(text: string): number {
  return [...text].length;
}

/** The pane width, taken from the widest `─` rule (the prompt box spans the pane). */
export function inferWidth(screen: string[]): number | undefined {
  const rules = screen.filter(isRule).map(width);
  return rules.length > 0 ? Math.max(...rules) : undefined;
}

/** Physical lines with lines cut at the pane width glued back, each with the index of its first screen line. */
function unwrapHardCuts(screen: string[], cols: number | undefined): Array<{ text: string; start: number }> {
  const out: Array<{ text: string; start: number }> = [];
  for (let i = 0; i < screen.length; i++) {
    const start = i;
    let text = screen[i]!;
    // A cut that fell on a space leaves the line one short once tmux trims it: give that space back.
    while (cols !== undefined && width(screen[i]!) >= cols - 1 && !isRule(screen[i]!) && i + 1 < screen.length && isCutRest(screen[i + 1]!)) {
      text += (width(screen[i]!) < cols ? " " : "") + screen[++i]!;
    }
    out.push({ text, start });
  }
  return out;
}

/**
 * Could this line be the rest of a line cut at the pane width (not blank, not indented, not a new block)? A rest may
 * start with `· ` like a spinner frame; Claude Code leaves a blank line above its spinner, so that is not ambiguous.
 */
function isCutRest(line: string): boolean {
  return line.trim() !== "" && !/^ {2}/.test(line) && !/^[●⏺❯>⎿]/.test(line) && !isRule(line);
}

/** Splits the screen into logical lines, tagging each with where it came from (see {@link Origin}). */
export function toLogical(screen: string[], cols?: number): Logical[] {
  const out: Logical[] = [];
  let block: Origin | undefined;
  let current: Logical | undefined;
  const open = (text: string, origin: Origin, start: number) => {
    current = { text: normalize(text), origin, start, parts: [normalize(text)] };
    out.push(current);
  };
  for (const { text: raw, start } of unwrapHardCuts(screen, cols ?? inferWidth(screen))) {
    const line = raw.replace(/^\s*│\s?/, "").replace(/\s?│$/, "");
    const indent = /^[ \u00a0]*/.exec(line)![0].length;
    const gutter = /^ {0,4}⎿[ \u00a0]*(?:[●⏺✻][ \u00a0])?(.*)$/.exec(line);
    const bullet = /^[●⏺][ \u00a0]*(.*)$/.exec(line);
    const status = STATUS_RE.exec(line);
    if (line.trim() === "") { current = undefined; continue; }
    if (isRule(line)) { block = undefined; current = undefined; continue; }
    if (gutter) {
      const previous = out.at(-1);
      block = block === "bullet" && previous?.origin === "bullet" && TOOL_HEADER_RE.test(previous.text) ? "tool" : "gutter";
      open(gutter[1] ?? "", block, start);
    } else if (bullet) {
      block = "bullet";
      open(bullet[1] ?? "", "bullet", start);
    } else if (status) {
      block = "status";
      open(status[1] ?? "", "status", start);
    } else if (isPromptLine(line) && !OPTION_RE.test(line)) {
      block = "echo";
      open(line.slice(2), "echo", start);
    } else if ((block === "gutter" || block === "tool") && indent >= 5) {
      const hint = firstMatch(SECONDARY_RULES, normalize(line));
      if (current && !hint) append(current, line);
      else open(line, block, start);
    } else if ((block === "bullet" || block === "echo" || block === "status") && indent >= 2 && !firstMatch(WARNING_RULES, normalize(line))) {
      // Ink hard-wraps at the pane width with a two-space indent; a right-aligned or truncated notice (the usage
      // warning, indented as well) is a line of its own, not the rest of the line above.
      if (current) append(current, line);
      else open(line, block, start);
    } else {
      block = "plain";
      open(OPTION_RE.exec(line)?.[1] ?? line, "plain", start);
    }
  }
  return out.filter((l) => l.text !== "");
}

/** Joins a continuation line onto its logical line. */
function append(current: Logical, line: string): void {
  const part = normalize(line);
  current.text = normalize(`${current.text} ${part}`);
  current.parts.push(part);
}
