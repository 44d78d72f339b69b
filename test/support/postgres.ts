/**
 * @module test/support/postgres
 * A private PostgreSQL cluster for the fleet tests: started lazily by scripts/postgres.sh (which installs Debian's
 * package if needed) on first use in a test file, in a temp dir on a loopback port, reused by the file's tests and
 * removed after them (`bun test` fires no process `exit` event, so an afterAll hook of the file does it; a cluster
 * left by a killed test process is stopped by the next start). Each test gets a fresh database. When the cluster cannot be started the tests are skipped with the reason printed, except under
 * CI (`CI=true`), where that is a failure.
 */
import { afterAll } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "..", "..", "scripts", "postgres.sh");

/** A running private cluster. */
export interface PrivatePostgres {
  /** The cluster's `postgres` database URL (superuser, trust auth). */
  url: string;
  /** Creates an empty database and returns its URL. */
  freshDatabase(): Promise<string>;
  /** Stops the server (fast shutdown: connections dropped), keeping the cluster: the database is away. */
  halt(): void;
  /** Starts the halted server again, on the same port (the URLs stay valid). */
  resume(): void;
  /** Stops the cluster and removes its directory. */
  stop(): Promise<void>;
}

let started: Promise<PrivatePostgres | string> | null = null;

/** Stops the clusters left behind by test processes that were killed before their afterAll hook ran. */
function reapOrphans(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^cf-test-pg-(\d+)-/.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      Bun.spawnSync(["sh", SCRIPT, "stop", join(tmpdir(), entry)]);
    }
  }
}

function start(): PrivatePostgres | string {
  reapOrphans();
  return startCluster(mkdtempSync(join(tmpdir(), `cf-test-pg-${process.pid}-`)));
}

/** Starts a cluster in `dir` (scripts/postgres.sh); why not when it cannot (then nothing is left running). The bench uses it too. */
export function startCluster(dir: string): PrivatePostgres | string {
  const out = Bun.spawnSync(["sh", SCRIPT, "start", dir], { stdout: "pipe", stderr: "pipe" });
  const url = out.stdout.toString().trim().split("\n").pop() ?? "";
  if (out.exitCode !== 0 || !url.startsWith("postgres://")) {
    Bun.spawnSync(["sh", SCRIPT, "stop", dir]);
    return `sh scripts/postgres.sh start exited ${out.exitCode}: ${out.stderr.toString().trim().split("\n").pop() ?? ""}`;
  }
  return clusterAt(url, dir);
}

/** The cluster running in `dir` (scripts/postgres.sh) at `url`, as a {@link PrivatePostgres}. */
function clusterAt(url: string, dir: string): PrivatePostgres {
  const admin = new SQL(url, { max: 1 });
  let n = 0;
  return {
    url,
    async freshDatabase() {
      const name = `fleet_test_${process.pid}_${++n}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return url.replace(/\/postgres$/, `/${name}`);
    },
    halt() {
      const out = Bun.spawnSync(["sh", SCRIPT, "halt", dir], { stdout: "pipe", stderr: "pipe" });
      if (out.exitCode !== 0) throw new Error(`postgres.sh halt exited ${out.exitCode}: ${out.stderr.toString().trim()}`);
    },
    resume() {
      const out = Bun.spawnSync(["sh", SCRIPT, "start", dir], { stdout: "pipe", stderr: "pipe" });
      if (out.exitCode !== 0 || out.stdout.toString().trim().split("\n").pop() !== url) {
        throw new Error(`postgres.sh start (resume) exited ${out.exitCode}: ${out.stderr.toString().trim()}`);
      }
    },
    async stop() {
      await admin.close({ timeout: 1 }).catch(() => {});
      Bun.spawnSync(["sh", SCRIPT, "stop", dir]);
    },
  };
}

/**
 * The private cluster, started on first use (call it at the top level of a test file); null (after printing why) when
 * it cannot be started. Under `CI=true` that throws instead: CI must run the fleet tests.
 */
export async function privatePostgres(file: string): Promise<PrivatePostgres | null> {
  if (!started) {
    const starting = Promise.resolve().then(start);
    started = starting;
    afterAll(async () => {
      started = null;
      const cluster = await starting;
      if (typeof cluster !== "string") await cluster.stop();
    });
  }
  const cluster = await started;
  if (typeof cluster !== "string") return cluster;
  const reason = `fleet: SKIPPED ${file}: no private PostgreSQL (${cluster})`;
  if (process.env.CI === "true") throw new Error(`${reason}; CI requires it`);
  process.stderr.write(`${reason}\n`);
  return null;
}

/** A URL on which nothing listens (a port just closed), for the "database unreachable" cases. */
export function closedPortUrl(): string {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}
