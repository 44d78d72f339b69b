import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { transcriptPath } from "../../internal/claude/home.ts";
import { parseSimArgs } from "../../internal/demo/sim-claude.ts";
import {
  GUTTER, classifyErrorText, createKeyReader, defaultQuotaLine, formatResetTime, parseDirectives, renderFrame, type FrameState,
} from "../../internal/demo/sim-screen.ts";
import { readTranscript } from "../../internal/demo/sim-store.ts";

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
  test("reads work, say, reply and exit markers and strips them from the prompt", () => {
    expect(parseDirectives("fix it [sim:work=4s] [sim:reply=ok] [sim:exit=3]")).toEqual({
      directives: { workMs: 4000, reply: "ok", exitCode: 3 }, text: "fix it" });
    expect(parseDirectives("[sim:say=API Error: 529 Overloaded]").directives).toEqual({ say: "API Error: 529 Overloaded" });
    expect(parseDirectives("x [sim:work=250]").directives.workMs).toBe(250);
  });

  test("leaves unknown markers in the text", () => {
    expect(parseDirectives("a [sim:nope=1]")).toEqual({ directives: {}, text: "a [sim:nope=1]" });
  });
});

describe("classifyErrorText()", () => {
  test.each([
    ["You've hit your 5-hour limit · resets 3pm (UTC)", { error: "rate_limit", status: 429, apiError: "usage_limit_reached", transient: false }],
    ["API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited", { error: "rate_limit", status: 429, transient: true }],
    ["API Error: 529 Overloaded. This is a server-side issue", { error: "overloaded", status: 529, transient: true }],
    ["API Error: 502 Bad Gateway", { error: "server_error", status: 502, transient: true }],
    ["API Error: Internal server error", { error: "server_error", status: 500, transient: true }],
  ])("files %p", (text, expected) => {
    expect(classifyErrorText(text)).toEqual(expected as ReturnType<typeof classifyErrorText>);
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
    expect(readTranscript(`${lines.join("\n")}\nnot json\n`)).toEqual({ lastUuid: "4", entries: [{ kind: "user", text: "hi" },
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
afterAll(() => rmSync(root, { recursive: true, force: true }));

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
    const [user, reply] = records(id);
    expect(user).toMatchObject({ type: "user", sessionId: id, cwd: workdir, message: { role: "user", content: "please refactor the parser" } });
    expect(reply).toMatchObject({ type: "assistant", parentUuid: user.uuid, message: { content: [{ type: "text", text: "Done: please refactor the parser" }] } });
    expect(readdirSync(join(transcriptPath(home, workdir, id), "..", id, "tool-results"))).toHaveLength(1);
    expect(await hookFor("UserPromptSubmit")).toMatchObject({ prompt: "please refactor the parser" });
    expect(await hookFor("Stop")).toMatchObject({ session_id: id, stop_hook_active: false, last_assistant_message: "Done: please refactor the parser" });
  }, 15_000);

  test("ends the turn with the quota line in the gutter while <home>/sim-quota exists", async () => {
    writeFileSync(join(home, "sim-quota"), "");
    submit("s1", "keep going");
    const lines = await waitScreen("s1", "the quota line", (l) => l.some((x) => x.startsWith(`${GUTTER}You've hit`)) && idle(l));
    const at = lines.findIndex((x) => x.startsWith(GUTTER));
    expect(lines[at]).toMatch(/^ {2}⎿ \u00a0You've hit your 5-hour limit · resets \d{1,2}(:\d\d)?[ap]m \(UTC\)$/);
    expect(lines[at + 1]).toBe("     /upgrade to increase your usage limit.");
    const line = lines[at]!.slice(GUTTER.length);
    expect(records(id).at(-1)).toMatchObject({ type: "assistant", isApiErrorMessage: true, error: "rate_limit", apiErrorStatus: 429,
      apiError: "usage_limit_reached", message: { role: "assistant", model: "<synthetic>", content: [{ type: "text", text: line }] } });
    expect(await hookFor("StopFailure")).toMatchObject({ error: "rate_limit", last_assistant_message: line });
    rmSync(join(home, "sim-quota"));
  }, 15_000);

  test("says a transient server error on demand and replies verbatim on demand", async () => {
    const say = "API Error: Server is temporarily limiting requests (not your usage limit) · Rate limited";
    submit("s1", `x [sim:work=100ms] [sim:say=${say}]`);
    await waitScreen("s1", "the API error", (l) => l.includes(`● ${say}`) && idle(l));
    expect(records(id).at(-1)).toMatchObject({ isApiErrorMessage: true, error: "rate_limit", apiErrorIsTransient: true });
    expect(await hookFor("StopFailure", (r) => r.last_assistant_message === say)).toMatchObject({ error: "rate_limit" });
    submit("s1", "[sim:work=100ms][sim:reply=You've hit your weekly limit · resets 3pm (UTC)]");
    await waitScreen("s1", "the quoting reply", (l) => l.includes("● You've hit your weekly limit · resets 3pm (UTC)") && idle(l));
    expect(records(id).at(-1).isApiErrorMessage).toBeUndefined();
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
});
