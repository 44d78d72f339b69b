import { describe, expect, test } from "bun:test";
import { buildLaunchArgv, type LaunchSpec } from "../../internal/lifecycle/launch.ts";

const SPEC: LaunchSpec = {
  command: "claude", args: ["--dangerously-skip-permissions"], home: "/h/a", mode: "resume",
  sessionId: "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b", settingsPath: "/s/ccl-auto-11.json", stripEnv: [],
};
const tail = (argv: string[]) => argv.slice(argv.indexOf("claude"));

describe("buildLaunchArgv()", () => {
  test("passes no --model for Claude Code's default model", () => {
    expect(tail(buildLaunchArgv(SPEC))).toEqual(["claude", "--dangerously-skip-permissions", "--resume", SPEC.sessionId, "--settings", "/s/ccl-auto-11.json"]);
    expect(buildLaunchArgv({ ...SPEC, model: null })).toEqual(buildLaunchArgv(SPEC));
  });

  test("puts --model <model> after the configured args, so it wins over a --model there", () => {
    expect(tail(buildLaunchArgv({ ...SPEC, args: ["--model", "opus"], model: "sonnet" }))).toEqual([
      "claude", "--model", "opus", "--model", "sonnet", "--resume", SPEC.sessionId, "--settings", "/s/ccl-auto-11.json",
    ]);
    expect(tail(buildLaunchArgv({ ...SPEC, mode: "new", model: "claude-sonnet-4-5" })).slice(2, 5)).toEqual(["--model", "claude-sonnet-4-5", "--session-id"]);
  });

  test("refuses a model that is not a model name (a flag, spaces, an empty string)", () => {
    for (const model of ["--resume", "son net", ""]) expect(() => buildLaunchArgv({ ...SPEC, model })).toThrow(RangeError);
  });
});
