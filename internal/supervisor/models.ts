/**
 * @module supervisor/models
 * Per-model limits with `quota.on_model_limit: fallback`. "You've hit your Opus limit" (Sonnet, Fable) blocks one model
 * of an account, not the account: the limit is recorded per (account, model) in the store and the account is not
 * cooled. The account's sessions running Claude Code's default model are relaunched on the same account with
 * `--model <quota.fallback_model>` and `--resume` (the one that hit the limit at once, the others as soon as no turn
 * runs on them); after the reset each goes back to the default model once it is idle (a running turn is never cut).
 * Nothing is typed here: the relaunch replaces the limit dialog, and the cut task is continued once by the task
 * follower (watcher/tasks.ts) when its session runs the fallback model ({@link ModelFallback.blocked} holds it until
 * then). The operator is told when a model is limited (`model_limit`) and when it is back (`model_restored`); each
 * new limit counts in the account's usage. Pure rules: {@link limitedFamily}, {@link wantedModel}, {@link modelMoves};
 * the rest applies them.
 */
import type { Config } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { Lifecycle } from "../lifecycle/lifecycle.ts";
import type { LimitKind, Verdict } from "../quota/classify.ts";
import { SNIPPET_CHARS, type QuotaMonitor, type SignalSource } from "../quota/quota.ts";
import type { ModelLimitRow, SessionRow, Store, TaskRow } from "../state/state.ts";
import type { SessionTracker } from "../watcher/sessions.ts";
import type { EventBus } from "../notify/feed.ts";
import type { UsageRecorder } from "../state/usage.ts";

/** The model families Claude Code names in a per-model limit (reference/claude-code.md §1.2). */
export type ModelFamily = "opus" | "sonnet" | "fable";

/** `quota.on_model_limit` and `quota.fallback_model`. */
export interface ModelLimitOptions {
  on_model_limit: "swap" | "fallback";
  fallback_model?: string | undefined;
}

/** The family a model name or alias belongs to (`sonnet`, `claude-sonnet-4-5` → sonnet), null when it names none. */
export function modelFamily(model: string): ModelFamily | null {
  return (/opus|sonnet|fable/i.exec(model)?.[0].toLowerCase() as ModelFamily | undefined) ?? null;
}

/**
 * The family of a per-model limit the fallback handles; null when the account path (cool and swap) applies: another
 * limit kind, `on_model_limit: swap`, or the fallback model is the limited one.
 */
export function limitedFamily(limit: LimitKind, options: ModelLimitOptions): ModelFamily | null {
  if (options.on_model_limit !== "fallback" || !options.fallback_model) return null;
  if (limit !== "opus" && limit !== "sonnet" && limit !== "fable") return null;
  return modelFamily(options.fallback_model) === limit ? null : limit;
}

/** The `--model` a session on `account` should run now: the fallback while one of its models is limited, else the default (null). */
export function wantedModel(account: string | null, limits: readonly ModelLimitRow[], options: ModelLimitOptions, now: number): string | null {
  if (!account || options.on_model_limit !== "fallback" || !options.fallback_model) return null;
  const fallback = modelFamily(options.fallback_model);
  const limited = limits.some((l) => l.account === account && l.resetAt > now && l.model !== fallback);
  return limited ? options.fallback_model : null;
}

/** A session as the move rule sees it. */
export interface ModelSessionView {
  name: string;
  account: string | null;
  /** The model it runs (null: the default). */
  model: string | null;
  dead: boolean;
  /** A task runs on it. */
  hasTask: boolean;
  /** A prompt is on its way into it (a delivery intent or typed prompt not yet in its conversation). */
  typing: boolean;
  /** What its pane showed on the last poll (null: not seen since its launch). */
  activity: "idle" | "busy" | "dialog" | "other" | null;
  /** Text in its input box (`""` empty, null when no input box shows). */
  input: string | null;
}

/** One relaunch: `session` gets `model` (null: the default model). */
export interface ModelMove {
  session: string;
  model: string | null;
  why: "limit" | "reset";
}

/**
 * Which sessions to relaunch now. To the fallback: every session whose account has its default model limited, unless a
 * prompt is on its way into it or a turn runs on it (it ends, or is cut by the same limit); `trigger`, whose turn the
 * limit just ended, goes at once; one with unsent text in its input box waits until it hits the limit itself. Back to the
 * default: only idle with no task and an empty input box.
 */
export function modelMoves(sessions: readonly ModelSessionView[], wanted: (account: string | null) => string | null, trigger?: string): ModelMove[] {
  const moves: ModelMove[] = [];
  for (const s of sessions) {
    const model = wanted(s.account);
    if (s.dead || s.account === null || s.model === model) continue;
    if (model !== null) {
      // A person's unsent text would be lost by the relaunch: that session moves once it has hit the limit itself.
      const draft = s.input !== null && s.input !== "";
      if (s.typing || (s.name !== trigger && (s.activity === "busy" || draft))) continue;
      moves.push({ session: s.name, model, why: "limit" });
    } else if (!s.hasTask && s.activity === "idle" && s.input === "") {
      moves.push({ session: s.name, model: null, why: "reset" });
    }
  }
  return moves;
}

/** What the fallback touches. */
export interface ModelFallbackDeps {
  config: Readonly<Config>;
  store: Store;
  lifecycle: Lifecycle;
  quota: QuotaMonitor;
  sessions: SessionTracker;
  log: Logger;
  now(): number;
  /** A swap is moving sessions: nothing is relaunched here. */
  swapRunning(): boolean;
  /** Where `model_limit` and `model_restored` go. */
  events?: Pick<EventBus, "notify">;
  /** Counts each new per-model limit among the account's limits (usage at a glance). */
  usage?: UsageRecorder;
}

/** The per-model fallback. */
export interface ModelFallback {
  /** A quota verdict of `session` on `account`: true when it is a per-model limit handled here (the account is not cooled). */
  onLimit(session: string, account: string, verdict: Extract<Verdict, { kind: "quota" }>, signal: SignalSource, at: number): Promise<boolean>;
  /** Ends the limits whose reset passed, then relaunches the sessions that run another model than they should. */
  pass(now: number, trigger?: string): Promise<void>;
  /** True while `row` runs a limited model and must move to the fallback before a prompt is typed into it. */
  blocked(row: SessionRow): boolean;
}

/** Creates the {@link ModelFallback}. */
export function createModelFallback(deps: ModelFallbackDeps): ModelFallback {
  const { config, store, lifecycle, quota, sessions, log } = deps;
  const options = config.quota;
  const wanted = (account: string | null, now = deps.now()) => wantedModel(account, store.modelLimits(), options, now);

  const view = (row: SessionRow, tasks: ReadonlyMap<string | null, TaskRow>): ModelSessionView => {
    const task = tasks.get(row.name);
    const pane = sessions.pane(row.name);
    return {
      name: row.name, account: row.account, model: row.model, dead: row.state === "dead" || !sessions.alive(row.name),
      hasTask: task !== undefined, typing: task?.delivery === "intent" || task?.delivery === "typed",
      activity: pane?.activity ?? null, input: pane?.input ?? null,
    };
  };

  const pass = async (now: number, trigger?: string) => {
    for (const limit of store.modelLimits()) {
      if (limit.resetAt > now) continue;
      store.clearModelLimit(limit.account, limit.model);
      log.info("model limit over", { account: limit.account, model: limit.model });
      deps.events?.notify({ kind: "model_restored", at: now, account: limit.account, model: limit.model });
    }
    if (deps.swapRunning()) return;
    const owned = new Set(lifecycle.ownedNames());
    const rows = store.sessions().filter((r) => owned.has(r.name) && r.retiringAt === null);
    // Nothing limited and nobody on another model (every poll without per-model limits): nothing to look at.
    if (store.modelLimits().length === 0 && rows.every((r) => r.model === null)) return;
    const tasks = new Map(store.tasks(["running", "stalled"]).map((t) => [t.session, t]));
    for (const move of modelMoves(rows.map((r) => view(r, tasks)), (account) => wanted(account, now), trigger)) {
      const row = store.session(move.session)!;
      const account = config.accounts.find((a) => a.name === row.account);
      if (!account) continue;
      try {
        await lifecycle.launch(move.session, { account, resumeId: row.sessionId, model: move.model });
        log.info("session relaunched for a model limit", { session: move.session, account: account.name, model: move.model, why: move.why });
      } catch (error) {
        log.error("session not relaunched for a model limit", { session: move.session, model: move.model, error });
      }
    }
  };

  return {
    async onLimit(session, account, verdict, signal, at) {
      const family = limitedFamily(verdict.limit, options);
      if (!family) return false;
      const known = store.modelLimits().find((l) => l.account === account && l.model === family && l.resetAt > at);
      // The line stays on screen until the next turn: a limit already recorded is old news there.
      if (signal === "pane" && known) return true;
      const decision = quota.observe({ session, account, signal, verdict, now: at }, { activeAccount: account, lastSwapAt: null, lastSwapTo: null });
      if (decision.action === "none") return true;
      const resetAt = Math.max(decision.resetAt, known?.resetAt ?? 0);
      if (resetAt !== known?.resetAt) {
        store.setModelLimit(account, family, resetAt, deps.now());
        log.warn("model limit hit", { session, account, model: family, signal, pattern: verdict.pattern, snippet: verdict.line.slice(0, 120), reset_at: new Date(resetAt).toISOString(), fallback: options.fallback_model });
      }
      // A limit not known before (not the same one seen again by another signal or session) is news.
      if (!known) {
        deps.usage?.limitHit({ account, kind: family, session, signal, at, resetAt });
        deps.events?.notify({ kind: "model_limit", at, account, model: family, fallback: options.fallback_model!, session, line: verdict.line.slice(0, SNIPPET_CHARS), reset_at: resetAt });
      }
      await pass(deps.now(), session);
      return true;
    },
    pass,
    blocked(row) {
      const model = wanted(row.account);
      return model !== null && row.model !== model;
    },
  };
}
