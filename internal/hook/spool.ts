/**
 * @module hook/spool
 * Hook events that `claude-failover hook` spooled to disk because the daemon did not answer: read back, oldest
 * first, and removed. Only reads and parses; deciding is the supervisor's job.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";

/** One hook event as the hook subcommand spools it. */
export interface SpooledHook {
  event: string;
  session: string | null;
  payload: Record<string, unknown>;
  at: number;
}

/** Reads and removes every spooled hook event, oldest first. Unreadable files are removed and logged. */
export function drainSpool(dir: string, log: Logger): SpooledHook[] {
  if (!existsSync(dir)) return [];
  const out: SpooledHook[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
    const path = join(dir, name);
    try {
      const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<SpooledHook>;
      if (typeof parsed.event === "string" && parsed.payload && typeof parsed.payload === "object") {
        out.push({ event: parsed.event, session: typeof parsed.session === "string" ? parsed.session : null, payload: parsed.payload, at: Number(parsed.at) || 0 });
      }
    } catch (error) {
      log.warn("spooled hook unreadable", { file: name, error });
    }
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  return out;
}
