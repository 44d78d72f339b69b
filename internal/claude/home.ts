/**
 * @module claude/home
 * Claude Code's own facts about a config home, in one place: the name of a project folder under `<config>/projects/`,
 * the transcript path built from it (reference/claude-code.md §4), and what a valid conversation id looks like.
 * Pure string functions: no file system access, no normalisation of the path.
 *
 * The rule, as in the CLI: `cwd.replace(/[^a-zA-Z0-9]/g, "-")`. The regex has no `u` flag, so it runs over
 * UTF-16 code units: `é` (one unit) becomes one `-`, an emoji outside the BMP (a surrogate pair) becomes `--`.
 * A result longer than 200 units is cut to 200 and gets `-<base36 of abs(javaStringHash(cwd))>` appended, the hash
 * being taken over the ORIGINAL path. Builds 2.1.197, 2.1.214, 2.1.220 and 2.1.330 do exactly this; one earlier 2.x
 * build hashed with `Bun.hash` instead, which is why Claude Code's own `--resume` lookup also accepts other suffixes
 * after the same 200-character prefix.
 */
import { join } from "node:path";

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A conversation id Claude Code accepts: 36 characters of hex and dashes. Nothing else is put on a command line. */
export function isValidUuid(value: unknown): value is string {
  return typeof value === "string" && value.length === 36 && UUID_PATTERN.test(value);
}

/** Longest encoded name Claude Code keeps before it truncates and appends a hash. */
export const MAX_PROJECT_DIR_LENGTH = 200;

/** 32-bit Java-style string hash over UTF-16 code units (`h = 31·h + c`, wrapping), as Claude Code computes it. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = ((hash << 5) - hash + text.charCodeAt(i)) | 0;
  return hash;
}

/** The folder name Claude Code uses for `cwd` under `<config>/projects/`, e.g. `/home/me/my_proj.v2` → `-home-me-my-proj-v2`. */
export function encodeProjectDir(cwd: string): string {
  const encoded = cwd.replace(/[^a-zA-Z0-9]/g, "-");
  if (encoded.length <= MAX_PROJECT_DIR_LENGTH) return encoded;
  return `${encoded.slice(0, MAX_PROJECT_DIR_LENGTH)}-${Math.abs(javaStringHash(cwd)).toString(36)}`;
}

/** `<home>/projects/<encoded cwd>`: where the transcripts of sessions started in `cwd` live. */
export function projectDirPath(home: string, cwd: string): string {
  return join(home, "projects", encodeProjectDir(cwd));
}

/** `<home>/projects/<encoded cwd>/<uuid>.jsonl`: the transcript of conversation `uuid` started in `cwd`. */
export function transcriptPath(home: string, cwd: string, uuid: string): string {
  return join(projectDirPath(home, cwd), `${uuid}.jsonl`);
}
