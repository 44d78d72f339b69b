/**
 * @module test/fleet/daemon-support
 * A whole daemon as wire() builds it, for the fleet's in-process tests: its own temp folder and state.db, an
 * in-memory tmux (test/support/fake-tmux.ts: panes that write Claude Code's ledger records), a fake clock (shared by
 * several hosts when given), the `demo` project; by default a single host on the SQLite fleet backend in its own
 * state.db, or the fleet store a test gives (several hosts on one file).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { parseConfig } from "../../internal/config/config.ts";
import type { FleetStore } from "../../internal/fleet/store.ts";
import { HOOK_TOKEN_FILE } from "../../internal/hook/hook.ts";
import { HOOK_HEADER } from "../../internal/server/server.ts";
import { memoryLog } from "../../internal/log.ts";
import { freePort } from "../../internal/demo/demo.ts";
import { wire, type Daemon } from "../../cmd/claude-failover.ts";
import { createFakeTmux, type FakeTmux } from "../support/fake-tmux.ts";
import { tempDir } from "../support/tmux.ts";
import { seedAccountHomes } from "../support/daemon.ts";

export const SESSION = "ccl-auto-11";
const TOKEN = "fleet-token-0123456789";

export interface WiredDaemon {
  readonly daemon: Daemon;
  fake: FakeTmux;
  log: ReturnType<typeof memoryLog>;
  clock: FakeClock;
  /** Wires and starts a daemon (again) on the same folder, fake tmux and clock. */
  boot(): Promise<void>;
  /** `<queue>/demo/<name>`. */
  folder(name: string): string;
  /** GET with the API token. */
  get(path: string): Promise<Response>;
  /** Advances the fake clock in 250 ms steps until `done()` holds (up to 100 s of fake time). */
  until(what: string, done: () => boolean | Promise<boolean>): Promise<void>;
  /** Drives `ms` of fake time in 250 ms steps, letting the work each step wakes run. */
  drive(ms: number): Promise<void>;
}

export interface WiredDaemonOptions {
  host?: string;
  /** Opens another fleet store than the config's (the SQLite file in its own state.db), once per boot: a daemon closes its own. */
  fleet?: () => FleetStore;
  /** The pool's and the project's workdir (default: `<its folder>/work`). */
  workdir?: string;
  clock?: FakeClock;
  accounts?: string[];
  /** Pool sessions (`ccl-auto-11`…). @default 1 */
  pool?: number;
  /** Real time let pass after each 250 ms step of fake time (a real database needs more than a file). @default 1 */
  stepMs?: number;
}

/** Posts the StopFailure hook Claude Code sends when `SESSION` hits a limit (`line`), with the daemon's hook token; the HTTP status. */
export async function limitHit(h: WiredDaemon, line: string): Promise<number> {
  const session = h.daemon.control.status().sessions.find((s) => s.name === SESSION)!;
  const token = readFileSync(join(h.daemon.config.state_dir, HOOK_TOKEN_FILE), "utf8").trim();
  const res = await fetch(new URL(`/hooks/StopFailure?session=${SESSION}`, h.daemon.url()), {
    method: "POST", headers: { [HOOK_HEADER]: token, "Content-Type": "application/json" },
    body: JSON.stringify({ hook_event_name: "StopFailure", session_id: session.session_id, error: "rate_limit", last_assistant_message: line }),
  });
  return res.status;
}

/** Starts one daemon; `stops` receives its cleanups (run them last first). */
export async function startWiredDaemon(stops: Array<() => Promise<void> | void>, options: WiredDaemonOptions = {}): Promise<WiredDaemon> {
  const temp = tempDir("cf-fleet-daemon-");
  stops.push(() => temp.cleanup());
  const dir = temp.path;
  const workdir = options.workdir ?? join(dir, "work");
  mkdirSync(workdir, { recursive: true });
  const accounts = options.accounts ?? ["a"];
  seedAccountHomes(dir, accounts);
  const config = parseConfig(`state_dir: ${dir}/state
http: { listen: "127.0.0.1:${await freePort()}", token_env: CF_FLEET_TOKEN }
tmux: { socket: cf-fleet-fake }
claude: { command: claude, args: [] }
accounts: [${accounts.map((a) => `{ name: ${a}, home: ${dir}/homes/${a} }`).join(", ")}]
autonomous: { prefix: ccl-auto-, start_index: 11, min: ${options.pool ?? 1}, max: ${options.pool ?? 1}, workdir: ${workdir} }
dedicated: []
watcher: { poll_interval: 1s, task_timeout: 10m }
quota: { poll_interval: 1s }
dispatcher: { rescan_interval: 1s, settle: 500ms, projects: { demo: { workdir: ${workdir} } } }
fleet: { host: ${options.host ?? "solo"} }
`, join(dir, "config.yaml"), { env: { CF_FLEET_TOKEN: TOKEN }, home: dir });
  const clock = options.clock ?? createFakeClock();
  const fake = createFakeTmux({ now: () => clock.now() });
  const log = memoryLog();
  let daemon: Daemon | null = null;
  const steps = async (ms: number) => {
    await clock.advance(ms);
    await Bun.sleep(options.stepMs ?? 1);
  };
  const h: WiredDaemon = {
    fake, log, clock,
    get daemon(): Daemon { return daemon!; },
    async boot() {
      const next = wire(config, { run: fake.run, clock, fetch, log, self: ["/bin/false"], fleet: options.fleet?.() });
      stops.push(() => next.stop("test done"));
      await next.start();
      daemon = next;
    },
    folder: (name) => join(config.dispatcher.queue_dir, "demo", name),
    get: (path) => fetch(new URL(path, daemon!.url()), { headers: { Authorization: `Bearer ${TOKEN}` } }),
    async until(what, done) {
      for (let step = 0; step < 400; step++) {
        if (await done()) return;
        await steps(250);
      }
      throw new Error(`still waiting for ${what}`);
    },
    async drive(ms) {
      for (let t = 0; t < ms; t += 250) await steps(250);
    },
  };
  await h.boot();
  return h;
}
