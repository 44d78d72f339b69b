/**
 * @module fleet/files
 * The origin host's task files for the fleet bridge ({@link queueFiles}): the {@link BridgeFiles} the bridge needs,
 * on the dispatcher's TaskQueue (dispatcher/queue.ts), so files move exactly as the dispatcher moves them (never
 * overwriting, `-<epoch ms>` on a clash, `.result.md` or `.error.txt` written first).
 */
import { basename } from "node:path";
import type { TaskQueue } from "../dispatcher/queue.ts";
import type { Logger } from "../log.ts";
import type { BridgeFiles } from "./bridge-tasks.ts";

/**
 * `pinOf` reads the host a task file in processing/ is pinned to (front matter `host:`). With `workdirOf` (the
 * dispatcher's resolution of a front matter `workdir`), a file is read again when it moves to processing/.
 */
export function queueFiles(
  queue: TaskQueue, log: Logger, pinOf: (project: string, file: string) => string | null,
  workdirOf?: (project: string, own: string | undefined) => string,
): BridgeFiles {
  /** The final name; null when the source is missing; other errors are thrown. */
  const move = (project: string, file: string, from: "inbox" | "processing", to: "processing" | "done" | "failed", extra?: { error?: string; result?: string }) => {
    try {
      return basename(queue.moveTo(project, file, from, to, extra));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  };
  return {
    take: (project, file) => move(project, file, "inbox", "processing"),
    pinnedHost: pinOf,
    ...(workdirOf ? {
      reread(project: string, file: string) {
        const read = queue.readTaskSync(project, "processing", file);
        if (read === null || !read.ok) return read;
        return { ok: true as const, prompt: read.prompt, workdir: workdirOf(project, read.frontMatter.workdir), timeoutMs: read.frontMatter.timeoutMs ?? null };
      },
    } : {}),
    end(project, file, outcome) {
      const extra = outcome.state === "done" ? (outcome.result === null ? undefined : { result: outcome.result }) : { error: outcome.error ?? "failed" };
      // Already there: the move was done before a crash, and the finish it answered is being handled again.
      if (queue.onlyIn(project, file, outcome.state, "processing")) return true;
      try {
        return move(project, file, "processing", outcome.state, extra) !== null;
      } catch (error) {
        log.error("cannot move task file", { project, file, to: outcome.state, error });
        return false;
      }
    },
  };
}
