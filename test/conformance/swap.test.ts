import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { accessToken, claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";
import { typePrompt } from "../support/daemon.ts";
import { continuesIn, conversation, expectOneContinue, expectOnlyBAfterTheMove } from "./support/received.ts";

// A swap of a fleet on the real CLI: two pool sessions and a dedicated one where a person types. A 5-hour limit on one
// pool session moves every conversation to account b in place; each goes on there with its history (b's API receives
// the earlier user turns of that very conversation, with b's own token), the person's session included, and the cut
// turn gets exactly one continue prompt.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

suite("real Claude Code: a swap resumes every conversation with its history", () => {
  let c: Conformance;
  beforeAll(async () => {
    // New tasks wait out `reactivate_cooldown` after a swap (the dispatch gate): a short one keeps this case short.
    c = await startConformance({ pool: 2, dedicated: ["ccl-1-ded"], quota: "{ poll_interval: 500ms, reactivate_cooldown: 10s, confirm_polls: 2 }" });
    await c.allIdle();
  }, 120_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("pool and dedicated conversations move to account b in place (same processes) with their earlier turns", async () => {
    await typePrompt(c.t.server, "ccl-1-ded", "Remember the word MANGO");
    c.task("w1", "Remember the word KIWI");
    c.task("w2", "Remember the word PAPAYA");
    await eventually(() => c.queue("done").length === 2 && c.api.a.turns().length === 3, 90_000, 250);
    const idOf = (name: string) => c.status().sessions.find((s) => s.name === name)!.session_id!;
    const firstTurn = new Map(c.api.a.turns().map((r) => [r.sessionId, r.userTexts[0]]));
    await eventually(() => c.status().sessions.every((s) => s.state === "idle"), 30_000, 250);

    // The real CLI 2.1.330 re-reads its login for every request: the swap moves the running processes in place.
    const pids = async () => new Map((await c.t.server.tmux.listPanes()).map((p) => [p.session, p.pid]));
    const before = await pids();
    c.api.a.setMode({ mode: "five_hour" });
    c.task("cut", "What was the word?");
    await eventually(() => c.queue("done").includes("cut.md"), 120_000, 250);
    expect(c.status().active_account).toBe("b");
    expect(c.status().last_swap).toMatchObject({ from: "a", to: "b", reason: "quota" });
    expect(c.status().sessions.every((s) => s.account === "b")).toBe(true);
    // Every session kept its conversation id, and its Claude Code process: nothing was restarted.
    for (const s of c.status().sessions) expect(firstTurn.has(s.session_id)).toBe(true);
    expect(c.status().swap_mode?.mode).toBe("in-place");
    expect(await pids()).toEqual(before);
    // b's API got b's own token from the move on; the cut conversation got one continue, with its whole history.
    const cut = c.api.a.turns().find((r) => r.status === 429)!;
    const cutName = c.status().sessions.find((s) => s.session_id === cut.sessionId)!.name;
    expectOnlyBAfterTheMove(c);
    await expectOneContinue(c, cutName, cut.sessionId!, [firstTurn.get(cut.sessionId)!], "What was the word?");

    // The person types again in the dedicated session, and two new tasks go to the two pool sessions.
    await typePrompt(c.t.server, "ccl-1-ded", "Which word did I give you?");
    c.task("after1", "And now, one?");
    c.task("after2", "And now, two?");
    await eventually(() => new Set(c.api.b.turns().map((r) => r.sessionId)).size === 3 && c.queue("done").length === 5, 120_000, 250);
    for (const name of ["ccl-auto-11", "ccl-auto-12", "ccl-1-ded"]) {
      const onB = c.api.b.turns().filter((r) => r.sessionId === idOf(name));
      expect(onB.length).toBeGreaterThan(0);
      expect(onB.at(-1)!.userTexts[0]).toBe(firstTurn.get(idOf(name))!);
    }
    const ded = c.api.b.turns().filter((r) => r.sessionId === idOf("ccl-1-ded")).at(-1)!;
    expect(ded.userTexts).toEqual(["Remember the word MANGO", "Which word did I give you?"]);
    // Still b's token only, and still one continue in all: only the cut turn was continued, once.
    expectOnlyBAfterTheMove(c);
    expect(c.api.b.turns().every((r) => r.token === accessToken("b"))).toBe(true);
    for (const id of firstTurn.keys()) expect(continuesIn(conversation(c, id))).toEqual({ daemon: id === cut.sessionId ? 1 : 0, cli: 0 });
    expect(c.queue("failed")).toEqual([]);
  }, 300_000);
});
