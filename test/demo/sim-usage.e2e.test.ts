/**
 * @module test/demo/sim-usage.e2e
 * The simulated Claude Code draws its usage notifications like 2.1.330 (reference/real-claude.md §13.2), in real tmux
 * on a private socket: the warning named by `<account home>/sim-usage` appears right-aligned on the row above the
 * input box (cut with `…` at 80 columns) about 5 s after a reply, stays about 8 s, and is not drawn again for the
 * same text; the credits line comes about 0.7 s after the reply.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { privateTmux, tempDir, type PrivateTmux } from "../support/tmux.ts";
import { SIM } from "../support/daemon.ts";
import { writeSimAccountLogin } from "../../internal/demo/sim-login.ts";
import { extraUsageText, notificationRow, usageWarningText } from "../../internal/demo/sim-screen.ts";

const COLS = 80;
let server: PrivateTmux;
let temp: ReturnType<typeof tempDir>;
let home: string;

beforeAll(async () => {
  temp = tempDir("cf-sim-usage-");
  home = join(temp.path, "account");
  writeSimAccountLogin(home, "a");
  server = privateTmux("simusage");
  const env = { CLAUDE_CONFIG_DIR: home, TZ: "UTC", SIM_CLAUDE_TURN_MS: "200" };
  await server.raw("new-session", "-d", "-s", "s1", "-x", String(COLS), "-y", "30", "-c", temp.path,
    ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), "--", process.execPath, SIM, "--dangerously-skip-permissions");
});
afterAll(async () => {
  await server.kill();
  await temp.cleanup();
});

const screen = async () => ((await server.tmux.capture(["s1"])).get("s1") ?? []).map((l) => l.trimEnd());
/** The row right above the input box's top rule. */
const slot = (lines: string[]) => lines[lines.findLastIndex((l, i) => l === "─".repeat(COLS) && lines[i + 1]?.startsWith("❯")) - 1] ?? "";

/** Samples the screen every 30 ms until `done(lines)`, returning when each sampled slot text was first and last seen. */
async function watch(done: (lines: string[]) => boolean, timeoutMs = 40_000) {
  const seen = new Map<string, { first: number; last: number }>();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const lines = await screen();
    const now = performance.now();
    const row = slot(lines).trim();
    const entry = seen.get(row) ?? { first: now, last: now };
    seen.set(row, { ...entry, last: now });
    if (done(lines)) return { seen, now };
    if (now > deadline) throw new Error(`timed out; screen:\n${lines.join("\n")}`);
    await Bun.sleep(30);
  }
}

async function turn(prompt: string) {
  // Keys sent before the simulator is in raw mode would be cooked (Enter arrives as a newline).
  await watch((l) => l.some((x) => x === "❯\u00a0" || x === "❯") && l.includes("  ⏵⏵ bypass permissions on (shift+tab to cycle)"));
  await server.raw("send-keys", "-t", "=s1:", "-l", "--", prompt);
  await server.raw("send-keys", "-t", "=s1:", "Enter");
  const replied = await watch((l) => l.some((x) => x.includes(`Done: ${prompt}`)));
  return replied.now;
}

describe("simulated usage notifications", () => {
  const now = new Date();
  const reset = new Date((Math.floor(now.getTime() / 3_600_000) + 3) * 3_600_000);
  const warning = usageWarningText(91, "five_hour", reset, now, "UTC");

  test("the warning comes ~5 s after the reply, cut at 80 columns above the input box, for ~8 s", async () => {
    writeFileSync(join(home, "sim-usage"), `${warning}\n`);
    const replyAt = await turn("first");
    const shown = await watch((l) => slot(l) === notificationRow(warning, COLS));
    expect(notificationRow(warning, COLS)).toBe(`  ${warning.slice(0, 75)}…`);
    expect(shown.now - replyAt).toBeGreaterThanOrEqual(4_500);
    const gone = await watch((l) => slot(l) === "");
    const row = notificationRow(warning, COLS).trim();
    expect(gone.seen.get(row)!.last - shown.now).toBeGreaterThanOrEqual(7_000);
  }, 60_000);

  test("the same text is not drawn again; a new text is", async () => {
    await turn("second");
    const next = usageWarningText(96, "five_hour", reset, new Date(), "UTC");
    writeFileSync(join(home, "sim-usage"), `${next}\n`);
    const third = await turn("third");
    const shown = await watch((l) => slot(l) === notificationRow(next, COLS));
    expect(shown.now - third).toBeGreaterThanOrEqual(4_500);
    expect([...shown.seen.keys()].filter((text) => text.includes("91%"))).toEqual([]);
  }, 60_000);

  test("the credits line comes right after the reply, whole when it fits", async () => {
    const credits = extraUsageText("five_hour", reset, new Date(), "UTC");
    writeFileSync(join(home, "sim-usage"), `${credits}\n`);
    const replyAt = await turn("fourth");
    const shown = await watch((l) => slot(l).trim() === credits);
    expect(shown.now - replyAt).toBeLessThan(4_000);
    expect(slot(await screen())).toBe(notificationRow(credits, COLS));
  }, 60_000);
});
