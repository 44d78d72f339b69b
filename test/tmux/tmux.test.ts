import { afterAll, describe, expect, test } from "bun:test";
import { createTmux, pasteSafe, TmuxError, type CommandResult, type RunCommand } from "../../internal/tmux/tmux.ts";
import { privateTmux, eventually } from "../support/tmux.ts";

/** A fake runner in the style of gh's exec stub: every call is recorded; unregistered argv fails the test. */
function fakeRun(answers: Array<[RegExp, Partial<CommandResult>]>) {
  const calls: Array<{ argv: string[]; stdin?: string }> = [];
  const run: RunCommand = async (argv, options) => {
    calls.push({ argv, stdin: options?.stdin });
    const line = argv.join(" ");
    const hit = answers.find(([pattern]) => pattern.test(line));
    if (!hit) throw new Error(`unexpected command: ${line}`);
    return { code: 0, stdout: "", stderr: "", ...hit[1] };
  };
  return { run, calls };
}

describe("createTmux() argv", () => {
  test("targets the -L socket and creates a session with argv (no shell) and remain-on-exit", async () => {
    const { run, calls } = fakeRun([[/new-session/, {}]]);
    await createTmux(run, { socket: "cf" }).newSession("ccl-auto-11", { cwd: "/w", argv: ["env", "CLAUDE_CONFIG_DIR=/h", "claude", "--session-id", "u"] });
    expect(calls[0]!.argv).toEqual(["tmux", "-L", "cf", "new-session", "-d", "-s", "ccl-auto-11", "-c", "/w", "-x", "200", "-y", "50",
      "--", "env", "CLAUDE_CONFIG_DIR=/h", "claude", "--session-id", "u", ";", "set-option", "-w", "-t", "=ccl-auto-11:", "remain-on-exit", "on", ";", "set-option", "-g", "focus-events", "on"]);
  });

  test("uses the default server when no socket is configured", async () => {
    const { run, calls } = fakeRun([[/kill-session/, {}]]);
    await createTmux(run, { socket: "" }).killSession("x");
    expect(calls[0]!.argv).toEqual(["tmux", "kill-session", "-t", "=x"]);
  });

  test("sends text literally, never as key names", async () => {
    const { run, calls } = fakeRun([[/send-keys/, {}]]);
    await createTmux(run, { socket: "cf" }).sendText("ccl-auto-11", "C-c Enter; rm -rf /");
    expect(calls[0]!.argv).toEqual(["tmux", "-L", "cf", "send-keys", "-t", "=ccl-auto-11:", "-l", "--", "C-c Enter; rm -rf /"]);
  });

  test("pastes multi-line text as one bracketed paste through a named buffer it deletes", async () => {
    const { run, calls } = fakeRun([[/load-buffer/, {}], [/paste-buffer/, {}]]);
    await createTmux(run, { socket: "cf" }).paste("%3", "line 1\nline 2");
    expect(calls[0]!.argv.slice(3, 5)).toEqual(["load-buffer", "-b"]);
    expect(calls[0]!.stdin).toBe("line 1\nline 2");
    const buffer = calls[0]!.argv[5]!;
    expect(calls[1]!.argv).toEqual(["tmux", "-L", "cf", "paste-buffer", "-p", "-d", "-r", "-b", buffer, "-t", "%3"]);
  });

  test("captures many panes in one invocation", async () => {
    const { run, calls } = fakeRun([[/capture-pane/, { stdout: "a1\na2\n@@cf-capture@@0\nb1\n\n\n@@cf-capture@@1\n" }]]);
    const screens = await createTmux(run, { socket: "cf" }).capture(["%1", "%2"]);
    expect(calls).toHaveLength(1);
    expect(screens.get("%1")).toEqual(["a1", "a2"]);
    expect(screens.get("%2")).toEqual(["b1"]);
  });

  test("turns a failed command into a TmuxError with argv, code and stderr", async () => {
    const { run } = fakeRun([[/kill-session/, { code: 1, stderr: "can't find session: x" }]]);
    const error = await createTmux(run, { socket: "cf" }).killSession("x").catch((e) => e);
    expect(error).toBeInstanceOf(TmuxError);
    expect(error).toMatchObject({ code: 1, stderr: "can't find session: x" });
    expect(error.argv).toContain("kill-session");
  });

  test("reports no panes, not an error, when no server runs", async () => {
    const { run } = fakeRun([[/list-panes/, { code: 1, stderr: "no server running on /tmp/tmux-0/cf" }]]);
    expect(await createTmux(run, { socket: "cf" }).listPanes()).toEqual([]);
  });
});

describe("createTmux() on a real private server", () => {
  const server = privateTmux("client");
  afterAll(() => server.kill());

  test("a vanished pane does not hide the others from a batched capture", async () => {
    for (const name of ["p1", "p2", "p3"]) await server.raw("new-session", "-d", "-s", name, "sh", "-c", `echo screen-${name}; exec sleep 60`);
    const panes = await server.tmux.listPanes();
    const ids = panes.map((p) => p.paneId);
    await server.raw("kill-session", "-t", "=p2");
    const screens = await eventually(async () => {
      const s = await server.tmux.capture(ids);
      return s.size === 2 && [...s.values()].every((l) => l.length) ? s : null;
    });
    expect([...screens.values()].map((l) => l[0]).sort()).toEqual(["screen-p1", "screen-p3"]);
  });

  test("an exact target never matches another session by prefix", async () => {
    await server.raw("new-session", "-d", "-s", "ccl-auto-110", "sleep", "60");
    await expect(server.tmux.sendKeys("ccl-auto-11", "Enter")).rejects.toBeInstanceOf(TmuxError);
  });
});

describe("pasteSafe()", () => {
  test("turns control characters into visible symbols so nothing in a prompt acts as a key", () => {
    expect(pasteSafe("a\x1b[201~b\rc\x03d\x7fe\tf\ng")).toBe("a␛[201~b␍c␃d␡e\tf\ng");
    expect(pasteSafe("line\r\nnext\x9bx")).toBe("line\nnextx");
    expect(pasteSafe("C-c Enter $(rm -rf /)")).toBe("C-c Enter $(rm -rf /)");
  });
});
