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

  test("pastes, pauses in the tmux server and presses Enter, for many panes, in one invocation", async () => {
    const { run, calls } = fakeRun([[/load-buffer/, { stdout: "@@cf-pasted@@0\n@@cf-pasted@@1\n@@cf-done@@0\n@@cf-done@@1\n" }]]);
    const done = await createTmux(run, { socket: "cf" }).pasteThenKeys(["%3", "a"], "line 1\nline 2", 150, "Enter");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.stdin).toBe("line 1\nline 2");
    const buffer = calls[0]!.argv[5]!;
    expect(calls[0]!.argv.slice(3)).toEqual([
      "load-buffer", "-b", buffer, "-",
      ";", "paste-buffer", "-p", "-r", "-b", buffer, "-t", "%3", ";", "display-message", "-p", "-t", "%3", "@@cf-pasted@@0",
      ";", "paste-buffer", "-p", "-r", "-b", buffer, "-t", "=a:", ";", "display-message", "-p", "-t", "=a:", "@@cf-pasted@@1",
      ";", "delete-buffer", "-b", buffer, ";", "run-shell", "-d", "0.150",
      ";", "send-keys", "-t", "%3", "Enter", ";", "display-message", "-p", "-t", "%3", "@@cf-done@@0",
      ";", "send-keys", "-t", "=a:", "Enter", ";", "display-message", "-p", "-t", "=a:", "@@cf-done@@1",
    ]);
    expect([...done]).toEqual(["%3", "a"]);
  });

  test("a paste that stopped at a vanished pane pastes the rest, then presses Enter after the pause for every pane pasted", async () => {
    const calls: string[][] = [];
    const answers = [
      // a pasted, b vanished: the chain stops before the buffer is deleted and before any Enter.
      { code: 1, stdout: "@@cf-pasted@@0\n", stderr: "can't find pane: b" },
      { code: 0, stdout: "", stderr: "" }, // delete-buffer
      { code: 0, stdout: "@@cf-done@@0\n", stderr: "" }, // c pasted (pasteEach)
      { code: 0, stdout: "@@cf-done@@0\n@@cf-done@@1\n", stderr: "" }, // pause, then Enter for a and c
    ];
    const run: RunCommand = async (argv) => (calls.push(argv), answers[calls.length - 1]!);
    const done = await createTmux(run, { socket: "cf" }).pasteThenKeys(["a", "b", "c"], "go on", 150, "Enter");
    expect([...done]).toEqual(["a", "c"]);
    expect(calls[1]!.slice(3, 4)).toEqual(["delete-buffer"]);
    expect(calls[2]!.filter((a) => a.startsWith("="))).toEqual(["=c:", "=c:"]);
    expect(calls[3]!.slice(3, 7)).toEqual(["run-shell", "-d", "0.150", ";"]);
    expect(calls[3]!.filter((a) => a.startsWith("="))).toEqual(["=a:", "=a:", "=c:", "=c:"]);
  });

  test("keys that stopped at a vanished pane go on to the panes after it, with no second pause", async () => {
    const calls: string[][] = [];
    const answers = [
      { code: 1, stdout: "@@cf-pasted@@0\n@@cf-pasted@@1\n@@cf-pasted@@2\n@@cf-done@@0\n", stderr: "can't find pane: b" },
      { code: 0, stdout: "@@cf-done@@0\n", stderr: "" },
    ];
    const run: RunCommand = async (argv) => (calls.push(argv), answers[calls.length - 1]!);
    const done = await createTmux(run, { socket: "cf" }).pasteThenKeys(["a", "b", "c"], "go on", 150, "Enter");
    expect([...done]).toEqual(["a", "c"]);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.slice(3)).toEqual(["send-keys", "-t", "=c:", "Enter", ";", "display-message", "-p", "-t", "=c:", "@@cf-done@@0"]);
  });

  test("a tmux without `run-shell -d` (before 3.2) gets its keys after a pause kept by the daemon, then always so", async () => {
    const calls: string[][] = [];
    const answers = [
      // The chain refused as a whole (tmux parses every command first): nothing pasted, no Enter.
      { code: 1, stdout: "", stderr: "usage: run-shell [-b] [-t target-pane] shell-command" },
      { code: 0, stdout: "@@cf-done@@0\n@@cf-done@@1\n", stderr: "" }, // both pasted (pasteEach)
      { code: 0, stdout: "@@cf-done@@0\n@@cf-done@@1\n", stderr: "" }, // Enter for both
      { code: 0, stdout: "@@cf-done@@0\n", stderr: "" }, // next call: paste (pasteEach)
      { code: 0, stdout: "@@cf-done@@0\n", stderr: "" }, // then Enter (sendKeysEach)
    ];
    const run: RunCommand = async (argv) => (calls.push(argv), answers[calls.length - 1]!);
    const tmux = createTmux(run, { socket: "cf" });
    expect([...(await tmux.pasteThenKeys(["a", "b"], "go on", 20, "Enter"))]).toEqual(["a", "b"]);
    expect(calls[1]![3]).toBe("load-buffer");
    expect(calls[2]!.slice(3)).toEqual(["send-keys", "-t", "=a:", "Enter", ";", "display-message", "-p", "-t", "=a:", "@@cf-done@@0", ";",
      "send-keys", "-t", "=b:", "Enter", ";", "display-message", "-p", "-t", "=b:", "@@cf-done@@1"]);
    expect([...(await tmux.pasteThenKeys(["c"], "again", 20, "Enter"))]).toEqual(["c"]);
    expect(calls.slice(3).map((argv) => argv[3])).toEqual(["load-buffer", "send-keys"]);
    expect(calls.slice(1).flat()).not.toContain("run-shell");
  });

  test("pasting with no server answering is an error, not an empty result", async () => {
    const { run } = fakeRun([[/load-buffer/, { code: 1, stderr: "no server running on /tmp/tmux-0/cf" }]]);
    await expect(createTmux(run, { socket: "cf" }).pasteThenKeys(["a"], "x", 150, "Enter")).rejects.toBeInstanceOf(TmuxError);
  });

  test("sends the same keys to many panes in one invocation, each followed by its marker", async () => {
    const { run, calls } = fakeRun([[/send-keys/, { stdout: "@@cf-done@@0\n@@cf-done@@1\n" }]]);
    const done = await createTmux(run, { socket: "cf" }).sendKeysEach(["a", "%2"], "Enter");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.argv.slice(3)).toEqual([
      "send-keys", "-t", "=a:", "Enter", ";", "display-message", "-p", "-t", "=a:", "@@cf-done@@0", ";",
      "send-keys", "-t", "%2", "Enter", ";", "display-message", "-p", "-t", "%2", "@@cf-done@@1",
    ]);
    expect([...done]).toEqual(["a", "%2"]);
  });

  test("pastes into many panes from one loaded buffer, then deletes it, in one invocation", async () => {
    const { run, calls } = fakeRun([[/load-buffer/, { stdout: "@@cf-done@@0\n@@cf-done@@1\n" }]]);
    const done = await createTmux(run, { socket: "cf" }).pasteEach(["a", "b"], "go on");
    expect(calls).toHaveLength(1);
    const argv = calls[0]!.argv;
    const buffer = argv[5]!;
    expect(calls[0]!.stdin).toBe("go on");
    expect(argv.filter((a) => a === "paste-buffer")).toHaveLength(2);
    expect(argv.slice(-3)).toEqual(["delete-buffer", "-b", buffer]);
    expect(argv).not.toContain("-d");
    expect([...done]).toEqual(["a", "b"]);
  });

  test("a batch that stopped at a vanished pane runs the rest again without it", async () => {
    let call = 0;
    const calls: string[][] = [];
    const run: RunCommand = async (argv) => {
      calls.push(argv);
      // First call: a done, b vanished (the chain stops); second call: c done.
      return ++call === 1 ? { code: 1, stdout: "@@cf-done@@0\n", stderr: "can't find pane: b" } : { code: 0, stdout: "@@cf-done@@0\n", stderr: "" };
    };
    const done = await createTmux(run, { socket: "cf" }).sendKeysEach(["a", "b", "c"], "Escape");
    expect([...done]).toEqual(["a", "c"]);
    expect(calls[1]!.filter((a) => a.startsWith("="))).toEqual(["=c:", "=c:"]);
  });

  test("a batch with no server answering is an error, not an empty result", async () => {
    const { run } = fakeRun([[/send-keys/, { code: 1, stderr: "no server running on /tmp/tmux-0/cf" }]]);
    await expect(createTmux(run, { socket: "cf" }).sendKeysEach(["a"], "Enter")).rejects.toBeInstanceOf(TmuxError);
  });

  test("captures many panes in one invocation", async () => {
    const { run, calls } = fakeRun([[/capture-pane/, { stdout: "a1\na2\n@@cf-capture@@0\nb1\n\n\n@@cf-capture@@1\n" }]]);
    const screens = await createTmux(run, { socket: "cf" }).capture(["%1", "%2"]);
    expect(calls).toHaveLength(1);
    expect(screens.get("%1")).toEqual(["a1", "a2"]);
    expect(screens.get("%2")).toEqual(["b1"]);
  });

  test("lists every pane and captures some in one invocation", async () => {
    const pane = ["s1", "%1", "42", "claude", "/w", "0", "", "1700000000", "200", "50"].join("\t");
    const { run, calls } = fakeRun([[/list-panes/, { stdout: `@@cf-pane@@${pane}\na1\n@@cf-capture@@0\n` }]]);
    const { panes, screens } = await createTmux(run, { socket: "cf" }).snapshot(["s1"]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.argv.slice(3, 7)).toEqual(["list-panes", "-a", "-F", expect.stringMatching(/^@@cf-pane@@#\{session_name\}/)]);
    expect(calls[0]!.argv).toContain("capture-pane");
    expect(panes).toEqual([expect.objectContaining({ session: "s1", paneId: "%1", pid: 42, dead: false })]);
    expect(screens).toEqual(new Map([["s1", ["a1"]]]));
  });

  test("a snapshot with no server answering is empty, not an error", async () => {
    const { run } = fakeRun([[/list-panes/, { code: 1, stderr: "no server running on /tmp/tmux-0/cf" }]]);
    expect(await createTmux(run, { socket: "cf" }).snapshot(["s1"])).toEqual({ panes: [], screens: new Map() });
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

  test("batched keys and pastes skip a vanished pane and reach the others", async () => {
    for (const name of ["k1", "k2", "k3"]) await server.raw("new-session", "-d", "-s", name, "cat");
    await server.raw("kill-session", "-t", "=k2");
    expect([...(await server.tmux.pasteEach(["k1", "k2", "k3"], "pasted"))]).toEqual(["k1", "k3"]);
    expect([...(await server.tmux.sendKeysEach(["k1", "k2", "k3"], "Enter"))]).toEqual(["k1", "k3"]);
    for (const name of ["k1", "k3"]) await eventually(async () => ((await server.tmux.capture([name])).get(name) ?? []).filter((l) => l === "pasted").length === 2 || null);
    expect((await server.raw("list-buffers")).stdout).not.toContain("cf-");
  });

  test("paste, pause and Enter in one invocation skip a vanished pane and reach the others, leaving no buffer", async () => {
    for (const name of ["e1", "e2", "e3"]) await server.raw("new-session", "-d", "-s", name, "cat");
    await server.raw("kill-session", "-t", "=e2");
    expect([...(await server.tmux.pasteThenKeys(["e1", "e2", "e3"], "typed", 50, "Enter"))]).toEqual(["e1", "e3"]);
    // The tty echoes the pasted line and Enter; cat prints it once more: two lines, so Enter arrived after the text.
    for (const name of ["e1", "e3"]) await eventually(async () => ((await server.tmux.capture([name])).get(name) ?? []).filter((l) => l === "typed").length === 2 || null);
    expect((await server.raw("list-buffers")).stdout).not.toContain("cf-");
  });

  test("a snapshot lists every pane and still captures the others when a target vanished", async () => {
    for (const name of ["n1", "n2", "n3"]) await server.raw("new-session", "-d", "-s", name, "sh", "-c", `echo screen-${name}; exec sleep 60`);
    await server.raw("kill-session", "-t", "=n2");
    const { panes, screens } = await eventually(async () => {
      const s = await server.tmux.snapshot(["n1", "n2", "n3"]);
      return s.screens.size === 2 && [...s.screens.values()].every((l) => l.length) ? s : null;
    });
    expect(panes.map((p) => p.session)).toEqual(expect.arrayContaining(["n1", "n3"]));
    expect(panes.map((p) => p.session)).not.toContain("n2");
    expect(panes.find((p) => p.session === "n1")!.pid).toBeGreaterThan(0);
    expect(screens.get("n1")?.[0]).toBe("screen-n1");
    expect(screens.get("n3")?.[0]).toBe("screen-n3");
    expect(screens.has("n2")).toBe(false);
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
