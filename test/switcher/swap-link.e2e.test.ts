import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listPanes, startTestDaemon, typePrompt, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";

// A swap checks it can flip claude.link before it stops any session (real tmux, simulated Claude Code, whole daemon).
const OWNED = ["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"];
let current: TestDaemon | null = null;

afterEach(async () => {
  await current?.cleanup();
  current = null;
});

test("with a real directory at claude.link, a limit does not restart the fleet and /status last_swap says why", async () => {
  const t = await startTestDaemon({ foreign: ["ccl-0"] });
  current = t;
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000);
  const link = join(t.dir, "claude-link");
  rmSync(link);
  mkdirSync(link);
  writeFileSync(join(link, "settings.json"), "{}");
  const before = new Map((await listPanes(t.server)).map((p) => [p.name, p]));

  writeFileSync(join(t.home("a"), "sim-quota"), "You've hit your 5-hour limit · resets 11pm (Europe/Paris)\n");
  await typePrompt(t.server, "ccl-auto-12", "[sim:work=0s] one more turn");
  const swap = await eventually(() => {
    const last = t.daemon.control.status().last_swap;
    return last?.step === "failed" ? last : null;
  }, 20_000);
  expect(swap).toMatchObject({ from: "a", to: "b", reason: "quota", trigger_session: "ccl-auto-12", sessions: [] });
  expect(swap.error).toContain(`${link}: it is a real directory`);

  // The limit is seen again on later polls: each is refused with the same reason, with no new record.
  const refusals = () => t.log.records.filter((r) => r.msg === "swap not started" && String(r.reason).includes("real directory")).length;
  await eventually(() => refusals() >= 2, 20_000);
  const status = t.daemon.control.status();
  expect(status.swaps).toHaveLength(1);
  expect(status.active_account).toBe("a");
  const after = await listPanes(t.server);
  for (const name of [...OWNED, "ccl-0"]) {
    const pane = after.find((p) => p.name === name)!;
    expect({ name, pid: pane.pid, command: pane.command }).toEqual({ name, pid: before.get(name)!.pid, command: before.get(name)!.command });
  }
  expect(status.sessions.every((s) => s.account === "a" && s.state !== "starting")).toBe(true);
  expect(t.log.records.filter((r) => r.msg === "swap step")).toEqual([]);
  expect(readFileSync(join(link, "settings.json"), "utf8")).toBe("{}");
}, 60_000);

test("a manual swap with a real directory at claude.link is refused with the reason and stops nothing", async () => {
  const t = await startTestDaemon();
  current = t;
  await eventually(() => t.daemon.control.status().sessions.filter((s) => s.state === "idle").length === 3, 20_000);
  const link = join(t.dir, "claude-link");
  rmSync(link);
  writeFileSync(link, "a file the operator keeps");
  const before = (await listPanes(t.server)).map((p) => [p.name, p.pid]);
  const answer = await t.daemon.control.swap("b");
  expect(answer).toEqual({ ok: false, message: expect.stringContaining("it is a real file") });
  expect(t.daemon.control.status().last_swap).toMatchObject({ step: "failed", error: answer.message });
  expect((await listPanes(t.server)).map((p) => [p.name, p.pid])).toEqual(before);
  expect(readFileSync(link, "utf8")).toBe("a file the operator keeps");
}, 60_000);
