import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";
import { classifyPane } from "../../internal/quota/classify.ts";

// A lost login with the real CLI 2.1.330 (reference/real-claude.md §13.3): account a's API answers a 403 "OAuth token
// has been revoked". The CLI tries a refresh (which cannot reach the real OAuth host), sends the request once more, and
// ends the turn with `⎿  OAuth token revoked · Please run /login`, an `authentication_failed` transcript record and
// StopFailure. The daemon must mark a `needs_login`, tell the operator once with the fix, move the session to b in place
// with its conversation and continue the cut task there; `accounts enable a` brings a back once the login is fixed, and
// when b's token then expires past refreshing (a 401 "OAuth token has expired"), the session goes back to a.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

suite("real Claude Code: a lost login", () => {
  let c: Conformance;
  beforeAll(async () => {
    c = await startConformance({ pool: 1, quota: "{ poll_interval: 500ms, reactivate_cooldown: 10s, confirm_polls: 2 }" });
    await c.allIdle();
  }, 120_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("a 403 revoked: a is needs_login, the operator told once with the fix, the session moved to b in place, the task continued", async () => {
    c.task("warm", "Remember the word KIWI");
    await eventually(() => c.queue("done").includes("warm.md"), 90_000, 250);
    const pids = new Map((await c.t.server.tmux.listPanes()).map((p) => [p.session, p.pid]));
    const conversation = c.status().sessions[0]!.session_id;

    c.api.a.setMode({ mode: "auth_revoked" });
    c.task("cut", "What was the word?");
    // The real screen, as the daemon's classifier reads it, before the move changes it.
    const screen = await eventually(async () => {
      const lines = await c.screen("ccl-auto-11");
      return lines.some((l) => l.includes("OAuth token revoked · Please run /login")) ? lines : null;
    }, 60_000, 100);
    expect(classifyPane(screen, { now: Date.now(), defaultZone: "UTC" })).toMatchObject({ kind: "login", cause: "revoked" });

    await eventually(() => c.queue("done").includes("cut.md"), 120_000, 250);
    const status = c.status();
    expect(status.accounts.map((a) => [a.name, a.state])).toEqual([["a", "needs_login"], ["b", "available"]]);
    expect(status.accounts[0]!.login_fix).toBe(`CLAUDE_CONFIG_DIR=${c.t.home("a")} claude`);
    expect(status.last_swap).toMatchObject({ from: "a", to: "b", reason: "login" });
    expect(status.sessions[0]).toMatchObject({ account: "b", session_id: conversation });
    expect(new Map((await c.t.server.tmux.listPanes()).map((p) => [p.session, p.pid]))).toEqual(pids);
    // b's API received the conversation with its earlier turns.
    expect(c.api.b.turns().at(-1)!.userTexts[0]).toBe("Remember the word KIWI");
    expect(c.t.log.records.filter((r) => r.msg === "login lost")).toHaveLength(1);

    expect(c.t.daemon.control.setAccountEnabled("a", true)).toMatchObject({ ok: true });
    expect(c.status().accounts.map((a) => [a.name, a.state])).toEqual([["a", "available"], ["b", "available"]]);
    c.api.a.setMode({ mode: "normal" });

    // Now b's token expires and cannot be refreshed (a 401): the session goes back to a, which the operator fixed.
    c.api.b.setMode({ mode: "auth_expired" });
    c.task("cut2", "And the word again?");
    await eventually(() => c.queue("done").includes("cut2.md"), 120_000, 250);
    expect(c.status().accounts.map((a) => [a.name, a.state])).toEqual([["a", "available"], ["b", "needs_login"]]);
    expect(c.status().last_swap).toMatchObject({ from: "b", to: "a", reason: "login" });
    expect(c.status().sessions[0]).toMatchObject({ account: "a", session_id: conversation });
    expect(c.api.a.turns().at(-1)!.userTexts[0]).toBe("Remember the word KIWI");
    expect(c.t.log.records.filter((r) => r.msg === "login lost").map((r) => [r.account, r.cause])).toEqual([["a", "revoked"], ["b", "expired"]]);
  }, 300_000);
});
