/**
 * @module fleet/view
 * The fleet as the surfaces show it: `/status`'s `fleet` ({@link fleetStatus}, from the bridge's status), its gauges
 * for `/metrics` ({@link fleetGauges}) and the hosts section of `claude-failover status` ({@link fleetLines}, printed
 * when there is more than one host or the backend is PostgreSQL).
 */
import type { ExtraGauge } from "../server/metrics.ts";
import type { FleetStatus } from "../state/status.ts";
import type { BridgeStatus } from "./bridge.ts";

/** Projects the bridge's status (times in ms) into `/status`'s `fleet` (ISO times, seconds). */
export function fleetStatus(s: BridgeStatus): FleetStatus {
  return {
    host: s.host, backend: s.backend, outbox: s.outbox, parked: s.parked,
    degraded: s.degraded && { since: new Date(s.degraded.since).toISOString(), reason: s.degraded.reason },
    hosts: s.hosts.map((h) => ({
      name: h.name, version: h.version, url: h.url, degraded: h.degraded, heartbeat_age_s: Math.max(0, Math.round(h.heartbeatAgeMs / 1000)),
      sessions: h.sessions.map((x) => ({ name: x.name, kind: x.kind, state: x.state, account: x.account, task_id: x.taskId })),
    })),
  };
}

/** Whether the surfaces show the hosts: a fleet of several, or one on PostgreSQL (a single host on SQLite: nothing new). */
export function showHosts(fleet: FleetStatus | undefined): fleet is FleetStatus {
  return fleet !== undefined && (fleet.hosts.length > 1 || fleet.backend === "postgres");
}

/** `claude_failover_fleet_*`: the hosts, each one's heartbeat age, whether this host is degraded, the outbox. */
export function fleetGauges(fleet: FleetStatus | undefined): ExtraGauge[] {
  if (!fleet) return [];
  return [
    { name: "claude_failover_fleet_hosts", help: "Hosts in the fleet (rows in the shared store).", samples: [{ value: fleet.hosts.length }] },
    {
      name: "claude_failover_fleet_heartbeat_age_seconds", help: "Seconds since each host's last heartbeat, as this host last read them.",
      samples: fleet.hosts.map((h) => ({ labels: { host: h.name }, value: h.heartbeat_age_s })),
    },
    { name: "claude_failover_fleet_degraded", help: "1 while this host cannot reach the fleet database.", samples: [{ value: fleet.degraded ? 1 : 0 }] },
    { name: "claude_failover_fleet_outbox", help: "Fleet writes waiting in this host's outbox (parked ones included).", samples: [{ value: fleet.outbox + fleet.parked }] },
  ];
}

/** The hosts section of `claude-failover status`: one line per host, its sessions under it; empty when not shown. */
export function fleetLines(fleet: FleetStatus | undefined): string[] {
  if (!showHosts(fleet)) return [];
  const head = `Fleet (${fleet.backend}, this host ${fleet.host})` + (fleet.degraded ? `: DEGRADED since ${fleet.degraded.since}: ${fleet.degraded.reason}` : "");
  const lines = [head];
  if (fleet.outbox + fleet.parked > 0) lines.push(`  outbox: ${fleet.outbox} waiting, ${fleet.parked} parked`);
  for (const h of fleet.hosts) {
    const busy = h.sessions.filter((x) => x.task_id !== null).length;
    lines.push(`  ${h.name}${h.name === fleet.host ? " (this host)" : ""}  heartbeat ${h.heartbeat_age_s}s ago  ${h.sessions.length} sessions, ${busy} with a task  v${h.version}${h.degraded ? `  degraded: ${h.degraded}` : ""}`);
    for (const x of h.sessions) lines.push(`    ${x.name}  ${x.state}  ${x.account ?? "-"}${x.task_id !== null ? `  task #${x.task_id}` : ""}`);
  }
  return lines;
}
