// Login spacing through the whole daemon (wire() with an in-memory tmux and a fake clock): a start-up with a pool of
// four on one account brings the sessions up one spacing apart, on reconcile passes run when each may start (not a
// whole reconcile interval later); a restart-mode swap relaunches them on the target account the larger of
// `relaunch_stagger` and `login_spacing` apart. Also the sessions' environment as the daemon starts with it.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { parseConfig } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { freePort } from "../../internal/demo/demo.ts";
import { wire, type Daemon } from "../../cmd/claude-failover.ts";
import { createFakeTmux } from "../support/fake-tmux.ts";
import { tempDir } from "../support/tmux.ts";
import { seedAccountHomes } from "../support/daemon.ts";

const fetchRefused = (async () => {
  throw new Error("fetch is not allowed in this test");
}) as unknown as typeof fetch;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Launch {
  session: string;
  home: string;
  at: number;
}

/** A daemon with a pool of four; every Claude Code launch the tmux fake sees is recorded with the fake time. */
async function boot(lifecycle: string, switcher: string, session: { claude?: string; env?: Record<string, string> } = {}): Promise<{ clock: FakeClock; daemon: Daemon; launches: Launch[]; t0: number; dir: string; log: ReturnType<typeof memoryLog> }> {
  const temp = tempDir("cf-spacing-");
  cleanups.push(() => temp.cleanup());
  const dir = temp.path;
  mkdirSync(join(dir, "work"), { recursive: true });
  seedAccountHomes(dir, ["a", "b"]);
  const config = parseConfig(`state_dir: ${dir}/state
http: { listen: "127.0.0.1:${await freePort()}", token_env: CF_SPACING_TOKEN }
tmux: { socket: cf-spacing-fake }
claude: ${session.claude ?? "{ command: claude, args: [] }"}
accounts:
  - { name: a, home: ${dir}/homes/a }
  - { name: b, home: ${dir}/homes/b }
autonomous: { prefix: ccl-auto-, start_index: 11, min: 4, max: 4, workdir: ${dir}/work }
lifecycle: ${lifecycle}
switcher: ${switcher}
quota: { poll_interval: 1s }
watcher: { poll_interval: 1s }
`, join(dir, "config.yaml"), { env: { CF_SPACING_TOKEN: "spacing-token-0123456789", ...session.env }, home: dir });
  const clock = createFakeClock();
  const fake = createFakeTmux({ now: () => clock.now() });
  const launches: Launch[] = [];
  const run: typeof fake.run = (argv, opts) => {
    const home = argv.find((a) => a.startsWith("CLAUDE_CONFIG_DIR="));
    const verb = argv.find((a) => a === "new-session" || a === "respawn-pane");
    if (home && verb) launches.push({ session: argv[argv.indexOf(verb === "new-session" ? "-s" : "-t") + 1]!.replace(/^=|:$/g, ""), home, at: clock.now() });
    return fake.run(argv, opts);
  };
  const log = memoryLog();
  const daemon = wire(config, { run, clock, fetch: fetchRefused, log, self: ["/bin/false"] });
  cleanups.push(() => daemon.stop("test done"));
  const t0 = clock.now();
  await daemon.start();
  return { clock, daemon, launches, t0, dir, log };
}

/** Advances the fake clock in 100 ms steps until `done()` holds; fails after `maxMs` of fake time. */
async function driveUntil(clock: FakeClock, what: string, done: () => boolean, maxMs = 60_000): Promise<void> {
  for (let t = 0; t <= maxMs; t += 100) {
    if (done()) return;
    await clock.advance(100);
    await Bun.sleep(1);
  }
  throw new Error(`still waiting for ${what} after ${maxMs} ms of fake time`);
}

const gaps = (launches: Launch[]) => launches.slice(1).map((l, i) => l.at - launches[i]!.at);

describe("login spacing in the daemon", () => {
  test("a start-up brings a pool of four up one spacing apart, well within one reconcile interval", async () => {
    const w = await boot("{ reconcile_interval: 15s, login_spacing: 2s }", "{}");
    expect(w.launches.map((l) => l.session)).toEqual(["ccl-auto-11"]);
    await driveUntil(w.clock, "four launches", () => w.launches.length === 4);
    expect(w.launches.map((l) => l.session)).toEqual(["ccl-auto-11", "ccl-auto-12", "ccl-auto-13", "ccl-auto-14"]);
    expect(w.launches.map((l) => l.at - w.t0)).toEqual([0, 2_000, 4_000, 6_000]);
  });

  test("login_spacing 0 starts the whole pool at once", async () => {
    const w = await boot("{ reconcile_interval: 15s, login_spacing: 0 }", "{}");
    expect(w.launches.map((l) => l.at - w.t0)).toEqual([0, 0, 0, 0]);
  });

  for (const [stagger, gap] of [["500ms", 2_000], ["3s", 3_000]] as const) {
    test(`a restart-mode swap with relaunch_stagger ${stagger} relaunches on the target account ${gap} ms apart`, async () => {
      const w = await boot("{ reconcile_interval: 15s, login_spacing: 2s }", `{ mode: restart, relaunch_stagger: ${stagger}, verify_timeout: 60s }`);
      await driveUntil(w.clock, "the pool", () => w.launches.length === 4);
      const swapped = w.daemon.control.swap("b");
      await driveUntil(w.clock, "four relaunches", () => w.launches.length === 8);
      expect(await swapped).toMatchObject({ ok: true });
      const relaunches = w.launches.slice(4);
      expect(gaps(relaunches)).toEqual([gap, gap, gap]);
      expect(new Set(relaunches.map((l) => l.session)).size).toBe(4);
    });
  }
});

describe("the sessions' environment in the daemon", () => {
  test("a claude.env_from name missing from the daemon's environment is warned about once, and the others reach every launch", async () => {
    const w = await boot("{ reconcile_interval: 1s, login_spacing: 0 }", "{}", {
      claude: "{ command: claude, args: [], env: { NODE_EXTRA_CA_CERTS: /etc/ssl/ca.pem }, env_from: [HTTPS_PROXY, NO_PROXY] }",
      env: { HTTPS_PROXY: "http://user:pw@proxy:3128" },
    });
    await w.clock.advance(5_000);
    const warned = w.log.records.filter((r) => r.msg === "session variables missing from the daemon's environment");
    expect(warned).toEqual([expect.objectContaining({ level: "warn", names: ["NO_PROXY"], key: "claude.env_from" })]);
    expect(w.launches).toHaveLength(4);
    for (const l of w.launches) {
      expect(readFileSync(join(w.dir, "state", "hooks", `${l.session}.env`), "utf8")).toBe("export HTTPS_PROXY=http://user:pw@proxy:3128\nexport NODE_EXTRA_CA_CERTS=/etc/ssl/ca.pem\n");
    }
    expect(JSON.stringify(w.log.records)).not.toContain("user:pw");
  });
});
