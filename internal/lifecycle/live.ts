/**
 * @module lifecycle/live
 * Claude Code's live-session registry (`<home>/sessions/<pid>.json`), read for the process under a pane: which
 * conversation runs there, in which account's home, and whether it waits for a person (2.1.330: `"status":"waiting"`,
 * `"waitingFor":"dialog open"` under the limit dialog). Reads /proc for the pane's descendants; writes nothing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isValidUuid } from "../claude/home.ts";

/**
 * A running Claude Code as its live-session registry record describes it: the conversation, the account whose home
 * holds the record, and (2.1.330) `status` (`idle`, `busy`, `waiting`) with `waitingFor` (`dialog open` while the limit
 * dialog is up). Pass it to quota/classify.ts `safeToType()` before typing.
 */
export interface LiveSession {
  sessionId: string;
  account: string;
  status?: string;
  waitingFor?: string;
}

/**
 * Finds the Claude Code process under a pane (the pane's own process or any descendant, e.g. `claude` started from
 * a shell) in Claude Code's live-session registry (`<home>/sessions/<pid>.json`) of any of `accounts`.
 */
export function findLiveSession(accounts: ReadonlyArray<{ name: string; home: string }>, panePid: number, tree = processTree()): LiveSession | null {
  for (const pid of [panePid, ...descendants(panePid, tree)]) {
    for (const account of accounts) {
      try {
        const record = JSON.parse(readFileSync(join(account.home, "sessions", `${pid}.json`), "utf8")) as { sessionId?: unknown; status?: unknown; waitingFor?: unknown };
        if (isValidUuid(record.sessionId)) {
          return {
            sessionId: record.sessionId, account: account.name,
            ...(typeof record.status === "string" ? { status: record.status } : {}),
            ...(typeof record.waitingFor === "string" ? { waitingFor: record.waitingFor } : {}),
          };
        }
      } catch {
        // not this process, or not this home
      }
    }
  }
  return null;
}

/** Parent → children of every process, read once from /proc (Linux). */
export function processTree(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    // no /proc: only the pane's own process is looked at
  }
  return children;
}

/** Every descendant of `pid` in `tree`. */
function descendants(pid: number, tree: Map<number, number[]>): number[] {
  const out: number[] = [];
  const queue = [...(tree.get(pid) ?? [])];
  while (queue.length && out.length < 1000) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(tree.get(next) ?? []));
  }
  return out;
}
