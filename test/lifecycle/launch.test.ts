import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildEnvFile, buildLaunchArgv, ENV_SCRIPT, type LaunchSpec } from "../../internal/lifecycle/launch.ts";
import { tempDir } from "../support/tmux.ts";

const UUID = "0b6f2f0e-8d7c-4b1a-9f5e-2a3c4d5e6f70";
const SPEC: LaunchSpec = {
  command: "claude", args: ["--dangerously-skip-permissions"], home: "/srv/homes/fleet", mode: "new", sessionId: UUID,
  settingsPath: "/var/lib/cf/hooks/ccl-auto-11.json", stripEnv: ["CLAUDE_FAILOVER_TOKEN", "TELEGRAM_BOT_TOKEN"],
};

let dirs: Array<{ path: string; cleanup(): void }> = [];
afterEach(() => {
  for (const d of dirs) d.cleanup();
  dirs = [];
});

describe("buildLaunchArgv()", () => {
  test("without a sessions' environment: env strips transcript killers and secrets, sets the home, runs Claude Code", () => {
    expect(buildLaunchArgv(SPEC)).toEqual([
      "env", "-u", "CLAUDECODE", "-u", "CLAUDE_CODE_SESSION_ID", "-u", "CLAUDE_CODE_CHILD_SESSION", "-u", "CLAUDE_CODE_ENTRYPOINT",
      "-u", "CLAUDE_FAILOVER_TOKEN", "-u", "TELEGRAM_BOT_TOKEN", "CLAUDE_CONFIG_DIR=/srv/homes/fleet",
      "claude", "--dangerously-skip-permissions", "--session-id", UUID, "--settings", "/var/lib/cf/hooks/ccl-auto-11.json",
    ]);
    expect(buildLaunchArgv({ ...SPEC, env: { names: [], envFile: "/unused" } })).toEqual(buildLaunchArgv(SPEC));
  });

  test("with a sessions' environment: sh sources the env file right before Claude Code, and no value is on the command line", () => {
    const argv = buildLaunchArgv({ ...SPEC, mode: "resume", env: { names: ["HTTPS_PROXY"], envFile: "/var/lib/cf/hooks/ccl-auto-11.env" } });
    const at = argv.indexOf("CLAUDE_CONFIG_DIR=/srv/homes/fleet");
    expect(argv.slice(at + 1)).toEqual([
      "sh", "-c", ENV_SCRIPT, "/var/lib/cf/hooks/ccl-auto-11.env",
      "claude", "--dangerously-skip-permissions", "--resume", UUID, "--settings", "/var/lib/cf/hooks/ccl-auto-11.json",
    ]);
    expect(argv.slice(0, at)).toContain("CLAUDE_FAILOVER_TOKEN");
  });

  test("the launched program sees every variable verbatim, and never the daemon's secrets", () => {
    const d = tempDir("cf-launch-");
    dirs.push(d);
    const values = { HTTPS_PROXY: "http://user:p@ss w'rd@proxy:3128", NODE_EXTRA_CA_CERTS: "/etc/ssl/ca.pem", ODD: "$HOME `id` \"x\"\nline 2", EMPTY: "" };
    const envFile = join(d.path, "s.env");
    writeFileSync(envFile, buildEnvFile(values));
    // The "Claude Code" here prints its environment; --session-id and --settings become its positional arguments.
    const argv = buildLaunchArgv({ ...SPEC, command: "sh", args: ["-c", 'env -0; echo "$@" >&2', "claude"], env: { names: Object.keys(values), envFile } });
    const run = Bun.spawnSync(argv, { env: { ...process.env, CLAUDE_FAILOVER_TOKEN: "secret-1", TELEGRAM_BOT_TOKEN: "secret-2", CLAUDECODE: "1" } });
    expect(run.exitCode).toBe(0);
    const seen = new Map(run.stdout.toString().split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    for (const [name, value] of Object.entries(values)) expect(seen.get(name)).toBe(value);
    expect(seen.get("CLAUDE_CONFIG_DIR")).toBe("/srv/homes/fleet");
    for (const name of ["CLAUDE_FAILOVER_TOKEN", "TELEGRAM_BOT_TOKEN", "CLAUDECODE"]) expect(seen.has(name)).toBe(false);
    expect(run.stderr.toString().trim()).toBe(`--session-id ${UUID} --settings /var/lib/cf/hooks/ccl-auto-11.json`);
  });

  test("refuses a session id that is not a UUID", () => {
    expect(() => buildLaunchArgv({ ...SPEC, sessionId: "../x" })).toThrow('Cannot launch Claude Code: invalid session id "../x"');
  });
});

describe("buildEnvFile()", () => {
  test("writes one export per variable, quoting what sh would expand", () => {
    expect(buildEnvFile({ NODE_EXTRA_CA_CERTS: "/etc/ssl/ca.pem", HTTPS_PROXY: "http://u:p@h:1", NOTE: "it's $HOME", EMPTY: "" })).toBe(
      "export NODE_EXTRA_CA_CERTS=/etc/ssl/ca.pem\nexport HTTPS_PROXY=http://u:p@h:1\nexport NOTE='it'\\''s $HOME'\nexport EMPTY=''\n",
    );
    expect(buildEnvFile({})).toBe("");
  });
});

const MODEL_SPEC: LaunchSpec = {
  command: "claude", args: ["--dangerously-skip-permissions"], home: "/h/a", mode: "resume",
  sessionId: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b", settingsPath: "/s/ccl-auto-11.json", stripEnv: [],
};
const tail = (argv: string[]) => argv.slice(argv.indexOf("claude"));

describe("buildLaunchArgv() with a model", () => {
  test("passes no --model for Claude Code's default model", () => {
    expect(tail(buildLaunchArgv(MODEL_SPEC))).toEqual(["claude", "--dangerously-skip-permissions", "--resume", MODEL_SPEC.sessionId, "--settings", "/s/ccl-auto-11.json"]);
    expect(buildLaunchArgv({ ...MODEL_SPEC, model: null })).toEqual(buildLaunchArgv(MODEL_SPEC));
  });

  test("puts --model <model> after the configured args, so it wins over a --model there", () => {
    expect(tail(buildLaunchArgv({ ...MODEL_SPEC, args: ["--model", "opus"], model: "sonnet" }))).toEqual([
      "claude", "--model", "opus", "--model", "sonnet", "--resume", MODEL_SPEC.sessionId, "--settings", "/s/ccl-auto-11.json",
    ]);
    expect(tail(buildLaunchArgv({ ...MODEL_SPEC, mode: "new", model: "claude-sonnet-4-5" })).slice(2, 5)).toEqual(["--model", "claude-sonnet-4-5", "--session-id"]);
  });

  test("refuses a model that is not a model name (a flag, spaces, an empty string)", () => {
    for (const model of ["--resume", "son net", ""]) expect(() => buildLaunchArgv({ ...MODEL_SPEC, model })).toThrow(RangeError);
  });
});
