/**
 * @module cli/doctor
 * `claude-failover doctor`: checks what the daemon needs on this machine and says how to fix each problem:
 * tmux, the claude command and its version (against the tested one), root without IS_SANDBOX=1, the variables set
 * for sessions (names only), every account home
 * and its credentials, the `~/.claude` link, the configured workdirs, the queue and state folders and their
 * permissions, the systemd units, and the fleet database (doctor-fleet.ts). Reads only; changes nothing.
 */
import { accessSync, constants, existsSync, lstatSync, readlinkSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { linkFlipProblem } from "../lifecycle/link.ts";
import type { Config } from "../config/config.ts";
import type { RunCommand } from "../tmux/tmux.ts";
import { swapModeCheck } from "../switcher/mode.ts";
import { configuredWorkdirProblems } from "../dispatcher/workdir.ts";
import { parseClaudeVersion, TESTED_CLAUDE_CODE_VERSION } from "../claude/version.ts";
import { fleetChecks } from "./doctor-fleet.ts";

/** What doctor needs to know about the process that will run the daemon. */
export interface DoctorProcess {
  /** Effective user id (0 = root). @default -1 (unknown) */
  uid?: number;
  /** IS_SANDBOX=1 in the daemon's environment (inherited by the panes). @default false */
  isSandbox?: boolean;
}

/** One check's result. */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** How to fix it, when not ok. */
  fix?: string;
  /** A warning does not fail the doctor. */
  warning?: boolean;
}

/** Runs every check. */
export async function runDoctor(config: Readonly<Config>, run: RunCommand, paths: { unitDir?: string } = {}, proc: DoctorProcess = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (c: DoctorCheck) => checks.push(c);

  const tmux = await run(["tmux", "-V"]);
  add(tmux.code === 0
    ? { name: "tmux", ok: true, detail: tmux.stdout.trim() }
    : { name: "tmux", ok: false, detail: "tmux not found", fix: "apt-get install -y tmux" });
  if (tmux.code === 0 && /tmux (\d+)\.(\d+)/.exec(tmux.stdout)) {
    const [, major, minor] = /tmux (\d+)\.(\d+)/.exec(tmux.stdout)!;
    if (Number(major) < 3 || (Number(major) === 3 && Number(minor) < 2)) {
      add({ name: "tmux version", ok: false, detail: `${tmux.stdout.trim()} is older than 3.2`, fix: "upgrade tmux to 3.2 or newer (respawn-pane -e and -D are needed)" });
    }
  }

  const claude = await run(["sh", "-c", 'command -v "$0"', config.claude.command]);
  add(claude.code === 0
    ? { name: "claude command", ok: true, detail: claude.stdout.trim() }
    : { name: "claude command", ok: false, detail: `${config.claude.command} not found on PATH`, fix: "npm install -g @anthropic-ai/claude-code, or set claude.command to its full path" });

  if (claude.code === 0) {
    const version = await run([config.claude.command, "--version"]);
    const installed = version.code === 0 ? parseClaudeVersion(version.stdout) : null;
    add(installed === TESTED_CLAUDE_CODE_VERSION
      ? { name: "Claude Code version", ok: true, detail: `${installed}, the tested version` }
      : { name: "Claude Code version", ok: false, warning: true,
        detail: installed ? `${installed}; claude-failover is tested with ${TESTED_CLAUDE_CODE_VERSION}` : `\`${config.claude.command} --version\` did not say (exit ${version.code})`,
        fix: `npm install -g @anthropic-ai/claude-code@${TESTED_CLAUDE_CODE_VERSION}, or check that limit lines still match after an upgrade` });
  }
  if (proc.uid === 0 && config.claude.args.includes("--dangerously-skip-permissions") && !proc.isSandbox) {
    add({ name: "root", ok: false, detail: "running as root: Claude Code exits at once on --dangerously-skip-permissions unless IS_SANDBOX=1", fix: "run the daemon as an ordinary user, or (inside a container or VM only) set IS_SANDBOX=1 in its environment", warning: true });
  }

  add(sessionEnvCheck(config.sessionEnv));

  for (const account of config.accounts) {
    if (!existsSync(account.home)) {
      add({ name: `account ${account.name}`, ok: false, detail: `home ${account.home} does not exist`, fix: `mkdir -p ${account.home} && CLAUDE_CONFIG_DIR=${account.home} claude  (then /login)` });
      continue;
    }
    const creds = join(account.home, ".credentials.json");
    add(existsSync(creds)
      ? { name: `account ${account.name}`, ok: true, detail: `${account.home} has credentials` }
      : { name: `account ${account.name}`, ok: false, detail: `no ${creds}`, fix: `CLAUDE_CONFIG_DIR=${account.home} claude, then /login (or set CLAUDE_CODE_OAUTH_TOKEN from claude setup-token)`, warning: true });
  }

  if (config.claude.link) {
    const link = config.claude.link;
    const problem = linkFlipProblem(link);
    let target: string | null = null;
    try {
      target = readlinkSync(link);
    } catch {
      // absent, or not a symlink (then `problem` says so)
    }
    add(problem
      ? { name: "claude.link", ok: false, detail: problem, fix: lstatOrNull(link)?.isSymbolicLink() === false ? `mv ${link} <an account home> and let the daemon create the link` : `make ${dirname(link)} writable by the daemon's user` }
      : target !== null
        ? { name: "claude.link", ok: true, detail: `${link} → ${target}` }
        : { name: "claude.link", ok: true, detail: `${link} does not exist yet; the daemon creates it when it starts`, warning: true });
  }

  const workdirs = configuredWorkdirProblems(config);
  add(workdirs.length === 0
    ? { name: "workdirs", ok: true, detail: "every configured workdir is a directory" }
    : { name: "workdirs", ok: false, detail: workdirs.map((w) => `${w.key}: ${w.problem}`).join("; "),
      fix: `mkdir -p ${workdirs.map((w) => JSON.stringify(w.path)).join(" ")}, or correct the paths (the daemon never creates them)` });
  add(await swapModeCheck(config, run));

  for (const [name, dir] of [["state folder", config.state_dir], ["queue folder", config.dispatcher.queue_dir]] as const) {
    add(writable(dir)
      ? { name, ok: true, detail: `${dir} is writable` }
      : { name, ok: false, detail: `${dir} is missing or not writable`, fix: `install -d -m 0750 ${dir}` });
  }

  const unitDir = paths.unitDir ?? "/etc/systemd/system";
  const daemonUnit = join(unitDir, "claude-failover.service");
  const tmuxUnit = join(unitDir, "claude-failover-tmux.service");
  add(existsSync(daemonUnit)
    ? { name: "systemd unit", ok: true, detail: daemonUnit }
    : { name: "systemd unit", ok: false, detail: `${daemonUnit} not installed`, fix: "sudo scripts/install.sh", warning: true });
  add(existsSync(tmuxUnit)
    ? { name: "tmux unit", ok: true, detail: `${tmuxUnit} keeps the agents outside the daemon's cgroup` }
    : { name: "tmux unit", ok: false, detail: `${tmuxUnit} not installed: restarting the daemon under systemd would kill every agent`, fix: "sudo scripts/install.sh", warning: true });
  checks.push(...await fleetChecks(config));
  return checks;
}

/**
 * The variables set for every session (`claude.env`, `claude.env_from`), by name only: values may be secrets.
 * `claude.env_from` is read from the environment doctor runs in, which should be the daemon's.
 */
export function sessionEnvCheck(env: Config["sessionEnv"]): DoctorCheck {
  const names = Object.keys(env.values);
  const set = names.length ? `set for every session: ${names.join(", ")}` : "no variables set for sessions (claude.env, claude.env_from)";
  if (env.missing.length === 0) return { name: "session environment", ok: true, detail: set };
  return {
    name: "session environment", ok: false, warning: true,
    detail: `${set}; missing from this environment, so not set: ${env.missing.join(", ")} (claude.env_from)`,
    fix: `set ${env.missing.join(", ")} in the daemon's environment (e.g. Environment= in its systemd unit), or remove ${env.missing.length === 1 ? "it" : "them"} from claude.env_from`,
  };
}

/** Formats checks as lines with ✓ / ! / ✗. */
export function renderDoctor(checks: DoctorCheck[]): string {
  return checks.map((c) => `${c.ok ? "✓" : c.warning ? "!" : "✗"} ${c.name}: ${c.detail}${!c.ok && c.fix ? `\n    fix: ${c.fix}` : ""}`).join("\n");
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function writable(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
