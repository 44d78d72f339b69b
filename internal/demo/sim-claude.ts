/**
 * @module sim-claude
 * A simulated Claude Code for tests and `claude-failover demo` (hidden subcommand `claude-failover sim-claude …`):
 * reads the flags the daemon passes, validates the session id like the CLI (reference/claude-code.md §3), runs the
 * interactive loop (keys → prompt → busy turn → reply or error line) and decides what each turn ends with. Quota and
 * server-error lines come on demand: a `<home>/sim-quota` file (or the one its login names, sim-login.ts), `[sim:…]`
 * prompt directives or `SIM_CLAUDE_START_LINE`. A refused login (reference/real-claude.md §13.3: the line, the
 * `authentication_failed` record and StopFailure, the `Once fixed, resend your message` placeholder) comes from the
 * refusal file its login names (sim-login.ts) or the `auth` switch of `sim-faults.json`. Its login is re-read for every request, like the real CLI.
 * A turn follows 2.1.330 (reference/real-claude.md §5–§6): the `user` record (with a fresh `promptId`) is written before
 * UserPromptSubmit fires; the reply or API-error record, then Stop or StopFailure (both with `prompt_id`), and only once
 * that hook command has returned, `stop_hook_summary` and `turn_duration`, after which the prompt is idle again.
 * Hooks can be dropped, delayed, duplicated or reordered, and a turn made to crash, through `<home>/sim-faults.json`
 * (sim-faults.ts documents the knobs) or `[sim:crash=<code>]`. A per-model limit ("You've hit your Opus limit") comes from
 * a `sim-model-limit` file (in the home, or beside the login's quota file) and only for the default model (no `--model`);
 * it opens the limit dialog in place of the prompt box, as 2.1.330 does: Esc closes it, and every other key pressed
 * while it shows is appended to `<home>/sim-dialog-keys.log` (nothing may be typed there). Its registry status is
 * only `idle` or `busy`. A usage warning or extra-usage line (`<account
 * home>/sim-usage`, first line verbatim, next to the login's quota file; or the faults file's `usage`) is drawn like
 * 2.1.330 draws its notifications: right-aligned above the input box, ~5 s after a reply (0.7 s for `You're now using
 * …`), for ~8 s, once per distinct text (`SIM_CLAUDE_WARNING_DELAY_MS`, `SIM_CLAUDE_WARNING_MS`). Drawing, key decoding and texts are in sim-screen.ts; transcript, registry and hooks
 * in sim-store.ts; flags in sim-args.ts. Uses its own process's terminal and never calls `process.exit`: the caller exits
 * with the returned code.
 */
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { appendFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { transcriptPath } from "../claude/home.ts";
import {
  INTERRUPTED_TEXT, LOGIN_PLACEHOLDER, UPGRADE_HINT, classifyErrorText, loginLine, createKeyReader, defaultQuotaLine, limitDialogLines, parseDirectives, renderFrame,
  resolveTimeZone, type SimDirectives, type SimEntry, type SimKey,
} from "./sim-screen.ts";
import { SIM_VERSION, createSimStore, loadHooks, readTranscript } from "./sim-store.ts";
import { autoContinueEnabled, logSimRequest, readSimLogin, refreshSimLogin, simLoginRefusal, type SimRequestLogin } from "./sim-login.ts";
import { parseSimArgs, type SimArgs } from "./sim-args.ts";
import { consumeFaults, planAuth, planCrash, planHook, planIdleNotify, planUsage, type HookPlan } from "./sim-faults.ts";
import { findResetTime } from "../quota/reset-time.ts";

/** How long a turn stays busy unless `SIM_CLAUDE_TURN_MS` or `[sim:work=…]` says otherwise. */
export const DEFAULT_TURN_MS = 1500;
const DEFAULT_IDLE_NOTIFY_MS = 60_000;
/** 2.1.330: a usage warning follows a reply by ~5 s and stays 8 s; the credits line ("immediate") follows by ~0.7 s. */
const DEFAULT_WARNING_DELAY_MS = 5_000;
const DEFAULT_WARNING_MS = 8_000;
const CREDITS_NOTICE_DELAY_MS = 700;
const DEFAULT_MODEL = "claude-sim-1";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MODE_LABELS: Record<string, string> = {
  bypassPermissions: "⏵⏵ bypass permissions on", acceptEdits: "⏵⏵ accept edits on", plan: "⏸ plan mode on",
  auto: "⏵⏵ auto mode on", dontAsk: "⏵⏵ don't ask on",
};
/** Runs the simulated Claude Code on this process's terminal until it exits; resolves to the exit code. */
export async function runSimClaude(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  if (argv.includes("--version") || argv.includes("-v")) return (process.stdout.write(`${SIM_VERSION} (Claude Code, simulated)\n`), 0);
  const args = parseSimArgs(argv);
  const fail = (message: string) => (process.stderr.write(`${message}\n`), 1);
  const home = (env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), ".claude")).normalize("NFC");
  const cwd = process.cwd();
  if (args.sessionId !== undefined && args.resume !== undefined && !args.forkSession) {
    return fail("Error: --session-id can only be used with --continue or --resume if --fork-session is also specified.");
  }
  let sessionId = args.sessionId ?? randomUUID();
  let path = transcriptPath(home, cwd, sessionId);
  let previous: ReturnType<typeof readTranscript> = { entries: [], lastUuid: null, prompts: 0 };
  let source: string | undefined;
  if (args.resume !== undefined) {
    const file = isAbsolute(args.resume) && args.resume.endsWith(".jsonl") ? args.resume : undefined;
    const id = file ? basename(file, ".jsonl") : args.resume;
    if (!id) return fail("Error: --resume needs a session ID here (the simulator has no picker).");
    if (!UUID_RE.test(id)) return fail("Error: Invalid session ID. Must be a valid UUID.");
    source = file ?? transcriptPath(home, cwd, id);
    if (!existsSync(source)) return fail(`No conversation found with session ID: ${id}`);
    previous = readTranscript(readFileSync(source, "utf8"));
    if (!args.forkSession) [sessionId, path] = [id, source];
  }
  if (!UUID_RE.test(sessionId)) return fail("Error: Invalid session ID. Must be a valid UUID.");
  if (path !== source && existsSync(path)) return fail(`Error: Session ID ${sessionId} is already in use.`);
  if (source && path !== source) {
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(source, path); // --fork-session: the new id starts with a copy of the conversation
  }
  return runSession({ args, env, home, cwd, sessionId, path, previous, resumed: args.resume !== undefined });
}

interface SessionSetup {
  args: SimArgs;
  env: Record<string, string | undefined>;
  home: string;
  cwd: string;
  sessionId: string;
  path: string;
  previous: ReturnType<typeof readTranscript>;
  resumed: boolean;
}

function runSession({ args, env, home, cwd, sessionId, path, previous, resumed }: SessionSetup): Promise<number> {
  const { stdin, stdout } = process;
  const permissionMode = args.skipPermissions ? "bypassPermissions" : args.permissionMode ?? "default";
  const store = createSimStore({ home, cwd, sessionId, transcript: path, lastUuid: previous.lastUuid, permissionMode, env,
    hooks: loadHooks(home, args.settings), pid: process.pid });
  const mode = MODE_LABELS[permissionMode] ?? "";
  const model = args.model || DEFAULT_MODEL;
  const timeZone = resolveTimeZone(env.TZ);
  const turnMs = env.SIM_CLAUDE_TURN_MS && Number(env.SIM_CLAUDE_TURN_MS) >= 0 ? Number(env.SIM_CLAUDE_TURN_MS) : DEFAULT_TURN_MS;
  const idleNotifyMs = Number(env.SIM_CLAUDE_IDLE_NOTIFY_MS) > 0 ? Number(env.SIM_CLAUDE_IDLE_NOTIFY_MS) : DEFAULT_IDLE_NOTIFY_MS;
  const warningDelayMs = Number(env.SIM_CLAUDE_WARNING_DELAY_MS) >= 0 && env.SIM_CLAUDE_WARNING_DELAY_MS ? Number(env.SIM_CLAUDE_WARNING_DELAY_MS) : DEFAULT_WARNING_DELAY_MS;
  const warningMs = Number(env.SIM_CLAUDE_WARNING_MS) > 0 ? Number(env.SIM_CLAUDE_WARNING_MS) : DEFAULT_WARNING_MS;
  const entries: SimEntry[] = [...previous.entries];
  if (env.SIM_CLAUDE_START_LINE) entries.push({ kind: "error", text: env.SIM_CLAUDE_START_LINE });
  const reader = createKeyReader();
  const decoder = new TextDecoder();
  let input = "";
  let busySince: number | undefined;
  let notice: string | undefined;
  let title = "";
  let lastCtrlC = 0;
  let finished = false;
  let turnTimer: Timer | undefined, spinnerTimer: Timer | undefined, idleTimer: Timer | undefined;
  let noticeTimer: Timer | undefined, escTimer: Timer | undefined, crashTimer: Timer | undefined;
  /** The usage notification on screen, its timer, and every text shown already (2.1.330 shows a text once). */
  let notification: string | undefined;
  let notificationTimer: Timer | undefined;
  const notificationsShown = new Set<string>();
  /** The login of the running turn's latest request (re-read for every request, like the real CLI). */
  let login: SimRequestLogin = { token: null, account: null, quotaFile: null };
  /** Footer of an armed automatic continue after a limit (`Esc` or a new prompt cancels it). */
  let armed: string | undefined;
  /** Dim text of the empty input box (after a refused login), until the next prompt. */
  let placeholder: string | undefined;
  /** The limit dialog shown in place of the prompt box (a per-model limit), until Esc or Enter. */
  let dialog: string[] | undefined;
  let resolveRun: (code: number) => void = () => {};
  let prompts = previous.prompts;
  /** The running turn: its prompt and the hooks a `reorder` fault holds until its Stop/StopFailure. */
  let turn: { prompt: string; promptId: string; held: Array<() => void> } | undefined;

  const size = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
  /** Fires a hook through the faults of `<home>/sim-faults.json`; resolves to the commands run on time, once they exit. */
  const fireHook = async (event: string, fields: Record<string, unknown>, of = turn): Promise<string[]> => {
    const plan: HookPlan = consumeFaults(home, (f) => planHook(f, event, of?.prompt))?.plan ?? { drop: false, delayMs: 0, hold: false };
    if (plan.drop) return [];
    const run = () => void store.fireHook(event, fields, size());
    if (plan.duplicateAfterMs !== undefined) setTimeout(run, plan.delayMs + plan.duplicateAfterMs);
    if (plan.hold && of) of.held.push(() => setTimeout(run, plan.delayMs));
    else if (plan.delayMs > 0) setTimeout(run, plan.delayMs);
    else return store.fireHook(event, fields, size());
    return [];
  };
  const write = (text: string) => {
    try {
      stdout.write(text);
    } catch {
      // the terminal is gone (pane killed): nothing left to draw on
    }
  };
  const render = (final = false) => {
    const { cols, rows } = size();
    const frame = renderFrame({ header: `Claude Code (simulated) · ${basename(home)}`, entries, input, busySince, now: Date.now(),
      mode, notice: notice ?? armed, placeholder, notification, promptChar: env.TERM === "linux" ? ">" : "❯", cols, rows, final, dialog });
    const nextTitle = busySince === undefined ? "✳ Claude Code" : `${Math.floor(Date.now() / 960) % 2 ? "◑" : "◐"} Claude Code`;
    const titleSeq = nextTitle === title ? "" : `\x1b]0;${(title = nextTitle)}\x07`;
    const body = frame.lines.map((line, i) => `\x1b[${i + 1};1H\x1b[2K${line}`).join("");
    const below = frame.lines.length < rows ? `\x1b[${frame.lines.length + 1};1H\x1b[J` : "";
    write(`${titleSeq}${body}${below}\x1b[${frame.cursorRow + 1};${frame.cursorCol + 1}H`);
  };
  const showNotice = (text: string) => {
    notice = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => ((notice = undefined), render()), 2000);
  };
  /** The usage line the turn's login (its account's `sim-usage`, next to its quota file) or the faults file asks for. */
  const readUsageLine = (): string | undefined => {
    for (const file of [join(home, "sim-usage"), login.quotaFile ? join(dirname(login.quotaFile), "sim-usage") : null]) {
      try {
        const line = file ? readFileSync(file, "utf8").split(/\r?\n/)[0]?.trim() : undefined;
        if (line) return line;
      } catch {
        // no usage notice from this source
      }
    }
    return consumeFaults(home, planUsage)?.line;
  };
  /** After a reply: the usage notification, drawn once per distinct text, for `warningMs`. */
  const scheduleUsageNotice = () => {
    const line = readUsageLine();
    if (!line || notificationsShown.has(line)) return;
    notificationsShown.add(line);
    clearTimeout(notificationTimer);
    notificationTimer = setTimeout(() => {
      notification = line;
      render();
      notificationTimer = setTimeout(() => ((notification = undefined), render()), warningMs);
    }, /^You're now using\b/.test(line) ? CREDITS_NOTICE_DELAY_MS : warningDelayMs);
  };
  const stopTurn = () => {
    clearTimeout(turnTimer);
    clearInterval(spinnerTimer);
    busySince = undefined;
    store.setStatus("idle");
  };
  const submit = (prompt: string) => {
    const { directives, text } = parseDirectives(prompt);
    const promptId = randomUUID();
    const current = (turn = { prompt, promptId, held: [] });
    clearTimeout(idleTimer);
    armed = undefined;
    placeholder = undefined;
    if (directives.refresh) refreshSimLogin(home);
    login = readSimLogin(home);
    logSimRequest(home, { sessionId, prompt, login, model });
    entries.push({ kind: "user", text: prompt });
    store.userPrompt(prompt, promptId, ++prompts);
    busySince = Date.now();
    store.setStatus("busy");
    void fireHook("UserPromptSubmit", { prompt, prompt_id: promptId });
    spinnerTimer = setInterval(render, 200);
    const workMs = directives.workMs ?? (directives.untilMs !== undefined ? Math.max(0, directives.untilMs - Date.now()) : turnMs);
    const crash = directives.crashCode !== undefined ? { code: directives.crashCode, afterMs: undefined }
      : consumeFaults(home, (f) => planCrash(f, prompt))?.plan;
    if (crash) crashTimer = setTimeout(() => void crashNow(crash.code), crash.afterMs ?? workMs / 2);
    turnTimer = setTimeout(() => void endTurn(directives, text || prompt, current), workMs);
    render();
  };
  /** A crash: the process goes with no reply, no hook, no end record, and its registry file left behind. */
  const crashNow = (code: number) => {
    if (finished) return;
    finished = true;
    for (const timer of [turnTimer, idleTimer, noticeTimer, escTimer, crashTimer, notificationTimer]) clearTimeout(timer);
    clearInterval(spinnerTimer);
    resolveRun(code);
  };
  const readQuotaFile = (): { line: string; hint?: string } | undefined => {
    let content: string | undefined;
    for (const file of [join(home, "sim-quota"), login.quotaFile]) {
      try {
        if (file) content ??= readFileSync(file, "utf8");
      } catch {
        // no limit from this source
      }
    }
    if (content === undefined) return readModelLimit();
    const [line, hint] = content.trim().split(/\r?\n/).map((l) => l.trim());
    return line ? { line, hint } : { line: defaultQuotaLine(new Date(), timeZone) };
  };
  /** The default model's own limit (`sim-model-limit`), which a session launched with `--model` does not hit. */
  const readModelLimit = (): { line: string; hint?: string; dialog: true } | undefined => {
    if (args.model) return undefined;
    for (const file of [join(home, "sim-model-limit"), login.quotaFile && join(dirname(login.quotaFile), "sim-model-limit")]) {
      try {
        if (!file) continue;
        const line = readFileSync(file, "utf8").trim().split(/\r?\n/)[0]?.trim();
        return { line: line || defaultQuotaLine(new Date(), timeZone).replace("5-hour", "Opus"), dialog: true };
      } catch {
        // no model limit from this source
      }
    }
    return undefined;
  };
  /**
   * Ends a turn as 2.1.330 does: the reply (or API-error) record, the Stop (or StopFailure) hook, and once the hook
   * command has returned, `stop_hook_summary` and `turn_duration`; only then is the prompt idle again.
   */
  const endTurn = async (directives: SimDirectives, text: string, current: NonNullable<typeof turn>) => {
    clearTimeout(crashTimer);
    const started = busySince ?? Date.now();
    // The turn's last request goes out now, with the login as it is now (a swap during the turn moved it).
    login = readSimLogin(home);
    // The server refuses the token before it looks at quota: a refused login wins over a limit.
    const refusal = simLoginRefusal(login) ?? consumeFaults(home, planAuth)?.kind;
    const quota = refusal ? undefined : readQuotaFile();
    const errorLine = refusal ? loginLine(refusal) : quota?.line ?? directives.say;
    let hook: Promise<string[]>;
    if (errorLine !== undefined) {
      const filing = classifyErrorText(errorLine);
      entries.push({ kind: "error", text: errorLine, hint: quota && !("dialog" in quota) ? quota.hint ?? (filing.apiError ? UPGRADE_HINT : undefined) : undefined });
      store.apiError(errorLine, filing, filing.apiError && findResetTime(errorLine, Date.now(), timeZone));
      hook = fireHook("StopFailure", { error: filing.error, last_assistant_message: errorLine, prompt_id: current.promptId }, current)
        .then(() => []);
      if (filing.error === "authentication_failed") placeholder = LOGIN_PLACEHOLDER;
      const resetAt = quota ? /resets (.+?)(?: \(|$)/.exec(errorLine)?.[1] : undefined;
      if (quota && "dialog" in quota) dialog = limitDialogLines(resetAt ?? "when the limit resets");
      else if (resetAt && autoContinueEnabled(home)) armed = `Continuing automatically at ${resetAt} · Esc to cancel`;
    } else {
      const reply = directives.reply ?? `Done: ${Array.from(text.replace(/\s+/g, " ")).slice(0, 60).join("")}`;
      entries.push({ kind: "assistant", text: reply });
      store.assistantReply(model, reply);
      hook = fireHook("Stop", { stop_hook_active: false, last_assistant_message: reply, prompt_id: current.promptId }, current);
      scheduleUsageNotice();
    }
    render();
    const stopHooks = await hook;
    current.held.splice(0).forEach((run) => run());
    if (finished || turn !== current) return; // interrupted or gone while the hook ran
    store.turnEnded(Date.now() - started, stopHooks);
    turn = undefined;
    stopTurn();
    render();
    idleTimer = setTimeout(() => void fireHook("Notification", { message: "Claude is waiting for your input", title: "Claude Code",
      notification_type: "idle_prompt" }, current), consumeFaults(home, planIdleNotify)?.ms ?? idleNotifyMs);
    if (directives.exitCode !== undefined) void finish(directives.exitCode, "other");
  };
  const interrupt = () => {
    turn?.held.splice(0).forEach((run) => run());
    turn = undefined;
    clearTimeout(crashTimer);
    stopTurn();
    entries.push({ kind: "error", text: INTERRUPTED_TEXT });
    store.interrupted();
  };
  const onKey = (key: SimKey) => {
    const busy = busySince !== undefined;
    if (dialog && !busy) {
      // Esc cancels the dialog; Enter confirms option 1 (stop and wait). Anything else lands in the dialog: logged.
      if (key.type !== "escape") {
        try {
          appendFileSync(join(home, "sim-dialog-keys.log"), `${JSON.stringify(key)}\n`);
        } catch {
          // best effort, like every simulator write
        }
      }
      if (key.type === "escape" || key.type === "enter") dialog = undefined;
      return render();
    }
    if (key.type === "text" || key.type === "paste") input += key.text;
    else if (key.type === "newline") input += "\n";
    else if (key.type === "backspace") input = Array.from(input).slice(0, -1).join("");
    else if (key.type === "escape" && armed) {
      armed = undefined;
      entries.push({ kind: "assistant", text: "Automatic continue cancelled · /rate-limit-options to wait again" });
    } else if (key.type === "escape" && busy) interrupt();
    else if (key.type === "eof" && !input) return void finish(0, "prompt_input_exit");
    else if (key.type === "enter" && !busy && input.trim()) {
      const prompt = input.trim();
      input = "";
      return submit(prompt);
    } else if (key.type === "interrupt") {
      if (busy) interrupt();
      else if (input) input = "";
      else if (Date.now() - lastCtrlC < 2000) return void finish(0, "prompt_input_exit");
      else {
        lastCtrlC = Date.now();
        showNotice("Press Ctrl-C again to exit");
      }
    }
    render();
  };
  const onData = (chunk: Buffer | string) => {
    clearTimeout(escTimer);
    for (const key of reader.feed(typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true }))) if (!finished) onKey(key);
    if (reader.waiting()) escTimer = setTimeout(() => reader.flush().forEach((key) => !finished && onKey(key)), 30);
  };
  const onEnd = () => void (stdin.isTTY ? finish(129, "other", true) : finish(0, "prompt_input_exit")); // TTY end = pane gone
  const onResize = () => render();
  const onHup = () => void finish(129, "other", true);
  const onTerm = () => void finish(143, "other");
  const onInt = () => void finish(130, "other");
  const ignore = () => {};
  const finish = async (code: number, reason: string, terminalGone = false) => {
    if (finished) return;
    finished = true;
    for (const timer of [turnTimer, idleTimer, noticeTimer, escTimer, crashTimer, notificationTimer]) clearTimeout(timer);
    clearInterval(spinnerTimer);
    busySince = undefined;
    void fireHook("SessionEnd", { reason }, undefined);
    store.removeStatus();
    stdin.off("data", onData).off("end", onEnd);
    stdout.off("resize", onResize);
    process.off("SIGHUP", onHup).off("SIGTERM", onTerm).off("SIGINT", onInt);
    if (!terminalGone) {
      render(true);
      const dim = (s: string) => `\x1b[2m${s}\x1b[22m`;
      write(`\r\n\r\n${dim("Resume this session with:")}\r\n${dim(`claude --resume ${sessionId}`)}\r\n`);
    }
    write("\x1b[?2004l");
    try {
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
    } catch {
      // the terminal may already be gone
    }
    await store.settle(1000);
    stdout.off("error", ignore);
    resolveRun(code);
  };

  const done = new Promise<number>((resolve) => (resolveRun = resolve));
  stdout.on("error", ignore);
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on("data", onData).on("end", onEnd).resume();
  stdout.on("resize", onResize);
  process.on("SIGHUP", onHup).on("SIGTERM", onTerm).on("SIGINT", onInt);
  write("\x1b[?2004h");
  store.setStatus("idle");
  render();
  void fireHook("SessionStart", { source: resumed ? "resume" : "startup", model });
  if (args.prompt) submit(args.prompt);
  return done;
}
