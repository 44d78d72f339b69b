/**
 * @module test/demo/sim-login
 * Specs for the simulated Claude Code's refused logins (reference/real-claude.md §13.3): the four lines drawn as the
 * real CLI draws them (gutter or error bullet, the `Once fixed, resend your message` placeholder), filed as
 * `authentication_failed` with the statuses §13.3 lists, switched on by the login's refusal file or `sim-faults.json`,
 * and read back by the daemon's classifier as a lost login.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOGIN_LINES, LOGIN_PLACEHOLDER, classifyErrorText, loginLine, renderFrame, type FrameState } from "../../internal/demo/sim-screen.ts";
import { planAuth } from "../../internal/demo/sim-faults.ts";
import { readSimLogin, simLoginRefusal, writeSimAccountLogin } from "../../internal/demo/sim-login.ts";
import { classifyPane, inputText } from "../../internal/quota/classify.ts";

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
const base: FrameState = { header: "Claude Code (simulated) · fleet", entries: [], input: "", now: 10_000, mode: "⏵⏵ bypass permissions on", promptChar: "❯", cols: 200, rows: 20 };

describe("the simulator's refused-login screens", () => {
  test("draws the 403 line in the gutter and the placeholder in the empty input box, as 2.1.330 does", () => {
    const frame = renderFrame({ ...base, entries: [{ kind: "user", text: "go on" }, { kind: "error", text: LOGIN_LINES.revoked }], placeholder: LOGIN_PLACEHOLDER });
    const lines = frame.lines.map(plain);
    expect(lines).toContain("  ⎿ \u00a0OAuth token revoked · Please run /login");
    expect(lines).toContain("❯\u00a0Once fixed, resend your message");
    expect(frame.cursorCol).toBe(2);
    expect(inputText(lines)).toBe("");
    expect(classifyPane(lines, { now: 0, defaultZone: "UTC" })).toMatchObject({ kind: "login", cause: "revoked" });
  });

  test("draws the 401 line with the error bullet, wrapped at 80 columns with `Please run /login` on the first line", () => {
    const lines = renderFrame({ ...base, cols: 80, entries: [{ kind: "user", text: "go on" }, { kind: "error", text: LOGIN_LINES.expired }], placeholder: LOGIN_PLACEHOLDER }).lines.map(plain);
    const at = lines.findIndex((l) => l.startsWith("● Please run /login · API Error: 401"));
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^ {2}\S/);
    expect(classifyPane(lines, { now: 0, defaultZone: "UTC" })).toMatchObject({ kind: "login", cause: "expired", line: LOGIN_LINES.expired });
  });

  test("files each line as §13.3 records it: authentication_failed, 403 permission_error / 401 authentication_error / no status", () => {
    expect(classifyErrorText(LOGIN_LINES.revoked)).toEqual({ error: "authentication_failed", status: 403, type: "permission_error", transient: false });
    expect(classifyErrorText(LOGIN_LINES.expired)).toEqual({ error: "authentication_failed", status: 401, type: "authentication_error", transient: false });
    expect(classifyErrorText(LOGIN_LINES.invalid)).toMatchObject({ error: "authentication_failed", status: 401 });
    expect(classifyErrorText(LOGIN_LINES["not-logged-in"])).toEqual({ error: "authentication_failed", status: null, type: null, transient: false });
    expect(classifyErrorText("API Error: 500 Internal server error")).toMatchObject({ error: "server_error" });
  });

  test("names the line of a switch (`revoked` when unknown or empty)", () => {
    expect(loginLine("expired\n")).toBe(LOGIN_LINES.expired);
    expect(loginLine("not-logged-in")).toBe(LOGIN_LINES["not-logged-in"]);
    expect(loginLine("")).toBe(LOGIN_LINES.revoked);
    expect(loginLine("whatever")).toBe(LOGIN_LINES.revoked);
  });
});

describe("switching a refused login on", () => {
  test("the account's refusal file, named by its login, follows the login wherever it is used", () => {
    const account = mkdtempSync(join(tmpdir(), "cf-sim-auth-"));
    try {
      writeSimAccountLogin(account, "a");
      const login = readSimLogin(account);
      expect(login.authFile).toBe(join(account, "sim-auth"));
      expect(simLoginRefusal(login)).toBeNull();
      writeFileSync(join(account, "sim-auth"), "");
      expect(simLoginRefusal(login)).toBe("revoked");
      writeFileSync(join(account, "sim-auth"), "expired\n");
      expect(simLoginRefusal(login)).toBe("expired");
    } finally {
      rmSync(account, { recursive: true, force: true });
    }
  });

  test("`auth` in sim-faults.json: a string stays, a counted one is consumed", () => {
    expect(planAuth({ auth: "invalid" })).toEqual({ kind: "invalid", next: { auth: "invalid" } });
    expect(planAuth({ auth: { kind: "expired", count: 1 } })).toEqual({ kind: "expired", next: { auth: { kind: "expired", count: 0 } } });
    expect(planAuth({ auth: { kind: "expired", count: 0 } })).toEqual({ next: { auth: { kind: "expired", count: 0 } } });
    expect(planAuth({ auth: {} })).toMatchObject({ kind: "revoked" });
    expect(planAuth({})).toEqual({ next: {} });
  });
});
