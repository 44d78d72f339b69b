/**
 * @module dispatcher/watch
 * The file-system watch of the queue tree ({@link watchQueue}): one recursive watch on `<queue_dir>`, events
 * filtered to what could be a new inbox file and coalesced into `onChange` calls, re-armed when it fails, when a
 * project or one of its folders appears or vanishes, and when the queue directory itself is replaced.
 * Every event only means "rescan": it does not list, read or move files (that is dispatcher/queue.ts), nor decide
 * what to run (the dispatcher).
 */
import { lstatSync, mkdirSync, statSync, watch as fsWatch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";

/** Watch events are coalesced: at most one `onChange` call per this many ms. */
export const WATCH_DEBOUNCE_MS = 50;
/** Delay before re-arming a watch that failed or whose directory vanished. */
export const WATCH_REARM_DELAY_MS = 100;
/** How often the watch checks that the queue directory is still the one it watches. */
export const WATCH_CHECK_INTERVAL_MS = 5_000;

/** What the watch saw happen to one inbox task name: `rename` = it appeared or went away, `change` = it was written. */
export type InboxFileEvent = "rename" | "change";

/**
 * Watches `queueDir` (created if missing) recursively; `onChange` runs, coalesced, after any event that may mean a
 * new inbox file or a changed tree. `onInboxFile` (optional) hears at once, uncoalesced, each event on a `*.md`
 * name directly in an inbox, with its absolute path. Errors thrown by `onChange` are logged. Returns a stop function.
 */
export function watchQueue(
  queueDir: string, onChange: () => void, log: Logger, onInboxFile?: (event: InboxFileEvent, path: string) => void,
): () => void {
  let watcher: FSWatcher | null = null;
  let armedIno = -1;
  let stopped = false;
  let lastFire = 0;
  let pending: ReturnType<typeof setTimeout> | null = null;
  let rearmTimer: ReturnType<typeof setTimeout> | null = null;
  const fire = () => {
    if (pending || stopped) return;
    pending = setTimeout(() => {
      pending = null;
      lastFire = Date.now();
      try { onChange(); } catch (error) { log.error("queue change handler failed", { error }); }
    }, Math.max(0, lastFire + WATCH_DEBOUNCE_MS - Date.now()));
  };
  const arm = () => {
    if (stopped) return;
    try {
      mkdirSync(queueDir, { recursive: true });
      armedIno = statSync(queueDir).ino;
      const w = fsWatch(queueDir, { recursive: true }, (event, filename) => onEvent(event, filename == null ? null : String(filename)));
      w.on("error", (error) => { log.warn("queue watch failed, re-arming", { dir: queueDir, error }); rearm(); });
      w.on("close", () => { if (watcher === w) rearm(); }); // closed under us (the root was removed)
      watcher = w;
    } catch (error) {
      log.warn("cannot watch queue directory, retrying", { dir: queueDir, error });
      rearm();
    }
  };
  const rearm = () => {
    const w = watcher;
    watcher = null;
    w?.close();
    if (rearmTimer || stopped) return;
    rearmTimer = setTimeout(() => { rearmTimer = null; arm(); fire(); }, WATCH_REARM_DELAY_MS);
  };
  const rootChanged = () => {
    try { return statSync(queueDir).ino !== armedIno; } catch { return true; }
  };
  const onEvent = (event: string, filename: string | null) => {
    if (filename === null) {
      if (rootChanged()) rearm();
      return fire();
    }
    const parts = filename.split(/[\\/]/);
    const base = parts[parts.length - 1] ?? "";
    // A project or one of its folders appeared or vanished: a recreated directory is not watched any more.
    if (parts.length <= 2) { rearm(); return fire(); }
    if (parts[1] !== "inbox" || base.startsWith(".") || !base.endsWith(".md")) return;
    if (parts.length === 3) {
      const path = join(queueDir, filename);
      try { onInboxFile?.(event === "change" ? "change" : "rename", path); } catch (error) { log.error("inbox event handler failed", { error }); }
      if (!present(path)) return; // moved out or deleted: nothing new
    }
    fire();
  };
  const check = setInterval(() => {
    if (rootChanged()) { log.warn("queue directory replaced, re-arming watch", { dir: queueDir }); rearm(); }
  }, WATCH_CHECK_INTERVAL_MS);
  check.unref?.();
  arm();
  return () => {
    stopped = true;
    clearInterval(check);
    if (pending) clearTimeout(pending);
    if (rearmTimer) clearTimeout(rearmTimer);
    const w = watcher;
    watcher = null;
    w?.close();
  };
}

/** Whether a path exists, counting dangling symlinks (which `existsSync` does not). */
export function present(path: string): boolean {
  try { lstatSync(path); return true; } catch { return false; }
}
