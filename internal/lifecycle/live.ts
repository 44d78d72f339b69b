/**
 * @module lifecycle/live
 * Claude Code's live-session registry (`<home>/sessions/<pid>.json`), read for the process under a pane: which
 * conversation runs there, in which account's home, and whether it waits for a person (2.1.330: `"status":"waiting"`,
 * `"waitingFor":"dialog open"` under the limit dialog). Reads /proc for the pane's descendants; writes nothing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isValidUuid } from "../claude/home.ts";
import { descendants, processTree } from "./proc.ts";

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
