/**
 * @module hook
 * The `claude-failover hook <event>` side: Claude Code runs it for each injected hook with the event JSON on stdin.
 * It forwards the JSON to the daemon's hook sink over loopback HTTP and, when the daemon does not answer in time,
 * spools it to a file the daemon drains on its next poll. It never blocks Claude Code for more than about a second
 * and never fails its turn: every outcome exits 0. The shared secret it sends is read from a file named on its
 * command line ({@link readHookToken}), never passed as an argument, so no other local user can read it in `ps`.
 * A rate-limit StopFailure gets the `rate_limit_info` of the limit record Claude Code has just written to the
 * transcript (exact reset and limit kind), which the hook JSON itself lacks. It imports nothing of the daemon: the
 * binary's entry (cmd/main.ts) loads only this module for `hook`, since Claude Code runs it for every event.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Total budget for reading stdin and posting. */
export const HOOK_BUDGET_MS = 900;
/** Largest stdin accepted (hook JSON is small; a transcript excerpt may be a few KB). */
const MAX_STDIN_BYTES = 1024 * 1024;

/** Name of the token file in `state_dir`, created by the daemon with mode 0600. */
export const HOOK_TOKEN_FILE = "hook-token";
/** Environment variable that carried the secret in settings written by 0.4 and earlier (still read, never written). */
export const LEGACY_TOKEN_ENV = "CLAUDE_FAILOVER_HOOK_TOKEN";

/**
 * The hook secret: the first line of `tokenFile` (`<state_dir>/hook-token`, mode 0600, passed as `--token-file`),
 * else {@link LEGACY_TOKEN_ENV} from `env`; "" when neither (the daemon then refuses the POST and the event is spooled).
 * Never throws.
 */
export function readHookToken(tokenFile: string | null, env: Readonly<Record<string, string | undefined>>): string {
  if (tokenFile) {
    try {
      const token = readFileSync(tokenFile, "utf8").split("\n", 1)[0]!.trim();
      if (token) return token;
    } catch {
      // unreadable: fall back below
    }
  }
  return env[LEGACY_TOKEN_ENV] ?? "";
}

/** The hook command's words after `hook`: `<event> [--session S] [--url U] [--spool D] [--token-file F]`. */
export interface HookArgs {
  event: string | null;
  session: string | null;
  url: string;
  spoolDir: string;
  tokenFile: string | null;
}

/** The hook command's flags that take a value; any other `--flag` is a switch, ignored. */
const HOOK_VALUE_FLAGS = new Set(["session", "url", "spool", "token-file"]);

/** Reads {@link HookArgs} from `argv` (`--flag value` or `--flag=value`; unknown flags are ignored). Never throws. */
export function parseHookArgs(argv: readonly string[]): HookArgs {
  const flags = new Map<string, string>();
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      words.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    if (equals > 0) flags.set(arg.slice(2, equals), arg.slice(equals + 1));
    else if (HOOK_VALUE_FLAGS.has(arg.slice(2)) && i + 1 < argv.length) flags.set(arg.slice(2), argv[++i]!);
  }
  return {
    event: words[0] ?? null, session: flags.get("session") ?? null, url: flags.get("url") ?? "",
    spoolDir: flags.get("spool") ?? "/tmp", tokenFile: flags.get("token-file") ?? null,
  };
}

/**
 * `claude-failover hook <event> …` as Claude Code runs it: forwards the event on stdin ({@link forwardHook}). Always
 * exits 0 (an event with no name is ignored): a hook must never fail Claude Code's turn.
 */
export async function runHookCommand(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const args = parseHookArgs(argv);
  if (!args.event) return 0;
  await forwardHook({
    event: args.event, session: args.session, url: args.url, spoolDir: args.spoolDir,
    token: readHookToken(args.tokenFile, env), stdin: Bun.stdin.stream(), fetch, now: Date.now,
  });
  return 0;
}

/** Inputs of {@link forwardHook}. */
export interface HookForward {
  event: string;
  session: string | null;
  url: string;
  spoolDir: string;
  token: string;
  stdin: ReadableStream<Uint8Array> | null;
  fetch: typeof fetch;
  now: () => number;
}

/** How the event reached the daemon. */
export type HookOutcome = "posted" | "spooled" | "dropped";

/** Reads the hook JSON and hands it to the daemon, or spools it. Never throws. */
export async function forwardHook(input: HookForward): Promise<HookOutcome> {
  const started = input.now();
  const text = await readLimited(input.stdin, HOOK_BUDGET_MS / 2);
  let payload: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text || "{}");
    payload = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : { raw: text };
  } catch {
    payload = { raw: text.slice(0, 4096) };
  }
  if (input.event === "StopFailure" && payload.error === "rate_limit" && typeof payload.transcript_path === "string") {
    // Claude Code may append the limit record a moment after it runs the hook: look again briefly.
    let info = lastLimitInfo(payload.transcript_path);
    for (let i = 0; !info && i < LIMIT_RECORD_RETRIES; i++) {
      await Bun.sleep(LIMIT_RECORD_RETRY_MS);
      info = lastLimitInfo(payload.transcript_path);
    }
    if (info) payload.rate_limit_info = info;
  }
  const remaining = Math.max(100, HOOK_BUDGET_MS - (input.now() - started));
  if (input.url) {
    try {
      const target = `${input.url.replace(/\/+$/, "")}/hooks/${encodeURIComponent(input.event)}${input.session ? `?session=${encodeURIComponent(input.session)}` : ""}`;
      const response = await input.fetch(target, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Claude-Failover-Hook": input.token },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(remaining),
      });
      if (response.ok) return "posted";
    } catch {
      // daemon down or slow: spool below
    }
  }
  try {
    mkdirSync(input.spoolDir, { recursive: true, mode: 0o700 });
    const name = `${String(input.now()).padStart(14, "0")}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const temp = join(input.spoolDir, `.${name}.tmp`);
    writeFileSync(temp, JSON.stringify({ event: input.event, session: input.session, payload, at: input.now() }), { mode: 0o600 });
    renameSync(temp, join(input.spoolDir, `${name}.json`));
    return "spooled";
  } catch {
    return "dropped";
  }
}

async function readLimited(stream: ReadableStream<Uint8Array> | null, timeoutMs: number): Promise<string> {
  if (!stream) return "";
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || !value) break;
      chunks.push(value);
      size += value.length;
      if (size > MAX_STDIN_BYTES) break;
    }
  } catch {
    // cancelled by the timer: use what arrived
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, MAX_STDIN_BYTES);
}

/** Extra reads of the transcript, this far apart, when its limit record is not there yet (within the budget). */
const LIMIT_RECORD_RETRIES = 3;
const LIMIT_RECORD_RETRY_MS = 100;

/** Bytes read from the end of a transcript when looking for the turn's limit record. */
const TRANSCRIPT_TAIL_BYTES = 256 * 1024;

/**
 * The `apiErrorParams.rate_limit_info` of the transcript's last assistant record, when that record is a usage-limit
 * error (`apiError: "usage_limit_reached"`); null otherwise, or when the file cannot be read.
 */
export function lastLimitInfo(path: string): Record<string, unknown> | null {
  let text: string;
  try {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, TRANSCRIPT_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  for (const line of text.split("\n").reverse()) {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (record.type === "user") return null;
    if (record.type !== "assistant") continue;
    const info = (record.apiErrorParams as { rate_limit_info?: unknown } | undefined)?.rate_limit_info;
    return record.apiError === "usage_limit_reached" && typeof info === "object" && info !== null ? info as Record<string, unknown> : null;
  }
  return null;
}
