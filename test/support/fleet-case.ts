/**
 * @module test/support/fleet-case
 * Two daemon processes acting as two fleet hosts (docs/fleet.md "Tests"): each `claude-failover run` on its own temp
 * folder, private tmux socket, port and account homes (the simulated Claude Code), both on one fresh database of the
 * private PostgreSQL cluster (test/support/postgres.ts), one shared workdir, one fake webhook for the notifications
 * of both. What the cases assert is read from outside: transcripts (the ledger: every prompt on both hosts), each
 * origin's queue folders, `/status` and `/health`, the shared tables, the webhook's requests.
 */
import { expect } from "bun:test";
import { SQL } from "bun";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeWebhook, type FakeWebhook } from "./fake-webhook.ts";
import { startFaultCase, type FaultCase } from "./fault-case.ts";
import { typedTimes, type TestTask } from "./ledger.ts";
import type { PrivatePostgres } from "./postgres.ts";
import { eventually } from "./tmux.ts";

export const HEARTBEAT = "1s";
/** The lease the cases run with (at least 3 heartbeats). */
export const LEASE_MS = 4_000;
const SECRET = "fleet-case-webhook-secret";

/** One host: a fault case (daemon process, its queue, its sessions) with its fleet name. */
export interface FleetHost extends FaultCase {
  name: string;
  /** Front matter `host:` pins the task to `pin`. */
  dropPinned(pin: string, task: TestTask): void;
  health(): Promise<{ ok: boolean; checks: Record<string, { ok: boolean; warning?: boolean; detail?: string }> }>;
  status(): Promise<any>;
}

export interface FleetCase {
  a: FleetHost;
  b: FleetHost;
  /** The shared database (the test's own connection). */
  sql: SQL;
  pg: PrivatePostgres;
  webhook: FakeWebhook;
  /** The workdir every task runs in, on both hosts. */
  workdir: string;
  /** Times the task's marker was typed, on both hosts together. */
  typed(task: TestTask): number;
  /** Waits until the task's file is in its origin's done/ or failed/, nowhere else. */
  settled(origin: FleetHost, task: TestTask, timeoutMs?: number): Promise<"done" | "failed">;
  /** Typed once fleet-wide, done once: its file (and `.result.md` with its reply) in the origin's done/ only. */
  once(origin: FleetHost, task: TestTask): void;
  /** Webhook messages of one event kind (both hosts send to the same fake). */
  sent(kind: string): number;
  cleanup(): Promise<void>;
}

/** Options of {@link startFleetCase}: each host's pool size (default 1) and extra YAML. */
export interface FleetCaseOptions {
  pool?: number;
  /** Per-host pool sizes, overriding `pool`. */
  pools?: { a?: number; b?: number };
  /** Quota polling and the like, for both hosts. */
  quota?: string;
  /** `fleet.lease` in ms. @default {@link LEASE_MS} */
  leaseMs?: number;
}

/** Starts host `a` and host `b` on a fresh database of `pg`. */
export async function startFleetCase(pg: PrivatePostgres, options: FleetCaseOptions = {}): Promise<FleetCase> {
  const url = await pg.freshDatabase();
  const shared = mkdtempSync(join(tmpdir(), "cf-fleet-work-"));
  const webhook = startFakeWebhook();
  const start = async (name: "a" | "b"): Promise<FleetHost> => {
    const size = options.pools?.[name] ?? options.pool ?? 1;
    const names = Array.from({ length: size }, (_, i) => `ccl-auto-${11 + i}`);
    const c = await startFaultCase({
      pool: () => `{ prefix: ccl-auto-, start_index: 11, min: ${size}, max: ${size}, workdir: ${shared} }`,
      poolNames: names,
      quota: options.quota,
      env: { CF_FLEET_URL: url, CF_WEBHOOK_SECRET: SECRET },
      yaml: `fleet: { host: ${name}, postgres_url_env: CF_FLEET_URL, heartbeat: ${HEARTBEAT}, lease: ${(options.leaseMs ?? LEASE_MS) / 1000}s }
notifications:
  webhook: { url: "${webhook.url}/hook/${name}", secret_env: CF_WEBHOOK_SECRET, min_level: info }
`,
    });
    return Object.assign(c, {
      name,
      dropPinned(pin: string, task: TestTask) {
        const tmp = join(c.queue("inbox"), `.${task.file}.tmp`);
        writeFileSync(tmp, `---\nhost: ${pin}\n---\n${task.body}`);
        renameSync(tmp, join(c.queue("inbox"), task.file));
      },
      health: () => fetch(`${c.d.url}/health`).then((r) => r.json()),
      status: () => c.d.get("/status"),
    });
  };
  const a = await start("a");
  const b = await start("b");
  const sql = new SQL(url, { max: 2 });
  const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  const fc: FleetCase = {
    a, b, sql, pg, webhook, workdir: shared,
    typed: (task) => typedTimes(a.d.dir, task.marker) + typedTimes(b.d.dir, task.marker),
    settled: (origin, task, timeoutMs = 120_000) => eventually(() => {
      if (listing(origin.queue("inbox")).includes(task.file) || listing(origin.queue("processing")).includes(task.file)) return null;
      if (listing(origin.queue("done")).includes(task.file)) return "done" as const;
      if (listing(origin.queue("failed")).includes(task.file)) return "failed" as const;
      return null;
    }, timeoutMs, 200),
    once(origin, task) {
      expect({ task: task.name, typed: fc.typed(task) }).toEqual({ task: task.name, typed: 1 });
      const other = origin === a ? b : a;
      for (const folder of ["inbox", "processing", "failed"] as const) expect(listing(origin.queue(folder))).not.toContain(task.file);
      for (const folder of ["inbox", "processing", "done", "failed"] as const) expect(listing(other.queue(folder))).not.toContain(task.file);
      expect(readFileSync(join(origin.queue("done"), `${task.name}.result.md`), "utf8")).toContain(task.result);
    },
    sent: (kind) => webhook.delivered().filter((r) => r.headers["x-claude-failover-event"] === kind).length,
    async cleanup() {
      await Promise.allSettled([a.cleanup(), b.cleanup()]);
      await sql.close({ timeout: 1 }).catch(() => {});
      await webhook.stop();
      rmSync(shared, { recursive: true, force: true });
    },
  };
  return fc;
}

/** The shared row of a task, by its origin and file (what the queue says happened). */
export async function sharedTask(sql: SQL, origin: string, file: string): Promise<{ state: string; host: string | null; claim: number } | null> {
  const rows = await sql`SELECT state, host, claim::int AS claim FROM fleet_tasks WHERE origin_host = ${origin} AND file = ${file}`;
  return (rows[0] as { state: string; host: string | null; claim: number } | undefined) ?? null;
}
