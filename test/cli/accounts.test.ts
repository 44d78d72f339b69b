import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { runCli, type CliHost } from "../../internal/cli/commands.ts";
import { renderAccountUsage, renderStatus } from "../../internal/cli/client.ts";
import { parseConfig } from "../../internal/config/config.ts";
import type { StatusSnapshot } from "../../internal/state/status.ts";

const NOW = Date.UTC(2026, 10, 29, 10);
const HOUR = 3_600_000;
const TOKEN = "cli-test-token";
const iso = (ms: number) => new Date(ms).toISOString();

const EMPTY_TIMELINE = { from: iso(NOW - 24 * HOUR), to: iso(NOW), periods: [], limits: [] };
const snapshot: StatusSnapshot = {
  version: "0.4.0", now: iso(NOW), started_at: iso(NOW), active_account: "main", swapping: false, paused: false, exhausted: false, wake_at: null,
  accounts: [
    {
      name: "main", home: "/h/main", state: "available", reset_at: null, last_limit: null, limits_7d: 0, active_today_s: 5400, active_7d_s: 72_000,
      tasks_done_today: 3, tasks_failed_today: 0, tasks_done_7d: 12, tasks_failed_7d: 1, turns_today: 40, turns_7d: 210, timeline: EMPTY_TIMELINE,
    },
    {
      name: "backup", home: "/h/b", state: "cooling", reset_at: iso(NOW + 2 * HOUR + 5 * 60_000), limits_7d: 2, active_today_s: 0, active_7d_s: 3600,
      last_limit: { kind: "five_hour", at: iso(NOW - 35 * 60_000), session: "ccl-auto-11", reset_at: iso(NOW + 2 * HOUR + 5 * 60_000) },
      tasks_done_today: 0, tasks_failed_today: 0, tasks_done_7d: 2, tasks_failed_7d: 0, turns_today: 0, turns_7d: 9, timeline: EMPTY_TIMELINE,
    },
    // A daemon too old to report usage.
    { name: "old", home: "/h/old", state: "disabled", reset_at: null },
  ],
  sessions: [], tasks: { queued: 0, running: 0, done: 0, failed: 0, stalled: 0 }, queue: [], last_swap: null, swaps: [],
};

describe("renderAccountUsage()", () => {
  test("shows per account its state, reset, last limit, limits in 7 days, time active, tasks and turns", () => {
    const lines = renderAccountUsage(snapshot, NOW).split("\n");
    expect(lines[0]).toMatch(/^ACCOUNT\s+STATE\s+RESETS IN\s+LAST LIMIT\s+LIMITS 7D\s+ACTIVE TODAY\s+ACTIVE 7D\s+DONE TODAY\/7D\s+FAILED TODAY\/7D\s+TURNS TODAY\/7D\s+HOME$/);
    expect(lines[1]).toMatch(/^\* main\s+available\s+-\s+-\s+0\s+1h 30m\s+20h\s+3\/12\s+0\/1\s+40\/210\s+\/h\/main$/);
    expect(lines[2]).toMatch(/^ {2}backup\s+cooling\s+2h 05m\s+five_hour 35m ago on ccl-auto-11\s+2\s+0s\s+1h\s+0\/2\s+0\/0\s+0\/9\s+\/h\/b$/);
    expect(lines[3]).toMatch(/^ {2}old\s+disabled\s+(-\s+){8}\/h\/old$/);
  });
});

describe("renderStatus()", () => {
  test("names the kind of limit behind the last swap", () => {
    const swap = { id: 3, at: iso(NOW), step: "done" as const, from: "main", to: "backup", reason: "quota", limit: "weekly", trigger_session: "ccl-auto-11",
      signal: "hook", pattern: "p", snippet: null, reset_at: null, error: null, sessions: [] };
    expect(renderStatus({ ...snapshot, last_swap: swap, swaps: [swap] }, NOW)).toContain("main → backup (quota weekly, done) trigger ccl-auto-11");
  });
});

describe("claude-failover accounts", () => {
  let server: ReturnType<typeof Bun.serve> | null = null;
  afterEach(() => {
    server?.stop(true);
    server = null;
  });

  /** Runs the CLI against a loopback server playing the daemon's `/status`; returns what it printed and the requests it made. */
  async function run(argv: string[]) {
    const seen: string[] = [];
    server = Bun.serve({
      port: 0, hostname: "127.0.0.1",
      fetch(req) {
        seen.push(`${req.method} ${new URL(req.url).pathname}`);
        if (new URL(req.url).pathname !== "/status") return new Response("not found", { status: 404 });
        return Response.json(snapshot);
      },
    });
    const config = parseConfig(`http: { listen: "127.0.0.1:${server.port}", token_env: CF_TEST_TOKEN }\naccounts: [{ name: main, home: /h/main }]\n`,
      "", { env: { CF_TEST_TOKEN: TOKEN }, home: "/root" });
    const host = { version: "0.4.0", defaultConfigPath: "/unused.yaml", loadConfig: () => config } as unknown as CliHost;
    let out = "";
    const write = spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true; });
    try {
      return { code: await runCli(argv, host), out, seen };
    } finally {
      write.mockRestore();
    }
  }

  test("prints the usage table from the running daemon's /status at the address the config names", async () => {
    const { code, out, seen } = await run(["accounts"]);
    expect(code).toBe(0);
    expect(seen).toEqual(["GET /status"]);
    expect(out).toContain("five_hour");
    expect(out).toMatch(/\* main\s+available/);
  });

  test("--json prints accounts[] with the usage fields as the daemon sent them", async () => {
    const { code, out } = await run(["accounts", "--json"]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual(snapshot.accounts);
  });
});
