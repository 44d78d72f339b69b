import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { claudeInstalled, explainSkip } from "./support/claude.ts";
import { startConformance, type Conformance } from "./support/harness.ts";
import { eventually } from "../support/tmux.ts";

// Under root, the real CLI refuses --dangerously-skip-permissions unless IS_SANDBOX=1 and exits at once
// (reference/real-claude.md §11). The daemon must not relaunch it in a tight loop: it backs off, leaves the session
// `dead` with the CLI's last screen lines in /status, and tells the operator once.
explainSkip(import.meta.file);
const root = process.getuid?.() === 0;
if (!root) process.stderr.write("conformance: SKIPPED root.test.ts: the refusal only happens under root\n");
const suite = claudeInstalled() && root ? describe : describe.skip;

suite("real Claude Code under root without IS_SANDBOX", () => {
  let c: Conformance;
  beforeAll(async () => {
    c = await startConformance({ pool: 1, sandbox: false });
  }, 60_000);
  afterAll(async () => {
    await c?.cleanup();
  });

  test("the session ends `dead` with the CLI's refusal in /status after a few spaced relaunches, and one notification", async () => {
    const started = Date.now();
    await eventually(() => c.status().sessions[0]?.state === "dead", 60_000, 200);
    const session = c.status().sessions[0]!;
    // The CLI prints its refusal and exits within milliseconds; the text does not always reach the terminal before
    // the exit, and then the exit status is what the pane leaves.
    expect(session.last_lines?.join("\n")).toMatch(/--dangerously-skip-permissions cannot be used with root\/sudo privileges|exited with status 1/);
    const launches = c.t.log.records.filter((r) => r.msg === "session launched" && r.session === "ccl-auto-11");
    expect(launches).toHaveLength(4);
    // Backed off: the relaunches are spaced (2 s, then 4 s), not one per reconcile (1 s).
    const at = launches.map((r) => Date.parse(String(r.ts)));
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1_900);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(3_900);
    expect(Date.now() - started).toBeGreaterThan(5_000);
    // The operator heard about it once.
    const db = new Database(join(c.t.config.state_dir, "state.db"), { readonly: true });
    try {
      const told = db.query("SELECT message FROM events WHERE kind = 'session_dead'").all() as Array<{ message: string }>;
      expect(told).toHaveLength(1);
    } finally {
      db.close();
    }
    expect(c.t.log.records.filter((r) => r.msg === "session keeps dying")).toHaveLength(1);
    expect(c.api.a.requests()).toEqual([]);
  }, 90_000);
});
