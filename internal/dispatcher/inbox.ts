/**
 * @module dispatcher/inbox
 * Which inbox files may be read now ({@link createInboxScanner}): lists `<project>/inbox/`, leaves non-task names
 * alone, rejects bad task names and symlinks out of the queue with a reason, and applies the inbox rule documented
 * in dispatcher/queue.ts (arrived whole by rename, or settled and no longer open for writing) using the watch's
 * events. The bookkeeping is dispatcher/settle.ts, the writer check dispatcher/writers.ts.
 * It reads, moves and parses nothing: dispatcher/queue.ts does.
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { createSettleTracker, DEFAULT_SETTLE_MS, type FileMeta } from "./settle.ts";
import { invalidNameReason, isValidTaskName } from "./task-file.ts";
import type { InboxFileEvent } from "./watch.ts";
import { openForWriting as openForWritingInProc } from "./writers.ts";

/** One candidate found in an inbox. */
export interface InboxEntry {
  project: string;
  file: string;
  path: string;
  status: "ready" | "rejected";
  reason?: string;
  /** Clock time the queue first saw this file (the start of dispatch latency). */
  firstSeenAt: number;
}

/** Dependencies of {@link createInboxScanner}. */
export interface InboxScannerDeps {
  queueDir: string;
  log: Logger;
  clock: Clock;
  /** `dispatcher.settle`; 0 = read every file at first sight. @default {@link DEFAULT_SETTLE_MS} */
  settleMs?: number;
  /** Which of these real paths a process holds open for writing. @default Linux `/proc` (dispatcher/writers.ts) */
  openForWriting?: (paths: ReadonlySet<string>) => Set<string>;
}

/** The inbox as the queue scans it. */
export interface InboxScanner {
  /** The files of `projects`' inboxes that may be read (or must be rejected) now. */
  scan(projects: readonly string[]): Promise<InboxEntry[]>;
  /** When the earliest file skipped by the last scan may be ready (clock ms), or null when none was skipped. */
  settlingUntil(): number | null;
  /** A watch event on a task name in an inbox (`rename`: appeared or went; `change`: written); true when it appeared with content. */
  observe(event: InboxFileEvent, path: string): boolean;
}

/** Creates the scanner for `<deps.queueDir>/<project>/inbox/`. */
export function createInboxScanner(deps: InboxScannerDeps): InboxScanner {
  const { queueDir, log, clock } = deps;
  const settleMs = deps.settleMs ?? DEFAULT_SETTLE_MS;
  const settle = createSettleTracker(settleMs);
  const openForWriting = deps.openForWriting ?? openForWritingInProc;
  let firstSeen = new Map<string, number>();
  let ignored = new Set<string>();
  let settleAt: number | null = null;
  const rootReal = () => { try { return realpathSync(queueDir); } catch { return queueDir; } };
  const metaOf = (path: string): FileMeta | null => {
    try { const st = statSync(path); return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } : null; } catch { return null; }
  };

  /** Classifies one inbox name; null when it vanished. */
  async function inspect(path: string, file: string): Promise<{ reject?: string; st?: Stats } | null> {
    try {
      const lst = await lstat(path);
      if (lst.isSymbolicLink()) {
        let target: string;
        try { target = await realpath(path); } catch { return { reject: "symlink target does not exist" }; }
        if (!target.startsWith(rootReal() + sep)) return { reject: `symlink points outside the queue directory (${target})` };
        const st = await stat(path);
        if (!st.isFile()) return { reject: "symlink target is not a regular file" };
        return isValidTaskName(file) ? { st } : { reject: invalidNameReason(file), st };
      }
      if (!lst.isFile()) return { reject: "not a regular file" };
      return isValidTaskName(file) ? { st: lst } : { reject: invalidNameReason(file), st: lst };
    } catch (error) {
      // One unreadable entry must never stop the scan (and with it every other task).
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.error("cannot inspect inbox file", { path, error });
      return null;
    }
  }

  return {
    async scan(projects) {
      const now = clock.now();
      const nextSeen = new Map<string, number>();
      const nextIgnored = new Set<string>();
      const entries: InboxEntry[] = [];
      /** Files ready by the settle rule alone, by real path: checked for a writer still holding them open. */
      const unconfirmed = new Map<string, InboxEntry>();
      const real = rootReal();
      settleAt = null;
      for (const project of projects) {
        const inbox = join(queueDir, project, "inbox");
        let names: string[];
        try {
          names = (await readdir(inbox)).sort();
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.error("cannot list inbox", { project, error });
          continue;
        }
        for (const file of names) {
          const path = join(inbox, file);
          if (file.startsWith(".") || !file.endsWith(".md")) {
            if (!file.startsWith(".") && !ignored.has(path)) log.info("inbox file ignored: not a task name", { project, file, rule: "*.md, no leading dot" });
            nextIgnored.add(path);
            continue;
          }
          const found = await inspect(path, file);
          if (!found) continue;
          const firstSeenAt = firstSeen.get(path) ?? now;
          nextSeen.set(path, firstSeenAt);
          const verdict = found.st ? settle.check(path, { size: found.st.size, mtimeMs: found.st.mtimeMs, ino: found.st.ino }, now) : null;
          if (verdict && !verdict.ready) {
            settleAt = settleAt === null ? verdict.at : Math.min(settleAt, verdict.at);
            continue;
          }
          const entry: InboxEntry = { project, file, path, firstSeenAt, ...(found.reject ? { status: "rejected", reason: found.reject } : { status: "ready" }) };
          if (verdict?.how === "settled") unconfirmed.set(join(real, project, "inbox", file), entry);
          entries.push(entry);
        }
      }
      const held = openForWriting(new Set(unconfirmed.keys()));
      for (const [realPath, entry] of unconfirmed) {
        if (!held.has(realPath)) {
          settle.confirm(entry.path);
          continue;
        }
        entries.splice(entries.indexOf(entry), 1);
        log.debug("inbox file still open for writing", { project: entry.project, file: entry.file });
        settleAt = Math.min(settleAt ?? Number.POSITIVE_INFINITY, now + settleMs);
      }
      firstSeen = nextSeen;
      ignored = nextIgnored;
      settle.endScan(now);
      return entries;
    },
    settlingUntil: () => settleAt,
    observe(event, path) {
      if (event === "change") {
        settle.written(path);
        return false;
      }
      const meta = metaOf(path);
      settle.appeared(path, meta, clock.now());
      return meta !== null && meta.size > 0;
    },
  };
}
