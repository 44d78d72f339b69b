/**
 * @module test/hook/hook
 * Specs for the hook side's secret: it is read from the token file named on the command line (or the legacy
 * variable), and a hook run the way Claude Code runs it (`sh -c <command>`) carries no secret in any argv yet
 * still authenticates to the daemon.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseHookArgs, readHookToken } from "../../internal/hook/hook.ts";
import { buildHookSettings, HOOK_EVENTS } from "../../internal/lifecycle/launch.ts";

const ENTRY = join(import.meta.dir, "../../cmd/main.ts");
const TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f0123456789abcdef";
let root: string;
let tokenFile: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-hook-"));
  tokenFile = join(root, "hook-token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("readHookToken()", () => {
  test("reads the first line of the token file", () => {
    expect(readHookToken(tokenFile, {})).toBe(TOKEN);
  });

  test("falls back to CLAUDE_FAILOVER_HOOK_TOKEN (settings written by 0.4) when there is no file or it is unreadable", () => {
    expect(readHookToken(null, { CLAUDE_FAILOVER_HOOK_TOKEN: "legacy" })).toBe("legacy");
    expect(readHookToken(join(root, "missing"), { CLAUDE_FAILOVER_HOOK_TOKEN: "legacy" })).toBe("legacy");
    expect(readHookToken(join(root, "missing"), {})).toBe("");
  });
});

describe("parseHookArgs()", () => {
  test("reads the event and the flags the daemon writes, as separate words or with =", () => {
    expect(parseHookArgs(["StopFailure", "--session", "ccl-auto-11", "--url", "http://127.0.0.1:8787", "--spool", "/s", "--token-file", "/t"]))
      .toEqual({ event: "StopFailure", session: "ccl-auto-11", url: "http://127.0.0.1:8787", spoolDir: "/s", tokenFile: "/t" });
    expect(parseHookArgs(["--url=http://h:1", "Stop", "--session=ccl-1-ded"]))
      .toEqual({ event: "Stop", session: "ccl-1-ded", url: "http://h:1", spoolDir: "/tmp", tokenFile: null });
  });

  test("an event with no name, a flag with no value or an unknown switch is not an error", () => {
    expect(parseHookArgs([])).toEqual({ event: null, session: null, url: "", spoolDir: "/tmp", tokenFile: null });
    expect(parseHookArgs(["Stop", "--session"]).session).toBeNull();
    expect(parseHookArgs(["--quiet", "Stop", "--session", "ccl-auto-12"])).toMatchObject({ event: "Stop", session: "ccl-auto-12" });
  });
});

describe("the hook's entry", () => {
  // Claude Code runs the hook for every event of every session: the binary's entry loads only internal/hook for it.
  test("internal/hook/hook.ts imports only Node's built-in modules, nothing of the daemon", () => {
    const source = readFileSync(join(import.meta.dir, "../../internal/hook/hook.ts"), "utf8");
    const imports = [...source.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((from) => !from!.startsWith("node:"))).toEqual([]);
  });

  test("cmd/main.ts hands every other command to cmd/claude-failover.ts", () => {
    const proc = Bun.spawnSync([process.execPath, ENTRY, "version"]);
    expect(proc.exitCode).toBe(0);
    expect(proc.stdout.toString()).toStartWith("claude-failover ");
  });
});

describe("the injected hook command", () => {
  const settingsFor = (url: string) => buildHookSettings("ccl-auto-11", { self: [process.execPath, ENTRY], url, spoolDir: join(root, "spool"), tokenFile });

  test("names the token file for every event and never holds the token", () => {
    const settings = settingsFor("http://127.0.0.1:8787");
    expect(settings).not.toContain(TOKEN);
    const hooks = JSON.parse(settings).hooks as Record<string, Array<{ hooks: Array<{ command: string }> }>>;
    expect(Object.keys(hooks).sort()).toEqual([...HOOK_EVENTS].sort());
    for (const event of HOOK_EVENTS) expect(hooks[event]![0]!.hooks[0]!.command).toEndWith(`--token-file ${tokenFile}`);
  });

  test("run through sh -c as Claude Code does, has no token in its argv and authenticates from the file", async () => {
    const received: Array<{ path: string; token: string | null; body: unknown }> = [];
    const server = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      async fetch(req) {
        received.push({ path: new URL(req.url).pathname + new URL(req.url).search, token: req.headers.get("X-Claude-Failover-Hook"), body: await req.json() });
        return Response.json({ ok: true }, { status: 202 });
      },
    });
    try {
      const command = (JSON.parse(settingsFor(`http://127.0.0.1:${server.port}`)).hooks.Stop[0].hooks[0].command) as string;
      // What any local user sees in /proc/<pid>/cmdline: the shell's argv, then the words it runs.
      const shellArgv = ["sh", "-c", command];
      const words = Bun.spawnSync(["sh", "-c", `printf '%s\\n' ${command}`]).stdout.toString().split("\n");
      expect([...shellArgv, ...words].some((arg) => arg.includes(TOKEN))).toBe(false);
      const proc = Bun.spawn(shellArgv, { stdin: new Blob(['{"session_id":"x","hook_event_name":"Stop"}']), env: { PATH: process.env.PATH ?? "" } });
      expect(await proc.exited).toBe(0);
      expect(received).toEqual([{ path: "/hooks/Stop?session=ccl-auto-11", token: TOKEN, body: { session_id: "x", hook_event_name: "Stop" } }]);
      expect(() => readdirSync(join(root, "spool"))).toThrow(); // posted, not spooled
    } finally {
      await server.stop(true);
    }
  });
});
