import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { copyTranscript, isUsable, pickNextAccount } from "../../internal/switcher/accounts.ts";
import type { AccountRow } from "../../internal/state/state.ts";
import { encodeProjectDir } from "../../internal/claude/home.ts";
import { tempDir } from "../support/tmux.ts";

const NOW = Date.UTC(2026, 10, 23, 12);
const row = (name: string, priority: number, state: AccountRow["state"] = "available", resetAt: number | null = null): AccountRow =>
  ({ name, home: `/h/${name}`, priority, state, resetAt, updatedAt: 0 });

describe("pickNextAccount()", () => {
  test("chooses the highest-priority available account other than the current one", () => {
    const choice = pickNextAccount([row("a", 0), row("b", 1), row("c", 2)], NOW, { exclude: "a" });
    expect(choice).toMatchObject({ kind: "account", account: { name: "b" } });
  });

  test("skips cooling and disabled accounts", () => {
    const choice = pickNextAccount([row("a", 0), row("b", 1, "cooling", NOW + 1000), row("c", 2, "disabled"), row("d", 3)], NOW, { exclude: "a" });
    expect(choice).toMatchObject({ kind: "account", account: { name: "d" } });
  });

  test("treats a cooling account whose reset time passed as available", () => {
    expect(isUsable(row("b", 1, "cooling", NOW - 1), NOW)).toBe(true);
    expect(pickNextAccount([row("a", 0), row("b", 1, "cooling", NOW - 1)], NOW, { exclude: "a" })).toMatchObject({ account: { name: "b" } });
  });

  test("reports exhaustion with the earliest reset when nothing is usable", () => {
    const choice = pickNextAccount([row("a", 0, "cooling", NOW + 3000), row("b", 1, "cooling", NOW + 2000), row("c", 2, "disabled")], NOW);
    expect(choice).toEqual({ kind: "exhausted", wakeAt: NOW + 2000 });
  });

  test("never picks an account that needs a login, even when preferred; alone it is exhaustion with no reset", () => {
    expect(isUsable(row("a", 0, "needs_login"), NOW)).toBe(false);
    expect(pickNextAccount([row("a", 0, "needs_login"), row("b", 1)], NOW, { prefer: "a" })).toMatchObject({ account: { name: "b" } });
    expect(pickNextAccount([row("a", 0, "needs_login"), row("b", 1, "needs_login")], NOW)).toEqual({ kind: "exhausted", wakeAt: null });
  });

  test("honours a preferred account when it is usable", () => {
    expect(pickNextAccount([row("a", 0), row("b", 1), row("c", 2)], NOW, { exclude: "a", prefer: "c" })).toMatchObject({ account: { name: "c" } });
  });
});

describe("copyTranscript()", () => {
  const cwd = "/srv/my_proj.v2/agent one";
  const uuid = "3f0c1a2b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

  function seed(home: string, content: string) {
    const project = join(home, "projects", encodeProjectDir(cwd));
    mkdirSync(join(project, uuid, "tool-results"), { recursive: true });
    writeFileSync(join(project, `${uuid}.jsonl`), content);
    writeFileSync(join(project, uuid, "tool-results", "r1.txt"), "result");
    return project;
  }

  test("copies the transcript and its folder under Claude Code's encoded project dir", () => {
    const dir = tempDir();
    seed(join(dir.path, "a"), '{"type":"user"}\n');
    expect(copyTranscript(join(dir.path, "a"), join(dir.path, "b"), cwd, uuid)).toBe("copied");
    const target = join(dir.path, "b", "projects", "-srv-my-proj-v2-agent-one");
    expect(readFileSync(join(target, `${uuid}.jsonl`), "utf8")).toBe('{"type":"user"}\n');
    expect(existsSync(join(target, uuid, "tool-results", "r1.txt"))).toBe(true);
    dir.cleanup();
  });

  test("never overwrites a newer transcript in the target", () => {
    const dir = tempDir();
    const source = seed(join(dir.path, "a"), "old\n");
    const target = seed(join(dir.path, "b"), "old\nnewer line written on b\n");
    utimesSync(join(source, `${uuid}.jsonl`), new Date(NOW - 10_000), new Date(NOW - 10_000));
    expect(copyTranscript(join(dir.path, "a"), join(dir.path, "b"), cwd, uuid)).toBe("kept-newer");
    expect(readFileSync(join(target, `${uuid}.jsonl`), "utf8")).toBe("old\nnewer line written on b\n");
    dir.cleanup();
  });

  test("reports a missing transcript instead of inventing one", () => {
    const dir = tempDir();
    expect(copyTranscript(join(dir.path, "a"), join(dir.path, "b"), cwd, uuid)).toBe("missing");
    dir.cleanup();
  });

  test("keeps a symlinked home untouched when source and target are the same", () => {
    const dir = tempDir();
    seed(join(dir.path, "a"), "x\n");
    symlinkSync(join(dir.path, "a"), join(dir.path, "link"));
    expect(copyTranscript(join(dir.path, "a"), join(dir.path, "a"), cwd, uuid)).toBe("already-there");
    dir.cleanup();
  });
});
