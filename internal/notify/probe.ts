/**
 * @module notify/probe
 * `claude-failover notify test [channel]`: one test message through each configured channel (or the one named),
 * sent directly, once, without the queue, so the operator sees at once what each service answered, and the report
 * the command prints. It starts no polling and changes nothing; only `cli/commands.ts` calls it.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config/config.ts";
import { createLog, type LogFields } from "../log.ts";
import { createChannels, type NotifySecrets } from "./channels.ts";
import { renderEvent, type NotifyEvent } from "./events.ts";

/** What a test send needs. */
export interface ProbeDeps {
  fetch: typeof fetch;
  clock: Clock;
  version: string;
  /** This machine's name, shown in the message. */
  host: string;
}

/** What one channel answered. */
export interface ProbeResult {
  channel: string;
  ok: boolean;
  /** `sent`, or why not (the service's answer, or why the channel is disabled). */
  detail: string;
}

/** The channels the config names, and the results for those tested. */
export interface ProbeReport {
  configured: string[];
  results: ProbeResult[];
}

/** Longest wait for one channel's answer. */
export const PROBE_TIMEOUT_MS = 20_000;

/** Sends a `test_message` through every configured channel, or only `only`; never throws for a channel's failure. */
export async function testChannels(config: Config["notifications"], secrets: NotifySecrets, deps: ProbeDeps, only?: string): Promise<ProbeReport> {
  const warnings: LogFields[] = [];
  const log = createLog({ level: "warn", write: (line) => warnings.push(JSON.parse(line) as LogFields) });
  const built = createChannels(config, secrets, { log, clock: deps.clock, fetch: deps.fetch, version: deps.version, host: deps.host });
  const configured = built.channels.map((c) => c.name);
  const event: NotifyEvent = { kind: "test_message", at: deps.clock.now(), host: deps.host };
  const message = renderEvent(event, config.timezone);
  const chosen = built.channels.filter((c) => !only || c.name === only);
  const results = await Promise.all(chosen.map(async (channel): Promise<ProbeResult> => {
    try {
      await channel.deliver(message, event, AbortSignal.timeout(PROBE_TIMEOUT_MS));
      return { channel: channel.name, ok: true, detail: "sent" };
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const why = text.endsWith("channel disabled") && warnings.find((w) => w.module === channel.name && String(w.msg).endsWith(" disabled"))?.reason;
      return { channel: channel.name, ok: false, detail: why ? `disabled: ${String(why)}` : text };
    }
  }));
  await built.stop(0);
  return { configured, results };
}

/** One line per channel: `slack     failed: Cannot send Slack message: status 404 (no_service)`. */
export function renderProbe(results: ProbeResult[]): string {
  const width = Math.max(...results.map((r) => r.channel.length), 0) + 2;
  return results.map((r) => `${r.channel.padEnd(width)}${r.ok ? "ok" : `failed: ${r.detail}`}`).join("\n");
}
