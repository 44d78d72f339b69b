/**
 * @module lifecycle/link
 * The `claude.link` symlink (e.g. `~/.claude`) that points at the active account's home, so sessions an operator
 * starts by hand follow the active account too. Reads what the path is now, says why a flip would fail before anyone
 * relies on it, and flips it atomically (new symlink + rename). A path that is a real directory or file is never
 * replaced or deleted. Which account is active is the caller's business.
 */
import { accessSync, constants, lstatSync, mkdirSync, readlinkSync, renameSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "../log.ts";

/** What the link path is, compared with the home it should point at. */
export type LinkState =
  /** No link configured (`claude.link: ""`). */
  | { kind: "none" }
  | { kind: "ok" }
  | { kind: "missing" }
  /** A symlink to another place. */
  | { kind: "drifted"; current: string }
  /** The daemon cannot or must not flip it; `reason` says why and what to do. */
  | { kind: "blocked"; reason: string };

/** The link exists as a real directory or file, or its folder is not writable: a flip would destroy data or fail. */
export class LinkError extends Error {
  override name = "LinkError";
}

/** Reads the link path and compares it with `target`. */
export function inspectLink(link: string, target: string): LinkState {
  if (!link) return { kind: "none" };
  const problem = linkFlipProblem(link);
  if (problem) return { kind: "blocked", reason: problem };
  let current: string;
  try {
    current = readlinkSync(link);
  } catch {
    return { kind: "missing" };
  }
  return current === target ? { kind: "ok" } : { kind: "drifted", current };
}

/**
 * Why the daemon cannot point `link` somewhere else, or null when it can: the path is a real directory or file, or
 * the folder that would hold the new symlink is not writable. Reads only (the doctor uses it too).
 */
export function linkFlipProblem(link: string): string | null {
  if (!link) return null;
  try {
    const st = lstatSync(link);
    if (!st.isSymbolicLink()) {
      return `Cannot manage claude.link ${link}: it is a real ${st.isDirectory() ? "directory" : "file"}, not a symlink; move it aside (e.g. into an account home) and the daemon creates the link`;
    }
  } catch {
    // absent: it will be created
  }
  // The new symlink is made beside the link and renamed over it: the nearest existing folder must be writable.
  let folder = dirname(link);
  for (;;) {
    try {
      lstatSync(folder);
      break;
    } catch {
      if (dirname(folder) === folder) break;
      folder = dirname(folder);
    }
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    return `Cannot manage claude.link ${link}: the folder ${folder} is not writable by the daemon`;
  }
  return null;
}

/**
 * Points `link` at `target` atomically: a temporary symlink renamed over the old one, so no reader ever sees the
 * link missing. Does nothing when no link is configured or it already points there.
 * @throws LinkError when {@link linkFlipProblem} finds a problem (a real directory or file is never touched).
 */
export function flipLink(link: string, target: string): void {
  if (!link) return;
  const state = inspectLink(link, target);
  if (state.kind === "blocked") throw new LinkError(state.reason);
  if (state.kind === "ok") return;
  mkdirSync(dirname(link), { recursive: true });
  const temp = `${link}.cf-tmp-${process.pid}`;
  try {
    unlinkSync(temp);
  } catch {
    // no stale temporary link
  }
  symlinkSync(target, temp);
  try {
    renameSync(temp, link);
  } catch (error) {
    unlinkSync(temp);
    throw new LinkError(`Cannot flip claude.link ${link}: ${(error as Error).message}`);
  }
}

/** Keeps `claude.link` on a home across reconcile passes, remembering the last problem so it is reported once. */
export interface LinkKeeper {
  /** Creates or repairs the link to `home`; a path it must not replace is left alone. Returns a problem seen for the first time. */
  keep(home: string): string | undefined;
  /** The problem found by the last {@link LinkKeeper.keep}, or null. */
  problem(): string | null;
}

/** Creates a {@link LinkKeeper} for `link` ("" = no link: nothing to keep). */
export function createLinkKeeper(link: string, log: Logger): LinkKeeper {
  let current: string | null = null;
  return {
    keep(home) {
      const state = inspectLink(link, home);
      let problem: string | null = state.kind === "blocked" ? state.reason : null;
      if (state.kind === "missing" || state.kind === "drifted") {
        try {
          flipLink(link, home);
          log.info("link repaired", { link, was: state.kind === "drifted" ? state.current : null, now: home });
        } catch (error) {
          problem = (error as Error).message;
        }
      }
      const fresh = problem !== null && problem !== current;
      if (fresh) log.error("link not managed", { link, reason: problem });
      else if (problem === null && current !== null) log.info("link managed again", { link, now: home });
      current = problem;
      return fresh ? problem! : undefined;
    },
    problem: () => current,
  };
}
