/**
 * @module test/fleet/daemon
 * The whole daemon as wire() builds it, as a single host (no `fleet.postgres_url_env`: the SQLite fleet backend in
 * its own state.db), with an in-memory tmux (test/support/fake-tmux.ts) and a fake clock: a task runs through the
 * shared queue exactly as it ran without one (typed once, its reply in done/, no warning), a task pinned to another
 * host waits, and `/status`, `/health` and `/metrics` show the fleet of one.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock } from "../../internal/clock.ts";
import { parseConfig } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { freePort } from "../../internal/demo/demo.ts";
import { wire, type Daemon } from "../../cmd/claude-failover.ts";
import { createFakeTmux } from "../support/fake-tmux.ts";
import { tempDir } from "../support/tmux.ts";
import { seedAccountHomes } from "../support/daemon.ts";

const SESSION = "ccl-auto-11";
const TOKEN = "fleet-token-0123456789";
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

async function singleHost() {
  const temp = tempDir("cf-fleet-daemon-");
  stops.push(() => temp.cleanup());
  const dir = temp.path;
  mkdirSync(join(dir, "work"), { recursive: true });
  seedAccountHomes(dir, ["a"]);
  const config = parseConfig(`state_dir: ${dir}/state
http: { listen: "127.0.0.1:${await freePort()}", token_env: CF_FLEET_TOKEN }
tmux: { socket: cf-fleet-fake }
claude: { command: claude, args: [] }
accounts: [{ name: a, home: ${dir}/homes/a }]
autonomous: { prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: ${dir}/work }
dedicated: []
watcher: { poll_interval: 1s, task_timeout: 10m }
quota: { poll_interval: 1s }
dispatcher: { rescan_interval: 1s, settle: 500ms, projects: { demo: { workdir: ${dir}/work } } }
fleet: { host: solo }
`, join(dir, "config.yaml"), { env: { CF_FLEET_TOKEN: TOKEN }, home: dir });
  const clock = createFakeClock();
  const fake = createFakeTmux({ now: () => clock.now() });
  const log = memoryLog();
  let daemon: Daemon | null = null;
  const h = {
    fake, log,
    get daemon(): Daemon { return daemon!; },
    /** Wires and starts a daemon (again) on the same folder, fake tmux and clock. */
    async boot() {
      const next = wire(config, { run: fake.run, clock, fetch, log, self: ["/bin/false"] });
      stops.push(() => next.stop("test done"));
      await next.start();
      daemon = next;
    },
    folder: (name: string) => join(config.dispatcher.queue_dir, "demo", name),
    get: (path: string) => fetch(new URL(path, daemon!.url()), { headers: { Authorization: `Bearer ${TOKEN}` } }),
    /** Advances the fake clock in 250 ms steps until `done()` holds. */
    async until(what: string, done: () => boolean | Promise<boolean>) {
      for (let step = 0; step < 400; step++) {
        if (await done()) return;
        await clock.advance(250);
        await Bun.sleep(1);
      }
      throw new Error(`still waiting for ${what}`);
    },
    /** Drives `ms` of fake time in 250 ms steps, letting the work each step wakes run. */
    async drive(ms: number) {
      for (let t = 0; t < ms; t += 250) {
        await clock.advance(250);
        await Bun.sleep(1);
      }
    },
  };
  await h.boot();
  return h;
}

describe("a single host runs the bridge on SQLite", () => {
  test("a task file is typed once and its reply lands in done/, with no warning, as without a fleet", async () => {
    const h = await singleHost();
    writeFileSync(join(h.folder("inbox"), "hello.md"), "Say hello to the ledger\n");
    await h.until("the prompt typed", () => h.fake.promptCounts().size === 1);
    await h.until("the delivery confirmed", () => h.daemon.control.tasks()[0]?.delivery === "confirmed");
    h.fake.endTurn(SESSION, "Hello, ledger.");
    await h.until("done/hello.result.md", () => existsSync(join(h.folder("done"), "hello.result.md")));
    expect(readFileSync(join(h.folder("done"), "hello.result.md"), "utf8")).toContain("Hello, ledger.");
    expect([...h.fake.promptCounts()]).toEqual([["Say hello to the ledger", 1]]);
    expect(h.daemon.control.tasks()[0]).toMatchObject({ state: "done", attempts: 1, fleetState: "ended", originHost: "solo" });
    expect(h.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("a daemon stopped right after typing follows the task after a restart and never types it again", async () => {
    const h = await singleHost();
    writeFileSync(join(h.folder("inbox"), "restart.md"), "Survive a restart\n");
    await h.until("the prompt typed", () => h.fake.promptCounts().size === 1);
    await h.daemon.stop("restart");
    h.fake.endTurn(SESSION, "Survived."); // while no daemon runs: the next one reads it from the transcript
    await h.boot();
    await h.until("done/restart.result.md", () => existsSync(join(h.folder("done"), "restart.result.md")));
    expect(readFileSync(join(h.folder("done"), "restart.result.md"), "utf8")).toContain("Survived.");
    expect([...h.fake.promptCounts()]).toEqual([["Survive a restart", 1]]);
    expect(h.daemon.control.tasks()[0]).toMatchObject({ state: "done", attempts: 1, fleetState: "ended" });
    expect(h.log.records.filter((r) => r.level === "error" || r.level === "warn")).toEqual([]);
  });

  test("/status, /health and /metrics show the fleet of one; a task pinned to another host waits, never typed", async () => {
    const h = await singleHost();
    await h.until("a heartbeat", async () => (await (await h.get("/status")).json()).fleet?.hosts.length === 1);
    const status = await (await h.get("/status")).json();
    expect(status.fleet).toMatchObject({ host: "solo", backend: "sqlite", degraded: null, outbox: 0, hosts: [{ name: "solo", sessions: [{ name: SESSION }] }] });
    expect((await (await h.get("/health")).json()).checks.fleet).toEqual({ ok: true, detail: "sqlite fleet, host solo" });
    expect(await (await h.get("/metrics")).text()).toContain("claude_failover_fleet_degraded 0");

    writeFileSync(join(h.folder("inbox"), "elsewhere.md"), "---\nhost: build-2\n---\nNot here\n");
    await h.until("the export", () => h.daemon.control.tasks()[0]?.fleetState === "exported");
    await h.drive(12_000); // two heartbeats and more: passes that would claim it, were it not pinned elsewhere
    expect(readdirSync(h.folder("processing"))).toEqual(["elsewhere.md"]);
    expect(h.fake.promptCounts().size).toBe(0);
  });
});
