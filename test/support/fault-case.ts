/**
 * @module test/support/fault-case
 * One fault-injection case on a daemon process ({@link startProcDaemon}): a pool of `poolSize` sessions on account a,
 * one inbox project, helpers to drop tasks, switch the simulator's faults (`<session home>/sim-faults.json`), wait for the
 * pool and for each task to settle, and the closing exactly-once assertion read from the transcripts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dropFile, expectExactlyOnce, prompts, turnEnded, waitSettled, type OnceOptions, type TestTask } from "./ledger.ts";
import { startProcDaemon, type ProcDaemon } from "./proc-daemon.ts";
import { eventually } from "./tmux.ts";

export const PROJECT = "proj";
type Folder = "inbox" | "processing" | "done" | "failed";

/** A running case. */
export interface FaultCase {
  d: ProcDaemon;
  queue(folder: Folder): string;
  drop(...tasks: TestTask[]): void;
  /** Writes the simulator's faults into the session home every session runs in. */
  faults(value: unknown): void;
  /** `/status` sessions. */
  sessions(): Promise<Array<{ name: string; state: string; account: string; session_id: string | null; task: unknown }>>;
  /** Waits until every pool session in `names` is idle with no task. */
  idle(names: string[], timeoutMs?: number): Promise<void>;
  /** Waits until the task's turn has written its user record (it was typed and submitted). */
  typed(task: TestTask, timeoutMs?: number): Promise<void>;
  /** Waits until the task's turn has ended in the transcript (`turn_duration`), whatever the hooks did. */
  ended(task: TestTask, timeoutMs?: number): Promise<void>;
  settle(task: TestTask, timeoutMs?: number): Promise<"done" | "failed">;
  once(task: TestTask, options?: OnceOptions): void;
  cleanup(): Promise<void>;
}

/** Boots a case; `pool` overrides the `autonomous` YAML (default one session `ccl-auto-11`). */
export async function startFaultCase(options: { pool?: (dir: string) => string; poolNames?: string[]; yaml?: string; watcher?: string;
  quota?: string; before?: (c: FaultCase) => void; env?: Record<string, string> } = {}): Promise<FaultCase> {
  let c!: FaultCase;
  const d = await startProcDaemon({
    extra: { pool: options.pool ?? ((dir) => `{ prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: ${dir}/work }`),
      yaml: options.yaml, watcher: options.watcher, quota: options.quota },
    env: options.env,
    before: (proc) => {
      c = makeCase(proc);
      options.before?.(c);
    },
  });
  await c.idle(options.poolNames ?? ["ccl-auto-11"]);
  return c;
}

function makeCase(d: ProcDaemon): FaultCase {
  const queue = (folder: Folder) => d.folder(PROJECT, folder);
  mkdirSync(queue("inbox"), { recursive: true });
  const c: FaultCase = {
    d, queue,
    drop: (...tasks) => tasks.forEach((t) => dropFile(queue("inbox"), t.file, t.body)),
    faults: (value) => {
      const fleet = join(d.dir, "state", "homes", "fleet");
      mkdirSync(fleet, { recursive: true });
      writeFileSync(join(fleet, "sim-faults.json"), JSON.stringify(value));
    },
    sessions: async () => (await d.get("/status")).sessions,
    async idle(names, timeoutMs = 30_000) {
      await eventually(async () => {
        const all = await c.sessions().catch(() => []);
        return names.every((n) => all.some((s) => s.name === n && s.state === "idle" && !s.task));
      }, timeoutMs, 100);
    },
    typed: (task, timeoutMs = 30_000) => eventually(() => prompts(d.dir).some((p) => p.text.includes(task.marker)), timeoutMs, 20)
      .then(() => undefined),
    ended: (task, timeoutMs = 30_000) => eventually(() => turnEnded(d.dir, task.marker), timeoutMs, 20).then(() => undefined),
    async settle(task, timeoutMs) {
      try {
        return await waitSettled(queue, task, timeoutMs);
      } catch (error) {
        // A case that times out says what the daemon did: its last log lines, with the error.
        const tail = d.logs().slice(-60).map((l) => JSON.stringify(l)).join("\n");
        throw new Error(`${(error as Error).message}\n-- task ${task.file}: the daemon's last log lines --\n${tail}`);
      }
    },
    once: (task, options) => expectExactlyOnce(d.dir, queue, task, options),
    cleanup: () => d.cleanup(),
  };
  return c;
}
