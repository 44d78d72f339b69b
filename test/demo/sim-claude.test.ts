import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { transcriptPath } from "../../internal/claude/home.ts";
import { parseSimArgs } from "../../internal/demo/sim-args.ts";
import {
  GUTTER, classifyErrorText, createKeyReader, defaultQuotaLine, formatResetTime, limitDialogLines, parseDirectives, renderFrame, type FrameState,
} from "../../internal/demo/sim-screen.ts";
import { classifyPane, inputText, paneActivity } from "../../internal/quota/classify.ts";
import { readTranscript } from "../../internal/demo/sim-store.ts";
import { planCrash, planHook } from "../../internal/demo/sim-faults.ts";
import { removeWhenQuiet } from "../support/linger.ts";

const BIN = join(import.meta.dir, "../support/sim-claude-bin.ts");
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

describe("renderFrame()", () => {
  const base: FrameState = { header: "Claude Code (simulated) · acct-a", entries: [], input: "", now: 10_000, mode: "⏵⏵ bypass permissions on",
    promptChar: "❯", cols: 40, rows: 14 };

  test("draws the idle prompt box between two full-width rules, with the mode footer", () => {
    const frame = renderFrame({ ...base, entries: [{ kind: "user", text: "hi" }, { kind: "assistant", text: "Done: hi" }], input: "next" });
    expect(frame.lines.map(plain)).toEqual([
      "Claude Code (simulated) · acct-a", "", "> hi", "", "● Done: hi", "", "─".repeat(40), "❯\u00a0next", "─".repeat(40),
      "  ⏵⏵ bypass permissions on (shift+tab to cycle)",
    ]);
    expect([frame.cursorRow, frame.cursorCol]).toEqual([7, 6]);
  });

  test("shows the spinner and 'esc to interrupt' while busy", () => {
    const lines = renderFrame({ ...base, busySince: 6_500 }).lines.map(plain);
    expect(lines.at(-6)).toMatch(/^[·✢*✶✻✽] Working… \(3s · esc to interrupt\)$/);
    expect(lines.at(-1)).toBe("  ⏵⏵ bypass permissions on · esc to interrupt");
  });

  test("says '? for shortcuts' in default mode", () => {
    expect(plain(renderFrame({ ...base, mode: "" }).lines.at(-1)!)).toBe("  ? for shortcuts");
  });

  test("draws error lines in the gutter, wrapped with a 5-column indent, and the dim hint under them", () => {
    const text = "You've hit your 5-hour limit · resets 4pm (Europe/Paris)";
    const lines = renderFrame({ ...base, entries: [{ kind: "error", text, hint: "/upgrade to increase your usage limit." }] }).lines.map(plain);
    expect(lines.slice(2, 6)).toEqual([`${GUTTER}You've hit your 5-hour limit ·`, "     resets 4pm (Europe/Paris)",
      "     /upgrade to increase your usage", "     limit."]);
    expect(GUTTER).toBe("  ⎿ \u00a0");
  });

  test("draws API Error lines with the bullet, like Claude Code", () => {
    const lines = renderFrame({ ...base, cols: 80, entries: [{ kind: "error", text: "API Error: 500 Internal server error" }] }).lines;
    expect(plain(lines[2]!)).toBe("● API Error: 500 Internal server error");
  });

  test("keeps only the tail of a long conversation, never more rows than the pane", () => {
    const entries = Array.from({ length: 30 }, (_, i) => ({ kind: "user" as const, text: `prompt ${i}` }));
    const lines = renderFrame({ ...base, entries }).lines.map(plain);
    expect(lines).toHaveLength(14);
    expect(lines[0]).toBe(base.header);
    expect(lines).toContain("> prompt 29");
    expect(lines).not.toContain("> prompt 20");
  });

  test("continues a multi-line prompt under the ❯ with two spaces", () => {
    const lines = renderFrame({ ...base, input: "one\ntwo" }).lines.map(plain);
    expect(lines.slice(-4, -2)).toEqual(["❯\u00a0one", "  two"]);
  });
});

describe("the limit dialog", () => {
  const OPUS = "You've hit your Opus limit · resets 3pm (UTC)";
  const frame = renderFrame({ header: "Claude Code (simulated) · acct-a", entries: [{ kind: "user", text: "go" }, { kind: "error", text: OPUS }],
    input: "", now: 10_000, mode: "", promptChar: "❯", cols: 80, rows: 24, dialog: limitDialogLines("3pm") });

  test("replaces the prompt box under a full-width ▔ rule, as 2.1.330 draws it for a per-model limit", () => {
    expect(frame.lines.map(plain).slice(-10)).toEqual([
      "", "\u2594".repeat(80), "  What do you want to do?", "", "  ❯ 1. Stop and wait for limit to reset",
      "    2. Wait here, then continue automatically at 3pm", "    3. Switch to usage credits", "    4. Upgrade your plan", "",
      "  Enter to confirm · Esc to cancel",
    ]);
    expect(plain(frame.lines[frame.cursorRow]!)).toBe("  ❯ 1. Stop and wait for limit to reset");
  });

  test("reads as a dialog with an Opus limit to the daemon's classifier", () => {
    const lines = frame.lines.map(plain);
    expect(paneActivity(lines)).toBe("dialog");
    expect(inputText(lines)).toBeNull();
    expect(classifyPane(lines, { now: Date.UTC(2026, 10, 29, 12), defaultZone: "UTC" })).toMatchObject({ kind: "quota", limit: "opus", resetAt: Date.UTC(2026, 10, 29, 15) });
  });
});

describe("createKeyReader()", () => {
  test("turns a bracketed paste split across chunks into one paste, CR becoming newline", () => {
    const reader = createKeyReader();
    expect(reader.feed("ab\x1b[200~line1\rli")).toEqual([{ type: "text", text: "ab" }]);
    expect(reader.feed("ne2\r\x1b[20")).toEqual([]);
    expect(reader.feed("1~\r")).toEqual([{ type: "paste", text: "line1\nline2\n" }, { type: "enter" }]);
  });

  test("decodes Enter, Ctrl-J, backspace, Ctrl-C, Ctrl-D and ignores arrow keys", () => {
    expect(createKeyReader().feed("x\n\x7f\x1b[A\x03\x04\r")).toEqual([{ type: "text", text: "x" }, { type: "newline" },
      { type: "backspace" }, { type: "interrupt" }, { type: "eof" }, { type: "enter" }]);
  });

  test("holds a lone ESC until flushed, then reports Escape", () => {
    const reader = createKeyReader();
    expect(reader.feed("\x1b")).toEqual([]);
    expect(reader.waiting()).toBe(true);
    expect(reader.flush()).toEqual([{ type: "escape" }]);
  });
});

describe("formatResetTime()", () => {
  const now = new Date("2026-11-23T12:00:00Z");
  test.each([
    ["2026-11-23T15:00:00Z", "UTC", "3pm"],
    ["2026-11-23T15:30:00Z", "UTC", "3:30pm"],
    ["2026-11-24T00:00:00Z", "UTC", "12am"],
    ["2026-11-23T14:00:00Z", "Europe/Paris", "3pm"],
    ["2026-11-28T10:00:00Z", "UTC", "Nov 28, 10am"],
    ["2027-01-02T09:00:00Z", "UTC", "Jan 2, 2027, 9am"],
  ])("writes %s in %s as %p", (at, zone, expected) => {
    expect(formatResetTime(new Date(at), now, zone)).toBe(expected);
  });

  test("the default quota line resets on the whole hour nearest to one hour ahead", () => {
    expect(defaultQuotaLine(new Date("2026-11-23T14:37:00Z"), "UTC")).toBe("You've hit your 5-hour limit · resets 4pm (UTC)");
  });
});

describe("parseDirectives()", () => {
  test("reads work, say, reply, exit and crash markers and strips them from the prompt", () => {
    expect(parseDirectives("fix it [sim:work=4s] [sim:reply=ok] [sim:exit=3]")).toEqual({
      directives: { workMs: 4000, reply: "ok", exitCode: 3 }, text: "fix it" });
    expect(parseDirectives("boom [sim:crash=137]").directives).toEqual({ crashCode: 137 });
    expect(parseDirectives("boom [sim:crash]").directives).toEqual({ crashCode: 1 });
    expect(parseDirectives("[sim:say=API Error: 529 Overloaded]").directives).toEqual({ say: "API Error: 529 Overloaded" });
    expect(parseDirectives("x [sim:work=250]").directives.workMs).toBe(250);
  });

  test("leaves unknown markers in the text", () => {
    expect(parseDirectives("a [sim:nope=1]")).toEqual({ directives: {}, text: "a [sim:nope=1]" });
  });
});

describe("classifyErrorText()", () => {
  test.each([
    ["You've hit your 5-hour limit · resets 3pm (UTC)",
      { error: "rate_limit", status: 429, type: "rate_limit_error", apiError: "usage_limit_reached", rateLimitType: "five_hour", transient: false }],
    ["You've hit your weekly limit · resets Nov 28, 10am (UTC)",
      { error: "rate_limit", status: 429, type: "rate_limit_error", apiError: "usage_limit_reached", rateLimitType: "seven_day", transient: false }],
    ["You've hit your Opus limit · resets 3pm (UTC)",
      { error: "rate_limit", status: 429, type: "rate_limit_error", apiError: "usage_limit_reached", rateLimitType: "seven_day_opus", transient: false }],
    ["You've hit your Sonnet limit · resets 3pm (UTC)",
      { error: "rate_limit", status: 429, type: "rate_limit_error", apiError: "usage_limit_reached", rateLimitType: "seven_day_sonnet", transient: false }],
    ["You've hit your Fable limit · resets 3pm (UTC)",
      { error: "rate_limit", status: 429, type: "rate_limit_error", apiError: "usage_limit_reached", rateLimitType: "seven_day_overage_included", transient: false }],
    ["API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited",
      { error: "rate_limit", status: 429, type: "rate_limit_error", transient: true }],
    ["API Error: 529 Overloaded. This is a server-side issue", { error: "server_error", status: 529, type: "overloaded_error", transient: false }],
    ["API Error: 502 Bad Gateway", { error: "server_error", status: 502, type: "api_error", transient: false }],
    ["API Error: Internal server error", { error: "server_error", status: 500, type: "api_error", transient: false }],
  ])("files %p", (text, expected) => {
    expect(classifyErrorText(text)).toEqual(expected as ReturnType<typeof classifyErrorText>);
  });
});

describe("planHook()", () => {
  const on = { drop: false, delayMs: 0, hold: false };
  test("drops the next N firings and counts them down", () => {
    const first = planHook({ Stop: { drop: 2 } }, "Stop", "p");
    expect(first).toEqual({ plan: { ...on, drop: true }, next: { Stop: { drop: 1 } } });
    expect(planHook(first.next, "Stop", "p").next).toEqual({ Stop: { drop: 0 } });
    expect(planHook({ Stop: { drop: 0 } }, "Stop", "p").plan).toEqual(on);
  });

  test("delays every firing without consuming it, and duplicates the next N (900 ms later by default)", () => {
    expect(planHook({ Stop: { delayMs: 2000 } }, "Stop", "p")).toEqual({ plan: { ...on, delayMs: 2000 }, next: { Stop: { delayMs: 2000 } } });
    expect(planHook({ Stop: { duplicate: 1 } }, "Stop", "p").plan).toEqual({ ...on, duplicateAfterMs: 900 });
    expect(planHook({ Stop: { duplicate: 1, duplicateDelayMs: 50 } }, "Stop", "p").plan.duplicateAfterMs).toBe(50);
  });

  test("holds a reordered hook, and applies a fault only to prompts containing its match", () => {
    expect(planHook({ UserPromptSubmit: { reorder: 1 } }, "UserPromptSubmit", "p").plan.hold).toBe(true);
    expect(planHook({ Stop: { drop: 1, match: "task-a" } }, "Stop", "do task-b")).toEqual({ plan: on, next: { Stop: { drop: 1, match: "task-a" } } });
    expect(planHook({ Stop: { drop: 1, match: "task-a" } }, "Stop", "do task-a").plan.drop).toBe(true);
    expect(planHook({ SessionStart: { drop: 1, match: "x" } }, "SessionStart", undefined).plan.drop).toBe(false);
    expect(planHook({ Stop: "nonsense" }, "Stop", "p").plan).toEqual(on);
  });
});

describe("planCrash()", () => {
  test("crashes the next matching turn once by default, with code 1 unless given", () => {
    expect(planCrash({ crash: {} }, "p")).toEqual({ plan: { code: 1, afterMs: undefined }, next: { crash: { count: 0 } } });
    expect(planCrash({ crash: { count: 0 } }, "p").plan).toBeUndefined();
    expect(planCrash({ crash: { code: 137, afterMs: 20, match: "b" } }, "a").plan).toBeUndefined();
    expect(planCrash({ crash: { code: 137, afterMs: 20, match: "b" } }, "b").plan).toEqual({ code: 137, afterMs: 20 });
  });
});

describe("parseSimArgs()", () => {
  test("reads the flags the daemon passes and skips unknown ones with their values", () => {
    expect(parseSimArgs(["--model", "opus", "--add-dir", "/x", "--verbose", "--session-id", "u1", "--settings={\"a\":1}",
      "--dangerously-skip-permissions", "--permission-mode", "plan", "--brand-new-flag", "hello"])).toEqual({
      model: "opus", sessionId: "u1", settings: "{\"a\":1}", skipPermissions: true, forkSession: false, permissionMode: "plan",
      prompt: "hello" });
    expect(parseSimArgs(["-r", "u2"]).resume).toBe("u2");
    expect(parseSimArgs(["--resume"]).resume).toBe("");
  });
});

describe("readTranscript()", () => {
  test("rebuilds user turns, replies, API error lines and interruptions", () => {
    const lines = [
      { type: "user", uuid: "1", message: { role: "user", content: "hi" } },
      { type: "assistant", uuid: "2", message: { content: [{ type: "text", text: "Done: hi" }] } },
      { type: "assistant", uuid: "3", isApiErrorMessage: true, message: { content: [{ type: "text", text: "You've hit your limit" }] } },
      { type: "user", uuid: "4", message: { content: [{ type: "text", text: "[Request interrupted by user]" }] } },
    ].map((r) => JSON.stringify(r));
    expect(readTranscript(`${lines.join("\n")}\nnot json\n`)).toEqual({ lastUuid: "4", prompts: 1, entries: [{ kind: "user", text: "hi" },
      { kind: "assistant", text: "Done: hi" }, { kind: "error", text: "You've hit your limit" },
      { kind: "error", text: "Interrupted · What should Claude do instead?" }] });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The real program: argument errors as a plain process, the interactive screen in a real tmux on a private socket.

const root = mkdtempSync(join(tmpdir(), "sim-claude-"));
const home = join(root, "acct-a");
const workdir = join(root, "work dir_1.x");
const hooksDir = join(root, "hooks");
const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? root, TERM: "xterm-256color", LANG: "C.UTF-8" };
mkdirSync(home, { recursive: true });
mkdirSync(workdir, { recursive: true });
// Agents and their hook commands write into the folder until they end: removed once none names it.
afterAll(() => removeWhenQuiet(root));

async function runBin(args: string[]): Promise<{ code: number; stderr: string }> {
  const child = Bun.spawn([process.execPath, BIN, ...args], { cwd: workdir, env: { ...baseEnv, CLAUDE_CONFIG_DIR: home },
    stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
  return { code, stderr: stderr.trim() };
}

describe("sim-claude session ids", () => {
  test("rejects an id that is not a UUID", async () => {
    expect(await runBin(["--session-id", "not-a-uuid"])).toEqual({ code: 1, stderr: "Error: Invalid session ID. Must be a valid UUID." });
  });

  test("refuses a --session-id whose transcript already exists in this home and project", async () => {
    const id = randomUUID();
    mkdirSync(join(transcriptPath(home, workdir, id), ".."), { recursive: true });
    writeFileSync(transcriptPath(home, workdir, id), "");
    expect(await runBin(["--session-id", id])).toEqual({ code: 1, stderr: `Error: Session ID ${id} is already in use.` });
  });

  test("reports a --resume id with no transcript in this home", async () => {
    const id = randomUUID();
    expect(await runBin(["--resume", id])).toEqual({ code: 1, stderr: `No conversation found with session ID: ${id}` });
  });
});

const socket = `cf-test-${randomUUID().slice(0, 8)}`;
function tmux(...args: string[]): string {
  const r = Bun.spawnSync(["tmux", "-L", socket, "-f", "/dev/null", ...args], { env: baseEnv });
  if (!r.success) throw new Error(`tmux ${args[0]} failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}
const screen = (target: string) => tmux("capture-pane", "-p", "-J", "-t", target);
async function until<T>(what: string, probe: () => T | undefined | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await Bun.sleep(40);
  }
}
const waitScreen = (target: string, what: string, test: (lines: string[]) => boolean) =>
  until(what, () => {
    const lines = screen(target).split("\n");
    return test(lines) && lines;
  }).catch((e: Error) => Promise.reject(new Error(`${e.message}; screen:\n${screen(target)}`)));
// One file per hook run (hooks run concurrently; appending to one file could interleave), read in name order; a file
// still being written is skipped until it is complete.
const hookRecords = () => (existsSync(hooksDir) ? readdirSync(hooksDir).filter((f) => f.endsWith(".json")).sort().flatMap((f) => {
  try {
    return [JSON.parse(readFileSync(join(hooksDir, f), "utf8"))];
  } catch {
    return [];
  }
}) : []);
const hookFor = (event: string, match: (r: Record<string, unknown>) => boolean = () => true) =>
  until(`${event} hook`, () => hookRecords().find((r) => r.hook_event_name === event && match(r)));
const records = (id: string) => readFileSync(transcriptPath(home, workdir, id), "utf8").trim().split("\n").map((l) => JSON.parse(l));
const sessionFiles = () => readdirSync(join(home, "sessions")).filter((f) => f.endsWith(".json"));
const hookCommand = { type: "command", command: `mkdir -p '${hooksDir}' && f='${hooksDir}'/$(date +%s%N)-$$ && cat > "$f.tmp" && mv "$f.tmp" "$f.json"` };
const settings = JSON.stringify({ hooks: Object.fromEntries(["SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification", "SessionEnd"]
  .map((event) => [event, [{ hooks: [hookCommand] }]])) });

/** Starts the simulator in a new 100x30 session; with `exitFile`, a shell around it writes its exit code there
 * (tmux 3.3a's #{pane_dead_status} is lost about half the time, even for `sh -c 'exit 3'`). */
function launch(name: string, args: string[], env: Record<string, string> = {}, exitFile?: string) {
  const vars = Object.entries({ CLAUDE_CONFIG_DIR: home, SIM_CLAUDE_TURN_MS: "600", TZ: "UTC", ...env }).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const wrap = exitFile ? ["sh", "-c", `"$@"; echo $? > '${exitFile}'`, "sh"] : [];
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", "-c", workdir, ...vars, "--", ...wrap, process.execPath, BIN,
    "--dangerously-skip-permissions", "--settings", settings, ...args);
}
const submit = (target: string, text: string) => {
  tmux("send-keys", "-t", target, "-l", "--", text);
  tmux("send-keys", "-t", target, "Enter");
};
const idle = (lines: string[]) => lines.some((l) => l.startsWith("❯\u00a0")) && lines.includes("  ⏵⏵ bypass permissions on (shift+tab to cycle)");

describe("sim-claude in tmux", () => {
  const id = randomUUID();
  let socketPath = "";
  beforeAll(() => {
    tmux("start-server", ";", "set", "-s", "exit-empty", "off", ";", "set", "-g", "remain-on-exit", "on");
    socketPath = tmux("display-message", "-p", "#{socket_path}").trim();
  });
  afterAll(() => {
    Bun.spawnSync(["tmux", "-L", socket, "-f", "/dev/null", "kill-server"], { env: baseEnv });
    if (socketPath.endsWith(`/${socket}`)) rmSync(socketPath, { force: true }); // tmux 3.3a leaves the socket file behind
  });

  test("starts idle: header, prompt between full-width rules, footer, registry file, SessionStart hook", async () => {
    launch("s1", ["--session-id", id]);
    const lines = await waitScreen("s1", "the idle screen", idle);
    expect(lines[0]).toBe(`Claude Code (simulated) · ${basename(home)}`);
    const prompt = lines.findIndex((l) => l.startsWith("❯\u00a0"));
    expect([lines[prompt - 1], lines[prompt + 1]]).toEqual(["─".repeat(100), "─".repeat(100)]);
    expect(await hookFor("SessionStart")).toMatchObject({ session_id: id, source: "startup", cwd: workdir,
      transcript_path: transcriptPath(home, workdir, id) });
    const [file] = await until("sessions/<pid>.json", () => sessionFiles().length === 1 && sessionFiles());
    expect(JSON.parse(readFileSync(join(home, "sessions", file!), "utf8"))).toMatchObject({ sessionId: id, cwd: workdir, status: "idle",
      kind: "interactive", version: "2.1.330-sim", pid: Number(file!.replace(".json", "")) });
  }, 15_000);

  test("runs a turn: busy spinner, then the reply, the transcript, the tool-results folder and the Stop hook", async () => {
    submit("s1", "please refactor the parser");
    await waitScreen("s1", "the spinner", (l) => l.some((x) => /^[·✢*✶✻✽] Working… \(\d+s · esc to interrupt\)$/.test(x))
      && l.includes("  ⏵⏵ bypass permissions on · esc to interrupt"));
    await waitScreen("s1", "the reply", (l) => l.includes("● Done: please refactor the parser") && idle(l));
    await until("turn_duration", () => records(id).at(-1)?.subtype === "turn_duration");
    const [user, reply, summary, duration] = records(id);
    expect(user).toMatchObject({ type: "user", sessionId: id, cwd: workdir, message: { role: "user", content: "please refactor the parser" },
      origin: { kind: "human" }, promptSource: "typed", turnPosition: { promptIndex: 1, turnIndex: 1 }, version: "2.1.330-sim" });
    expect(user.promptId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(reply).toMatchObject({ type: "assistant", parentUuid: user.uuid, message: { content: [{ type: "text", text: "Done: please refactor the parser" }] } });
    expect(summary).toMatchObject({ type: "system", subtype: "stop_hook_summary", hookCount: 1, parentUuid: reply.uuid });
    expect(duration).toMatchObject({ type: "system", subtype: "turn_duration", parentUuid: summary.uuid });
    expect(duration.durationMs).toBeGreaterThanOrEqual(600);
    // the Stop hook command had written its record (and exited) before turn_duration was written
    expect(hookRecords().find((r) => r.hook_event_name === "Stop")).toMatchObject({ session_id: id, stop_hook_active: false,
      last_assistant_message: "Done: please refactor the parser", prompt_id: user.promptId });
    expect(readdirSync(join(transcriptPath(home, workdir, id), "..", id, "tool-results"))).toHaveLength(1);
    expect(await hookFor("UserPromptSubmit")).toMatchObject({ prompt: "please refactor the parser", prompt_id: user.promptId });
  }, 15_000);

  test("ends the turn with the quota line in the gutter while <home>/sim-quota exists", async () => {
    writeFileSync(join(home, "sim-quota"), "");
    submit("s1", "keep going");
    const lines = await waitScreen("s1", "the quota line", (l) => l.some((x) => x.startsWith(`${GUTTER}You've hit`)) && idle(l));
    const at = lines.findIndex((x) => x.startsWith(GUTTER));
    expect(lines[at]).toMatch(/^ {2}⎿ \u00a0You've hit your 5-hour limit · resets \d{1,2}(:\d\d)?[ap]m \(UTC\)$/);
    expect(lines[at + 1]).toBe("     /upgrade to increase your usage limit.");
    const line = lines[at]!.slice(GUTTER.length);
    rmSync(join(home, "sim-quota"));
    const [error, end] = (await until("turn_duration", () => records(id).at(-1)?.subtype === "turn_duration" && records(id))).slice(-2);
    expect(error).toMatchObject({ type: "assistant", isApiErrorMessage: true, error: "rate_limit", apiErrorStatus: 429,
      apiError: "usage_limit_reached", apiErrorParams: { rate_limit_info: { status: "rejected", rateLimitType: "five_hour" } },
      message: { role: "assistant", model: "<synthetic>", content: [{ type: "text", text: line }] } });
    expect(error.apiErrorIsTransient).toBeUndefined();
    const resetsAt = error.apiErrorParams.rate_limit_info.resetsAt;
    expect(resetsAt % 3600).toBe(0); // the default quota line resets on a whole hour, given in epoch seconds
    expect(resetsAt * 1000).toBeGreaterThan(Date.now());
    expect(end).toMatchObject({ type: "system", subtype: "turn_duration", parentUuid: error.uuid });
    const user = records(id).findLast((r) => r.type === "user");
    expect(user).toMatchObject({ message: { content: "keep going" }, turnPosition: { promptIndex: 2, turnIndex: 2 } });
    expect(hookRecords().find((r) => r.hook_event_name === "StopFailure")).toMatchObject({ error: "rate_limit", last_assistant_message: line,
      prompt_id: user.promptId });
  }, 15_000);

  test("says a transient server error on demand and replies verbatim on demand", async () => {
    const say = "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited";
    submit("s1", `x [sim:work=100ms] [sim:say=${say}]`);
    await waitScreen("s1", "the API error", (l) => l.includes(`● ${say}`) && idle(l));
    expect(records(id).findLast((r) => r.type === "assistant")).toMatchObject({ isApiErrorMessage: true, error: "rate_limit",
      apiErrorIsTransient: true });
    expect(await hookFor("StopFailure", (r) => r.last_assistant_message === say)).toMatchObject({ error: "rate_limit" });
    submit("s1", "[sim:work=100ms][sim:reply=You've hit your weekly limit · resets 3pm (UTC)]");
    await waitScreen("s1", "the quoting reply", (l) => l.includes("● You've hit your weekly limit · resets 3pm (UTC)") && idle(l));
    expect(records(id).findLast((r) => r.type === "assistant").isApiErrorMessage).toBeUndefined();
  }, 15_000);

  test("relaunched with --resume after a kill, shows the previous conversation and appends to the same transcript", async () => {
    tmux("kill-session", "-t", "s1");
    await until("the registry file to go", () => sessionFiles().length === 0 || undefined);
    const before = records(id);
    const exitFile = join(root, "s2.exit");
    launch("s2", ["--resume", id], {}, exitFile);
    const lines = await waitScreen("s2", "the resumed conversation", (l) => idle(l) && l.includes("> please refactor the parser"));
    expect(lines).toContain("● Done: please refactor the parser");
    expect(lines.some((l) => l.startsWith(`${GUTTER}You've hit your 5-hour limit`))).toBe(true);
    expect(await hookFor("SessionStart", (r) => r.source === "resume")).toMatchObject({ session_id: id });
    submit("s2", "bye [sim:work=100ms] [sim:exit=3]");
    expect(await until("the exit code", () => existsSync(exitFile) && readFileSync(exitFile, "utf8").trim())).toBe("3");
    const ends = await until("two SessionEnd hooks", () => {
      const found = hookRecords().filter((r) => r.hook_event_name === "SessionEnd" && r.session_id === id);
      return found.length === 2 && found;
    });
    expect(ends.map((r) => r.reason)).toEqual(["other", "other"]);
    expect(screen("s2")).toContain(`Resume this session with:\nclaude --resume ${id}`);
    const after = records(id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after[before.length]).toMatchObject({ type: "user", parentUuid: before.at(-1).uuid, message: { content: "bye [sim:work=100ms] [sim:exit=3]" } });
  }, 15_000);

  test("a hook still running when its pane is killed outlives the agent (it is not killed with the terminal's process group)", async () => {
    // The agent waits up to 1 s for its hooks as it ends; this SessionEnd hook takes 1.5 s.
    const slowHome = join(root, "acct-slow-hook");
    const marks = join(root, "slow-hook");
    mkdirSync(slowHome, { recursive: true });
    writeFileSync(join(slowHome, "settings.json"), JSON.stringify({ hooks: { SessionEnd: [{ hooks: [{ type: "command",
      command: `sleep 1.5; mkdir -p '${marks}' && cat > '${marks}/end.tmp' && mv '${marks}/end.tmp' '${marks}/end.json'` }] }] } }));
    launch("s9", ["--session-id", randomUUID()], { CLAUDE_CONFIG_DIR: slowHome });
    await waitScreen("s9", "the idle screen", idle);
    tmux("kill-session", "-t", "s9");
    const end = await until("the slow SessionEnd hook's record", () => existsSync(join(marks, "end.json")) && JSON.parse(readFileSync(join(marks, "end.json"), "utf8")));
    expect(end).toMatchObject({ hook_event_name: "SessionEnd", reason: "other" });
  }, 15_000);

  test("takes a multi-line bracketed paste as one prompt, and shows SIM_CLAUDE_START_LINE at startup", async () => {
    const start = "You've hit your weekly limit · resets Nov 28, 10am (Europe/Paris)";
    launch("s3", [], { SIM_CLAUDE_START_LINE: start, SIM_CLAUDE_IDLE_NOTIFY_MS: "300" });
    await waitScreen("s3", "the start line", (l) => idle(l) && l.includes(`${GUTTER}${start}`));
    const pasteFile = join(root, "paste.txt");
    writeFileSync(pasteFile, "first line\nsecond line\nthird line");
    tmux("load-buffer", "-b", "cf-paste", pasteFile, ";", "paste-buffer", "-p", "-d", "-b", "cf-paste", "-t", "s3");
    await waitScreen("s3", "the pasted prompt", (l) => l.includes("❯\u00a0first line") && l.includes("  third line"));
    tmux("send-keys", "-t", "s3", "Enter");
    await waitScreen("s3", "the reply", (l) => l.includes("● Done: first line second line third line") && idle(l));
    const hook = await hookFor("UserPromptSubmit", (r) => String(r.prompt).startsWith("first line"));
    expect(hook.prompt).toBe("first line\nsecond line\nthird line");
    const users = records(String(hook.session_id)).filter((r) => r.type === "user");
    expect(users.map((r) => r.message.content)).toEqual(["first line\nsecond line\nthird line"]);
    expect(await hookFor("Notification", (r) => r.session_id === hook.session_id)).toMatchObject({ notification_type: "idle_prompt",
      message: "Claude is waiting for your input" });
  }, 15_000);

  test("interrupts a busy turn on Esc and on Ctrl-C, and exits on Ctrl-C twice", async () => {
    const busy = (l: string[]) => l.includes("  ⏵⏵ bypass permissions on · esc to interrupt");
    const interrupted = (l: string[]) => l.filter((x) => x === `${GUTTER}Interrupted · What should Claude do instead?`).length;
    for (const [n, key] of [[1, "Escape"], [2, "C-c"]] as const) {
      submit("s3", "a long job [sim:work=30s]");
      await waitScreen("s3", "the busy turn", busy);
      tmux("send-keys", "-t", "s3", key);
      await waitScreen("s3", `the interruption by ${key}`, (l) => idle(l) && interrupted(l) === n);
    }
    tmux("send-keys", "-t", "s3", "C-c");
    await waitScreen("s3", "the exit notice", (l) => l.includes("  Press Ctrl-C again to exit"));
    tmux("send-keys", "-t", "s3", "C-c");
    await waitScreen("s3", "the resume hint", (l) => l.includes("Resume this session with:"));
  }, 15_000);
  describe("fault injection through <home>/sim-faults.json", () => {
    const fhome = join(root, "acct-f");
    const fid = randomUUID();
    // Only complete lines: the simulator may be writing the last one while it is read.
    const frecords = () => existsSync(transcriptPath(fhome, workdir, fid))
      ? readFileSync(transcriptPath(fhome, workdir, fid), "utf8").split("\n").slice(0, -1).map((l) => JSON.parse(l)) : [];
    const faults = (value: unknown) => writeFileSync(join(fhome, "sim-faults.json"), JSON.stringify(value));
    const readFaults = () => JSON.parse(readFileSync(join(fhome, "sim-faults.json"), "utf8"));
    /** Types a prompt, waits for its turn_duration; returns its promptId. */
    const turn = async (text: string) => {
      submit("f1", text);
      return until(`the end of "${text}"`, () => {
        const all = frecords();
        const user = all.findLast((r) => r.type === "user");
        return user?.message.content === text && all.at(-1).subtype === "turn_duration" && String(user.promptId);
      });
    };
    const hooksOf = (promptId: string, event: string) => hookRecords().filter((r) => r.prompt_id === promptId && r.hook_event_name === event);
    beforeAll(async () => {
      mkdirSync(fhome, { recursive: true });
      launch("f1", ["--session-id", fid], { CLAUDE_CONFIG_DIR: fhome, SIM_CLAUDE_TURN_MS: "200" });
      await waitScreen("f1", "the idle screen", idle);
    });

    test("drops the next Stop hook: the turn still ends in the transcript, and the fault is consumed", async () => {
      faults({ Stop: { drop: 1 } });
      const dropped = await turn("f-drop-1");
      expect(readFaults()).toEqual({ Stop: { drop: 0 } });
      const next = await turn("f-drop-2");
      await hookFor("Stop", (r) => r.prompt_id === next);
      expect(hooksOf(dropped, "Stop")).toEqual([]);
      expect(hooksOf(dropped, "UserPromptSubmit")).toHaveLength(1);
    }, 15_000);

    test("duplicates a Stop hook with the same prompt_id, later", async () => {
      faults({ Stop: { duplicate: 1, duplicateDelayMs: 300 } });
      const id = await turn("f-dup");
      const both = await until("two Stop hooks", () => hooksOf(id, "Stop").length === 2 && hooksOf(id, "Stop"));
      expect(both.map((r) => r.last_assistant_message)).toEqual(["Done: f-dup", "Done: f-dup"]);
    }, 15_000);

    test("reorders: a held UserPromptSubmit runs after the turn's Stop", async () => {
      faults({ UserPromptSubmit: { reorder: 1 } });
      const id = await turn("f-reorder");
      await hookFor("UserPromptSubmit", (r) => r.prompt_id === id);
      const order = hookRecords().filter((r) => r.prompt_id === id).map((r) => r.hook_event_name);
      expect(order).toEqual(["Stop", "UserPromptSubmit"]);
    }, 15_000);

    test("delays a hook past the end of its turn, only for prompts that match", async () => {
      faults({ UserPromptSubmit: { delayMs: 1200, match: "f-late" } });
      const clean = await turn("f-on-time");
      expect(hooksOf(clean, "UserPromptSubmit")).toHaveLength(1); // ran before the Stop, which ran before turn_duration
      const late = await turn("f-late");
      const hook = await hookFor("UserPromptSubmit", (r) => r.prompt_id === late);
      const order = hookRecords().filter((r) => r.prompt_id === late).map((r) => r.hook_event_name);
      expect(order).toEqual(["Stop", "UserPromptSubmit"]);
      expect(hook.prompt).toBe("f-late");
      rmSync(join(fhome, "sim-faults.json"));
    }, 15_000);

    test("fires the idle Notification idleNotifyMs after a turn, as a hook of that turn (here duplicated)", async () => {
      faults({ idleNotifyMs: 200, Notification: { duplicate: 1, duplicateDelayMs: 200, match: "f-notify" } });
      await turn("f-notify");
      const notes = await until("two Notification hooks", () => {
        const found = hookRecords().filter((r) => r.hook_event_name === "Notification" && r.session_id === fid);
        return found.length === 2 && found;
      });
      expect(notes.map((r) => r.notification_type)).toEqual(["idle_prompt", "idle_prompt"]);
      rmSync(join(fhome, "sim-faults.json"));
    }, 15_000);

    test("crashes mid-turn on [sim:crash=<code>]: exit code, no reply, no Stop, no turn_duration, registry left behind", async () => {
      const exitFile = join(root, "f2.exit");
      const id = randomUUID();
      launch("f2", ["--session-id", id], { CLAUDE_CONFIG_DIR: fhome, SIM_CLAUDE_TURN_MS: "400" }, exitFile);
      await waitScreen("f2", "the idle screen", idle);
      submit("f2", "f-crash [sim:crash=7]");
      expect(await until("the exit code", () => existsSync(exitFile) && readFileSync(exitFile, "utf8").trim())).toBe("7");
      const all = readFileSync(transcriptPath(fhome, workdir, id), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(all.map((r) => r.type)).toEqual(["user"]);
      const promptId = all[0].promptId;
      await hookFor("UserPromptSubmit", (r) => r.prompt_id === promptId);
      expect(hookRecords().filter((r) => r.session_id === id).map((r) => r.hook_event_name)).toEqual(["SessionStart", "UserPromptSubmit"]);
      const registry = readdirSync(join(fhome, "sessions")).map((f) => JSON.parse(readFileSync(join(fhome, "sessions", f), "utf8")));
      expect(registry.find((r) => r.sessionId === id)).toMatchObject({ status: "busy" });
    }, 15_000);

    test("crashes the next turn on a crash fault, and resumes into the same conversation", async () => {
      const exitFile = join(root, "f3.exit");
      faults({ crash: { code: 137, afterMs: 50, match: "f-fault-crash" } });
      submit("f1", "f-fault-crash");
      await until("the pane to go", () => !tmux("list-sessions", "-F", "#{session_name}:#{pane_dead}").includes("f1:0"));
      expect(readFaults().crash.count).toBe(0);
      expect(frecords().at(-1)).toMatchObject({ type: "user", message: { content: "f-fault-crash" } });
      tmux("kill-session", "-t", "f1");
      launch("f1", ["--resume", fid], { CLAUDE_CONFIG_DIR: fhome, SIM_CLAUDE_TURN_MS: "200" }, exitFile);
      await waitScreen("f1", "the resumed screen", (l) => idle(l) && l.includes("> f-fault-crash"));
      await hookFor("SessionStart", (r) => r.session_id === fid && r.source === "resume");
      const id = await turn("continue");
      const users = frecords().filter((r) => r.type === "user");
      expect(users.map((r) => r.turnPosition.promptIndex)).toEqual(users.map((_, i) => i + 1)); // counted across the crash and resume
      expect(users.at(-1)).toMatchObject({ promptId: id, message: { content: "continue" } });
    }, 15_000);
  });
});
