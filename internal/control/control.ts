/**
 * @module control
 * The one implementation of {@link OperatorControl}: what HTTP, Telegram and the CLI can do, each action a few
 * direct calls into the supervisor, store and task queue. Owns the wording operators see.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import type { Store, TaskRow } from "../state/state.ts";
import { buildStatus, type FleetStatus, type StatusSnapshot } from "../state/status.ts";
import type { Tmux } from "../tmux/tmux.ts";
import type { TaskQueue } from "../dispatcher/queue.ts";
import type { Supervisor } from "../supervisor/supervisor.ts";
import type { Runtime } from "../state/runtime.ts";
import type { EventBus } from "../notify/feed.ts";
import { clearLostLogin } from "../supervisor/login.ts";

/** Outcome of an operator action, shown verbatim to the operator. */
export interface ActionResult {
  ok: boolean;
  message: string;
}

/** What an operator can do, from HTTP, Telegram or the CLI. One implementation, wired in `wire()`. */
export interface OperatorControl {
  status(): StatusSnapshot;
  /** Requests a swap (to `account` or the next available one). */
  swap(account?: string): Promise<ActionResult>;
  pause(): ActionResult;
  resume(): ActionResult;
  setAccountEnabled(name: string, enabled: boolean): ActionResult;
  /** Writes a task file into `<queue_dir>/<project>/inbox/`. */
  addTask(input: { project: string; name?: string; prompt: string; priority?: number; workdir?: string; timeout?: string }): Promise<ActionResult & { file?: string }>;
  tasks(): TaskRow[];
  /** Last `lines` lines of an owned session's pane; null when not owned or not running. */
  tail(session: string, lines: number): Promise<string[] | null>;
}

/** What the control surface calls. */
export interface ControlDeps {
  store: Store;
  supervisor: Pick<Supervisor, "requestSwap">;
  runtime: Runtime;
  lifecycle: Lifecycle;
  queue: TaskQueue;
  tmux: Tmux;
  events: EventBus;
  clock: Clock;
  log: Logger;
  version: string;
  startedAt: number;
  /** How the next swap would move sessions, and why (switcher/mode.ts). */
  swapMode?: () => { mode: "in-place" | "restart"; why: string };
  /** `switcher.placement`, shown by /status. @default failover */
  placement?: "failover" | "spread";
  /** The fleet view for /status (fleet/view.ts). @default none */
  fleet?: () => FleetStatus;
}

/** Creates the {@link OperatorControl}. */
export function createControl(deps: ControlDeps): OperatorControl {
  const { store, supervisor, runtime, lifecycle, queue, tmux, clock, log } = deps;
  return {
    status() {
      return buildStatus(store, {
        version: deps.version, startedAt: deps.startedAt, activeAccount: runtime.activeAccount(), paused: runtime.paused(),
        exhaustedUntil: runtime.exhaustedUntil(), swapMode: deps.swapMode?.(), placement: deps.placement ?? "failover",
        fleet: deps.fleet?.(),
      }, clock.now());
    },

    async swap(account) {
      const result = await supervisor.requestSwap({ reason: "manual", to: account || undefined });
      log.info("manual swap", { account, ok: result.ok, message: result.message });
      return { ok: result.ok, message: result.message };
    },

    pause() {
      runtime.setPaused(true);
      log.info("dispatch paused by operator");
      return { ok: true, message: "dispatch paused: running tasks continue, queued tasks wait" };
    },

    resume() {
      runtime.setPaused(false);
      log.info("dispatch resumed by operator");
      return { ok: true, message: "dispatch resumed" };
    },

    setAccountEnabled(name, enabled) {
      const account = store.accounts().find((a) => a.name === name);
      if (!account) return { ok: false, message: `unknown account "${name}"` };
      const now = clock.now();
      const modelLimits = store.modelLimits().filter((l) => l.account === name && l.resetAt > now);
      // Per-model limits (quota.on_model_limit: fallback) are ended only by enabling an account that is available
      // already: re-enabling a disabled (or cooling, or logged-out) account keeps a genuine limit until its reset.
      if (enabled && account.state === "available") {
        if (modelLimits.length === 0) return { ok: true, message: `account ${name} is already enabled` };
        for (const limit of modelLimits) {
          store.clearModelLimit(name, limit.model);
          deps.events.notify({ kind: "model_restored", at: now, account: name, model: limit.model });
        }
        const models = modelLimits.map((l) => l.model).join(", ");
        log.info("model limits ended by operator", { account: name, models });
        return { ok: true, message: `account ${name}: ${models} usable again; its sessions go back to the default model once idle` };
      }
      // Enabling a cooling account is the operator saying its quota is back (e.g. an early reset): it is available now.
      // Enabling one that needs a login is the operator saying they ran `/login` in its home.
      store.setAccountState(name, enabled ? "available" : "disabled", null, now);
      const loggedIn = enabled && account.state === "needs_login";
      if (loggedIn) {
        clearLostLogin(store, name);
        deps.events.notify({ kind: "login_restored", at: clock.now(), account: name, how: "enabled" });
      } else deps.events.notify({ kind: "account_enabled", at: clock.now(), account: name, enabled });
      // Exhausted mode waits for a reset; an account enabled now ends it at the next tick (or swaps to it).
      if (enabled && runtime.exhaustedUntil() !== null) runtime.setExhaustedUntil(clock.now());
      log.info("account enabled by operator", { account: name, enabled, was: account.state });
      const note = (!enabled && runtime.activeAccount() === name ? "; it is the active account: sessions stay on it until the next swap (POST /swap to move now)"
        : loggedIn ? `; its login in ${account.home} is used again` : "")
        + (enabled && modelLimits.length ? `; ${modelLimits.map((l) => `its ${l.model} limit lasts until ${new Date(l.resetAt).toISOString()}`).join(", ")} (enable it again to end that now)` : "");
      return { ok: true, message: `account ${name} ${enabled ? "enabled" : "disabled"}${note}` };
    },

    async addTask(input) {
      const front: string[] = [];
      if (input.priority !== undefined) front.push(`priority: ${input.priority}`);
      if (input.workdir) front.push(`workdir: ${JSON.stringify(input.workdir)}`);
      if (input.timeout) front.push(`timeout: ${JSON.stringify(input.timeout)}`);
      const content = (front.length ? `---\n${front.join("\n")}\n---\n` : "") + input.prompt + (input.prompt.endsWith("\n") ? "" : "\n");
      try {
        // Naming a project through the API creates its folders; a name that is not a plain word is refused there.
        queue.ensureProject(input.project);
        const file = await queue.writeTask(input.project, input.name, content);
        return { ok: true, message: `task queued as ${file}`, file };
      } catch (error) {
        return { ok: false, message: (error as Error).message };
      }
    },

    tasks: () => store.tasks(undefined, 500),

    async tail(session, lines) {
      if (!lifecycle.kindOf(session)) return null;
      const screen = (await tmux.capture([session])).get(session);
      return screen ? screen.slice(-lines) : null;
    },
  };
}
