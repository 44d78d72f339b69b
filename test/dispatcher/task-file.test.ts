/**
 * @module test/dispatcher/task-file
 * Table-driven specs for the pure task-file checks: every accepted front-matter form and every refused input
 * (bad YAML, unknown key, empty, binary, oversize, unsafe names).
 */
import { describe, expect, test } from "bun:test";
import { isValidTaskName, parseTaskFile } from "../../internal/dispatcher/task-file.ts";

const MAX = 256 * 1024;
const parse = (text: string | Uint8Array, maxBytes = MAX) =>
  parseTaskFile(typeof text === "string" ? new TextEncoder().encode(text) : text, { maxBytes });

describe("parseTaskFile()", () => {
  test.each([
    { name: "no front matter", text: "Fix the flaky test.\n", prompt: "Fix the flaky test.", fm: {} },
    { name: "all three keys", text: "---\nworkdir: /srv/app\npriority: 5\ntimeout: 30m\n---\nDo it.\n", prompt: "Do it.", fm: { workdir: "/srv/app", priority: 5, timeoutMs: 1_800_000 } },
    { name: "relative workdir", text: "---\nworkdir: sub/dir\n---\nx", prompt: "x", fm: { workdir: "sub/dir" } },
    { name: "negative priority", text: "---\npriority: -3\n---\nlow", prompt: "low", fm: { priority: -3 } },
    { name: "a fleet host pin", text: "---\nhost: build-2.lan\n---\npinned", prompt: "pinned", fm: { host: "build-2.lan" } },
    { name: "compound timeout", text: "---\ntimeout: 1h30m\n---\nlong", prompt: "long", fm: { timeoutMs: 5_400_000 } },
    { name: "empty front matter", text: "---\n---\nbody", prompt: "body", fm: {} },
    { name: "comment-only front matter", text: "---\n# nothing\n---\nbody", prompt: "body", fm: {} },
    { name: "CRLF line endings", text: "---\r\npriority: 2\r\n---\r\nwindows body\r\n", prompt: "windows body", fm: { priority: 2 } },
    { name: "UTF-8 BOM", text: "\uFEFFhello", prompt: "hello", fm: {} },
    { name: "a later --- is part of the body", text: "intro\n---\nmore", prompt: "intro\n---\nmore", fm: {} },
    { name: "multi-line body kept verbatim inside", text: "---\npriority: 1\n---\n\n  line 1\n\n  line 2  \n\n", prompt: "line 1\n\n  line 2", fm: { priority: 1 } },
  ])("accepts $name", ({ text, prompt, fm }) => {
    expect(parse(text)).toEqual({ ok: true, prompt, frontMatter: fm });
  });

  test("keeps tmux key names and escape sequences byte for byte", () => {
    const body = "C-c Enter \x1b[201~ send-keys -t ccl-0 'rm -rf /' \x1b[200~ Escape \u0003";
    expect(parse(`---\npriority: 1\n---\n${body}\n`)).toEqual({ ok: true, prompt: body, frontMatter: { priority: 1 } });
  });

  test.each([
    { name: "invalid YAML names the file line", text: "---\npriority: 1\nworkdir: [unclosed\n---\nbody", reason: /^invalid YAML front matter at line \d+/ },
    { name: "bad indentation", text: "---\npriority: 1\n  workdir: /x\n---\nbody", reason: /^invalid YAML front matter at line 2, column 11: Nested mappings/ },
    { name: "duplicate key", text: "---\npriority: 1\npriority: 2\n---\nbody", reason: /^invalid YAML front matter at line 3/ },
    { name: "front matter not closed", text: "---\npriority: 1\nbody", reason: /not closed/ },
    { name: "front matter is a list", text: "---\n- a\n- b\n---\nbody", reason: /expected key: value/ },
    { name: "unknown key", text: "---\npriorty: 1\n---\nbody", reason: /unknown front-matter key "priorty"/ },
    { name: "unknown key among known ones", text: "---\nworkdir: /x\nmodel: opus\n---\nbody", reason: /unknown front-matter key "model"/ },
    { name: "priority not an integer", text: "---\npriority: high\n---\nbody", reason: /priority must be an integer/ },
    { name: "fractional priority", text: "---\npriority: 1.5\n---\nbody", reason: /priority must be an integer/ },
    { name: "timeout not a duration", text: "---\ntimeout: soon\n---\nbody", reason: /timeout must be a duration/ },
    { name: "timeout as a bare number", text: "---\ntimeout: 30\n---\nbody", reason: /timeout must be a duration/ },
    { name: "zero timeout", text: "---\ntimeout: 0s\n---\nbody", reason: /timeout must be a duration/ },
    { name: "workdir not a string", text: "---\nworkdir: 42\n---\nbody", reason: /workdir must be/ },
    { name: "workdir with a newline", text: "---\nworkdir: \"/a\\nb\"\n---\nbody", reason: /workdir must be/ },
    { name: "workdir with ~", text: "---\nworkdir: ~/src\n---\nbody", reason: /~ is not expanded/ },
    { name: "host with a space", text: "---\nhost: build 2\n---\nbody", reason: /host must be a fleet host name .*"build 2"/ },
    { name: "host not a string", text: "---\nhost: 7\n---\nbody", reason: /host must be a fleet host name/ },
    { name: "host too long", text: `---\nhost: ${"h".repeat(64)}\n---\nbody`, reason: /host must be a fleet host name/ },
    { name: "empty file", text: "", reason: /^empty prompt$/ },
    { name: "whitespace only", text: " \n\t\n", reason: /^empty prompt$/ },
    { name: "front matter only", text: "---\npriority: 1\n---\n\n", reason: /^empty prompt$/ },
  ])("rejects $name", ({ text, reason }) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  test("rejects a file with NUL bytes as binary", () => {
    expect(parse(new Uint8Array([0x68, 0x69, 0x00, 0x21]))).toEqual({ ok: false, reason: "binary file (contains NUL bytes)" });
  });

  test("rejects invalid UTF-8 as binary", () => {
    expect(parse(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toEqual({ ok: false, reason: "binary file (not valid UTF-8)" });
  });

  test("rejects a file over the limit with both sizes", () => {
    expect(parse("x".repeat(1025), 1024)).toEqual({ ok: false, reason: "file is 1025 bytes, over the 1024-byte limit" });
  });

  test("accepts a file exactly at the limit", () => {
    expect(parse("x".repeat(1024), 1024).ok).toBe(true);
  });
});

describe("isValidTaskName()", () => {
  test.each(["fix-tests.md", "a.md", "Ünïcode tâche.md", "v1.2-notes.md", "x".repeat(197) + ".md"])("accepts %p", (name) => {
    expect(isValidTaskName(name)).toBe(true);
  });

  test.each([
    ".md", "..md", ".hidden.md", "../escape.md", "a/b.md", "a\\b.md", "a..b.md", "notes.txt", "task.MD", "task.md.tmp",
    "tab\there.md", "new\nline.md", "esc\x1b.md", "x".repeat(198) + ".md", "",
  ])("rejects %p", (name) => {
    expect(isValidTaskName(name)).toBe(false);
  });
});
