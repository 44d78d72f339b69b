/**
 * @module cli/commands
 * Command-line parsing and the subcommands that are not the daemon itself: `validate-config`, the HTTP client
 * commands (`status`, `accounts`, `tasks`, `swap`, `pause`, `resume`), `doctor`, `demo`, `hook`, `notify test`, `version`, and the
 * hidden `sim-claude`. Prints to stdout/stderr and returns an exit code; throws {@link UsageError} for bad usage and
 * lets ConfigError through, so only `main()` maps failures to exit codes.
 */
import { hostname } from "node:os";
import { systemClock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import { renderProbe, testChannels } from "../notify/probe.ts";
import { createApiClient, renderAccountUsage, renderStatus, renderTasks } from "./client.ts";
import { renderDoctor, runDoctor } from "./doctor.ts";
import { childEnv, createBunRun } from "../tmux/runner.ts";
import { runHookCommand } from "../hook/hook.ts";
import { runSimClaude } from "../demo/sim-claude.ts";
import { runDemo, type DemoHost } from "../demo/demo.ts";

/** Bad command-line usage (exit 2). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What the CLI needs from the binary's entry point. */
export interface CliHost extends DemoHost {
  version: string;
  defaultConfigPath: string;
  runDaemon(configPath: string): Promise<number>;
  loadConfig(path: string): Readonly<Config>;
}

/** Parsed command line. */
export interface ParsedArgs {
  command: string;
  positional: string[];
  flags: Record<string, string | true>;
}

const FLAGS_WITH_VALUE = new Set(["config", "session", "url", "spool", "token-file", "seconds", "port"]);

/** Splits argv into command, positionals and `--flags`. */
export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith("--")) {
      const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined];
      if (inline !== undefined) flags[name] = inline;
      else if (FLAGS_WITH_VALUE.has(name)) {
        const value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags[name] = value;
      } else flags[name] = true;
    } else if (arg === "-h") flags.help = true;
    else positional.push(arg);
  }
  return { command: positional.shift() ?? "help", positional, flags };
}

/** The help text. */
export function usage(): string {
  return `Usage: claude-failover <command> [--config <file>]

Commands:
  run                          run the daemon (default config /etc/claude-failover/config.yaml)
  status [--json]              accounts, sessions, queue and last swap of the running daemon
  accounts [--json]             each account's state and usage: last limit, limits, time active, tasks, turns
  accounts disable|enable <name>
  tasks [--json]               the task queue
  swap [account]               move every session to another account now
  pause | resume               stop or restart feeding tasks to the pool
  validate-config <file>       check a config file; prints "ok" or every mistake with line and column
  doctor                       check tmux, claude, account homes, link, folders, systemd units and the fleet database
  demo [--seconds N] [--keep]  a full failover on a private tmux server with a simulated Claude Code
  hook <event>                 (used by Claude Code hooks) forward a hook event to the daemon
  notify test [channel]        send a test message through each configured notification channel
  version

Exit codes: 0 success, 2 bad config or usage, 1 other failure.`;
}

/** Runs one command line; returns the exit code. */
export async function runCli(argv: string[], host: CliHost): Promise<number> {
  const args = parseArgs(argv);
  const configPath = typeof args.flags.config === "string" ? args.flags.config : host.defaultConfigPath;
  const out = (text: string) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  if (args.flags.help || args.command === "help") {
    out(usage());
    return 0;
  }
  switch (args.command) {
    case "run":
      return host.runDaemon(configPath);
    case "version":
      out(`claude-failover ${host.version}`);
      return 0;
    case "validate-config": {
      const path = args.positional[0] ?? configPath;
      const config = host.loadConfig(path);
      out(`ok: ${path} (${config.accounts.length} account${config.accounts.length === 1 ? "" : "s"}, pool ${config.autonomous.prefix}${config.autonomous.start_index}…${config.autonomous.prefix}${config.autonomous.start_index + config.autonomous.max - 1} min ${config.autonomous.min}, ${config.dedicated.length} dedicated)`);
      return 0;
    }
    case "doctor": {
      const config = host.loadConfig(configPath);
      const checks = await runDoctor(config, createBunRun(childEnv(process.env)), {}, { uid: process.getuid?.() ?? -1, isSandbox: process.env.IS_SANDBOX === "1" });
      out(renderDoctor(checks));
      return checks.some((c) => !c.ok && !c.warning) ? 1 : 0;
    }
    case "demo":
      return runDemo(host, { seconds: Number(args.flags.seconds) || 0, port: Number(args.flags.port) || 0, keep: args.flags.keep === true });
    case "hook":
      // The binary's entry (cmd/main.ts) runs this without loading the daemon; here for `bun cmd/claude-failover.ts hook`.
      return runHookCommand(argv.slice(argv.indexOf("hook") + 1), process.env);
    case "notify": {
      const [action, only] = args.positional;
      if (action !== "test") throw new UsageError(`unknown notify action "${action ?? ""}" (use: notify test [channel])`);
      const config = host.loadConfig(configPath);
      const report = await testChannels(config.notifications, config.secrets, { fetch, clock: systemClock, version: host.version, host: hostname() }, only);
      if (only && !report.configured.includes(only)) throw new UsageError(`no channel "${only}" is configured (configured: ${report.configured.join(", ") || "none"})`);
      if (report.results.length === 0) process.stderr.write("no notification channel is configured\n");
      else out(renderProbe(report.results));
      return report.results.length > 0 && report.results.every((r) => r.ok) ? 0 : 1;
    }
    case "sim-claude":
      return runSimClaude(argv.slice(argv.indexOf("sim-claude") + 1), process.env);
    case "status":
    case "accounts":
    case "tasks":
    case "swap":
    case "pause":
    case "resume":
      return clientCommand(args, host.loadConfig(configPath), out);
    default:
      throw new UsageError(`unknown command "${args.command}"`);
  }
}

async function clientCommand(args: ParsedArgs, config: Readonly<Config>, out: (text: string) => void): Promise<number> {
  const api = createApiClient(`http://${config.httpConnectHost}:${config.httpPort}`, config.secrets.httpToken);
  const now = Date.now();
  const report = (result: { ok: boolean; message: string }) => {
    (result.ok ? process.stdout : process.stderr).write(`${result.message}\n`);
    return result.ok ? 0 : 1;
  };
  switch (args.command) {
    case "status": {
      const status = await api.status();
      out(args.flags.json ? JSON.stringify(status, null, 2) : renderStatus(status, now));
      return 0;
    }
    case "accounts": {
      const [action, name] = args.positional;
      if (action === "disable" || action === "enable") {
        if (!name) throw new UsageError(`accounts ${action} needs an account name`);
        return report(await api.post(`/accounts/${encodeURIComponent(name)}/${action}`));
      }
      if (action) throw new UsageError(`unknown accounts action "${action}" (use disable or enable)`);
      const status = await api.status();
      out(args.flags.json ? JSON.stringify(status.accounts, null, 2) : renderAccountUsage(status, now));
      return 0;
    }
    case "tasks": {
      const tasks = await api.tasks();
      out(args.flags.json ? JSON.stringify(tasks, null, 2) : renderTasks(tasks));
      return 0;
    }
    case "swap":
      return report(await api.post("/swap", args.positional[0] ? { account: args.positional[0] } : {}));
    default:
      return report(await api.post(`/${args.command}`));
  }
}
