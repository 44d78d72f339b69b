import { describe, expect, test } from "bun:test";
import { encodeProjectDir, javaStringHash, projectDirPath, transcriptPath } from "../../internal/claude/home.ts";

/** Written independently of the module: Java's String.hashCode, wrapped to a signed 32-bit int. */
function referenceHash(text: string): number {
  let h = 0;
  for (const unit of Array.from({ length: text.length }, (_, i) => text.charCodeAt(i))) h = Math.imul(h, 31) + unit | 0;
  return h;
}

describe("encodeProjectDir()", () => {
  test.each([
    ["plain path", "/srv/my-agents", "-srv-my-agents"],
    ["dots and underscores", "/home/me/my_proj.v2", "-home-me-my-proj-v2"],
    ["spaces", "/home/me/My Project", "-home-me-My-Project"],
    ["digits and case kept", "/A1/b2/C3", "-A1-b2-C3"],
    ["non-ASCII letters, one dash per UTF-16 unit", "/home/élodie/Abhörschutz", "-home--lodie-Abh-rschutz"],
    ["CJK", "/x/日本", "-x---"],
    ["astral emoji is a surrogate pair: two dashes", "/tmp/a😀b", "-tmp-a--b"],
    ["a trailing slash", "/srv/app/", "-srv-app-"],
  ])("%s", (_, cwd, expected) => {
    expect(encodeProjectDir(cwd)).toBe(expected);
  });

  test("keeps a 200-character result as is", () => {
    const cwd = `/p/${"z".repeat(197)}`;
    expect(encodeProjectDir(cwd)).toBe(`-p-${"z".repeat(197)}`);
  });

  test("cuts a longer result to 200 and appends base36 of abs(hash of the original path)", () => {
    const cwd = `/home/me/${"very_long.dir-name ".repeat(12)}final_end.xyz`;
    expect(cwd.length).toBe(250);
    const suffix = Math.abs(referenceHash(cwd)).toString(36);
    const encoded = encodeProjectDir(cwd);
    expect(encoded).toBe(`${cwd.replace(/[^a-zA-Z0-9]/g, "-").slice(0, 200)}-${suffix}`);
    expect(encoded.length).toBe(201 + suffix.length);
  });

  test("hashes the original path, not the encoded one (paths differing only in punctuation differ)", () => {
    const a = `/${"a_".repeat(120)}`;
    const b = `/${"a.".repeat(120)}`;
    expect(encodeProjectDir(a).slice(0, 200)).toBe(encodeProjectDir(b).slice(0, 200));
    expect(encodeProjectDir(a)).not.toBe(encodeProjectDir(b));
  });

  // Vectors recorded by another project from Claude Code's own function (public test data).
  test.each([
    [`/w/${"a_b/".repeat(60)}`, "-mhgl"],
    [`/x/${"日本".repeat(150)}`, "-3h411c"],
    [`/p/${"z".repeat(198)}`, "-n7dswi"],
  ])("matches the suffix recorded from Claude Code for %#", (cwd, suffix) => {
    expect(encodeProjectDir(cwd).endsWith(suffix)).toBe(true);
    expect(encodeProjectDir(cwd).length).toBe(200 + suffix.length);
  });
});

describe("javaStringHash()", () => {
  test.each([
    ["the empty string", ""],
    ["ASCII", "/home/me/my_proj.v2"],
    ["CJK and an astral emoji", "日本😀"],
    ["a 1000-character string (overflows many times)", "x".repeat(1000)],
  ])("agrees with String.hashCode for %s", (_, text) => {
    expect(javaStringHash(text)).toBe(referenceHash(text));
  });

  test("wraps to a signed 32-bit integer", () => {
    expect(javaStringHash("polygenelubricants")).toBe(-2147483648);
    expect(Math.abs(javaStringHash("polygenelubricants")).toString(36)).toBe("zik0zk");
  });
});

describe("transcriptPath()", () => {
  test("is <home>/projects/<encoded cwd>/<uuid>.jsonl", () => {
    const uuid = "0b3c2f1e-8d5a-4c3b-9a1f-2e4d6c8b0a12";
    expect(transcriptPath("/acct/a", "/srv/my_app", uuid)).toBe(`/acct/a/projects/-srv-my-app/${uuid}.jsonl`);
    expect(projectDirPath("/acct/a/", "/srv/my_app")).toBe("/acct/a/projects/-srv-my-app");
  });
});
