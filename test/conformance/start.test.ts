import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { accessToken, claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";

// The real Claude Code 2.1.330 (reference/real-claude.md) under the whole daemon: start-up and ordinary tasks.
explainSkip(import.meta.file);
const suite = claudeInstalled() ? describe : describe.skip;

suite("real Claude Code: start to idle and tasks (fullscreen renderer, fresh home)", () => {
  let c: Conformance;
  beforeAll(async () => {
    c = await startConformance({ pool: 1 });
  }, 120_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("the pool session reaches idle in /status with the CLI's prompt on screen", async () => {
    await c.allIdle();
    const screen = (await c.screen("ccl-auto-11")).join("\n");
    expect(screen).toContain("Claude Code v2.1.330");
    expect(screen).toContain("Claude Max");
    expect(c.status().sessions[0]).toMatchObject({ name: "ccl-auto-11", state: "idle", account: "a" });
  }, 120_000);

  test("two tasks are typed once each, answered by account a's API and end in done/", async () => {
    c.task("t1", "Say hello one");
    c.task("t2", "Say hello two");
    await eventually(() => c.queue("done").length === 2, 90_000, 250);
    expect(c.queue("failed")).toEqual([]);
    const texts = c.api.a.turns().flatMap((r) => r.userTexts.at(-1) ?? []);
    expect(texts.filter((t) => t.includes("Say hello one"))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("Say hello two"))).toHaveLength(1);
    expect(c.api.b.requests()).toEqual([]);
    expect(c.api.a.turns().every((r) => r.token === accessToken("a"))).toBe(true);
  }, 120_000);
});

suite("real Claude Code: start to idle (classic renderer, tui:\"default\")", () => {
  let c: Conformance;
  beforeAll(async () => {
    c = await startConformance({ pool: 1, settings: { tui: "default" } });
  }, 120_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("the session reaches idle on the main screen and answers a task", async () => {
    await c.allIdle();
    const alternate = await c.t.server.raw("display-message", "-p", "-t", "=ccl-auto-11:", "#{alternate_on}");
    expect(alternate.stdout.trim()).toBe("0");
    c.task("classic", "Say hello classic");
    await eventually(() => c.queue("done").length === 1, 90_000, 250);
    expect(c.api.a.turns().map((r) => r.userTexts.at(-1))).toEqual(["Say hello classic"]);
  }, 120_000);
});
