/**
 * @module test/config/usage-keys
 * Specs for the config keys of issue 13's usage warnings: `accounts[].switch_at` (1..100, off by default) and
 * `quota.on_extra_usage` (`move` by default, or `allow`).
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../internal/config/config.ts";

const env = { env: { CLAUDE_FAILOVER_TOKEN: "tok" }, home: "/home/dev" };
const accounts = (main: string) => `accounts:\n  - { name: main, home: ~/m${main} }\n  - { name: backup, home: ~/b }\n`;

function problemKeys(text: string): string[] {
  try {
    parseConfig(text, "/etc/cf.yaml", env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
  }
  throw new Error("expected a ConfigError");
}

describe("accounts[].switch_at", () => {
  test("is off by default and kept per account when set", () => {
    expect(parseConfig(accounts(""), "", env).accounts.map((a) => a.switchAt)).toEqual([undefined, undefined]);
    expect(parseConfig(accounts(", switch_at: 90"), "", env).accounts.map((a) => a.switchAt)).toEqual([90, undefined]);
  });

  for (const bad of ["0", "101", "90.5", '"90%"']) {
    test(`refuses ${bad}`, () => {
      expect(problemKeys(accounts(`, switch_at: ${bad}`)).some((p) => p.startsWith("accounts.0.switch_at"))).toBe(true);
    });
  }
});

describe("quota.on_extra_usage", () => {
  test("defaults to move and accepts allow", () => {
    expect(parseConfig(accounts(""), "", env).quota.on_extra_usage).toBe("move");
    expect(parseConfig(`${accounts("")}quota: { on_extra_usage: allow }\n`, "", env).quota.on_extra_usage).toBe("allow");
  });

  test("refuses anything else", () => {
    expect(problemKeys(`${accounts("")}quota: { on_extra_usage: bill }\n`).some((p) => p.startsWith("quota.on_extra_usage"))).toBe(true);
  });
});
