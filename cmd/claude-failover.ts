#!/usr/bin/env bun
/**
 * @module cmd/claude-failover
 * The binary: argv → config → real dependencies → {@link wire} → serve → signals → exit code. Owns nothing else.
 * `wire()` is the only place real implementations meet the modules; reading it top to bottom is reading the
 * architecture. Exit codes: 0 clean stop or success, 2 bad config or usage, 1 anything else.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "../internal/clock.ts";
import { ConfigError, formatProblem, isWildcardHost, readConfig, type Config } from "../internal/config/config.ts";
import { DEFAULT_CONFIG_PATH } from "../internal/config/schema.ts";
import { createLog, type Logger } from "../internal/log.ts";
import { createTmux, type RunCommand } from "../internal/tmux/tmux.ts";
import { childEnv, createBunRun } from "../internal/tmux/runner.ts";
import { openStore } from "../internal/state/state.ts";
import type { OperatorControl } from "../internal/control/control.ts";
import { createLifecycle } from "../internal/lifecycle/lifecycle.ts";
import { createQuotaMonitor } from "../internal/quota/quota.ts";
import { createSwitcher } from "../internal/switcher/switcher.ts";
import { createSessionHomes, prepareSessionHomes } from "../internal/claude/session-homes.ts";
import { createSpreadPlacement } from "../internal/switcher/spread.ts";
import { pickNextAccount } from "../internal/switcher/accounts.ts";
import { decideSwapMode, runningVersions } from "../internal/switcher/mode.ts";
import { createHomeMigration } from "../internal/lifecycle/move-home.ts";
import { createTaskQueue } from "../internal/dispatcher/queue.ts";
import { assertSessionWorkdirs } from "../internal/dispatcher/workdir.ts";
import { HOOK_TOKEN_FILE } from "../internal/hook/hook.ts";
import { createDispatcher } from "../internal/dispatcher/dispatcher.ts";
import { taskWorkdir } from "../internal/dispatcher/fleet.ts";
import { createDelivery } from "../internal/dispatcher/delivery.ts";
import { createDispatchGate } from "../internal/dispatcher/gate.ts";
import { createRuntime } from "../internal/state/runtime.ts";
import { createUsageRecorder } from "../internal/state/usage.ts";
import { createSessionTracker } from "../internal/watcher/sessions.ts";
import { wantedModel } from "../internal/supervisor/models.ts";
import { ownedNames } from "../internal/lifecycle/names.ts";
import { createWatcher } from "../internal/watcher/watcher.ts";
import { createJanitor } from "../internal/janitor/janitor.ts";
import { createNotifier } from "../internal/notify/notify.ts";
import { createChannels } from "../internal/notify/channels.ts";
import { daemonSecretEnvs } from "../internal/config/session-env.ts";
import { createDigest } from "../internal/notify/digest.ts";
import { eventLevel, renderEvent, type NotifyEvent } from "../internal/notify/events.ts";
import { createEventBus } from "../internal/notify/feed.ts";
import { WARNING_GLANCE_MS, createSupervisor } from "../internal/supervisor/supervisor.ts";
import { parseHookEvent } from "../internal/hook/event.ts";
import { createControl } from "../internal/control/control.ts";
import { createApp, LOOPBACK_HOSTS, startServer, type HealthReport, type RunningServer } from "../internal/server/server.ts";
import { createMetrics } from "../internal/server/metrics.ts";
import { runCli, usage, UsageError } from "../internal/cli/commands.ts";
import { sdNotify, startWatchdog } from "../internal/cli/systemd.ts";
import { createFleetBridge, type FleetBridge } from "../internal/fleet/bridge.ts";
import { queueFiles } from "../internal/fleet/files.ts";
import { fleetSend } from "../internal/fleet/notify.ts";
import { openFleet } from "../internal/fleet/open.ts";
import type { FleetStore } from "../internal/fleet/store.ts";
import { sharingStore } from "../internal/fleet/shared-store.ts";
import { fleetStatus } from "../internal/fleet/view.ts";
import packageJson from "../package.json" with { type: "json" };

declare const BUILD_VERSION: string | undefined;
/** The version printed by `claude-failover version` and shown on `/status`. */
export const VERSION: string = typeof BUILD_VERSION === "string" ? BUILD_VERSION : packageJson.version;

/** The real world as the daemon sees it; tests substitute parts. */
export interface WireDeps {
  run: RunCommand;
  clock: Clock;
  fetch: typeof fetch;
  log: Logger;
  /** argv that runs this binary (hooks call it back). */
  self: string[];
  /** Extra global tmux arguments (tests: `["-f", "/dev/null"]`). */
  tmuxArgs?: string[];
  /** The fleet store (tests: several in-process hosts on one file). @default from the config (fleet/open.ts) */
  fleet?: FleetStore;
  /** Crash-test seam: awaited before each persisted swap step runs. */
  beforeSwapStep?: (swapId: number, step: string, halted: AbortSignal) => Promise<void> | void;
}

/** A wired daemon: start it, stop it, reach its parts. */
export interface Daemon {
  start(): Promise<void>;
  /** Stops the daemon's own work; the tmux sessions and their agents keep running. Idempotent: later calls wait for the first. */
  stop(reason: string): Promise<void>;
  /** True while the poll loop keeps running (used for the systemd watchdog). */
  alive(): boolean;
  control: OperatorControl;
  url(): string;
  config: Readonly<Config>;
}

/** Connects every module for `config`. Nothing runs until `start()`. */
export function wire(config: Readonly<Config>, deps: WireDeps): Daemon {
  const { clock, run } = deps;
  const log = deps.log;
  const startedAt = clock.now();
  const store = openStore(join(config.state_dir, "state.db"));
  store.syncAccounts(config.accounts, startedAt);
  // Shared with other hosts (docs/fleet.md): PostgreSQL with `fleet.postgres_url_env`, else SQLite in state.db.
  const fleetStore = deps.fleet ?? openFleet(config.secrets.fleetPostgresUrl, join(config.state_dir, "state.db"), log.child({ module: "fleet" }));
  const tmux = createTmux(run, { socket: config.tmux.socket, extraArgs: deps.tmuxArgs });
  const hookToken = loadHookToken(config.state_dir);
  const metrics = createMetrics();
  const usage = createUsageRecorder({ store, metrics });
  const secretEnvNames = daemonSecretEnvs(config).map((secret) => secret.name);

  const placement = config.switcher.placement;
  const homes = createSessionHomes({ store, log: log.child({ module: "homes" }), accounts: config.accounts }, { stateDir: config.state_dir, placement });
  const pool = { prefix: config.autonomous.prefix, startIndex: config.autonomous.start_index, min: config.autonomous.min, max: config.autonomous.max, workdir: config.autonomous.workdir };
  const owned = ownedNames(pool, config.dedicated).ownedNames();
  // In `spread` placement every session has a home of its own: the versions running in all of them decide.
  const runningHomes = () => (placement === "spread" ? owned.map((name) => homes.sessionHomeOf(name)) : [homes.fleetHome]);
  const swapMode = () => decideSwapMode(config.switcher.mode, { versions: runningHomes().flatMap((home) => runningVersions(home)), legacySessions: homes.legacySessions().length });
  const pins = new Map(config.dedicated.flatMap((d) => (d.account ? [[d.session, d.account] as const] : [])));
  // `spread` placement of launches; the runtime's active account is then the account new sessions start on.
  const spread = placement === "spread" ? createSpreadPlacement({
    store, now: () => clock.now(), owned: () => owned, pins,
    setActiveAccount: (name) => runtime.setActiveAccount(name), activeAccount: () => runtime.activeAccount(),
  }) : null;
  // The one writer of session state: lifecycle, delivery, the switcher and the supervisor report facts to it.
  const sessions = createSessionTracker({ store, names: ownedNames(pool, config.dedicated) });
  const lifecycle = createLifecycle({ tmux, store, clock, log: log.child({ module: "lifecycle" }), sessions }, {
    homeFor: (session, launch) => homes.launchHome(session, launch),
    modelFor: (account) => wantedModel(account, store.modelLimits(), config.quota, clock.now()),
    sessionHome: homes.fleetHome,
    isSessionHome: (home) => homes.isSessionHome(home),
    accountFor: spread ? (session, proposed) => spread.accountFor(session, proposed) : undefined,
    pool,
    dedicated: config.dedicated,
    claude: { command: config.claude.command, args: config.claude.args },
    accounts: config.accounts,
    link: config.claude.link,
    stripEnv: secretEnvNames,
    sessionEnv: config.sessionEnv.values,
    loginSpacingMs: config.lifecycle.login_spacing,
    hooksDir: join(config.state_dir, "hooks"),
    hook: { self: deps.self, url: `http://${config.httpConnectHost}:${config.httpPort}`, spoolDir: join(config.state_dir, "spool"), tokenFile: join(config.state_dir, HOOK_TOKEN_FILE) },
  });

  // Telegram commands act through the control surface built below: it is handed over at start.
  const channels = createChannels(config.notifications, config.secrets, { log: log.child({ module: "notify" }), clock, fetch: deps.fetch, version: VERSION, host: hostname() });
  const notifier = createNotifier({ log: log.child({ module: "notify" }), clock, channels: channels.channels }, { timeZone: config.notifications.timezone });
  const events = createEventBus({
    // Events several hosts see for one fact are sent by the one host that claims them (fleet/notify.ts).
    store, log, send: fleetSend((event) => notifier.send(event), (key, windowMs) => bridge.claimEvent(key, windowMs), log.child({ module: "fleet" })),
    describe: (event) => ({ level: eventLevel(event), message: renderEvent(event, config.notifications.timezone).title }),
  });

  const quota = createQuotaMonitor({
    confirmPolls: config.quota.confirm_polls, reactivateCooldownMs: config.quota.reactivate_cooldown,
    minSightingGapMs: Math.floor(Math.min(config.quota.poll_interval, config.watcher.poll_interval) * 0.8),
  });
  const queue = createTaskQueue({ queueDir: config.dispatcher.queue_dir, maxTaskBytes: config.dispatcher.max_task_bytes, settleMs: config.dispatcher.settle, log: log.child({ module: "queue" }), clock });
  const watcher = createWatcher({ idlePolls: config.watcher.idle_polls, taskTimeoutMs: config.watcher.task_timeout });

  const runtime = createRuntime(store, config.accounts);
  // In `spread` placement a swap moves one account's sessions: the others keep taking tasks (no cooldown after it).
  const gate = createDispatchGate({ store, runtime, clock }, placement === "spread" ? 0 : config.quota.reactivate_cooldown);
  // The fleet bridge: this host's tasks and account changes in the shared store, and the other hosts' back.
  const bridge: FleetBridge = createFleetBridge({
    host: config.fleet.host, store, fleet: fleetStore, clock, log, notify: (event) => events.notify(event),
    files: queueFiles(queue, log.child({ module: "fleet" }), (project, file) => {
      const read = queue.readTaskSync(project, "processing", file);
      return read?.ok ? read.frontMatter.host ?? null : null;
    }, (project, own) => taskWorkdir({ defaultWorkdir: config.autonomous.workdir, projects: config.dispatcher.projects }, project, own)),
    local: {
      freeSessions: () => sessions.freeSessions().length, gate: () => gate(), paused: () => runtime.paused(),
      workdirs: () => [...new Set([config.autonomous.workdir, ...Object.values(config.dispatcher.projects).map((p) => p.workdir)])],
      // A single host claims every task, so one whose workdir is missing fails with that reason, as without a fleet;
      // in a fleet such a task waits for a host that has its workdir.
      workdirExists: (path) => fleetStore.backend === "sqlite" || existsSync(path),
    },
    info: () => ({ startedAt, version: VERSION, url: server?.url ?? null }),
    onAccountChanged: (change) => void supervisor.accountChanged(change).catch((error) => log.error("fleet account change not handled", { account: change.name, error })),
    onClaimed: () => void dispatcher.dispatch().catch((error) => log.error("dispatch failed", { error })),
  }, { heartbeatMs: config.fleet.heartbeat, leaseMs: config.fleet.lease });
  // Account decisions (supervisor, operator) are shared through the bridge; the bridge itself writes the plain store.
  const deciding = sharingStore(store, bridge, log.child({ module: "fleet" }));
  const homeOfAccount = (name: string | null) => config.accounts.find((a) => a.name === name) ?? null;
  const activeAccount = () => homeOfAccount(runtime.activeAccount()) ?? config.accounts[0]!;
  const delivery = createDelivery({
    store, tmux, lifecycle, clock, log: log.child({ module: "delivery" }), activeAccount,
    homeOf: (session) => homes.homeOf(session.name), sessions,
  }, { continuePrompt: config.switcher.continue_prompt });
  const dispatcher = createDispatcher({
    store, queue, clock, log: log.child({ module: "dispatcher" }), metrics, gate, usage,
    freeSessions: () => sessions.freeSessions(),
    deliver: (task) => delivery.deliver(task),
    notify: (event) => events.notify(event),
    fleet: { host: config.fleet.host, finished: (id, outcome) => bridge.finished(id, outcome), release: (id, reason) => bridge.release(id, reason), mayStart: () => bridge.mayStart(), wake: () => bridge.wake() },
  }, {
    defaultWorkdir: config.autonomous.workdir, projects: config.dispatcher.projects,
    idleAlertAfterMs: config.dispatcher.idle_alert_after, rescanIntervalMs: config.dispatcher.rescan_interval,
  });
  const switcher = createSwitcher({
    store, lifecycle, tmux, clock, log: log.child({ module: "switcher" }), notify: events.notify, metrics, beforeStep: deps.beforeSwapStep, homes, swapMode,
    setActiveAccount: (name) => runtime.setActiveAccount(name),
    activeAccount: () => runtime.activeAccount(),
    requeueTask: (id, reason) => dispatcher.requeue(id, reason),
    sessions,
  }, {
    link: config.claude.link, staggerMs: config.switcher.relaunch_stagger, verifyTimeoutMs: config.switcher.verify_timeout,
    relaunchAttempts: config.switcher.relaunch_attempts, maxSwapsPerHour: config.switcher.max_swaps_per_hour, placement, pins,
  });
  const migration = createHomeMigration({
    store, tmux, lifecycle, homes, log: log.child({ module: "homes" }), accounts: config.accounts,
    swapRunning: () => switcher.running() || store.openSwap() !== null, activeAccount,
    accountFor: spread ? (session, proposed) => spread.accountFor(session, proposed) : undefined,
  });
  const supervisor = createSupervisor({
    config, store: deciding, tmux, lifecycle, quota, switcher, dispatcher, delivery, watcher, sessions, runtime, gate, events, clock,
    log: log.child({ module: "supervisor" }), metrics, sessionHome: (session) => homes.homeOf(session), usage,
    strandedAccount: spread ? () => spread.strandedAccount() : undefined, watchTranscripts: true,
  });
  const janitor = createJanitor({
    store, clock, log: log.child({ module: "janitor" }), queueDir: config.dispatcher.queue_dir, runtimeDirs: [join(config.state_dir, "spool")],
    fleetHost: config.fleet.host,
  }, { intervalMs: config.janitor.interval, retentionMs: config.janitor.retention, mode: config.janitor.mode });
  const digest = createDigest({ store, clock, log: log.child({ module: "digest" }), send: (event) => notifier.send(event) }, { at: config.notifications.digest_at, timeZone: config.notifications.timezone });
  const control = createControl({
    store: deciding, supervisor, runtime, lifecycle, queue, tmux, events, clock, log, version: VERSION, startedAt, swapMode, placement,
    fleet: () => fleetStatus(bridge.status()),
  });

  let lastPollAt = clock.now();
  const pollIntervalMs = Math.min(config.quota.poll_interval, config.watcher.poll_interval);
  const app = createApp({
    control, metrics, events, token: config.secrets.httpToken, hookToken, log, version: VERSION,
    allowedHosts: allowedHosts(config.httpHost),
    ingestHook: (event, session, payload) => {
      supervisor.handle({ kind: "hook", event: parseHookEvent(event, payload), session, at: clock.now() }).catch((error) => log.error("hook handling failed", { event, error }));
    },
    health: async () => {
      const checks: HealthReport["checks"] = {};
      const sinceMs = clock.now() - lastPollAt;
      checks.loop = { ok: sinceMs < Math.max(3 * pollIntervalMs, 30_000), detail: `last poll ${Math.round(sinceMs / 1000)} s ago` };
      try {
        store.probeWrite(clock.now());
        checks.store = { ok: true };
      } catch (error) {
        checks.store = { ok: false, detail: (error as Error).message };
      }
      // With nothing to own (min 0, no dedicated) there may rightly be no tmux server yet.
      const tmuxUp = lifecycle.ownedNames().length === 0 || (await tmux.ping());
      checks.tmux = tmuxUp ? { ok: true } : { ok: false, detail: `no tmux server answers on socket "${config.tmux.socket || "default"}"` };
      // A link the daemon must not replace is the operator's to fix: reported here, never failing the loop.
      const linkProblem = lifecycle.linkProblem();
      if (config.claude.link) checks.link = linkProblem ? { ok: true, warning: true, detail: linkProblem } : { ok: true, detail: `${config.claude.link} follows the active account` };
      // The database away is a warning: the agents and this host's own work go on (docs/fleet.md "Database away").
      checks.fleet = bridge.health();
      return { ok: Object.values(checks).every((c) => c.ok), checks };
    },
  });

  const abort = new AbortController();
  let server: RunningServer | null = null;
  const cleanups: Array<() => Promise<void>> = [async () => store.close(), () => fleetStore.close()];
  let stopping: Promise<void> | null = null;
  return {
    config,
    control,
    url: () => server?.url ?? "",
    alive: () => clock.now() - lastPollAt < Math.max(3 * pollIntervalMs, 30_000),
    async start() {
      log.info("daemon starting", { version: VERSION, accounts: config.accounts.length, pool: `${config.autonomous.prefix}[${config.autonomous.start_index}..${config.autonomous.start_index + config.autonomous.max - 1}]`, min: config.autonomous.min, max: config.autonomous.max, dedicated: config.dedicated.length });
      if (config.sessionEnv.missing.length) log.warn("session variables missing from the daemon's environment", { names: config.sessionEnv.missing, key: "claude.env_from" });
      // Every part started here pushes its cleanup; stop() runs them last-started first. The store, opened by wire(),
      // closes last, after everything that writes to it has finished.
      server = startServer(app, { hostname: config.httpHost, port: config.httpPort });
      const running = server;
      cleanups.push(() => running.stop());
      notifier.start();
      channels.start(control);
      cleanups.push(() => Promise.all([channels.stop(2_500), notifier.stop(3_000)]).then(() => undefined));
      // An unfinished swap (the daemon was killed mid-way) finishes in the background; reconcile waits for it.
      // In `spread` placement the fleet home only serves `claude.link`: it holds the highest-priority usable account.
      const linkAccount = pickNextAccount(store.accounts(), clock.now());
      prepareSessionHomes(homes, placement === "spread" && linkAccount.kind === "account" ? linkAccount.account.name : activeAccount().name, log);
      const misplaced = homes.adoptPlacement(store.sessions().filter((row) => owned.includes(row.name)));
      if (misplaced.length) log.info("sessions outside their placement's home; they move once idle", { placement, sessions: misplaced });
      await migration.detect().catch((error) => log.error("sessions in account homes not detected", { error }));
      void switcher.resumeOpen().catch((error) => log.error("unfinished swap could not resume", { error }));
      cleanups.push(() => switcher.halt());
      dispatcher.recover();
      // After recover (claims never typed are released through it); stopped before the fleet store closes.
      bridge.start(abort.signal);
      cleanups.push(() => bridge.close());
      await supervisor.reconcile();
      const failuresSeen = new Map<string, number>();
      const poll = async () => {
        await supervisor.poll();
        lastPollAt = clock.now();
        const stats = notifier.stats();
        for (const [channel, depth] of Object.entries(stats.queued)) metrics.set("claude_failover_notify_queue_depth", depth, { channel });
        for (const [channel, failed] of Object.entries(stats.failed)) {
          const delta = failed - (failuresSeen.get(channel) ?? 0);
          if (delta > 0) metrics.inc("claude_failover_notify_failures_total", { channel }, delta);
          failuresSeen.set(channel, failed);
        }
      };
      await poll().catch((error) => log.error("first poll failed", { error }));
      /** Runs `pass` every `intervalMs` (asked before each pause) until stopped; a pass that throws is logged and the next one runs. */
      const every = async (intervalMs: number | (() => number), pass: () => Promise<void>, failed: string) => {
        while (!abort.signal.aborted) {
          await clock.sleep(typeof intervalMs === "number" ? intervalMs : intervalMs(), abort.signal);
          if (!abort.signal.aborted) await pass().catch((error) => log.error(failed, { error }));
        }
      };
      // Launches the login spacing deferred run as soon as they may, not a whole reconcile interval later.
      const reconcilePause = () => {
        const due = lifecycle.nextLaunchAt();
        const interval = config.lifecycle.reconcile_interval;
        return due !== null && due > clock.now() ? Math.min(interval, due - clock.now()) : interval;
      };
      dispatcher.start(abort.signal);
      janitor.start(abort.signal);
      digest.start(abort.signal);
      const loops = Promise.all([every(pollIntervalMs, poll, "poll failed"), every(reconcilePause, () => supervisor.reconcile(), "reconcile failed"),
        every(pollIntervalMs, async () => void homes.syncRefreshes(), "token refresh not carried"),
        // A usage warning is on screen ~8 s: a slower poll could miss it, so the sessions that may show one get a glance.
        pollIntervalMs > WARNING_GLANCE_MS ? every(WARNING_GLANCE_MS, () => supervisor.glance(), "warning glance failed") : Promise.resolve(),
        every(config.lifecycle.reconcile_interval, async () => void (await migration.pass()), "session not moved to its session home")]);
      // Loops end at the next sleep once aborted; a pass in progress (a delivery typing, a hook being handled) is
      // waited for, so nothing writes to a closed store.
      cleanups.push(async () => {
        abort.abort();
        await Promise.race([loops, clock.sleep(5_000)]);
        await Promise.all([dispatcher.idle(), supervisor.idle()]);
      });
      events.notify({ kind: "daemon_started", at: clock.now(), version: VERSION, accounts: config.accounts.length, sessions: lifecycle.ownedNames().length });
      log.info("daemon ready", { url: server.url, active_account: runtime.activeAccount() });
    },
    stop(reason) {
      // A second stop (a test's cleanup after the test stopped it, SIGTERM during a reload) waits for the first.
      stopping ??= (async () => {
        log.info("daemon stopping", { reason });
        events.notify({ kind: "daemon_stopping", at: clock.now(), reason });
        abort.abort();
        const errors: unknown[] = [];
        for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
          await cleanup().catch((error) => errors.push(error));
        }
        if (errors.length) throw new AggregateError(errors, `Cannot stop cleanly: ${errors.length} part(s) failed`);
      })();
      return stopping;
    },
  };
}

/** Host names the HTTP server answers to: loopback names plus the configured host; any host on a wildcard listener. */
function allowedHosts(host: string): string[] {
  return isWildcardHost(host) ? ["*"] : [...LOOPBACK_HOSTS, host.toLowerCase()];
}

/** Reads (or creates, mode 0600) the secret hooks send back to the daemon; hooks read the same file (`--token-file`). */
function loadHookToken(stateDir: string): string {
  const path = join(stateDir, HOOK_TOKEN_FILE);
  if (existsSync(path)) {
    const token = readFileSync(path, "utf8").trim();
    chmodSync(path, 0o600); // a copy restored with looser permissions must not stay readable by other users
    if (token.length >= 32) return token;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o750 });
  const token = randomBytes(24).toString("hex");
  writeFileSync(path, token + "\n", { mode: 0o600 });
  return token;
}

/** argv that runs this program again: the binary itself when compiled, `bun cmd/main.ts` (its entry) from source. */
export function selfArgv(): string[] {
  return Bun.isStandaloneExecutable ? [process.execPath] : [process.execPath, resolve(import.meta.dir, "main.ts")];
}

/** Builds the real dependencies from the process environment. */
export function realDeps(config: Pick<Config, "log_level">): WireDeps {
  return {
    run: createBunRun(childEnv(process.env)),
    clock: systemClock,
    fetch,
    log: createLog({ level: config.log_level }),
    self: selfArgv(),
  };
}

/** Loads the config named on the command line, from the real environment. */
export function loadConfig(path: string): Readonly<Config> {
  return readConfig(path, { env: process.env, home: process.env.HOME || homedir() });
}

/**
 * `claude-failover run`: runs until SIGTERM/SIGINT; SIGHUP reloads the config (an invalid one is refused). The signal
 * handlers are in place before the daemon starts: a SIGTERM while it starts or reloads stops it once that is over, a
 * SIGHUP then is ignored (logged), and neither ends the process by the signal's default action.
 */
export async function runDaemon(configPath: string): Promise<number> {
  let config = loadConfig(configPath);
  assertSessionWorkdirs(configPath, config);
  let daemon = wire(config, realDeps(config));
  const log = createLog({ level: config.log_level });
  let stopWatchdog = () => {};
  let stopping = false;
  /** The start or reload in progress, if any: a stop waits for it, a SIGHUP meanwhile is ignored. */
  let changing: Promise<unknown> | null = null;
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (exit = resolve));

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    sdNotify("STOPPING=1");
    stopWatchdog();
    // A SIGTERM during a start or a reload (systemctl stop right after reload) stops what it leaves running.
    await changing?.catch(() => undefined);
    await daemon.stop(signal).catch((error) => log.error("stop failed", { error }));
    exit(0);
  };
  const reload = async () => {
    if (stopping || changing) return void log.warn("config reload ignored", { why: stopping ? "the daemon is stopping" : "the daemon is starting or reloading" });
    let next: Readonly<Config>;
    try {
      next = loadConfig(configPath);
      assertSessionWorkdirs(configPath, next);
    } catch (error) {
      log.error("config reload refused; keeping the running config", { error: (error as Error).message });
      return;
    }
    sdNotify("RELOADING=1");
    changing = (async () => {
      await daemon.stop("reload");
      // Stopped meanwhile: the new config is not started (the stop that asked has nothing left to stop).
      if (stopping) return;
      config = next;
      daemon = wire(config, realDeps(config));
      await daemon.start();
    })();
    try {
      await changing;
    } catch (error) {
      // Half-reloaded is worse than down: exit non-zero so systemd restarts the daemon cleanly.
      log.error("config reload failed; exiting", { error: error as Error });
      exit(1);
      return;
    } finally {
      changing = null;
    }
    if (stopping) return;
    sdNotify("READY=1");
    log.info("config reloaded", { path: configPath });
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGHUP", () => void reload());
  process.on("unhandledRejection", (error) => log.error("unhandled rejection", { error: error as Error }));

  changing = daemon.start();
  try {
    await changing;
  } finally {
    changing = null;
  }
  if (!stopping) {
    sdNotify(`READY=1\nSTATUS=serving ${daemon.url()}`);
    stopWatchdog = startWatchdog(() => daemon.alive());
  }
  return await exited;
}

/** Entry point: maps every failure to an exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await runCli(argv, { version: VERSION, runDaemon, loadConfig, wire, realDeps, selfArgv, defaultConfigPath: DEFAULT_CONFIG_PATH });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.problems.map((p) => formatProblem(error.path, p)).join("\n")}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${usage()}\n`);
      return 2;
    }
    process.stderr.write(`claude-failover: ${(error as Error).message}\n`);
    return 1;
  }
}

// No top-level await: the bytecode build (`--bytecode`) compiles to CommonJS, where it is not allowed.
if (import.meta.main) void main(process.argv.slice(2)).then((code) => process.exit(code));
