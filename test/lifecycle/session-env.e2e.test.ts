// The sessions' environment on real tmux with the simulated Claude Code: the variables of `claude.env` are in the
// environment of the process Claude Code runs as in each pane (/proc/<pid>/environ), verbatim, with the session's
// config home; no value is on any command line tmux or `ps` shows. (The daemon starts tmux with a minimal
// environment, tmux/runner.ts: without claude.env a proxy setting never reaches Claude Code.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { listPanes, SIM, startTestDaemon, type TestDaemon } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";

const PROXY = "http://user:pr0xy-pw@127.0.0.1:3128";
const NOTE = "it's $HOME `id`";
let t: TestDaemon;

/** The environment of a running process, as the kernel holds it. */
function environOf(pid: number): Map<string, string> {
  return new Map(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

beforeAll(async () => {
  t = await startTestDaemon({
    extra: {
      claude: (dir) => `{ command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(SIM)}, "--dangerously-skip-permissions"], link: ${dir}/claude-link,
  env: { HTTPS_PROXY: ${JSON.stringify(PROXY)}, CF_E2E_NOTE: ${JSON.stringify(NOTE)} } }`,
    },
  });
});

afterAll(async () => {
  await t?.cleanup();
});

describe("claude.env on real tmux", () => {
  test("every owned pane's Claude Code runs with the configured variables, and comes up as usual", async () => {
    const owned = t.daemon.control.status().sessions.map((s) => s.name);
    expect(owned.sort()).toEqual(["ccl-1-ded", "ccl-auto-11", "ccl-auto-12"]);
    await eventually(() => t.daemon.control.status().sessions.every((s) => s.state === "idle"), 20_000);
    const panes = await listPanes(t.server);
    for (const name of owned) {
      const pane = panes.find((p) => p.name === name)!;
      // The pane's own process is the simulated Claude Code (sh exec'd it): its argv is Claude Code's.
      const argv = readFileSync(`/proc/${pane.pid}/cmdline`, "utf8").split("\0");
      expect(argv).toContain("--settings");
      const env = environOf(pane.pid);
      expect(env.get("HTTPS_PROXY")).toBe(PROXY);
      expect(env.get("CF_E2E_NOTE")).toBe(NOTE);
      expect(env.get("CLAUDE_CONFIG_DIR")).toBe(t.fleet);
      expect(pane.command).not.toContain("pr0xy-pw");
      expect(argv.join(" ")).not.toContain("pr0xy-pw");
    }
  });
});
