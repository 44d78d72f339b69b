import { afterEach, describe, expect, test } from "bun:test";
import { accessToken, claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";
import { storedEvents } from "../support/daemon.ts";
import { conversation, continuesIn } from "./support/received.ts";

// A per-model limit with the real CLI 2.1.330 and `quota.on_model_limit: fallback` (issue 13): account a's API answers
// a quota 429 whose representative claim is `seven_day_opus` to requests for an Opus model only. The CLI shows
// `⎿  You've hit your Opus limit · resets …` and its limit dialog. The daemon must keep a usable (no swap, no other
// account touched), record the Opus limit under a, relaunch the session on a with `--model sonnet --resume <uuid>`
// (its conversation with its history), continue the cut task once there, and tell the operator; after the reset, the
// session goes back to the default model (relaunched with `--resume` and no `--model`) and asks for Opus again.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

suite("real Claude Code: a per-model limit with on_model_limit: fallback", () => {
  let c: Conformance | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  test("an Opus limit: a stays usable, the session resumes its conversation on a with --model sonnet, the cut task finishes there; after the reset it is back on Opus", async () => {
    c = await startConformance({ pool: 1, quota: "{ poll_interval: 500ms, reactivate_cooldown: 1h, confirm_polls: 2, on_model_limit: fallback, fallback_model: sonnet }" });
    await c.allIdle();
    c.task("warmup", "Remember the word MANGO");
    await eventually(() => c!.queue("done").length === 1, 60_000, 250);
    const before = c.api.a.turns().at(-1)!;
    // What 2.1.330 asks for by default as a Max subscriber (the header says `Opus 5.5 · Claude Max`).
    expect(before.model.toLowerCase()).toContain("opus");
    // A reset a few seconds after the test's end of the cut, so the way back is seen too.
    const resetAt = Math.floor(Date.now() / 1000) + 45;
    c.api.a.setMode({ mode: "seven_day_opus", model: "opus", resetAt });

    c.task("cut", "Which word did I ask you to remember?");
    await eventually(() => c!.queue("done").includes("cut.md"), 120_000, 250);

    const status = c.status();
    expect(status.accounts.map((a) => [a.name, a.state])).toEqual([["a", "available"], ["b", "available"]]);
    expect(status.accounts[0]!.models).toEqual([{ model: "opus", reset_at: new Date(resetAt * 1000).toISOString() }]);
    expect(status.last_swap).toBeNull();
    expect(status.sessions[0]).toMatchObject({ account: "a", session_id: before.sessionId });
    expect(c.api.b.requests()).toEqual([]);
    const launches = c.t.log.records.filter((r) => r.msg === "session relaunched for a model limit");
    expect(launches.map((r) => [r.session, r.model])).toEqual([["ccl-auto-11", "sonnet"]]);
    // a's API: one 429 for Opus, then the same conversation on Sonnet with its history and one continue prompt.
    const cut = c.api.a.turns().filter((r) => r.status === 429);
    expect(cut.map((r) => [r.sessionId, r.model.toLowerCase().includes("opus")])).toEqual([[before.sessionId, true]]);
    const after = conversation(c, before.sessionId).filter((r) => r.at > cut[0]!.at);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) expect([r.status, r.token, r.model.toLowerCase().includes("sonnet")]).toEqual([200, accessToken("a"), true]);
    expect(after.at(-1)!.userTexts[0]).toBe("Remember the word MANGO");
    expect(continuesIn(conversation(c, before.sessionId))).toEqual({ daemon: 1, cli: 0 });
    expect(c.queue("failed")).toEqual([]);
    expect(storedEvents(c.t, "model_limit")).toEqual([expect.objectContaining({ account: "a", model: "opus", fallback: "sonnet", session: "ccl-auto-11" })]);

    // The reset: the Opus limit ends, the idle session is relaunched on the default model with its conversation.
    c.api.a.setMode({ mode: "normal" });
    await eventually(() => (c!.status().accounts[0]!.models ?? []).length === 0, 90_000, 250);
    await eventually(() => c!.t.log.records.some((r) => r.msg === "session relaunched for a model limit" && r.model === null), 60_000, 250);
    await c.allIdle();
    c.task("back", "And the word once more?");
    await eventually(() => c!.queue("done").includes("back.md"), 90_000, 250);
    const last = c.api.a.turns().at(-1)!;
    expect([last.sessionId, last.model.toLowerCase().includes("opus"), last.userTexts[0]]).toEqual([before.sessionId, true, "Remember the word MANGO"]);
    expect(storedEvents(c.t, "model_restored")).toEqual([{ account: "a", model: "opus" }]);
    expect(c.api.b.requests()).toEqual([]);
  }, 300_000);
});
