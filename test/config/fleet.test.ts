/**
 * @module test/config/fleet
 * Specs for the `fleet` section (issue 14): `fleet.host` (default the hostname, a safe name), `fleet.postgres_url_env`
 * (the variable holding the URL, a secret kept in `config.secrets` and never printed, even in an error),
 * `fleet.heartbeat` (5s, at least 1s) and `fleet.lease` (60s, at least 3 heartbeats).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, parseConfig, type ConfigEnv } from "../../internal/config/config.ts";
import { defaultFleetHost } from "../../internal/config/fleet.ts";
import { daemonSecretEnvs } from "../../internal/config/session-env.ts";

const MINIMAL = "accounts:\n  - { name: main, home: ~/m }\n";
const URL_VAR = "CF_FLEET_URL";
const SECRET_URL = "postgres://fleet:hunter2-secret@db.internal:5432/fleet";
const base: ConfigEnv = { env: { CLAUDE_FAILOVER_TOKEN: "tok" }, home: "/home/dev", hostname: "build-1" };

const parse = (fleet: string, env: Record<string, string> = {}, hostname = "build-1") =>
  parseConfig(`${MINIMAL}${fleet}`, "/etc/cf.yaml", { ...base, env: { ...base.env, ...env }, hostname });

/** The ConfigError's whole message and its problems as `key: message`. */
function refusal(fleet: string, env: Record<string, string> = {}): { text: string; problems: string[] } {
  try {
    parse(fleet, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return { text: (error as ConfigError).message, problems: (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`) };
  }
  throw new Error("expected a ConfigError");
}

describe("fleet defaults", () => {
  test("without a fleet section: the hostname, single host (no URL), 5s heartbeat, 60s lease", () => {
    const config = parse("");
    expect(config.fleet).toEqual({ host: "build-1", heartbeat: 5000, lease: 60_000 });
    expect(config.secrets.fleetPostgresUrl).toBe("");
  });

  test("keeps fleet.host, heartbeat and lease as given", () => {
    const config = parse("fleet: { host: runner_2.eu, heartbeat: 2s, lease: 6s }\n");
    expect(config.fleet).toEqual({ host: "runner_2.eu", heartbeat: 2000, lease: 6000 });
  });
});

describe("fleet.host", () => {
  for (const bad of ['"a b"', '"a/b"', '""', "x".repeat(64), '"hôte"']) {
    test(`refuses ${bad.length > 20 ? "64 characters" : bad}`, () => {
      expect(refusal(`fleet: { host: ${bad} }\n`).problems.some((p) => p.startsWith("fleet.host: must be 1 to 63"))).toBe(true);
    });
  }

  test("accepts 63 characters", () => {
    expect(parse(`fleet: { host: ${"x".repeat(63)} }\n`).fleet.host).toHaveLength(63);
  });

  test("defaults to a safe form of the hostname: as is, its first label, or its unsafe characters replaced", () => {
    expect(defaultFleetHost("build-1.example.com")).toBe("build-1.example.com");
    expect(defaultFleetHost(`${"a".repeat(40)}.${"b".repeat(40)}`)).toBe("a".repeat(40));
    expect(defaultFleetHost("my host")).toBe("my-host");
    expect(defaultFleetHost("")).toBe("localhost");
    expect(parse("", {}, "my host").fleet.host).toBe("my-host");
  });
});

describe("fleet.postgres_url_env", () => {
  test("resolves the URL into config.secrets, for either scheme", () => {
    for (const url of [SECRET_URL, "postgresql://fleet@127.0.0.1/fleet"]) {
      const config = parse(`fleet: { postgres_url_env: ${URL_VAR} }\n`, { [URL_VAR]: url });
      expect(config.secrets.fleetPostgresUrl).toBe(url);
      expect(config.fleet.postgres_url_env).toBe(URL_VAR);
      expect(JSON.stringify({ ...config, secrets: undefined })).not.toContain("hunter2");
    }
  });

  test("refuses an unset or empty variable, naming the key and the variable", () => {
    for (const env of [{}, { [URL_VAR]: "" }] as Record<string, string>[]) {
      const { problems } = refusal(`fleet: { postgres_url_env: ${URL_VAR} }\n`, env);
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^fleet\\.postgres_url_env: the variable ${URL_VAR} is unset or empty`))]);
    }
  });

  test("refuses a value that is not a postgres URL without printing it", () => {
    for (const value of ["mysql://root:hunter2-secret@db/x", "hunter2-secret", "postgres://hunter2-secret:[bad"]) {
      const { text, problems } = refusal(`fleet: { postgres_url_env: ${URL_VAR} }\n`, { [URL_VAR]: value });
      expect(problems).toEqual([`fleet.postgres_url_env: the variable ${URL_VAR} does not hold a postgres:// or postgresql:// URL (its value is a secret and is not shown)`]);
      expect(text).not.toContain("hunter2");
    }
  });

  test("refuses a name that is not a variable name", () => {
    expect(refusal("fleet: { postgres_url_env: postgres://x }\n").problems.some((p) => p.startsWith("fleet.postgres_url_env: must be an environment variable name"))).toBe(true);
  });

  test("is one of the daemon's secrets: never passed to sessions", () => {
    const config = parse(`fleet: { postgres_url_env: ${URL_VAR} }\n`, { [URL_VAR]: SECRET_URL });
    expect(daemonSecretEnvs(config)).toContainEqual({ name: URL_VAR, key: "fleet.postgres_url_env" });
    const { problems } = refusal(`fleet: { postgres_url_env: ${URL_VAR} }\nclaude: { env_from: [${URL_VAR}] }\n`, { [URL_VAR]: SECRET_URL });
    expect(problems).toEqual([`claude.env_from.0: ${URL_VAR} holds the daemon's own secret (fleet.postgres_url_env) and is never passed to sessions`]);
  });
});

describe("fleet.heartbeat and fleet.lease", () => {
  test("refuses a heartbeat under 1s", () => {
    expect(refusal("fleet: { heartbeat: 500ms }\n").problems).toContain("fleet.heartbeat: must be at least 1s");
  });

  test("refuses a lease shorter than 3 heartbeats, with both figures", () => {
    expect(refusal("fleet: { heartbeat: 10s, lease: 29s }\n").problems).toEqual([
      "fleet.lease: 29s is shorter than 3 × fleet.heartbeat (30s): a host that missed two heartbeats would lose its running tasks",
    ]);
    expect(parse("fleet: { heartbeat: 10s, lease: 30s }\n").fleet.lease).toBe(30_000);
  });

  test("refuses a default lease against a long heartbeat", () => {
    expect(refusal("fleet: { heartbeat: 30s }\n").problems).toEqual([expect.stringMatching(/^fleet\.lease: 1m is shorter than 3 × fleet\.heartbeat \(1m30s\)/)]);
  });

  test("refuses an unknown key in the section", () => {
    expect(refusal("fleet: { hearbeat: 5s }\n").problems).toContain('fleet.hearbeat: unknown key "hearbeat"');
  });
});

test("config.example.yaml documents every fleet key with a comment line above it", () => {
  const lines = readFileSync(join(import.meta.dir, "../../config.example.yaml"), "utf8").split("\n");
  const start = lines.indexOf("fleet:");
  expect(start).toBeGreaterThan(0);
  for (const key of ["host", "postgres_url_env", "heartbeat", "lease"]) {
    const at = lines.findIndex((l, i) => i > start && new RegExp(`^\\s*#?\\s*${key}:`).test(l));
    expect(at).toBeGreaterThan(start);
    expect(lines[at - 1]).toMatch(/^\s*# [A-Z]/);
  }
});
