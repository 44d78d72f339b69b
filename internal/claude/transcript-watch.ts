/**
 * @module claude/transcript-watch
 * Tells the moment a transcript grows: one recursive inotify watch (`fs.watch`) per session home's `projects/`
 * folder, reporting each `*.jsonl` path written, coalesced over a few milliseconds (Claude Code appends a turn's
 * records in quick bursts). It lets the supervisor read a limit record or the end of a turn as soon as Claude Code
 * writes it, instead of at the next poll or when a hook process gets to run on a loaded machine. A hint only: it
 * reads nothing and decides nothing, and the poll still reads every transcript, so a watch that fails (no inotify
 * left, a folder removed) costs speed, never correctness.
 */
import { mkdirSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";

/** The watches. */
export interface TranscriptWatch {
  /** Watches exactly these session homes from now on (new ones added, others closed); cheap when nothing changed. */
  watch(homes: Iterable<string>): void;
  close(): void;
}

/** How long writes to one transcript are coalesced into one report. @default 15 */
export const TRANSCRIPT_WATCH_COALESCE_MS = 15;

/** Creates a {@link TranscriptWatch} that calls `onWrite(path)` after a transcript was written. */
export function createTranscriptWatch(onWrite: (path: string) => void, log: Logger, options: { coalesceMs?: number } = {}): TranscriptWatch {
  const coalesceMs = options.coalesceMs ?? TRANSCRIPT_WATCH_COALESCE_MS;
  const watchers = new Map<string, FSWatcher>();
  /** Homes whose watch could not start or broke: left to the poll (logged once, not retried every poll). */
  const failed = new Set<string>();
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  let closed = false;

  const report = (path: string) => {
    if (pending.has(path) || closed) return;
    pending.set(path, setTimeout(() => {
      pending.delete(path);
      if (!closed) onWrite(path);
    }, coalesceMs));
  };

  const start = (home: string) => {
    const dir = join(home, "projects");
    try {
      // Claude Code creates it on its first turn; created here, the first turn is seen too.
      mkdirSync(dir, { recursive: true });
      const watcher = watch(dir, { recursive: true, persistent: false }, (_event, file) => {
        if (typeof file === "string" && file.endsWith(".jsonl")) report(join(dir, file));
      });
      watcher.on("error", (error) => {
        log.warn("transcript watch lost; the poll still reads the transcripts", { home, error });
        watcher.close();
        if (watchers.get(home) === watcher) watchers.delete(home);
        failed.add(home);
      });
      watchers.set(home, watcher);
    } catch (error) {
      failed.add(home);
      log.warn("transcripts not watched; the poll still reads them", { home, error });
    }
  };

  return {
    watch(homes) {
      if (closed) return;
      const wanted = new Set(homes);
      for (const [home, watcher] of watchers) {
        if (wanted.has(home)) continue;
        watcher.close();
        watchers.delete(home);
      }
      for (const home of wanted) if (!watchers.has(home) && !failed.has(home)) start(home);
    },
    close() {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
      for (const timer of pending.values()) clearTimeout(timer);
      pending.clear();
    },
  };
}
