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
 * `pinOf` reads the host a task file in processing/ is pinned to (front matter `host:`); the task file parser does
 * not know that key yet, so the wiring supplies it.
 */
export function queueFiles(queue: TaskQueue, log: Logger, pinOf: (project: string, file: string) => string | null): BridgeFiles {
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
    end(project, file, outcome) {
      const extra = outcome.state === "done" ? (outcome.result === null ? undefined : { result: outcome.result }) : { error: outcome.error ?? "failed" };
      try {
        return move(project, file, "processing", outcome.state, extra) !== null;
      } catch (error) {
        log.error("cannot move task file", { project, file, to: outcome.state, error });
        return false;
      }
    },
  };
}
