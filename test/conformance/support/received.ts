/**
 * @module test/conformance/support/received
 * What the API stand-ins received around an in-place swap from account a to b, read for the assertions of issue 12:
 * from the moment the daemon wrote b's login (its `swap step` to `closing`), every request goes out with b's own
 * token (none reaches a); a conversation's requests on both stand-ins, in order; and how many continue prompts a
 * conversation got: the daemon's (`switcher.continue_prompt`) and Claude Code's own after a reset (§9).
 */
import { expect } from "bun:test";
import { accessToken } from "./claude.ts";
import type { Conformance } from "./harness.ts";
import type { LoggedRequest } from "./standin.ts";

/** The daemon's continue prompt (the default `switcher.continue_prompt`). */
export const CONTINUE_PROMPT = "Continue where you left off.";
/** The start of the continue prompt Claude Code 2.1.330 sends by itself after a limit's reset (reference §9). */
export const CLI_CONTINUE = "Your claude.ai usage limit has reset";

/** When the in-place swap had written the target's login into the session homes (epoch ms). */
export function loginWrittenAt(c: Conformance): number {
  const record = c.t.log.records.find((r) => r.msg === "swap step" && r.step === "closing");
  if (!record) throw new Error("no in-place swap wrote a login (no `swap step` to `closing` in the log)");
  return Date.parse(String(record.ts));
}

/** The conversation requests of one conversation, on both stand-ins, oldest first. */
export function conversation(c: Conformance, sessionId: string | null): LoggedRequest[] {
  return [...c.api.a.turns(), ...c.api.b.turns()].filter((r) => r.sessionId === sessionId).sort((x, y) => x.at - y.at);
}

/** Requests whose newest user text carries a continue prompt: the daemon's, and Claude Code's own. */
export function continuesIn(requests: LoggedRequest[]): { daemon: number; cli: number } {
  const newest = requests.map((r) => r.userTexts.at(-1) ?? "");
  return { daemon: newest.filter((t) => t.includes(CONTINUE_PROMPT)).length, cli: newest.filter((t) => t.includes(CLI_CONTINUE)).length };
}

/** Times `needle` occurs in `text`. */
export function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * Every request after b's login was written went out with b's own token, whatever its path: a's stand-in (which the
 * router gives every token that is not b's) received nothing from then on, and b's received b's token only.
 */
export function expectOnlyBAfterTheMove(c: Conformance): void {
  const movedAt = loginWrittenAt(c);
  expect(c.api.a.requests().filter((r) => r.at > movedAt)).toEqual([]);
  const tokens = new Set(c.api.b.requests().map((r) => r.token));
  expect([...tokens]).toEqual([accessToken("b")]);
  expect(accessToken("b")).not.toBe(accessToken("a"));
}

/**
 * The conversation cut by the limit got exactly one continue prompt, the daemon's, in the request that carried it to b
 * with the whole history; Claude Code's own continue never went out, and its armed footer is gone from the screen
 * (reference §14: once it is gone no automatic continue follows). `history` is the user texts before the cut prompt.
 */
export async function expectOneContinue(c: Conformance, session: string, sessionId: string, history: string[], cutPrompt: string): Promise<void> {
  const requests = conversation(c, sessionId);
  expect(continuesIn(requests)).toEqual({ daemon: 1, cli: 0 });
  const resumed = requests.find((r) => (r.userTexts.at(-1) ?? "").includes(CONTINUE_PROMPT))!;
  expect(resumed.token).toBe(accessToken("b"));
  // The cut prompt stays in the history, the continue right after it (Claude Code joins them in one user turn: no
  // reply came between them).
  expect(resumed.userTexts.slice(0, history.length)).toEqual(history);
  expect(resumed.userTexts.slice(history.length).join(" ").replace(/\s+/g, " ")).toBe(`${cutPrompt} ${CONTINUE_PROMPT}`);
  expect(occurrences(requests.at(-1)!.userTexts.join("\n"), CONTINUE_PROMPT)).toBe(1);
  const screen = (await c.screen(session)).join("\n");
  expect(screen).not.toContain("Continuing automatically at");
  expect(screen).not.toContain("Continuing shortly");
  expect(screen).not.toContain("What do you want to do?");
}
