/**
 * @module dispatcher/queue
 * The filesystem side of the task queue: `<queue_dir>/<project>/{inbox,processing,done,failed}/`.
 * Lists inbox candidates (through dispatcher/inbox.ts), reads and validates them, moves files between
 * folders atomically (never overwriting, never deleting), writes new tasks atomically for `POST /tasks`, and
 * watches the tree (the watch itself is dispatcher/watch.ts; its events mean "rescan", and tell how a name arrived).
 * It does not decide what to run or keep any task state: that is the dispatcher and the store.
 *
 * The inbox rule (README "Tasks"): only `*.md` names not starting with `.` are task files; anything else (`.x.tmp`,
 * `x.md.part`, `notes.txt`) is left alone, so a writer can prepare a file under such a name. A task file is read only
 * when it is complete, that is when either
 * - it arrived whole by an atomic rename or hard link (`.x.md.tmp` → `x.md`): the watch saw the name appear and saw
 *   no write to it since, it is not empty and still what it was then; it is read about {@link ARRIVAL_GRACE_MS} later; or
 * - its size, mtime and inode were the same in two scans at least `dispatcher.settle` apart ({@link DEFAULT_SETTLE_MS})
 *   and no process holds it open for writing (dispatcher/writers.ts): the path for files written in place. A writer
 *   that closes the file and reopens it to add more after a pause longer than that must use the rename.
 * Applied by dispatcher/inbox.ts (bookkeeping in settle.ts). The dispatcher re-reads a file when it moves it to processing/, so a file
 * changed after it was queued is delivered as it is then, never as first read.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { createInboxScanner, type InboxEntry } from "./inbox.ts";
import { ARRIVAL_GRACE_MS } from "./settle.ts";
import { invalidNameReason, isValidTaskName, oversizeReason, parseTaskFile, type TaskFileResult } from "./task-file.ts";
import { present, watchQueue } from "./watch.ts";

export type { InboxEntry } from "./inbox.ts";
export { ARRIVAL_GRACE_MS, DEFAULT_SETTLE_MS } from "./settle.ts";
/** Longest destination stem in bytes, so `-<epoch ms>` and `.error.txt` stay under NAME_MAX (255). */
const MAX_STEM_BYTES = 200;
/** Project folder names: what config accepts for project keys. */
const PROJECT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** The four folders of a project. */
export type QueueFolder = "inbox" | "processing" | "done" | "failed";
const FOLDERS: QueueFolder[] = ["inbox", "processing", "done", "failed"];


/** A refused {@link TaskQueue.writeTask}; `code` tells the HTTP layer which status to answer. */
export class TaskQueueError extends Error {
  override name = "TaskQueueError";
  constructor(readonly code: "invalid_project" | "unknown_project" | "invalid_name" | "invalid_task" | "exists", message: string) {
    super(message);
  }
}

/** Dependencies of {@link createTaskQueue}. */
export interface TaskQueueDeps {
  queueDir: string;
  /** Files larger than this are refused unread. */
  maxTaskBytes: number;
  log: Logger;
  /** Used for the settle rule, `-<epoch ms>` suffixes and generated names. */
  clock: Clock;
  /** `dispatcher.settle`: how long a file written in place must stay unchanged; 0 = read at first sight. @default 1000 */
  settleMs?: number;
  /** Which of these real paths a process holds open for writing. @default Linux `/proc` (dispatcher/writers.ts) */
  openForWriting?: (paths: ReadonlySet<string>) => Set<string>;
}

/** The queue folders as seen by the dispatcher. */
export interface TaskQueue {
  /** Creates `inbox`, `processing`, `done` and `failed` for `project`. */
  ensureProject(project: string): void;
  /** Project folders with a valid name, sorted. */
  projects(): string[];
  /** Inbox files ready to read or to reject; files not stable yet are skipped (see {@link TaskQueue.settlingUntil}). */
  scanInbox(): Promise<InboxEntry[]>;
  /** When the earliest file skipped by the last scan may be stable (clock ms), or null when none was skipped. */
  settlingUntil(): number | null;
  /** Reads and validates an entry; null when the file vanished meanwhile. */
  readTask(entry: InboxEntry): Promise<TaskFileResult | null>;
  /** Same, synchronously, for a file in any folder (used by recovery). */
  readTaskSync(project: string, folder: QueueFolder, file: string): TaskFileResult | null;
  /** Whether `<project>/<folder>/<file>` exists (a dangling symlink counts). */
  exists(project: string, folder: QueueFolder, file: string): boolean;
  /** Whether the file is in `folder` and not in `other`: a move between the two that a crash may have cut is done. */
  onlyIn(project: string, file: string, folder: QueueFolder, other: QueueFolder): boolean;
  /** Names in `<project>/<folder>/`, dotfiles excluded. */
  list(project: string, folder: QueueFolder): string[];
  /**
   * Renames a file between folders without overwriting: on a clash the name gets `-<epoch ms>` before `.md`.
   * Writes `<stem>.error.txt` (to failed/) or `<stem>.result.md` (to done/) first. Returns the final path;
   * throws (ENOENT) when the source is missing. `to: "inbox"` is for recovery only.
   */
  moveTo(project: string, file: string, from: QueueFolder, to: QueueFolder, extra?: { error?: string; result?: string }): string;
  /** `moveTo(inbox → failed)` with the reason in `.error.txt`. */
  reject(project: string, file: string, reason: string): string;
  /** Writes a new task into an existing project's inbox atomically; never overwrites. Throws {@link TaskQueueError}. */
  writeTask(project: string, name: string | undefined, content: string | Uint8Array): Promise<string>;
  /** Watches the whole tree ({@link watchQueue}); `onChange` runs (coalesced) after any relevant event. Returns a stop function. */
  watch(onChange: () => void): () => void;
}

/** Creates the filesystem side of the queue rooted at `deps.queueDir`. */
export function createTaskQueue(deps: TaskQueueDeps): TaskQueue {
  const { queueDir, maxTaskBytes, clock } = deps;
  const log = deps.log.child({ module: "queue" });
  const scanner = createInboxScanner({ queueDir, log, clock, settleMs: deps.settleMs, openForWriting: deps.openForWriting });
  const folder = (project: string, f: QueueFolder) => join(queueDir, project, f);
  const assertProject = (project: string) => {
    if (!PROJECT_NAME.test(project)) throw new TaskQueueError("invalid_project", `Cannot use project ${JSON.stringify(project)}: letters, digits, '.', '_' or '-' only`);
  };

  const queue: TaskQueue = {
    ensureProject(project) {
      assertProject(project);
      for (const f of FOLDERS) mkdirSync(folder(project, f), { recursive: true });
    },
    projects() {
      try {
        return readdirSync(queueDir, { withFileTypes: true })
          .filter((d) => d.isDirectory() && PROJECT_NAME.test(d.name)).map((d) => d.name).sort();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.warn("cannot list queue projects", { dir: queueDir, error });
        return [];
      }
    },
    scanInbox: () => scanner.scan(queue.projects()),
    settlingUntil: () => scanner.settlingUntil(),
    async readTask(entry) {
      if (entry.status === "rejected") return { ok: false, reason: entry.reason ?? "rejected" };
      try {
        const st = await stat(entry.path);
        if (st.size > maxTaskBytes) return { ok: false, reason: oversizeReason(st.size, maxTaskBytes) };
        return parseTaskFile(await readFile(entry.path), { maxBytes: maxTaskBytes });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
        return { ok: false, reason: `cannot read file: ${(error as Error).message}` };
      }
    },
    readTaskSync(project, f, file) {
      try {
        const path = join(folder(project, f), file);
        const size = statSync(path).size;
        if (size > maxTaskBytes) return { ok: false, reason: oversizeReason(size, maxTaskBytes) };
        return parseTaskFile(readFileSync(path), { maxBytes: maxTaskBytes });
      } catch {
        return null;
      }
    },
    exists(project, f, file) {
      return present(join(folder(project, f), file));
    },
    onlyIn(project, file, f, other) {
      return present(join(folder(project, f), file)) && !present(join(folder(project, other), file));
    },
    list(project, f) {
      try { return readdirSync(folder(project, f)).filter((n) => !n.startsWith(".")).sort(); } catch { return []; }
    },
    moveTo(project, file, from, to, extra = {}) {
      assertProject(project);
      if (file.includes("/") || file === "." || file === "..") throw new TaskQueueError("invalid_name", `Cannot move ${JSON.stringify(file)}: not a plain file name`);
      const src = join(folder(project, from), file);
      lstatSync(src);
      const destDir = folder(project, to);
      mkdirSync(destDir, { recursive: true });
      const companion = to === "failed" && extra.error !== undefined ? ".error.txt" : to === "done" && extra.result !== undefined ? ".result.md" : null;
      const name = freeName(destDir, file, clock.now());
      if (companion === ".error.txt") {
        const text = `${extra.error}\n\nproject: ${project}\nfile: ${JSON.stringify(file)}\nat: ${new Date(clock.now()).toISOString()}\n`;
        writeFileSync(join(destDir, stemOf(name) + companion), text);
      } else if (companion === ".result.md") {
        writeFileSync(join(destDir, stemOf(name) + companion), extra.result!);
      }
      renameSync(src, join(destDir, name));
      return join(destDir, name);
    },
    reject(project, file, reason) {
      return queue.moveTo(project, file, "inbox", "failed", { error: reason });
    },
    async writeTask(project, name, content) {
      assertProject(project);
      const inbox = folder(project, "inbox");
      if (!existsSync(inbox)) throw new TaskQueueError("unknown_project", `Cannot add a task to ${project}: no such project folder`);
      const file = name ?? generatedName(clock.now());
      if (!isValidTaskName(file)) throw new TaskQueueError("invalid_name", `Cannot add task ${JSON.stringify(file)}: ${invalidNameReason(file)}`);
      const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
      const parsed = parseTaskFile(bytes, { maxBytes: maxTaskBytes });
      if (!parsed.ok) throw new TaskQueueError("invalid_task", `Cannot add task ${file}: ${parsed.reason}`);
      const final = join(inbox, file);
      if (present(final)) throw new TaskQueueError("exists", `Cannot add task ${file}: a file with that name is already in the inbox`);
      const tmp = join(inbox, `.${file}.tmp`);
      let handle;
      try { handle = await open(tmp, "wx"); } catch {
        throw new TaskQueueError("exists", `Cannot add task ${file}: another write of that name is in progress`);
      }
      try { await handle.writeFile(bytes); await handle.sync(); } finally { await handle.close(); }
      try {
        // link() is the atomic "rename unless the name exists"; rename() would silently overwrite.
        await link(tmp, final);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") { await unlink(tmp).catch(() => {}); throw new TaskQueueError("exists", `Cannot add task ${file}: a file with that name is already in the inbox`); }
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") { await unlink(tmp).catch(() => {}); throw error; }
        await rename(tmp, final); // filesystem without hard links: check-then-rename (tiny race window)
        scanner.observe("rename", final);
        return final;
      }
      await unlink(tmp).catch(() => {});
      scanner.observe("rename", final); // written whole by us: no need to wait for the watch
      return final;
    },
    watch(onChange) {
      // A name that appeared is ready once its arrival grace is over: look again then, rather than at the next rescan.
      let graceTimer: ReturnType<typeof setTimeout> | null = null;
      const stop = watchQueue(queueDir, onChange, log, (event, path) => {
        if (scanner.observe(event, path) && !graceTimer) graceTimer = setTimeout(() => { graceTimer = null; onChange(); }, ARRIVAL_GRACE_MS + 1);
      });
      return () => { if (graceTimer) clearTimeout(graceTimer); stop(); };
    },
  };
  return queue;
}

/** `fix.md` → `fix`; other names keep their extension (`notes.txt` → `notes.txt`). */
function stemOf(name: string): string {
  return name.endsWith(".md") ? name.slice(0, -3) : name;
}

/** A name in `dir` that neither exists nor has companions there: the original, else `<stem>-<epoch ms>[-n].md`. */
function freeName(dir: string, file: string, now: number): string {
  const ext = file.endsWith(".md") ? ".md" : "";
  let stem = stemOf(file);
  while (Buffer.byteLength(stem) > MAX_STEM_BYTES) stem = stem.slice(0, -1);
  const taken = (name: string) => [name, stemOf(name) + ".error.txt", stemOf(name) + ".result.md"].some((n) => present(join(dir, n)));
  if (stem + ext === file && !taken(file)) return file;
  for (let n = 0; ; n++) {
    const name = `${stem}-${now}${n ? `-${n}` : ""}${ext}`;
    if (!taken(name)) return name;
  }
}

/** `task-20261123T120000123Z-a1b2c3.md` */
function generatedName(now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(".", "");
  return `task-${stamp}-${randomBytes(3).toString("hex")}.md`;
}
