/**
 * @module sim-args
 * How the simulated Claude Code reads its command line: the flags the daemon passes (`--session-id`, `--resume`,
 * `--settings`, `--model`, `--permission-mode`, `--dangerously-skip-permissions`, `--fork-session`), skipping every
 * other flag of `claude --help` with its value. Pure; sim-claude.ts acts on the result.
 */

/** Flags of `claude --help` that take a value, so that value is not mistaken for the prompt. */
const VALUE_FLAGS = new Set(["--add-dir", "--agent", "--agents", "--allowedTools", "--allowed-tools", "--append-system-prompt",
  "--betas", "--debug-file", "--disallowedTools", "--disallowed-tools", "--effort", "--fallback-model", "--file", "--input-format",
  "--json-schema", "--max-budget-usd", "--mcp-config", "--model", "--name", "-n", "--output-format", "--permission-mode",
  "--permission-prompts", "--plugin-dir", "--plugin-url", "--resume", "-r", "--session-id", "--setting-sources", "--settings",
  "--system-prompt", "--system-prompt-snapshot", "--tools"]);

/** The command line as the simulator reads it. Unknown flags are skipped; the first bare word is an initial prompt. */
export interface SimArgs {
  sessionId?: string;
  /** `--resume <uuid>` or `--resume /abs/path/<uuid>.jsonl`; `""` when given without a value. */
  resume?: string;
  settings?: string;
  model?: string;
  permissionMode?: string;
  skipPermissions: boolean;
  forkSession: boolean;
  prompt?: string;
}

/** Reads Claude Code's flags (`--flag value` and `--flag=value`). */
export function parseSimArgs(argv: readonly string[]): SimArgs {
  const args: SimArgs = { skipPermissions: false, forkSession: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      args.prompt ??= argv[i + 1];
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      args.prompt ??= arg;
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === "--dangerously-skip-permissions") args.skipPermissions = true;
    else if (flag === "--fork-session") args.forkSession = true;
    if (!VALUE_FLAGS.has(flag)) continue;
    const next = argv[i + 1];
    const value = eq > 0 ? arg.slice(eq + 1) : next !== undefined && !next.startsWith("-") ? argv[++i]! : "";
    if (flag === "--session-id") args.sessionId = value;
    else if (flag === "--resume" || flag === "-r") args.resume = value;
    else if (flag === "--settings") args.settings = value;
    else if (flag === "--model") args.model = value;
    else if (flag === "--permission-mode") args.permissionMode = value;
  }
  return args;
}
