/**
 * @module sim-store
 * What the simulated Claude Code leaves outside its terminal, in the real program's formats (reference/claude-code.md
 * §1.8, §4, §6; reference/real-claude.md §5–§7 for 2.1.330): transcript JSONL records (the `user` record with its
 * `promptId` and `turnPosition`, replies, API-error records, `stop_hook_summary` and `turn_duration`), the
 * `<uuid>/tool-results/` sibling folder, the live-session registry `<home>/sessions/<pid>.json`, and hook processes
 * fed their stdin JSON. Does not draw and does not decide what a turn says or when hooks fire (sim-claude.ts does).
 */
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { INTERRUPTED_TEXT, type ErrorFiling, type SimEntry } from "./sim-screen.ts";

/** Version written to `sessions/<pid>.json` and to transcript records. */
export const SIM_VERSION = "2.1.330-sim";
/** A hook still running after this long is killed (a hook's own shorter `timeout` wins). */
export const HOOK_TIMEOUT_MS = 10_000;
/** The user record Claude Code writes when a turn is interrupted. */
export const INTERRUPT_MARKER = "[Request interrupted by user]";
/** The hook-input field a group's `matcher` is tested against, per event. */
const MATCH_FIELD: Record<string, string> = { SessionStart: "source", StopFailure: "error", Notification: "notification_type", SessionEnd: "reason" };

/** Settings `hooks`: event → groups of `{matcher?, hooks: [{type: "command", command, timeout?}]}`. */
export type HookGroups = Record<string, Array<{ matcher?: unknown; hooks?: Array<{ type?: unknown; command?: unknown; timeout?: unknown }> }>>;

/** The `hooks` of `<home>/settings.json` and of `--settings` (JSON text or a file path), merged per event. Bad input is ignored. */
export function loadHooks(home: string, settingsArg?: string): HookGroups {
  const merged: HookGroups = {};
  for (const source of [join(home, "settings.json"), settingsArg]) {
    if (!source) continue;
    try {
      const settings = JSON.parse(source.trimStart().startsWith("{") ? source : readFileSync(source, "utf8"));
      for (const [event, groups] of Object.entries(settings?.hooks ?? {})) {
        if (Array.isArray(groups)) (merged[event] ??= []).push(...groups.filter((g) => g && typeof g === "object"));
      }
    } catch {
      // missing or malformed settings: no hooks from this source
    }
  }
  return merged;
}

/** Turns transcript JSONL back into conversation blocks (for `--resume`), finds the last record's uuid and counts prompts. */
export function readTranscript(jsonl: string): { entries: SimEntry[]; lastUuid: string | null; prompts: number } {
  const entries: SimEntry[] = [];
  let lastUuid: string | null = null;
  let prompts = 0;
  for (const line of jsonl.split("\n")) {
    let rec: { type?: string; uuid?: string; isApiErrorMessage?: boolean; message?: { content?: unknown } };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof rec.uuid === "string") lastUuid = rec.uuid;
    const content = rec.message?.content;
    const text = typeof content === "string" ? content : Array.isArray(content)
      ? content.filter((c) => c?.type === "text").map((c) => String(c.text)).join("\n") : "";
    if (rec.type === "user" && text === INTERRUPT_MARKER) entries.push({ kind: "error", text: INTERRUPTED_TEXT });
    else if (rec.type === "user" && text) {
      entries.push({ kind: "user", text });
      prompts++;
    }
    else if (rec.type === "assistant" && text) entries.push(rec.isApiErrorMessage ? { kind: "error", text } : { kind: "assistant", text });
  }
  return { entries, lastUuid, prompts };
}

/** Where and as whom a {@link SimStore} writes. */
export interface SimStoreOptions {
  home: string;
  cwd: string;
  sessionId: string;
  /** The transcript file; its folder also gets `<sessionId>/tool-results/`. */
  transcript: string;
  /** uuid of the last record already in the transcript (a resumed conversation), else null. */
  lastUuid: string | null;
  hooks: HookGroups;
  /** `permission_mode` reported to hooks. */
  permissionMode: string;
  /** Environment of hook commands, before Claude Code's own additions. */
  env: Record<string, string | undefined>;
  /** The process id the registry file is named after. */
  pid: number;
}

/** The simulator's writes and hook runs; every method swallows I/O errors (a failing disk or hook never stops the UI). */
export interface SimStore {
  /** The prompt's `user` record: `promptId`, `origin`, `promptSource: "typed"`, `turnPosition` (1-based `index`). */
  userPrompt(text: string, promptId: string, index: number): void;
  interrupted(): void;
  assistantReply(model: string, text: string): void;
  /** An `isApiErrorMessage` record; a quota hit also gets `apiErrorParams.rate_limit_info` with `resetsAt` (epoch ms). */
  apiError(text: string, filing: ErrorFiling, resetsAt?: number): void;
  /** The end of a turn: `stop_hook_summary` (when stop hooks ran) then `turn_duration`. */
  turnEnded(durationMs: number, stopHooks: readonly string[]): void;
  /** Writes `sessions/<pid>.json` atomically (temp file + rename). */
  setStatus(status: "idle" | "busy"): void;
  removeStatus(): void;
  /** Starts every matching command hook for `event` with the hook JSON on stdin; resolves to their commands once all have exited. */
  fireHook(event: string, fields: Record<string, unknown>, size?: { cols: number; rows: number }): Promise<string[]>;
  /** Waits for running hooks, at most `maxMs`. */
  settle(maxMs: number): Promise<void>;
}

/** Creates the {@link SimStore} of one session. */
export function createSimStore(o: SimStoreOptions): SimStore {
  const statusFile = join(o.home, "sessions", `${o.pid}.json`);
  const startedAt = Date.now();
  const pending = new Set<Promise<void>>();
  let lastUuid = o.lastUuid;
  const attempt = (action: () => void) => {
    try {
      action();
    } catch {
      // best effort, as documented on SimStore
    }
  };
  const append = (fields: Record<string, unknown>) => {
    const uuid = randomUUID();
    attempt(() => {
      mkdirSync(dirname(o.transcript), { recursive: true });
      appendFileSync(o.transcript, `${JSON.stringify({ parentUuid: lastUuid, isSidechain: false, userType: "external", cwd: o.cwd,
        sessionId: o.sessionId, version: SIM_VERSION, gitBranch: "", ...fields, uuid, timestamp: new Date().toISOString() })}\n`);
      const toolResults = join(dirname(o.transcript), o.sessionId, "tool-results");
      if (existsSync(toolResults)) return;
      mkdirSync(toolResults, { recursive: true });
      writeFileSync(join(toolResults, `toolu_sim_${o.sessionId.slice(0, 8)}.txt`), "simulated tool output\n");
    });
    lastUuid = uuid;
  };
  const message = (model: string, text: string) => ({ id: `msg_sim_${randomUUID().slice(0, 8)}`, type: "message", role: "assistant",
    model, content: [{ type: "text", text }], stop_reason: model === "<synthetic>" ? "stop_sequence" : "end_turn", stop_sequence: null,
    usage: { input_tokens: 0, output_tokens: 0 } });
  const requestId = () => `req_sim_${randomUUID().slice(0, 8)}`;
  const baseEnv = Object.fromEntries(Object.entries(o.env).filter((e): e is [string, string] => e[1] !== undefined));
  return {
    userPrompt: (text, promptId, index) => append({ type: "user", promptId, message: { role: "user", content: text },
      permissionMode: o.permissionMode, origin: { kind: "human" }, promptSource: "typed", turnPosition: { promptIndex: index, turnIndex: index } }),
    interrupted: () => append({ type: "user", message: { role: "user", content: [{ type: "text", text: INTERRUPT_MARKER }] } }),
    assistantReply: (model, text) => append({ type: "assistant", message: message(model, text), requestId: requestId() }),
    apiError: (text, filing, resetsAt) => {
      const info = filing.apiError && { status: "rejected", resetsAt: Math.floor((resetsAt ?? Date.now() + 3_600_000) / 1000),
        rateLimitType: filing.rateLimitType, overageStatus: "rejected", isUsingOverage: false };
      append({ type: "assistant", message: message("<synthetic>", text), ...(filing.status !== null ? { requestId: requestId() } : {}),
        ...(info ? { apiError: filing.apiError, apiErrorParams: { rate_limit_info: info }, quotaLimits: info } : {}),
        ...(filing.transient ? { apiErrorIsTransient: true } : {}), error: filing.error, isApiErrorMessage: true,
        ...(filing.status !== null ? { apiErrorStatus: filing.status, apiErrorType: filing.type } : {}) });
    },
    turnEnded: (durationMs, stopHooks) => {
      if (stopHooks.length) append({ type: "system", subtype: "stop_hook_summary", hookCount: stopHooks.length,
        hookInfos: stopHooks.map((command) => ({ command })), hookErrors: [], preventedContinuation: false, stopReason: "",
        hasOutput: false, level: "suggestion" });
      append({ type: "system", subtype: "turn_duration", durationMs: Math.max(0, Math.round(durationMs)), isMeta: false });
    },
    setStatus: (status) => attempt(() => {
      mkdirSync(dirname(statusFile), { recursive: true, mode: 0o700 });
      const tmp = `${statusFile}.${Date.now()}.tmp`;
      writeFileSync(tmp, JSON.stringify({ pid: o.pid, sessionId: o.sessionId, cwd: o.cwd, startedAt, version: SIM_VERSION,
        kind: "interactive", entrypoint: "cli", status, updatedAt: Date.now() }));
      renameSync(tmp, statusFile);
    }),
    removeStatus: () => attempt(() => rmSync(statusFile, { force: true })),
    fireHook(event, fields, size = { cols: 80, rows: 24 }) {
      const payload = JSON.stringify({ session_id: o.sessionId, transcript_path: o.transcript, cwd: o.cwd,
        permission_mode: o.permissionMode, hook_event_name: event, ...fields });
      const env = { ...baseEnv, CLAUDECODE: "1", CLAUDE_CODE_SESSION_ID: o.sessionId, CLAUDE_CODE_CHILD_SESSION: "1",
        CLAUDE_PROJECT_DIR: o.cwd, COLUMNS: String(size.cols), LINES: String(size.rows) };
      const runs: Array<Promise<void>> = [];
      const commands: string[] = [];
      for (const group of o.hooks[event] ?? []) {
        if (!matches(group.matcher, fields[MATCH_FIELD[event] ?? ""])) continue;
        for (const hook of Array.isArray(group.hooks) ? group.hooks : []) {
          if (hook?.type !== "command" || typeof hook.command !== "string") continue;
          const ownTimeout = typeof hook.timeout === "number" && hook.timeout > 0 ? hook.timeout * 1000 : HOOK_TIMEOUT_MS;
          const command = hook.command;
          attempt(() => {
            // In a session of its own: a hook still running when the agent exits (e.g. SessionEnd after its pane was
            // killed) is not killed with the terminal's process group when the agent, its session leader, exits.
            const child = Bun.spawn(["sh", "-c", command], { cwd: o.cwd, env, stdin: new Blob([payload]), stdout: "ignore",
              stderr: "ignore", timeout: Math.min(HOOK_TIMEOUT_MS, ownTimeout), killSignal: "SIGKILL", detached: true });
            const done = child.exited.then(() => {}, () => {});
            commands.push(command);
            runs.push(done);
            pending.add(done);
            void done.then(() => pending.delete(done));
          });
        }
      }
      return Promise.all(runs).then(() => commands);
    },
    settle: async (maxMs) => {
      await Promise.race([Promise.allSettled([...pending]), Bun.sleep(maxMs)]);
    },
  };
}

/** A hook group's `matcher`: absent, empty or `*` matches all; otherwise an anchored regex (or, if invalid, the exact text). */
function matches(matcher: unknown, value: unknown): boolean {
  if (typeof matcher !== "string" || matcher === "" || matcher === "*" || typeof value !== "string") return true;
  try {
    return new RegExp(`^(?:${matcher})$`).test(value);
  } catch {
    return matcher === value;
  }
}
