/**
 * @module janitor
 * Housekeeping on an interval: finished task files (`done/`, `failed/` and their `.result.md`/`.error.txt`
 * companions) older than the retention go to `<queue_dir>/<project>/archive/YYYY-MM/` or are deleted; finished
 * task rows and events older than the retention leave the store; stale runtime files (hook spool …) are removed.
 * This is the only code allowed to delete a task file, and it never looks inside `inbox/` or `processing/`.
 * It does not decide what a live runtime file is (the caller's `isLiveRuntimeFile`) and never prunes `archive/`.
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../state/state.ts";

/** A runtime file that is not live is left alone this long, in case its writer is still creating it. */
export const RUNTIME_GRACE_MS = 60_000;
/** How deep the janitor walks into a runtime directory. */
const RUNTIME_MAX_DEPTH = 4;
/** The only queue folders the janitor touches. */
const FINISHED_FOLDERS = ["done", "failed"] as const;
const COMPANIONS = [".error.txt", ".result.md"] as const;
const PROJECT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** What the janitor touches. */
export interface JanitorDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  queueDir: string;
  /** Directories of transient files, e.g. `<state_dir>/spool`, `<state_dir>/hooks`. */
  runtimeDirs: string[];
  /** `fleet.host`: this host's own superseded fleet rows are kept until their task ends elsewhere. @default none */
  fleetHost?: string;
}

/** Settings of {@link createJanitor}. */
export interface JanitorOptions {
  intervalMs: number;
  /** Finished tasks, events and runtime files older than this go. */
  retentionMs: number;
  /** `archive` keeps old task files under `archive/YYYY-MM/`; `delete` removes them. */
  mode: "archive" | "delete";
  /** When given, a runtime file is kept while live and removed once not live (after {@link RUNTIME_GRACE_MS}). */
  isLiveRuntimeFile?: (path: string) => boolean;
}

/** Counts from one {@link Janitor.sweep}. */
export interface SweepReport {
  /** Task files (companions included) moved to `archive/`. */
  archived: number;
  /** Task files (companions included) deleted. */
  deleted: number;
  tasksPruned: number;
  eventsPruned: number;
  /** Finished swap records older than the retention (the swap history keeps what is newer). */
  swapsPruned: number;
  /** Usage rows (limits, ended periods, day counters) older than the retention, never within the last 8 days. */
  usagePruned: number;
  runtimeRemoved: number;
  /** Entries that could not be handled (logged); retried next sweep. */
  errors: number;
}

/** The housekeeping loop. */
export interface Janitor {
  /** One pass over the queue, the store and the runtime directories. */
  sweep(): Promise<SweepReport>;
  /** Sweeps now and every `intervalMs` until `signal` aborts. */
  start(signal: AbortSignal): void;
}

/** What `/status` shows of an account's usage reaches back 7 days: its rows stay at least this long. */
const USAGE_KEEP_MS = 8 * 86_400_000;

/** Creates the janitor. */
export function createJanitor(deps: JanitorDeps, options: JanitorOptions): Janitor {
  const { store, clock, queueDir } = deps;
  const log = deps.log.child({ module: "janitor" });
  /** When an entry arrived in its folder: a rename updates ctime, a companion's write updates mtime. */
  const enteredAt = (st: Stats) => Math.max(st.mtimeMs, st.ctimeMs);
  const list = (dir: string) => { try { return readdirSync(dir); } catch { return []; } };

  function sweepFolder(project: string, folder: string, cutoff: number, report: SweepReport) {
    const dir = join(queueDir, project, folder);
    const names = new Set(list(dir));
    const companionOf = (name: string) => {
      const suffix = COMPANIONS.find((c) => name.endsWith(c));
      if (!suffix) return null;
      const stem = name.slice(0, -suffix.length);
      return [stem + ".md", stem].find((main) => main !== name && names.has(main)) ?? null;
    };
    const groups = new Map<string, string[]>();
    for (const name of names) {
      const main = companionOf(name) ?? name; // companions travel with their task file
      groups.set(main, [...(groups.get(main) ?? []), ...(main === name ? [] : [name])]);
    }
    for (const [name, companions] of groups) {
      const group = [name, ...companions];
      try {
        const at = enteredAt(lstatSync(join(dir, name)));
        if (at >= cutoff) continue;
        if (options.mode === "delete") {
          for (const n of group) rmSync(join(dir, n), { recursive: true, force: true });
          report.deleted += group.length;
          continue;
        }
        const month = new Date(at).toISOString().slice(0, 7);
        const dest = join(queueDir, project, "archive", month);
        mkdirSync(dest, { recursive: true });
        const taken = (n: string) => { try { lstatSync(join(dest, n)); return true; } catch { return false; } };
        const suffix = group.some(taken) ? `-${clock.now()}` : "";
        for (const n of group) renameSync(join(dir, n), join(dest, withSuffix(n, suffix)));
        report.archived += group.length;
      } catch (error) {
        report.errors++;
        log.warn("cannot archive finished task file", { project, folder, file: name, error });
      }
    }
  }

  function sweepRuntime(dir: string, cutoff: number, now: number, depth: number, report: SweepReport) {
    for (const name of list(dir)) {
      const path = join(dir, name);
      try {
        const st = lstatSync(path);
        if (st.isDirectory()) {
          if (depth < RUNTIME_MAX_DEPTH) sweepRuntime(path, cutoff, now, depth + 1, report);
          continue;
        }
        const live = options.isLiveRuntimeFile?.(path);
        const stale = live === undefined ? st.mtimeMs < cutoff : !live && now - st.mtimeMs >= RUNTIME_GRACE_MS;
        if (!stale) continue;
        rmSync(path, { force: true });
        report.runtimeRemoved++;
      } catch (error) {
        report.errors++;
        log.warn("cannot remove runtime file", { path, error });
      }
    }
  }

  const janitor: Janitor = {
    async sweep() {
      const now = clock.now();
      const cutoff = now - options.retentionMs;
      const report: SweepReport = { archived: 0, deleted: 0, tasksPruned: 0, eventsPruned: 0, swapsPruned: 0, usagePruned: 0, runtimeRemoved: 0, errors: 0 };
      for (const project of list(queueDir).filter((n) => PROJECT_NAME.test(n)).sort()) {
        for (const folder of FINISHED_FOLDERS) sweepFolder(project, folder, cutoff, report);
      }
      report.tasksPruned = store.pruneTasks(cutoff, deps.fleetHost);
      report.eventsPruned = store.pruneEvents(cutoff);
      report.swapsPruned = store.pruneSwaps(cutoff);
      report.usagePruned = store.usage.prune(Math.min(cutoff, now - USAGE_KEEP_MS));
      for (const dir of deps.runtimeDirs) sweepRuntime(dir, cutoff, now, 1, report);
      log.info("janitor sweep finished", { mode: options.mode, retention_ms: options.retentionMs, ...report });
      return report;
    },
    start(signal) {
      void (async () => {
        while (!signal.aborted) {
          await janitor.sweep().catch((error) => log.error("janitor sweep failed", { error }));
          await clock.sleep(options.intervalMs, signal);
        }
      })();
    },
  };
  return janitor;
}

/** `fix.md` + `-123` → `fix-123.md`; `fix.error.txt` → `fix-123.error.txt`; others get the suffix at the end. */
function withSuffix(name: string, suffix: string): string {
  if (!suffix) return name;
  const ext = [...COMPANIONS, ".md"].find((e) => name.endsWith(e));
  return ext ? name.slice(0, -ext.length) + suffix + ext : name + suffix;
}
