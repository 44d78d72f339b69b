/**
 * @module test/dispatcher/workdir
 * Specs for the working-directory checks: one path's problem, the configured workdirs, and the start-up refusal.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../internal/config/config.ts";
import { assertSessionWorkdirs, configuredWorkdirProblems, workdirProblem } from "../../internal/dispatcher/workdir.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "cf-workdir-"));
  mkdirSync(join(root, "repo"));
  writeFileSync(join(root, "file"), "x");
  symlinkSync(join(root, "repo"), join(root, "link"));
  symlinkSync(join(root, "gone"), join(root, "dangling"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("workdirProblem()", () => {
  test.each([
    ["a directory", "repo", null],
    ["a symlink to a directory", "link", null],
    ["a missing path", "missing/deeper", "does not exist"],
    ["a dangling symlink", "dangling", "does not exist"],
    ["a regular file", "file", "is not a directory"],
    ["a path through a file", "file/sub", "is not a directory"],
  ])("%s → %p", (_what, rel, problem) => {
    const path = join(root, rel);
    expect(workdirProblem(path)).toBe(problem === null ? null : `workdir ${path} ${problem}`);
  });

  test("creates nothing", () => {
    workdirProblem(join(root, "missing"));
    expect(existsSync(join(root, "missing"))).toBe(false);
  });
});

describe("configuredWorkdirProblems() and assertSessionWorkdirs()", () => {
  const config = (over: { pool?: string; ded?: string; project?: string } = {}) => ({
    autonomous: { workdir: join(root, over.pool ?? "repo") },
    dedicated: [{ session: "ccl-1-vault", workdir: join(root, over.ded ?? "repo") }],
    dispatcher: { projects: { web: { workdir: join(root, over.project ?? "repo") } } },
  });

  test("finds nothing when every configured workdir is a directory", () => {
    expect(configuredWorkdirProblems(config())).toEqual([]);
    expect(() => assertSessionWorkdirs("/etc/cf.yaml", config())).not.toThrow();
  });

  test("names the key of each unusable workdir", () => {
    expect(configuredWorkdirProblems(config({ pool: "missing", ded: "file", project: "nope" }))).toEqual([
      { key: "autonomous.workdir", path: join(root, "missing"), problem: `workdir ${join(root, "missing")} does not exist`, sessions: true },
      { key: "dedicated[0].workdir (ccl-1-vault)", path: join(root, "file"), problem: `workdir ${join(root, "file")} is not a directory`, sessions: true },
      { key: "dispatcher.projects.web.workdir", path: join(root, "nope"), problem: `workdir ${join(root, "nope")} does not exist`, sessions: false },
    ]);
  });

  test("refuses to start with a missing pool or dedicated workdir, naming the key and path", () => {
    let error: unknown;
    try { assertSessionWorkdirs("/etc/cf.yaml", config({ pool: "missing" })); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`/etc/cf.yaml autonomous.workdir: workdir ${join(root, "missing")} does not exist; create it or correct the path`);
    expect(existsSync(join(root, "missing"))).toBe(false);
  });

  test("starts with a missing project workdir: that project's tasks fail with the reason instead", () => {
    expect(() => assertSessionWorkdirs("/etc/cf.yaml", config({ project: "missing" }))).not.toThrow();
  });
});
