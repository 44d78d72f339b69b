import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterPolls, freePort, listPanes, testConfigText, TOKEN } from "../support/daemon.ts";
import { eventually, privateTmux, tempDir } from "../support/tmux.ts";
import { spawnTied } from "../support/linger.ts";

// The daemon as a real process, as systemd runs it: signals, reload, restart and adoption, exit codes, the CLI.
const ENTRY = join(import.meta.dir, "../../cmd/claude-failover.ts");
const dir = tempDir("cf-proc-");
const server = privateTmux("proc");
const configPath = join(dir.path, "config.yaml");
let port = 0;
let text = "";
const env = { ...process.env, CF_TEST_TOKEN: TOKEN, TMUX: "", TMUX_PANE: "", HOME: dir.path };

const start = () => spawnTied([process.execPath, ENTRY, "run", "--config", configPath], { env, stdout: "ignore", stderr: "pipe" });
const cli = (...args: string[]) => Bun.spawnSync([process.execPath, ENTRY, ...args, "--config", configPath], { env });
const url = () => `http://127.0.0.1:${port}/`;
const status = () => fetch(`http://127.0.0.1:${port}/status`).then((r) => r.json() as Promise<any>);

beforeAll(async () => {
  port = await freePort();
  mkdirSync(join(dir.path, "work", "ded"), { recursive: true });
  text = testConfigText(dir.path, server.socket, port);
  writeFileSync(configPath, text);
  await server.raw("new-session", "-d", "-s", "ccl-0", "sleep", "3600");
});

afterAll(async () => {
  await server.kill();
  await dir.cleanup();
});

describe("the daemon process", () => {
  let proc = start();

  test("serves /health once the sessions run", async () => {
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, 30_000);
    await eventually(async () => (await status()).sessions.filter((s: any) => s.state === "idle").length === 3, 20_000);
  }, 40_000);

  test("the CLI reads the running daemon: status, accounts, tasks, pause and resume", () => {
    const out = cli("status");
    expect(out.exitCode).toBe(0);
    expect(out.stdout.toString()).toContain("active account: a");
    expect(out.stdout.toString()).toMatch(/ccl-auto-11\s+pool\s+idle\s+a/);
    expect(JSON.parse(cli("status", "--json").stdout.toString()).active_account).toBe("a");
    expect(cli("accounts").stdout.toString()).toMatch(/\* a\s+available/);
    expect(cli("tasks").stdout.toString()).toContain("no tasks");
    const paused = cli("pause");
    expect(paused.exitCode).toBe(0);
    expect(paused.stdout.toString()).toContain("dispatch paused");
    expect(cli("resume").exitCode).toBe(0);
    const unknown = cli("swap", "nobody");
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr.toString()).toContain('unknown account "nobody"');
  });

  test("SIGHUP with an invalid config keeps the running config", async () => {
    writeFileSync(configPath, `${text}\nbogus_key: 1\n`);
    proc.kill("SIGHUP");
    // A reload would restart the daemon (and its poll count); several more polls of the same daemon come first.
    await afterPolls(url(), 3);
    expect((await status()).accounts.map((a: any) => a.name)).toEqual(["a", "b"]);
    expect(proc.exitCode).toBeNull();
  });

  test("SIGHUP with a valid config applies it without touching the sessions", async () => {
    const before = new Map((await listPanes(server)).map((p) => [p.name, p.pid]));
    writeFileSync(configPath, text.replace("  - { name: b, home:", "  - { name: c, home: " + dir.path + "/homes/c }\n  - { name: b, home:"));
    proc.kill("SIGHUP");
    await eventually(async () => (await status().catch(() => null))?.accounts?.length === 3, 10_000);
    expect((await status()).accounts.map((a: any) => a.name)).toEqual(["a", "c", "b"]);
    expect(new Map((await listPanes(server)).map((p) => [p.name, p.pid]))).toEqual(before);
    writeFileSync(configPath, text);
  }, 20_000);

  test("SIGTERM stops the daemon with exit 0 and every agent keeps running", async () => {
    const before = new Map((await listPanes(server)).map((p) => [p.name, p.pid]));
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const after = new Map((await listPanes(server)).map((p) => [p.name, p.pid]));
    expect(after).toEqual(before);
    expect([...after.keys()].sort()).toEqual(["ccl-0", "ccl-1-ded", "ccl-auto-11", "ccl-auto-12"]);
  }, 20_000);

  test("a new daemon adopts the running sessions instead of creating duplicates", async () => {
    const before = new Map((await listPanes(server)).map((p) => [p.name, p.pid]));
    proc = start();
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, 30_000);
    // Its start-up reconcile runs before its first poll; a few polls later nothing has been created or relaunched.
    await afterPolls(url(), 3);
    expect(new Map((await listPanes(server)).map((p) => [p.name, p.pid]))).toEqual(before);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
  }, 40_000);

  test("SIGTERM during a SIGHUP reload stops the daemon with exit 0 (systemctl stop right after reload)", async () => {
    proc = start();
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, 30_000);
    const before = new Map((await listPanes(server)).map((p) => [p.name, p.pid]));
    proc.kill("SIGHUP");
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(new Map((await listPanes(server)).map((p) => [p.name, p.pid]))).toEqual(before);
  }, 40_000);

  test("the CLI says clearly when the daemon is not running", () => {
    const out = cli("status");
    expect(out.exitCode).toBe(1);
    expect(out.stderr.toString()).toContain("Cannot reach the daemon");
  });

  test("logs are JSON lines and never contain the API token", async () => {
    const logs = await new Response(proc.stderr).text();
    const lines = logs.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(logs).not.toContain(TOKEN);
    expect(readFileSync(join(dir.path, "state", "hook-token"), "utf8").trim().length).toBeGreaterThanOrEqual(32);
  });
});

describe("exit codes", () => {
  test("a bad config exits 2 and names every mistake", () => {
    const out = Bun.spawnSync([process.execPath, ENTRY, "validate-config", join(import.meta.dir, "../fixtures/config/bad.yaml")]);
    expect(out.exitCode).toBe(2);
    expect(out.stderr.toString().trim().split("\n")).toHaveLength(5);
  });

  test("an unknown command exits 2 with the usage", () => {
    const out = Bun.spawnSync([process.execPath, ENTRY, "frobnicate"]);
    expect(out.exitCode).toBe(2);
    expect(out.stderr.toString()).toContain("Usage: claude-failover");
  });

  test("version exits 0", () => {
    const out = Bun.spawnSync([process.execPath, ENTRY, "version"]);
    expect(out.exitCode).toBe(0);
    expect(out.stdout.toString()).toMatch(/^claude-failover \d+\.\d+\.\d+/);
  });

  test("the hook subcommand exits 0 even when the daemon is down, and spools the event", async () => {
    const spool = join(dir.path, "spool-test");
    const closedPort = await freePort();
    // A hook that hung would be killed here (exit code null): a generous limit, not a latency figure.
    const out = Bun.spawnSync([process.execPath, ENTRY, "hook", "Stop", "--session", "ccl-auto-11", "--url", `http://127.0.0.1:${closedPort}`, "--spool", spool], {
      stdin: new Blob([JSON.stringify({ session_id: "x", last_assistant_message: "done" })]), timeout: 15_000,
    });
    expect(out.exitCode).toBe(0);
    const files = require("node:fs").readdirSync(spool) as string[];
    expect(files).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(spool, files[0]!), "utf8"))).toMatchObject({ event: "Stop", session: "ccl-auto-11", payload: { last_assistant_message: "done" } });
  });
});
