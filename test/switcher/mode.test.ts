import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decideSwapMode, runningVersions, swapModeCheck } from "../../internal/switcher/mode.ts";
import { tempDir } from "../support/tmux.ts";

let dirs: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const d of dirs) d.cleanup();
  dirs = [];
});

describe("decideSwapMode()", () => {
  const cases: Array<[string, Parameters<typeof decideSwapMode>, "in-place" | "restart", RegExp]> = [
    ["auto with 2.1.330 running", ["auto", { versions: ["2.1.330", "2.1.330"], legacySessions: 0 }], "in-place", /2\.1\.330 re-reads its login/],
    ["auto with the simulator", ["auto", { versions: ["2.1.330-sim"], legacySessions: 0 }], "in-place", /re-reads/],
    ["auto with an older CLI among them", ["auto", { versions: ["2.1.330", "2.1.214"], legacySessions: 0 }], "restart", /2\.1\.214 is not confirmed/],
    ["auto with nothing running", ["auto", { versions: [], legacySessions: 0 }], "restart", /no running Claude Code/],
    ["restart configured", ["restart", { versions: ["2.1.330"], legacySessions: 0 }], "restart", /switcher\.mode is restart/],
    ["in-place configured, any version", ["in-place", { versions: ["2.1.214"], legacySessions: 0 }], "in-place", /switcher\.mode is in-place/],
    ["sessions still in an account home", ["in-place", { versions: ["2.1.330"], legacySessions: 2 }], "restart", /2 session\(s\) still run in an account home/],
  ];
  for (const [name, args, mode, why] of cases) {
    test(`${name}: ${mode}`, () => {
      const choice = decideSwapMode(...args);
      expect(choice.mode).toBe(mode);
      expect(choice.why).toMatch(why);
    });
  }
});

describe("runningVersions()", () => {
  test("reads the version of each live process in <home>/sessions and skips files of dead ones", () => {
    const d = tempDir("cf-mode-");
    dirs.push(d);
    mkdirSync(join(d.path, "sessions"));
    writeFileSync(join(d.path, "sessions", `${process.pid}.json`), JSON.stringify({ pid: process.pid, version: "2.1.330" }));
    writeFileSync(join(d.path, "sessions", "999999.json"), JSON.stringify({ pid: 999999, version: "2.1.100" }));
    writeFileSync(join(d.path, "sessions", "notes.txt"), "x");
    expect(runningVersions(d.path, (pid) => pid === process.pid)).toEqual(["2.1.330"]);
    expect(runningVersions(join(d.path, "missing"))).toEqual([]);
  });
});

describe("swapModeCheck()", () => {
  test("asks `claude --version` when no session runs, and says the mode and why", async () => {
    const argvs: string[][] = [];
    const run = async (argv: string[]) => (argvs.push(argv), { code: 0, stdout: "2.1.330 (Claude Code)\n" });
    const check = await swapModeCheck({ state_dir: "/nonexistent", claude: { command: "claude", args: ["--x"] }, switcher: { mode: "auto" } }, run);
    expect(argvs).toEqual([["claude", "--x", "--version"]]);
    expect(check).toMatchObject({ name: "swap mode", ok: true, warning: false });
    expect(check.detail).toBe("in-place (auto: Claude Code 2.1.330 re-reads its login for every request)");
  });
});
