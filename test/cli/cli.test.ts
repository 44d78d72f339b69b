import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, UsageError } from "../../internal/cli/commands.ts";
import { ApiError, countdown, createApiClient, renderAccounts, renderStatus, table } from "../../internal/cli/client.ts";
import { renderDoctor, runDoctor, sessionEnvCheck } from "../../internal/cli/doctor.ts";
import { TESTED_CLAUDE_CODE_VERSION } from "../../internal/claude/version.ts";
import { sdNotify } from "../../internal/cli/systemd.ts";
import { parseConfig } from "../../internal/config/config.ts";
import type { RunCommand } from "../../internal/tmux/tmux.ts";
import type { StatusSnapshot } from "../../internal/state/status.ts";
import { tempDir } from "../support/tmux.ts";

describe("parseArgs()", () => {
  test("reads the command, positionals and flags", () => {
    expect(parseArgs(["swap", "backup", "--config", "/c.yaml", "--json"])).toEqual({ command: "swap", positional: ["backup"], flags: { config: "/c.yaml", json: true } });
    expect(parseArgs(["status", "--config=/x.yaml"]).flags.config).toBe("/x.yaml");
    expect(parseArgs([]).command).toBe("help");
  });

  test("refuses a flag that needs a value and has none", () => {
    expect(() => parseArgs(["run", "--config"])).toThrow(UsageError);
  });
});

describe("status rendering", () => {
  const now = Date.UTC(2026, 10, 23, 12);
  const snapshot: StatusSnapshot = {
    version: "0.4.0", now: "", started_at: "", active_account: "main", swapping: false, paused: true, exhausted: false, wake_at: null,
    accounts: [{ name: "main", home: "/h/main", state: "available", reset_at: null }, { name: "backup", home: "/h/b", state: "cooling", reset_at: new Date(now + 2 * 3_600_000 + 5 * 60_000).toISOString() }],
    sessions: [{ name: "ccl-auto-11", kind: "pool", state: "working", account: "main", session_id: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b", task: "web/fix.md", workdir: "/w" }],
    tasks: { queued: 1, running: 1, done: 3, failed: 0, stalled: 0 }, queue: [], last_swap: null, swaps: [],
  };

  test("names each per-model limit under the accounts table with its countdown", () => {
    const limited = { ...snapshot, accounts: [{ ...snapshot.accounts[0]!, models: [{ model: "opus", reset_at: new Date(now + 3_600_000).toISOString() }] }, snapshot.accounts[1]!] };
    expect(renderAccounts(limited, now).split("\n").at(-1)).toBe("main: opus limited, resets in 1h 00m (sessions on the fallback model)");
    expect(renderAccounts(snapshot, now)).not.toContain("limited");
  });

  test("shows flags, accounts with their reset countdown, sessions and the queue", () => {
    const text = renderStatus(snapshot, now);
    expect(text).toContain("active account: main · PAUSED");
    expect(text).toMatch(/backup\s+cooling\s+2h 05m/);
    expect(text).toMatch(/ccl-auto-11\s+pool\s+working\s+main\s+web\/fix.md/);
    expect(text).toContain("tasks: 1 queued · 1 running · 3 done");
    expect(text).toContain("last swap: none");
  });

  test("in spread placement, says so and where the last swap moved each session", () => {
    const last = { id: 1, at: "", step: "done" as const, from: "main", to: "backup", reason: "quota", trigger_session: "ccl-auto-11", signal: null, pattern: null, snippet: null, reset_at: null, error: null, sessions: [{ name: "ccl-auto-11", outcome: "kept", to: "backup" }] };
    const text = renderStatus({ ...snapshot, placement: "spread", last_swap: last, swaps: [last] }, now);
    expect(text).toContain("placement: spread · last swap moved ccl-auto-11 → backup");
    expect(renderStatus(snapshot, now)).not.toContain("placement");
  });

  test("formats countdowns and aligned tables", () => {
    expect(countdown(new Date(now + 45 * 60_000).toISOString(), now)).toBe("45m");
    expect(countdown(new Date(now - 1).toISOString(), now)).toBe("now");
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y");
  });
});

describe("runDoctor()", () => {
  test("checks tmux, claude, homes, credentials, link, folders and units, each with a fix", async () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, "homes", "a"), { recursive: true });
    writeFileSync(join(dir.path, "homes", "a", ".credentials.json"), "{}");
    mkdirSync(join(dir.path, "state"));
    mkdirSync(join(dir.path, "real-claude"));
    const config = parseConfig(`state_dir: ${dir.path}/state
claude: { command: claude-that-does-not-exist, link: ${dir.path}/real-claude }
accounts: [{ name: a, home: ${dir.path}/homes/a }, { name: b, home: ${dir.path}/homes/b }]
autonomous: { workdir: ${dir.path}/no-repo }
`, "", { env: {}, home: dir.path });
    const run: RunCommand = async (argv) => argv[0] === "tmux" ? { code: 0, stdout: "tmux 3.3a\n", stderr: "" } : { code: 1, stdout: "", stderr: "" };
    const checks = await runDoctor(config, run, { unitDir: join(dir.path, "units") });
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName.tmux!.ok).toBe(true);
    expect(byName["claude command"]).toMatchObject({ ok: false });
    expect(byName["account a"]!.ok).toBe(true);
    expect(byName["account b"]).toMatchObject({ ok: false });
    expect(byName["claude.link"]!.detail).toContain("real directory");
    expect(byName["state folder"]!.ok).toBe(true);
    expect(byName["queue folder"]!.ok).toBe(false);
    expect(byName.workdirs).toMatchObject({ ok: false, detail: `autonomous.workdir: workdir ${dir.path}/no-repo does not exist` });
    expect(byName["tmux unit"]).toMatchObject({ ok: false, warning: true });
    expect(checks.filter((c) => !c.ok).every((c) => c.fix)).toBe(true);
    expect(renderDoctor(checks)).toContain("✗ claude command");
    dir.cleanup();
  });

  const claudeConfig = (dir: string) => parseConfig(`state_dir: ${dir}/state
claude: { command: claude, args: ["--dangerously-skip-permissions"] }
accounts: [{ name: a, home: ${dir}/homes/a }]
`, "", { env: {}, home: dir });
  const versionRun = (version: string): RunCommand => async (argv) =>
    argv[0] === "sh" ? { code: 0, stdout: "/usr/bin/claude\n", stderr: "" }
      : argv[0] === "claude" && argv[1] === "--version" ? { code: 0, stdout: `${version} (Claude Code)\n`, stderr: "" }
      : { code: 0, stdout: "tmux 3.3a\n", stderr: "" };

  test("reports the installed Claude Code version and whether it is the tested one", async () => {
    const dir = tempDir();
    const tested = await runDoctor(claudeConfig(dir.path), versionRun(TESTED_CLAUDE_CODE_VERSION));
    expect(tested.find((c) => c.name === "Claude Code version")).toMatchObject({ ok: true, detail: `${TESTED_CLAUDE_CODE_VERSION}, the tested version` });
    const other = await runDoctor(claudeConfig(dir.path), versionRun("2.1.400"));
    expect(other.find((c) => c.name === "Claude Code version")).toMatchObject({ ok: false, warning: true });
    expect(other.find((c) => c.name === "Claude Code version")!.detail).toContain(`2.1.400; claude-failover is tested with ${TESTED_CLAUDE_CODE_VERSION}`);
    dir.cleanup();
  });

  test("warns about root without IS_SANDBOX=1 when the panes skip permissions", async () => {
    const dir = tempDir();
    const run = versionRun(TESTED_CLAUDE_CODE_VERSION);
    const root = await runDoctor(claudeConfig(dir.path), run, {}, { uid: 0, isSandbox: false });
    expect(root.find((c) => c.name === "root")).toMatchObject({ ok: false, warning: true });
    expect(renderDoctor(root)).toContain("IS_SANDBOX=1");
    expect((await runDoctor(claudeConfig(dir.path), run, {}, { uid: 0, isSandbox: true })).some((c) => c.name === "root")).toBe(false);
    expect((await runDoctor(claudeConfig(dir.path), run, {}, { uid: 1000, isSandbox: false })).some((c) => c.name === "root")).toBe(false);
    dir.cleanup();
  });
});

describe("sessionEnvCheck()", () => {
  const env = { env: { HTTPS_PROXY: "http://user:s3cret@proxy:3128" }, home: "/home/dev" };
  const parse = (claude: string) => parseConfig(`claude: ${claude}\naccounts: [{ name: a, home: /h/a }]\n`, "", env).sessionEnv;

  test("names the variables set for every session and never shows a value", () => {
    const check = sessionEnvCheck(parse("{ env: { NODE_EXTRA_CA_CERTS: /etc/ssl/ca.pem }, env_from: [HTTPS_PROXY] }"));
    expect(check).toEqual({ name: "session environment", ok: true, detail: "set for every session: HTTPS_PROXY, NODE_EXTRA_CA_CERTS" });
    expect(renderDoctor([check])).not.toContain("s3cret");
    expect(sessionEnvCheck(parse("{}")).detail).toBe("no variables set for sessions (claude.env, claude.env_from)");
  });

  test("warns about a claude.env_from name missing from the environment, with the fix", () => {
    expect(sessionEnvCheck(parse("{ env_from: [HTTPS_PROXY, NO_PROXY] }"))).toEqual({
      name: "session environment", ok: false, warning: true,
      detail: "set for every session: HTTPS_PROXY; missing from this environment, so not set: NO_PROXY (claude.env_from)",
      fix: "set NO_PROXY in the daemon's environment (e.g. Environment= in its systemd unit), or remove it from claude.env_from",
    });
  });
});

describe("sdNotify()", () => {
  test("does nothing outside systemd", () => {
    expect(sdNotify("READY=1", "")).toBe(false);
  });

  test("delivers READY=1 to a NOTIFY_SOCKET datagram socket", async () => {
    const dir = tempDir();
    const socket = join(dir.path, "notify.sock");
    const receiver = Bun.spawn(["python3", "-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); print("bound", flush=True)
s.settimeout(5); print(s.recv(100).decode(), flush=True)`, socket], { stdout: "pipe" });
    // Read until the receiver says it is bound (print may write its text and its newline in two chunks).
    const reader = receiver.stdout.getReader();
    let out = "";
    while (!out.includes("bound\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(sdNotify("READY=1\nSTATUS=serving", socket)).toBe(true);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain("READY=1\nSTATUS=serving");
    await receiver.exited;
    dir.cleanup();
  });
});

describe("createApiClient()", () => {
  const recording = (status: number, body: unknown) => {
    const seen: Array<{ url: string; auth: string | null }> = [];
    const fetchImpl = (async (url: string, init?: RequestInit) => {
      seen.push({ url, auth: new Headers(init?.headers).get("Authorization") });
      return Response.json(body, { status });
    }) as unknown as typeof fetch;
    return { seen, fetchImpl };
  };

  test("tasks() sends the API token, since the task list holds private prompts", async () => {
    const { seen, fetchImpl } = recording(200, [{ id: 1, prompt: "secret plan" }]);
    const tasks = await createApiClient("http://127.0.0.1:8787", "tok", fetchImpl).tasks();
    expect(tasks).toEqual([{ id: 1, prompt: "secret plan" }] as never);
    expect(seen).toEqual([{ url: "http://127.0.0.1:8787/tasks", auth: "Bearer tok" }]);
  });

  test("tasks() says why when the daemon refuses, instead of rendering the refusal as a task list", async () => {
    const { fetchImpl } = recording(503, { ok: false, message: "no API token configured: set the variable named by http.token_env" });
    const error = await createApiClient("http://127.0.0.1:8787", "", fetchImpl).tasks().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("The daemon refused /tasks: no API token configured: set the variable named by http.token_env");
    const unauthorized = recording(401, { ok: false, message: "unauthorized" });
    await expect(createApiClient("http://x", "bad", unauthorized.fetchImpl).tasks()).rejects.toThrow("set the API token in the variable named by http.token_env");
  });
});
