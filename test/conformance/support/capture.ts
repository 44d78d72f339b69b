/**
 * @module test/conformance/support/capture
 * Captures what the real Claude Code shows and writes, for the classifier's table tests: run
 * `bun test/conformance/support/capture.ts [out dir]` (default test/fixtures/claude-<version>/). Each case runs the
 * cached CLI in its own pane of a private tmux server against its own stand-in, types a first prompt, switches the
 * stand-in's mode, types a second prompt, waits for the expected text, and saves the pane (`<case>.pane.txt`, as
 * `capture-pane -p -J` gives it), the transcript trimmed of bulk (`<case>.transcript.jsonl`) and the hook payloads
 * (`<case>.hooks.jsonl`). Cases run side by side; the transient ones take about three minutes (ten retries).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { transcriptPath } from "../../../internal/claude/home.ts";
import { TESTED_CLAUDE_CODE_VERSION } from "../../../internal/claude/version.ts";
import { eventually, privateTmux, tempDir } from "../../support/tmux.ts";
import { prepareHome, writeWrapper } from "./claude.ts";
import { startStandIn, type ModeChange } from "./standin.ts";

interface Case {
  name: string;
  width: number;
  settings?: Record<string, unknown>;
  mode: ModeChange;
  /** Text on screen that ends the case. */
  until: RegExp;
  timeoutMs?: number;
}

const inOneMinute = () => Math.floor(Date.now() / 1000) + 60;
const CASES: Case[] = [
  { name: "idle", width: 200, mode: { mode: "normal" }, until: /user turn 2/ },
  { name: "idle-classic", width: 200, settings: { tui: "default" }, mode: { mode: "normal" }, until: /user turn 2/ },
  { name: "five-hour-auto-continue", width: 200, mode: { mode: "five_hour" }, until: /Continuing automatically at/ },
  { name: "five-hour-auto-continue-80", width: 80, mode: { mode: "five_hour" }, until: /Continuing automatically at/ },
  { name: "five-hour-dialog", width: 200, settings: { autoContinueAtUsageLimit: false }, mode: { mode: "five_hour" }, until: /Upgrade your plan/ },
  { name: "weekly-dialog", width: 200, mode: { mode: "seven_day" }, until: /Upgrade your plan/ },
  { name: "weekly-dialog-classic", width: 200, settings: { tui: "default" }, mode: { mode: "seven_day" }, until: /Upgrade your plan/ },
  { name: "opus-dialog-80", width: 80, mode: { mode: "seven_day_opus" }, until: /Upgrade your plan/ },
  { name: "auto-continue-fired", width: 200, mode: { mode: "five_hour", times: 1, resetAt: inOneMinute() }, until: /Usage limit reset · Continuing automatically[\s\S]*user turn 2/, timeoutMs: 240_000 },
  { name: "throttle-80", width: 80, mode: { mode: "throttle", times: 11 }, until: /Resend your message/, timeoutMs: 240_000 },
  { name: "overloaded-80", width: 80, mode: { mode: "overloaded", times: 11 }, until: /Resend your message/, timeoutMs: 240_000 },
  { name: "server-error-200", width: 200, mode: { mode: "server_error", times: 11 }, until: /Resend your message/, timeoutMs: 240_000 },
];

const HOOK_EVENTS = ["SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification"];
/** Transcript record types and fields left out of the fixtures (large and irrelevant to classification). */
const BULK_TYPES = new Set(["api-request", "api-request-blob", "api-request-shape", "file-history-snapshot"]);

async function runCase(root: string, out: string, server: ReturnType<typeof privateTmux>, c: Case): Promise<void> {
  const api = startStandIn();
  const home = join(root, c.name, "home");
  const work = join(root, c.name, "work");
  const hooks = join(out, `${c.name}.hooks.jsonl`);
  writeFileSync(hooks, "");
  prepareHome(home, { url: api.url, account: "a", workdirs: [work], settings: c.settings });
  const settings = join(root, c.name, "hooks.json");
  const hook = (event: string) => ({ hooks: [{ type: "command", command: `cat >> ${JSON.stringify(hooks)}; echo >> ${JSON.stringify(hooks)}`, timeout: 5 }] });
  writeFileSync(settings, JSON.stringify({ hooks: Object.fromEntries(HOOK_EVENTS.map((e) => [e, [hook(e)]])) }));
  const wrapper = writeWrapper(join(root, c.name, "wrapper"));
  const id = crypto.randomUUID();
  await server.raw("new-session", "-d", "-s", c.name, "-x", String(c.width), "-y", "50", "-c", work, "--",
    "env", `CLAUDE_CONFIG_DIR=${home}`, wrapper, "--dangerously-skip-permissions", "--session-id", id, "--settings", settings);
  const screen = async () => (await server.raw("capture-pane", "-p", "-J", "-t", `=${c.name}:`)).stdout;
  // Waits read the screen with Ink's hard wraps (a newline and a two-space indent) undone.
  const joined = async () => (await screen()).replace(/\n {2}(?=\S)/g, " ");
  const type = async (text: string) => {
    await server.raw("send-keys", "-t", `=${c.name}:`, "-l", "--", text);
    await Bun.sleep(400);
    await server.raw("send-keys", "-t", `=${c.name}:`, "Enter");
  };
  try {
    await eventually(async () => /bypass permissions on/.test(await screen()), 60_000, 250);
    await type("Remember the word PINEAPPLE");
    await eventually(async () => /user turn 1/.test(await joined()), 90_000, 250);
    api.setMode(c.mode);
    await type("Which word did I ask you to remember?");
    await eventually(async () => c.until.test(await joined()), c.timeoutMs ?? 90_000, 250);
    await Bun.sleep(1_500);
    writeFileSync(join(out, `${c.name}.pane.txt`), (await screen()).replace(/\n+$/, "\n"));
    const transcript = transcriptPath(home, work, id);
    const records = existsSync(transcript) ? readFileSync(transcript, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
    const kept = records.filter((r) => !BULK_TYPES.has(String(r.type)) && !(r.type === "attachment" && JSON.stringify(r).length > 4000));
    writeFileSync(join(out, `${c.name}.transcript.jsonl`), kept.map((r) => JSON.stringify(r)).join("\n") + "\n");
    process.stderr.write(`capture: ${c.name} done\n`);
  } catch (error) {
    process.stderr.write(`capture: ${c.name} FAILED: ${(error as Error).message}\n${await screen()}\n`);
    appendFileSync(join(out, "FAILED.txt"), `${c.name}\n`);
  } finally {
    api.stop();
  }
}

if (import.meta.main) {
  const out = resolve(process.argv[2] ?? join(import.meta.dir, "..", "..", "fixtures", `claude-${TESTED_CLAUDE_CODE_VERSION}`));
  mkdirSync(out, { recursive: true });
  const temp = tempDir("cf-capture-");
  const server = privateTmux("capture");
  const only = process.argv.slice(3);
  try {
    await Promise.all(CASES.filter((c) => only.length === 0 || only.includes(c.name)).map((c) => runCase(temp.path, out, server, c)));
  } finally {
    await server.kill();
    await temp.cleanup();
  }
}
