/**
 * @module fleet/postgres-tasks
 * The shared task queue on PostgreSQL: idempotent enqueue, claims with `FOR UPDATE SKIP LOCKED` in one transaction
 * (two hosts claiming at once each get different rows, neither waits), leases, and finish/release guarded by the
 * claim generation so a host whose lease expired cannot finish a task another host now runs.
 */
import type { SQL } from "bun";
import { claimOrder, num, taskRow } from "./rows.ts";
import { zeroCounts, type FleetStore, type FleetTaskState } from "./store.ts";

type TaskQueue = Pick<FleetStore, "enqueue" | "claim" | "renew" | "finish" | "release" | "requeueExpired" | "tasks" | "counts">;

export function postgresTasks(sql: SQL): TaskQueue {
  return {
    async enqueue(t) {
      const inserted = await sql`
        INSERT INTO fleet_tasks (origin_host, project, file, prompt, priority, workdir, timeout_ms, pinned_host, created_at)
        VALUES (${t.originHost}, ${t.project}, ${t.file}, ${t.prompt}, ${t.priority}, ${t.workdir}, ${t.timeoutMs},
                ${t.pinnedHost}, ${t.createdAt})
        ON CONFLICT (origin_host, project, file, created_at) DO NOTHING RETURNING id`;
      if (inserted.length > 0) return num(inserted[0].id)!;
      const [existing] = await sql`SELECT id FROM fleet_tasks WHERE origin_host = ${t.originHost} AND project = ${t.project}
        AND file = ${t.file} AND created_at = ${t.createdAt}`;
      return num(existing.id)!;
    },
    async claim(host, { workdirs, limit, now, leaseMs }) {
      if (workdirs.length === 0 || limit <= 0) return [];
      // The CTE locks the chosen rows (skipping those another host is claiming) before the UPDATE touches them.
      const rows = await sql.begin(async (tx) => tx`
        WITH picked AS (
          SELECT id FROM fleet_tasks WHERE state = 'queued' AND (pinned_host IS NULL OR pinned_host = ${host})
            AND workdir = ANY(${sql.array(workdirs, "TEXT")})
          ORDER BY priority DESC, id LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        UPDATE fleet_tasks SET state = 'running', host = ${host}, claim = claim + 1, lease_until = ${now + leaseMs},
          claimed_at = ${now}
        FROM picked WHERE fleet_tasks.id = picked.id
        RETURNING fleet_tasks.*`);
      return claimOrder([...rows].map(taskRow));
    },
    async renew(host, now, leaseMs) {
      const r = await sql`UPDATE fleet_tasks SET lease_until = ${now + leaseMs} WHERE state = 'running' AND host = ${host}`;
      return r.count;
    },
    async finish(id, host, claim, o) {
      const r = await sql`UPDATE fleet_tasks SET state = ${o.state}, finished_at = ${o.at}, result = ${o.result ?? null},
          error = ${o.error ?? null}, lease_until = NULL
        WHERE id = ${id} AND state = 'running' AND host = ${host} AND claim = ${claim}`;
      return r.count > 0;
    },
    async release(id, host, claim, reason) {
      const r = await sql`UPDATE fleet_tasks SET state = 'queued', host = NULL, lease_until = NULL, error = ${`released: ${reason}`}
        WHERE id = ${id} AND state = 'running' AND host = ${host} AND claim = ${claim}`;
      return r.count > 0;
    },
    async requeueExpired(now) {
      const rows = await sql`UPDATE fleet_tasks SET state = 'queued', error = 'lease of ' || host || ' expired', host = NULL,
          lease_until = NULL
        WHERE state = 'running' AND lease_until < ${now} RETURNING id`;
      return [...rows].map((r) => num(r.id)!).sort((a, b) => a - b);
    },
    async tasks(filter = {}) {
      const state = filter.state ?? null;
      const host = filter.host ?? null;
      const ids = filter.ids ? sql`AND id = ANY(${sql.array(filter.ids, "INT8")})` : sql``;
      const rows = await sql`SELECT * FROM fleet_tasks WHERE (${state}::text IS NULL OR state = ${state})
        AND (${host}::text IS NULL OR host = ${host}) ${ids} ORDER BY id DESC LIMIT ${filter.limit ?? 100}`;
      return [...rows].map(taskRow);
    },
    async counts() {
      const counts = zeroCounts();
      for (const r of await sql`SELECT state, count(*) AS n FROM fleet_tasks GROUP BY state`) counts[r.state as FleetTaskState] = num(r.n)!;
      return counts;
    },
  };
}
