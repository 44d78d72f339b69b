/**
 * @module switcher/accounts
 * Pure account choice and copying a conversation's transcript into another home (the link flip is
 * `lifecycle/link.ts`). Owns Claude Code's on-disk layout rules used here; does not decide when to swap.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AccountRow } from "../state/state.ts";
import { encodeProjectDir } from "../claude/home.ts";

/** Result of {@link pickNextAccount}. */
export type AccountChoice =
  | { kind: "account"; account: AccountRow }
  /** Nothing usable: every account is cooling, disabled or needs a login. `wakeAt` is the earliest reset (null if none will reset). */
  | { kind: "exhausted"; wakeAt: number | null };

/** Whether an account can take sessions at `now` (a cooling account whose reset passed counts as available). */
export function isUsable(account: AccountRow, now: number): boolean {
  if (account.state === "disabled" || account.state === "needs_login") return false;
  if (account.state === "cooling") return account.resetAt !== null && account.resetAt <= now;
  return true;
}

/**
 * Chooses the highest-priority usable account other than `exclude`. With `prefer`, that account wins when usable.
 * Config order is priority (lower number first).
 */
export function pickNextAccount(accounts: readonly AccountRow[], now: number, options: { exclude?: string | null; prefer?: string } = {}): AccountChoice {
  const usable = accounts.filter((a) => a.name !== options.exclude && isUsable(a, now)).sort((a, b) => a.priority - b.priority);
  const preferred = options.prefer ? usable.find((a) => a.name === options.prefer) : undefined;
  const chosen = preferred ?? usable[0];
  if (chosen) return { kind: "account", account: chosen };
  const resets = accounts.filter((a) => a.state === "cooling" && a.resetAt !== null).map((a) => a.resetAt!);
  return { kind: "exhausted", wakeAt: resets.length ? Math.min(...resets) : null };
}

/** What a transcript copy did. */
export type CopyOutcome = "copied" | "kept-newer" | "already-there" | "missing";

/**
 * Copies `<uuid>.jsonl` and its `<uuid>/` folder from one home's project dir to another's, never overwriting a
 * transcript in the target that is newer or longer (the session may already have written there).
 */
export function copyTranscript(fromHome: string, toHome: string, cwd: string, uuid: string): CopyOutcome {
  if (fromHome === toHome) return existsSync(join(fromHome, "projects", encodeProjectDir(cwd), `${uuid}.jsonl`)) ? "already-there" : "missing";
  const project = encodeProjectDir(cwd);
  const source = join(fromHome, "projects", project, `${uuid}.jsonl`);
  const target = join(toHome, "projects", project, `${uuid}.jsonl`);
  if (!existsSync(source)) return existsSync(target) ? "already-there" : "missing";
  mkdirSync(dirname(target), { recursive: true });
  let outcome: CopyOutcome = "copied";
  if (existsSync(target)) {
    const [s, t] = [statSync(source), statSync(target)];
    if (t.mtimeMs >= s.mtimeMs || t.size >= s.size) outcome = "kept-newer";
  }
  if (outcome === "copied") {
    const temp = `${target}.cf-tmp`;
    copyFileSync(source, temp);
    renameSync(temp, target);
  }
  const sourceDir = join(fromHome, "projects", project, uuid);
  if (existsSync(sourceDir)) cpSync(sourceDir, join(toHome, "projects", project, uuid), { recursive: true, force: false, errorOnExist: false });
  return outcome;
}
