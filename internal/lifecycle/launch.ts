/**
 * @module lifecycle/launch
 * Pure construction of what runs in an owned pane: the Claude Code argv (DESIGN.md "Launching Claude Code"),
 * the per-session hook settings JSON, and the file setting the sessions' environment (`claude.env`, `claude.env_from`).
 * No I/O here; `lifecycle.ts` writes and runs it.
 */
import { isValidUuid } from "../claude/home.ts";

/** Variables that would disable transcripts in a child Claude Code (reference/claude-code.md §3). */
export const TRANSCRIPT_KILLER_ENV = ["CLAUDECODE", "CLAUDE_CODE_SESSION_ID", "CLAUDE_CODE_CHILD_SESSION", "CLAUDE_CODE_ENTRYPOINT"];

/** Hook events injected into every launched session. */
export const HOOK_EVENTS = ["SessionStart", "Stop", "StopFailure", "Notification", "UserPromptSubmit"] as const;


/** What a launch needs to know. */
export interface LaunchSpec {
  /** `claude.command` from config. */
  command: string;
  /** `claude.args` from config. */
  args: readonly string[];
  /** Config home exported as CLAUDE_CONFIG_DIR (the session home; an account home without session homes). */
  home: string;
  /** New conversation (`--session-id`) or continue one (`--resume`). */
  mode: "new" | "resume";
  sessionId: string;
  /** Path of the hook settings JSON for `--settings`. */
  settingsPath: string;
  /** Variable names removed from the pane's environment besides {@link TRANSCRIPT_KILLER_ENV} (daemon secrets). */
  stripEnv: readonly string[];
  /** `--model <model>` (e.g. `sonnet` while the default model is limited); absent or null: Claude Code's default. */
  model?: string | null;
  /**
   * The sessions' environment: when it holds any variable, `envFile` (written from {@link buildEnvFile}) is sourced by
   * `sh` just before Claude Code starts, so values (a proxy's password) never appear on a command line. @default none
   */
  env?: { names: readonly string[]; envFile: string };
}

/** A model name or alias Claude Code accepts after `--model` (`sonnet`, `claude-sonnet-4-5`, `opus[1m]`): never a flag. */
export const MODEL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:\[\]-]{0,99}$/;

/** The `sh -c` script that sets the sessions' environment from its first argument's file and runs the rest. */
export const ENV_SCRIPT = '. "$0" && exec "$@"';

/**
 * Builds the pane argv: `env -u … CLAUDE_CONFIG_DIR=<home> <command> <args…> [--model <model>] --session-id|--resume <uuid>
 * --settings <file>`.
 * `env` both strips inherited variables and sets the config home without any shell parsing; with a sessions'
 * environment, `sh -c '. "$0" && exec "$@"' <env file>` comes before the command (the pane's pid stays Claude Code's).
 * @throws RangeError when the session id is not a valid UUID or the model is not a model name.
 */
export function buildLaunchArgv(spec: LaunchSpec): string[] {
  if (!isValidUuid(spec.sessionId)) throw new RangeError(`Cannot launch Claude Code: invalid session id ${JSON.stringify(spec.sessionId)}`);
  if (spec.model != null && !MODEL_NAME_RE.test(spec.model)) throw new RangeError(`Cannot launch Claude Code: invalid model ${JSON.stringify(spec.model)}`);
  const unset = [...new Set([...TRANSCRIPT_KILLER_ENV, ...spec.stripEnv])].flatMap((name) => ["-u", name]);
  const sourceEnv = spec.env && spec.env.names.length > 0 ? ["sh", "-c", ENV_SCRIPT, spec.env.envFile] : [];
  return [
    "env", ...unset, `CLAUDE_CONFIG_DIR=${spec.home}`, ...sourceEnv,
    spec.command, ...spec.args,
    ...(spec.model != null ? ["--model", spec.model] : []),
    spec.mode === "new" ? "--session-id" : "--resume", spec.sessionId,
    "--settings", spec.settingsPath,
  ];
}

/** Where and how the hook subcommand reaches the daemon. */
export interface HookTarget {
  /** argv of the daemon's own binary (e.g. `["/usr/local/bin/claude-failover"]`). */
  self: readonly string[];
  /** Daemon base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** Folder where events are spooled when the daemon does not answer. */
  spoolDir: string;
  /** File holding the shared secret the hook sink checks (`<state_dir>/hook-token`, mode 0600). Only its path is written. */
  tokenFile: string;
}

/**
 * Builds the `--settings` JSON that makes every hook event call `claude-failover hook <event>` for this session.
 * The command names the token file, never the token: Claude Code runs it through `sh -c`, whose argv any local user
 * can read in `/proc/<pid>/cmdline`.
 */
export function buildHookSettings(session: string, target: HookTarget): string {
  const hooks: Record<string, unknown> = {};
  for (const event of HOOK_EVENTS) {
    const argv = [...target.self, "hook", event, "--session", session, "--url", target.url, "--spool", target.spoolDir, "--token-file", target.tokenFile];
    const command = argv.map(shellQuote).join(" ");
    hooks[event] = [{ hooks: [{ type: "command", command, timeout: 5 }] }];
  }
  return JSON.stringify({ hooks }, null, 2);
}

/**
 * The file `sh` sources to set the sessions' environment: one `export NAME='value'` line per variable. Names are
 * checked by config (session-env.ts); values are quoted, so nothing in them is expanded.
 */
export function buildEnvFile(env: Readonly<Record<string, string>>): string {
  return Object.entries(env).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join("");
}

/** Quotes one word for POSIX sh (hook commands are run by Claude Code through a shell). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
