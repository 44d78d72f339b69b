/**
 * @module claude/version
 * The Claude Code release this project is tested against: the single place the pinned version lives. scripts/setup.sh
 * reads it from this file (`--claude` installs exactly this release), the conformance suite runs it, `doctor` compares
 * the installed CLI with it and the README names it. Nothing here runs Claude Code.
 */

/** The Claude Code version the conformance suite (test/conformance/) drives. */
export const TESTED_CLAUDE_CODE_VERSION = "2.1.330";

/** Reads the version out of `claude --version` output (`2.1.330 (Claude Code)`); null when it holds none. */
export function parseClaudeVersion(output: string): string | null {
  return /(\d+\.\d+\.\d+)/.exec(output)?.[1] ?? null;
}
