import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

// `claude-failover demo` end to end, headless, as `npm run demo` runs it (stdin is not a terminal, so it ends
// after the scenario). It must report a swap and every conversation resumed, and leave nothing behind.
test("the demo performs a full failover, resumes every conversation and cleans up", async () => {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../cmd/claude-failover.ts"), "demo"], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, TMUX: "", TMUX_PANE: "" }, timeout: 150_000,
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) console.error(out, err);
  expect(code).toBe(0);
  expect(out).toMatch(/▶ Swap done: demo-a → demo-b/);
  expect(out).toMatch(/Conversations resumed on demo-b: 4\/4/);
  expect(out).toMatch(/Foreign session ccl-0 untouched/);
  expect(out).toMatch(/Tasks: 4 done, 0 failed/);
  expect(out).toContain("✓ Failover complete");
  // Its own folder is gone (other demos may run on this machine at the same time: only this one's folder counts).
  const own = /folder (\S*claude-failover-demo-\S+)/.exec(out)?.[1];
  expect(own).toBeDefined();
  expect(existsSync(own!)).toBe(false);
  const socket = /tmux -L (cf-demo-\d+)/.exec(out)?.[1];
  expect(socket).toBeDefined();
  expect(existsSync(join(tmpdir(), `tmux-${process.getuid?.() ?? 0}`, socket!))).toBe(false);
}, 160_000);
