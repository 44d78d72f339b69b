/**
 * @module test/conformance/support/harness
 * The whole daemon (test/support/daemon.ts) driving the real Claude Code CLI: two accounts `a` and `b`, each with its
 * own API stand-in and a prepared home, `claude.command` pointing at the wrapper, a private tmux socket. Helpers read
 * what a user would see: `/status`, pane text, queue folders, what each stand-in received.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestDaemon, type TestDaemon } from "../../support/daemon.ts";
import type { WireDeps } from "../../../cmd/claude-failover.ts";
import { eventually } from "../../support/tmux.ts";
import { prepareHome, writeWrapper } from "./claude.ts";
import { startStandIn, type StandIn } from "./standin.ts";

/** How a conformance daemon is set up. */
export interface ConformanceOptions {
  /** Pool size (min = max). @default 1 */
  pool?: number;
  /** Dedicated session names (workdirs under `work/`). @default none */
  dedicated?: string[];
  /** Extra `settings.json` keys for both homes (e.g. `{ tui: "default" }`). */
  settings?: Record<string, unknown>;
  /** IS_SANDBOX=1 in the wrapper. @default true */
  sandbox?: boolean;
  /** `quota:` YAML. @default `poll` polls, two confirming polls */
  quota?: string;
  /** `quota.poll_interval` (unless `quota` is given) and `watcher.poll_interval`. @default 500ms */
  poll?: string;
  /** Extra top-level YAML. */
  yaml?: string;
  /** `switcher:` YAML. @default a 200 ms stagger and a 60 s verify timeout */
  switcherYaml?: string;
  /**
   * argv of the daemon's own program, which Claude Code's hooks run (`<self> hook <event> …`), e.g. the compiled
   * binary. @default Bun running cmd/main.ts (about 30 ms of CPU per hook event)
   */
  self?: string[];
  /** The `accounts:` entries (YAML lines), e.g. to give `a` a `switch_at`. @default a and b, nothing else */
  accounts?: (dir: string) => string;
  /** Test seams of the daemon (e.g. `beforeSwapStep` to stop it inside a swap). */
  deps?: Partial<WireDeps>;
}

/** A daemon on the real CLI and its stand-ins. */
export interface Conformance {
  t: TestDaemon;
  api: { a: StandIn; b: StandIn };
  status(): ReturnType<TestDaemon["daemon"]["control"]["status"]>;
  /** The visible pane lines of a session. */
  screen(session: string): Promise<string[]>;
  /** Drops a task file into `<queue>/<project>/inbox/`. */
  task(name: string, body: string, project?: string): void;
  /** Task file names in a queue folder (result files left out). */
  queue(folder: "inbox" | "processing" | "done" | "failed", project?: string): string[];
  /** Waits until every owned session is idle in /status. */
  allIdle(timeoutMs?: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** Starts a conformance daemon. */
export async function startConformance(options: ConformanceOptions = {}): Promise<Conformance> {
  const api = { a: startStandIn(), b: startStandIn() };
  const pool = options.pool ?? 1;
  const poll = options.poll ?? "500ms";
  const dedicated = options.dedicated ?? [];
  const router = routeByToken(api);
  const t = await startTestDaemon({
    deps: { ...(options.self ? { self: options.self } : {}), ...options.deps },
    async before(dir) {
      const workdirs = [join(dir, "work"), ...dedicated.map((d) => join(dir, "work", d))];
      for (const name of ["a", "b"] as const) prepareHome(join(dir, "homes", name), { url: api[name].url, account: name, workdirs, settings: options.settings });
      writeWrapper(join(dir, "claude-wrapper"), { sandbox: options.sandbox, url: router.url.origin });
    },
    extra: {
      claude: (dir) => `{ command: ${join(dir, "claude-wrapper")}, args: ["--dangerously-skip-permissions"], link: ${dir}/claude-link }`,
      pool: (dir) => `{ prefix: ccl-auto-, start_index: 11, min: ${pool}, max: ${pool}, workdir: ${dir}/work }`,
      dedicated: (dir) => (dedicated.length ? dedicated.map((d) => `\n  - { session: ${d}, workdir: ${dir}/work/${d} }`).join("") : " []"),
      quota: options.quota ?? `{ poll_interval: ${poll}, reactivate_cooldown: 1h, confirm_polls: 2 }`,
      switcher: options.switcherYaml ?? "{ relaunch_stagger: 200ms, verify_timeout: 60s }",
      watcher: `{ poll_interval: ${poll}, task_timeout: 10m }`,
      yaml: options.yaml,
      accounts: options.accounts,
    },
  });
  const queueDir = t.config.dispatcher.queue_dir;
  const status = () => t.daemon.control.status();
  const handle: Conformance = {
    t, api, status,
    async screen(session) {
      return (await t.server.tmux.capture([session])).get(session) ?? [];
    },
    task(name, body, project = "proj") {
      const inbox = join(queueDir, project, "inbox");
      mkdirSync(inbox, { recursive: true });
      writeFileSync(join(inbox, `${name}.md`), body);
    },
    queue(folder, project = "proj") {
      const path = join(queueDir, project, folder);
      return existsSync(path) ? readdirSync(path).filter((f) => f.endsWith(".md") && !f.endsWith(".result.md")).sort() : [];
    },
    async allIdle(timeoutMs = 90_000) {
      await eventually(() => { const s = status().sessions; return s.length === pool + dedicated.length && s.every((x) => x.state === "idle"); }, timeoutMs, 250);
    },
    async cleanup() {
      await t.cleanup();
      router.stop(true);
      api.a.stop();
      api.b.stop();
    },
  };
  return handle;
}

/**
 * One API address for every session, like the real one: the sessions share a session home whose login a swap changes
 * in place, so a running CLI keeps its `ANTHROPIC_BASE_URL` while its token changes. A request goes to the stand-in
 * of the account its bearer token names (`sk-ant-oat01-<account>-FAKE-…`, claude.ts), account a's otherwise.
 */
function routeByToken(api: { a: StandIn; b: StandIn }) {
  return Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch(request) {
      const target = /^Bearer sk-ant-oat01-b-/.test(request.headers.get("authorization") ?? "") ? api.b : api.a;
      const url = new URL(request.url);
      return fetch(new URL(url.pathname + url.search, target.url), { method: request.method, headers: request.headers, body: request.body });
    },
  });
}
