/**
 * @module sim-faults
 * Fault injection for the simulated Claude Code, switchable at run time per config home: the file
 * `<CLAUDE_CONFIG_DIR>/sim-faults.json` is re-read before every hook and every turn, and counted faults are consumed
 * (the file is rewritten without them), so a test writes it, waits for the effect, and the next turn is clean.
 *
 * ```json
 * { "Stop":             { "drop": 1 },
 *   "UserPromptSubmit": { "delayMs": 2000, "match": "task-b" },
 *   "StopFailure":      { "duplicate": 1, "duplicateDelayMs": 900 },
 *   "crash":            { "count": 1, "code": 137, "afterMs": 300, "match": "task-c" } }
 * ```
 * Per hook event (any name: `SessionStart`, `UserPromptSubmit`, `Stop`, `StopFailure`, `Notification`, `SessionEnd`):
 * - `drop: N` — the next N firings never run (a lost hook).
 * - `delayMs: M` — every firing runs M ms late and the turn does not wait for it (a hook spooled and drained late).
 *   Not counted: it stays until the file changes.
 * - `duplicate: N`, `duplicateDelayMs: D` (default 900) — the next N firings run on time and once more D ms later.
 * - `reorder: N` — the next N firings are held until the turn's `Stop` or `StopFailure` has run (meant for
 *   `UserPromptSubmit`: the daemon hears "stopped" before "submitted").
 * - `match: "text"` — the fault applies only to turns whose prompt contains the text (session hooks have no prompt and
 *   never match).
 * `idleNotifyMs: M` — the idle `Notification` (`idle_prompt`) fires M ms after a turn ends instead of 60 s; it counts as
 * a hook of that turn, so `match` on `Notification` picks the turn it follows.
 * `usage: "<line>"` — after each reply the session draws this usage warning or extra-usage line (verbatim) above its input
 * box, like `<account home>/sim-usage` (sim-claude.ts); not counted: it stays until the file changes.
 * `crash`: the next `count` (default 1) turns whose prompt matches exit with `code` (default 1) `afterMs` (default half
 * the turn's work) after the prompt was submitted: after the user record and UserPromptSubmit, before any reply, Stop,
 * turn_duration or SessionEnd. The prompt directive `[sim:crash=<code>]` does the same for one prompt.
 * `auth`: every turn (or the next `count`) ends with a refused login, as 2.1.330 renders it (reference/real-claude.md
 * §13.3): `"auth": "revoked"` (also `expired`, `invalid`, `not-logged-in`), or `{ "kind": "expired", "count": 1 }`.
 * A missing or malformed file means no faults. Two simulators sharing a home take turns through `sim-faults.lock`.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The file the simulator reads its faults from, in its config home. */
export const FAULTS_FILE = "sim-faults.json";
/** Default gap between a hook and its duplicate: the hook command's spool delay when the daemon is slow. */
export const DEFAULT_DUPLICATE_DELAY_MS = 900;
const LOCK_STALE_MS = 2000;

/** What one firing of a hook does. */
export interface HookPlan {
  drop: boolean;
  /** Run this late, without holding the turn (0 = on time). */
  delayMs: number;
  /** Run again this long after the first run; absent = once. */
  duplicateAfterMs?: number;
  /** Hold until the turn's Stop/StopFailure has run. */
  hold: boolean;
}

/** What the next turn's crash fault asks, if any. */
export interface CrashPlan {
  code: number;
  afterMs?: number;
}

type Json = Record<string, unknown>;
const count = (value: unknown) => (typeof value === "number" && value > 0 ? Math.floor(value) : 0);
const ms = (value: unknown) => (typeof value === "number" && value > 0 ? value : 0);
const applies = (spec: Json, prompt: string | undefined) =>
  typeof spec.match !== "string" || (prompt !== undefined && prompt.includes(spec.match));

/** Decides one firing of `event` from the faults file's content; returns the plan and the content to write back. */
export function planHook(faults: Json, event: string, prompt: string | undefined): { plan: HookPlan; next: Json } {
  const plan: HookPlan = { drop: false, delayMs: 0, hold: false };
  const spec = faults[event];
  if (!spec || typeof spec !== "object" || Array.isArray(spec) || !applies(spec as Json, prompt)) return { plan, next: faults };
  const s = { ...(spec as Json) };
  const take = (key: string) => {
    const n = count(s[key]);
    if (n > 0) s[key] = n - 1;
    return n > 0;
  };
  if (take("drop")) plan.drop = true;
  else {
    plan.delayMs = ms(s.delayMs);
    if (take("reorder")) plan.hold = true;
    if (take("duplicate")) plan.duplicateAfterMs = ms(s.duplicateDelayMs) || DEFAULT_DUPLICATE_DELAY_MS;
  }
  return { plan, next: { ...faults, [event]: s } };
}

/** Decides whether the turn of `prompt` crashes; returns the plan and the content to write back. */
export function planCrash(faults: Json, prompt: string): { plan?: CrashPlan; next: Json } {
  const spec = faults.crash;
  if (!spec || typeof spec !== "object" || Array.isArray(spec) || !applies(spec as Json, prompt)) return { next: faults };
  const s = spec as Json;
  const left = s.count === undefined ? 1 : count(s.count);
  if (left === 0) return { next: faults };
  const code = typeof s.code === "number" && Number.isInteger(s.code) ? s.code & 255 : 1;
  const afterMs = typeof s.afterMs === "number" && s.afterMs >= 0 ? s.afterMs : undefined;
  return { plan: { code, afterMs }, next: { ...faults, crash: { ...s, count: left - 1 } } };
}

/** The refused login the next turn ends with (`auth`), if any; a counted one is consumed. */
export function planAuth(faults: Json): { kind?: string; next: Json } {
  const spec = faults.auth;
  if (typeof spec === "string" && spec) return { kind: spec, next: faults };
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) return { next: faults };
  const s = spec as Json;
  const kind = typeof s.kind === "string" && s.kind ? s.kind : "revoked";
  if (s.count === undefined) return { kind, next: faults };
  const left = count(s.count);
  return left === 0 ? { next: faults } : { kind, next: { ...faults, auth: { ...s, count: left - 1 } } };
}

/** The `idleNotifyMs` override, if the faults file sets one. */
export function planIdleNotify(faults: Json): { ms?: number; next: Json } {
  return { ms: ms(faults.idleNotifyMs) || undefined, next: faults };
}

/** The `usage` line the faults file sets, if any. */
export function planUsage(faults: Json): { line?: string; next: Json } {
  return { line: typeof faults.usage === "string" && faults.usage.trim() ? faults.usage.trim() : undefined, next: faults };
}

/** Reads `<home>/sim-faults.json`, applies `plan` and writes back what it consumed; no file, no faults. */
export function consumeFaults<T>(home: string, plan: (faults: Json) => { next: Json } & T): Omit<T, "next"> | undefined {
  const file = join(home, FAULTS_FILE);
  if (!existsSync(file)) return undefined;
  const unlock = lock(join(home, "sim-faults.lock"));
  try {
    let faults: unknown;
    try {
      faults = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      return undefined;
    }
    if (!faults || typeof faults !== "object" || Array.isArray(faults)) return undefined;
    const result = plan(faults as Json);
    if (JSON.stringify(result.next) !== JSON.stringify(faults)) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(result.next));
      renameSync(tmp, file);
    }
    return result;
  } catch {
    return undefined;
  } finally {
    unlock();
  }
}

/** A best-effort exclusive lock file (waits up to ~0.5 s, breaks a lock older than 2 s). */
function lock(path: string): () => void {
  for (let i = 0; i < 50; i++) {
    try {
      closeSync(openSync(path, "wx"));
      return () => rmSync(path, { force: true });
    } catch {
      try {
        if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) rmSync(path, { force: true });
      } catch {
        // gone meanwhile: try again
      }
      Bun.sleepSync(10);
    }
  }
  return () => {};
}
