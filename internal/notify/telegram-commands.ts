/**
 * @module notify/telegram-commands
 * What the operator can do from Telegram: the commands (`/status`, `/swap`, `/pause`, `/resume`, `/enable`, `/tasks`,
 * `/tail`, `/help`), the inline buttons under messages about a swap, a limit, a lost login or exhausted accounts (Swap now, Pause or
 * Resume, Enable <account>), and their wording. Every update passes the chat allowlist first; an update from any
 * other chat is dropped with a log line and acts on nothing. Acts only through the injected {@link OperatorControl};
 * the Bot API calls, delivery and errors are telegram.ts.
 */
import type { Bot, Context } from "grammy";
import type { Logger } from "../log.ts";
import type { StatusSnapshot } from "../state/status.ts";
import type { ActionResult, OperatorControl } from "../control/control.ts";
import type { TaskRow } from "../state/state.ts";
import { escapeHtml, formatWhen, type EventKind, type NotifyEvent } from "./events.ts";

export const TAIL_LINES = 20;
const LIST_LIMIT = 30;
/** Telegram's limit on a button's callback data, in bytes. */
const CALLBACK_DATA_BYTES = 64;
/** Most Enable buttons under one message. */
const ENABLE_BUTTONS = 4;
const CALLBACK_PREFIX = "cf:";

/** The command menu, also shown by /help. */
export const COMMANDS: ReadonlyArray<{ command: string; description: string }> = [
  { command: "status", description: "Accounts, sessions, queue, last swap" },
  { command: "swap", description: "Swap now: /swap [account]" },
  { command: "pause", description: "Pause task dispatch" },
  { command: "resume", description: "Resume task dispatch" },
  { command: "enable", description: "Account usable again (after /login in its home): /enable <account>" },
  { command: "tasks", description: "Queued and running tasks" },
  { command: "tail", description: "Last lines of a session: /tail <session>" },
  { command: "help", description: "This list" },
];

/** Messages that carry action buttons: a swap (a limit hit starts one) and exhausted accounts. */
export const ACTION_KINDS: ReadonlySet<EventKind> = new Set<EventKind>(["swap_started", "swap_done", "swap_failed", "accounts_exhausted", "login_lost"]);

/** An inline keyboard as the Bot API takes it. */
export interface InlineKeyboard {
  inline_keyboard: Array<Array<{ text: string; callback_data: string }>>;
}

/** What serving commands needs from telegram.ts. */
export interface CommandContext {
  control: OperatorControl;
  allowed: ReadonlySet<number>;
  log: Logger;
  /** A failed handler's error as a log field, secrets redacted. */
  describeError(error: unknown): string;
  /** `/status` rendered now. */
  status(): string;
  /** Replies in the update's chat (HTML, cut to Telegram's limit). */
  reply(ctx: Context, html: string): Promise<unknown>;
}

/**
 * The buttons under a message about `event`, given the state now: Swap now, then Pause or Resume (whichever applies),
 * then Enable <account> for each cooling or disabled account. Null for other kinds.
 */
export function actionKeyboard(event: NotifyEvent, status: StatusSnapshot): InlineKeyboard | null {
  if (!ACTION_KINDS.has(event.kind)) return null;
  const button = (text: string, action: string) => ({ text, callback_data: CALLBACK_PREFIX + action });
  const enable = status.accounts
    .filter((a) => a.state !== "available" && new TextEncoder().encode(`${CALLBACK_PREFIX}enable:${a.name}`).length <= CALLBACK_DATA_BYTES)
    .slice(0, ENABLE_BUTTONS)
    .map((a) => button(`Enable ${a.name}`, `enable:${a.name}`));
  const rows = [[button("Swap now", "swap"), status.paused ? button("Resume", "resume") : button("Pause", "pause")]];
  for (let i = 0; i < enable.length; i += 2) rows.push(enable.slice(i, i + 2));
  return { inline_keyboard: rows };
}

/** Registers the allowlist, the commands and the button handler on `bot`. */
export function serveCommands(bot: Bot, c: CommandContext): void {
  const { control, log, reply } = c;
  // Registered first: nothing below runs for a chat that is not on the list.
  bot.use(async (ctx, next) => {
    const chatId = ctx.chat?.id;
    if (chatId !== undefined && c.allowed.has(chatId)) return next();
    log.warn("telegram update from unknown chat dropped", { chat_id: chatId ?? null, update_id: ctx.update.update_id });
  });
  bot.catch((err) => log.error("telegram command failed", { update_id: err.ctx.update.update_id, error: c.describeError(err.error) }));
  bot.command("status", (ctx) => reply(ctx, c.status()));
  bot.command("swap", async (ctx) => reply(ctx, outcome(await control.swap(ctx.match.trim() || undefined))));
  bot.command("pause", (ctx) => reply(ctx, outcome(control.pause())));
  bot.command("resume", (ctx) => reply(ctx, outcome(control.resume())));
  bot.command("enable", (ctx) => {
    const name = ctx.match.trim();
    return reply(ctx, name ? outcome(control.setAccountEnabled(name, true)) : "Usage: /enable &lt;account&gt;");
  });
  bot.command("tasks", (ctx) => reply(ctx, renderTasks(control.tasks())));
  bot.command("tail", async (ctx) => {
    const name = ctx.match.trim();
    if (!name) return reply(ctx, "Usage: /tail &lt;session&gt;");
    const lines = await control.tail(name, TAIL_LINES);
    if (!lines) return reply(ctx, `${escapeHtml(name)}: not an owned session`);
    return reply(ctx, `<b>${escapeHtml(name)}</b>\n<pre>${escapeHtml(lines.join("\n").slice(-3500))}</pre>`);
  });
  bot.command(["help", "start"], (ctx) => reply(ctx, COMMANDS.map((cmd) => `/${cmd.command} — ${escapeHtml(cmd.description)}`).join("\n")));
  bot.on("callback_query:data", async (ctx) => {
    const [label, result] = await pressed(control, ctx.callbackQuery.data);
    log.info("telegram button pressed", { action: label, ok: result.ok, chat_id: ctx.chat?.id ?? null });
    await ctx.answerCallbackQuery({ text: result.message.slice(0, 200) });
    await reply(ctx, `${outcome(result)} <i>(${escapeHtml(label)})</i>`);
  });
}

/** Runs the action behind a button's data; returns its label and what happened. */
async function pressed(control: OperatorControl, data: string): Promise<[string, ActionResult]> {
  const action = data.startsWith(CALLBACK_PREFIX) ? data.slice(CALLBACK_PREFIX.length) : "";
  if (action === "swap") return ["Swap now", await control.swap()];
  if (action === "pause") return ["Pause", control.pause()];
  if (action === "resume") return ["Resume", control.resume()];
  if (action.startsWith("enable:")) {
    const account = action.slice("enable:".length);
    return [`Enable ${account}`, control.setAccountEnabled(account, true)];
  }
  return ["unknown button", { ok: false, message: "this button is not known to this version" }];
}

function outcome(r: ActionResult): string {
  return `${r.ok ? "✅" : "❌"} ${escapeHtml(r.message)}`;
}

/** `/status` for a phone: accounts with countdowns, sessions by state, queue counts, last swap. */
export function renderStatus(s: StatusSnapshot, now: number, timeZone: string): string {
  const at = (iso: string) => formatWhen(Date.parse(iso), now, timeZone);
  const flags = [s.paused && "paused", s.swapping && "swapping", s.exhausted && `exhausted${s.wake_at ? `, wakes ${at(s.wake_at)}` : ""}`];
  const head = `<b>claude-failover ${escapeHtml(s.version)}</b> — active ${escapeHtml(s.active_account ?? "none")}`;
  const lines = [head + flags.filter(Boolean).map((f) => ` · ${f}`).join(""), "<b>Accounts</b>"];
  for (const a of s.accounts) {
    const reset = a.state === "cooling" && a.reset_at ? `, resets ${at(a.reset_at)}` : a.login_fix ? ` — run ${escapeHtml(a.login_fix)}, then /login, then /enable ${escapeHtml(a.name)}` : "";
    const models = (a.models ?? []).map((m) => `, ${escapeHtml(m.model)} limited until ${at(m.reset_at)}`).join("");
    lines.push(`• ${escapeHtml(a.name)}${a.name === s.active_account ? " ★" : ""} ${a.state}${reset}${models}`);
  }
  const byState = new Map<string, string[]>();
  for (const x of s.sessions) byState.set(x.state, [...(byState.get(x.state) ?? []), x.task ? `${x.name} (${x.task})` : x.name]);
  lines.push(`<b>Sessions</b> ${[...byState].map(([state, names]) => `${names.length} ${state}`).join(", ") || "none"}`);
  for (const [state, names] of byState) if (state !== "idle") lines.push(`${state}: ${escapeHtml(names.join(", "))}`);
  lines.push(`<b>Tasks</b> ${Object.entries(s.tasks).map(([state, n]) => `${n} ${state}`).join(", ")}`);
  const last = s.last_swap;
  if (last) lines.push(`<b>Last swap</b> ${escapeHtml(`${last.from ?? "?"} → ${last.to ?? "?"}, ${at(last.at)}, ${last.step}: ${last.reason}`)}`);
  return lines.join("\n");
}

function renderTasks(rows: TaskRow[]): string {
  const open = rows.filter((t) => t.state === "queued" || t.state === "running" || t.state === "stalled");
  if (open.length === 0) return "No queued or running tasks.";
  const lines = open.slice(0, LIST_LIMIT).map((t) => `#${t.id} ${t.state} ${t.project}/${t.file}${t.session ? ` on ${t.session}` : ""}`);
  if (open.length > LIST_LIMIT) lines.push(`… and ${open.length - LIST_LIMIT} more`);
  return escapeHtml(lines.join("\n"));
}
