/**
 * @module switcher/mode
 * Which way a swap moves sessions: `in-place` (write the target's login into the session homes; the running Claude
 * Code re-reads it on its next request, reference/real-claude.md §14) or `restart` (stop, relaunch with `--resume`).
 * {@link decideSwapMode} is pure; {@link runningVersions} reads which Claude Code versions run in a home from its
 * live-session registry (`<home>/sessions/<pid>.json`, §7). Owns the list of versions known to re-read their login.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** `switcher.mode` from config. */
export type ConfiguredSwapMode = "auto" | "in-place" | "restart";

/** The mode a swap uses, and why (shown by `doctor` and `/status`). */
export interface SwapModeChoice {
  mode: "in-place" | "restart";
  why: string;
}

/**
 * Claude Code versions confirmed to re-read `.credentials.json` and `.claude.json` for every request: 2.1.330 by the
 * conformance run (§14), and the simulated Claude Code, which reads its login per request the same way.
 */
export const REREADS_LOGIN: readonly string[] = ["2.1.330", "2.1.330-sim"];

/** What {@link decideSwapMode} looks at. */
export interface SwapModeFacts {
  /** Versions of the Claude Code processes running in the session homes (empty when none is known). */
  versions: readonly string[];
  /** Sessions still running in an account home (from before session homes): only a restart can move them. */
  legacySessions: number;
}

/** Chooses the swap mode: the configured one, or in `auto` in-place only when every running version is known to re-read its login. */
export function decideSwapMode(configured: ConfiguredSwapMode, facts: SwapModeFacts): SwapModeChoice {
  if (configured === "restart") return { mode: "restart", why: "switcher.mode is restart" };
  if (facts.legacySessions > 0) {
    return { mode: "restart", why: `${facts.legacySessions} session(s) still run in an account home; a restart moves them into their session home` };
  }
  if (configured === "in-place") return { mode: "in-place", why: "switcher.mode is in-place" };
  const versions = [...new Set(facts.versions)].sort();
  if (!versions.length) return { mode: "restart", why: "auto: no running Claude Code reported its version yet" };
  const unknown = versions.filter((v) => !REREADS_LOGIN.includes(v));
  if (unknown.length) return { mode: "restart", why: `auto: Claude Code ${unknown.join(", ")} is not confirmed to re-read its login per request` };
  return { mode: "in-place", why: `auto: Claude Code ${versions.join(", ")} re-reads its login for every request` };
}

/** Versions in `<home>/sessions/<pid>.json` of processes still alive (a file left by a killed process is skipped). */
export function runningVersions(home: string, alive: (pid: number) => boolean = pidAlive): string[] {
  let names: string[];
  try {
    names = readdirSync(join(home, "sessions"));
  } catch {
    return [];
  }
  const versions: string[] = [];
  for (const name of names) {
    const pid = Number(/^(\d+)\.json$/.exec(name)?.[1]);
    if (!pid || !alive(pid)) continue;
    try {
      const version = (JSON.parse(readFileSync(join(home, "sessions", name), "utf8")) as { version?: unknown }).version;
      if (typeof version === "string" && version) versions.push(version);
    } catch {
      // being rewritten or not a registry file
    }
  }
  return versions;
}

/** Whether a process exists (signal 0). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * `doctor`'s line on the swap mode: the versions running in the fleet home, else the one `claude --version` prints,
 * and the mode they give. Never fails the doctor: a restart is always possible.
 */
export async function swapModeCheck(
  config: { state_dir: string; claude: { command: string; args: readonly string[] }; switcher: { mode: ConfiguredSwapMode } },
  run: (argv: string[]) => Promise<{ code: number; stdout: string }>,
): Promise<{ name: string; ok: boolean; detail: string; warning?: boolean }> {
  let versions = runningVersions(join(config.state_dir, "homes", "fleet"));
  if (!versions.length) {
    const answer = await run([config.claude.command, ...config.claude.args, "--version"]).catch(() => ({ code: 1, stdout: "" }));
    const version = answer.code === 0 ? /^\s*(\S+)/.exec(answer.stdout)?.[1] : undefined;
    versions = version ? [version] : [];
  }
  const choice = decideSwapMode(config.switcher.mode, { versions, legacySessions: 0 });
  return { name: "swap mode", ok: true, detail: `${choice.mode} (${choice.why})`, warning: choice.mode === "restart" && config.switcher.mode !== "restart" };
}
