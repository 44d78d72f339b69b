/**
 * @module tmux
 * The only place that speaks to tmux. Builds argv arrays (never a shell string), targets one server
 * (`-L <socket>`, or the default server when the socket is empty), batches the capture of many panes (and the same
 * keys or paste to many panes) into one tmux invocation, sends text literally (`send-keys -l`) and multi-line prompts
 * as a bracketed paste.
 * It knows nothing about which sessions are owned: callers pass names and pane ids.
 * The process runner is injected ({@link RunCommand}); `runner.ts` holds the real one.
 */

/** Runs one program (argv[0]) and collects its output. Never throws for a non-zero exit; throws only if it cannot start. */
export type RunCommand = (argv: string[], options?: { stdin?: string; timeoutMs?: number }) => Promise<CommandResult>;

/** Outcome of a {@link RunCommand}. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** tmux refused or failed a command. */
export class TmuxError extends Error {
  override name = "TmuxError";
  constructor(
    readonly argv: string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`Cannot run tmux ${argv.slice(1).filter((a) => a !== "-L").slice(0, 3).join(" ")}: exit ${code}, ${stderr.trim() || "no message"}`);
  }
}

/** One pane as `list-panes -a` reports it. */
export interface PaneInfo {
  session: string;
  paneId: string;
  /** PID of the pane's top process. */
  pid: number;
  /** Foreground command name. */
  command: string;
  path: string;
  dead: boolean;
  deadStatus: number | null;
  /** Last output in the window, epoch ms (1 s resolution). */
  activityAt: number;
  width: number;
  height: number;
}

/** Every pane and the screens of some, read by one tmux client ({@link Tmux.snapshot}). */
export interface Snapshot {
  panes: PaneInfo[];
  screens: Map<string, string[]>;
}

/** What to run in a pane: argv executed directly by tmux (no shell), in `cwd`. */
export interface PaneCommand {
  cwd: string;
  argv: string[];
}

/** The tmux operations the daemon needs. */
export interface Tmux {
  /** Every pane on the server; `[]` when no server is running. */
  listPanes(): Promise<PaneInfo[]>;
  /** Creates a detached session running `command`, keeping the pane when the program exits (`remain-on-exit`); turns the server's `focus-events` on. */
  newSession(name: string, command: PaneCommand, size?: { width: number; height: number }): Promise<void>;
  /** Replaces whatever runs in the session's pane with `command` (`respawn-pane -k`). */
  respawn(target: string, command: PaneCommand): Promise<void>;
  killSession(name: string): Promise<void>;
  /** Captures the visible screen of many panes in one invocation. Panes that vanished are absent from the result. */
  capture(targets: string[]): Promise<Map<string, string[]>>;
  /**
   * {@link Tmux.listPanes} and {@link Tmux.capture} of `targets` in one invocation: one round trip to a server that
   * many redrawing panes keep busy, where a swap and the look after it wait for both. Screens are keyed by target.
   */
  snapshot(targets: string[]): Promise<Snapshot>;
  /** Types `text` literally (key names such as `Enter` or `C-c` are not interpreted). */
  sendText(target: string, text: string): Promise<void>;
  /** Sends named keys (`Enter`, `Escape`, `C-c`). */
  sendKeys(target: string, ...keys: string[]): Promise<void>;
  /**
   * Sends the same named keys to many panes in one tmux invocation. Resolves to the targets that got them; a pane
   * that vanished is skipped and the others still get their keys. Throws only when no tmux server answers.
   */
  sendKeysEach(targets: string[], ...keys: string[]): Promise<Set<string>>;
  /** Pastes `text` into many panes, one bracketed paste each, in one tmux invocation; resolves like {@link Tmux.sendKeysEach}. */
  pasteEach(targets: string[], text: string): Promise<Set<string>>;
  /**
   * Pastes `text` into every target (one bracketed paste each, multi-line safe), waits `pauseMs` for the input boxes to
   * take it, then sends `keys` to every target pasted: one tmux invocation, the pause kept by the tmux server
   * (`run-shell -d`), so a server that many redrawing panes keep busy is waited for once, not twice. Resolves like
   * {@link Tmux.sendKeysEach}: the targets that got the keys.
   */
  pasteThenKeys(targets: string[], text: string, pauseMs: number, ...keys: string[]): Promise<Set<string>>;
  /** True when a tmux server answers on the socket. */
  ping(): Promise<boolean>;
}

/** Options for {@link createTmux}. */
export interface TmuxOptions {
  /** `-L` socket name; empty = the default server. */
  socket: string;
  /** Extra global arguments (tests pass `["-f", "/dev/null"]`). @default [] */
  extraArgs?: string[];
  /** Binary. @default "tmux" */
  binary?: string;
}

const LIST_FORMAT = [
  "#{session_name}", "#{pane_id}", "#{pane_pid}", "#{pane_current_command}", "#{pane_current_path}",
  "#{pane_dead}", "#{pane_dead_status}", "#{window_activity}", "#{pane_width}", "#{pane_height}",
].join("\t");
const CAPTURE_MARKER = "@@cf-capture@@";
/** Starts each pane line of a {@link Tmux.snapshot}, to tell it from the screens after it. */
const PANE_MARKER = "@@cf-pane@@";
const DONE_MARKER = "@@cf-done@@";
const PASTED_MARKER = "@@cf-pasted@@";
const NO_SERVER = /no server running|error connecting to|failed to connect to server/i;
const DEFAULT_SIZE = { width: 200, height: 50 };
let pasteCounter = 0;

/** Creates a {@link Tmux} client over `run`. */
export function createTmux(run: RunCommand, options: TmuxOptions): Tmux {
  const base = [options.binary ?? "tmux", ...(options.socket ? ["-L", options.socket] : []), ...(options.extraArgs ?? [])];
  const exec = async (args: string[], stdin?: string): Promise<CommandResult> => {
    const argv = [...base, ...args];
    const result = await run(argv, { stdin, timeoutMs: 10_000 });
    if (result.code !== 0) throw new TmuxError(argv, result.code, result.stderr);
    return result;
  };

  /**
   * Runs `each(target)` for every target in one chained invocation (`before` first, `after` last), each followed by a
   * marker line, so a chain that stops at a vanished pane tells which targets were done; the rest run again without it.
   */
  const forEachTarget = async (targets: string[], each: (target: string) => string[], chain: { before?: string[]; after?: string[]; stdin?: string } = {}) => {
    const done = new Set<string>();
    let remaining = [...targets];
    let clean = true;
    while (remaining.length) {
      const argv: string[] = [...(chain.before ?? [])];
      remaining.forEach((target, i) => {
        if (argv.length) argv.push(";");
        argv.push(...each(target), ";", "display-message", "-p", "-t", exactTarget(target), `${DONE_MARKER}${i}`);
      });
      if (chain.after) argv.push(";", ...chain.after);
      const full = [...base, ...argv];
      const result = await run(full, { stdin: chain.stdin, timeoutMs: 10_000 });
      let last = -1;
      for (const line of result.stdout.split("\n")) {
        if (!line.startsWith(DONE_MARKER)) continue;
        last = Number(line.slice(DONE_MARKER.length));
        done.add(remaining[last]!);
      }
      clean = result.code === 0;
      if (clean) break;
      if (NO_SERVER.test(result.stderr)) throw new TmuxError(full, result.code, result.stderr);
      // The command after the last marker failed (a pane that vanished): its target is skipped, the rest run again.
      remaining = remaining.slice(last + 2);
    }
    return { done, clean };
  };

  /** False once the server refused `run-shell -d` (tmux before 3.2): the pause between a paste and its keys is then the daemon's. */
  let serverPause = true;
  /** {@link Tmux.pasteThenKeys} in two invocations, the pause between them kept here. */
  const pasteWaitKeys = async (targets: string[], text: string, pauseMs: number, keys: string[]) => {
    const pasted = await client.pasteEach(targets, text);
    if (!pasted.size) return pasted;
    await Bun.sleep(pauseMs);
    return client.sendKeysEach([...pasted], ...keys);
  };

  const client: Tmux = {
    async listPanes() {
      const argv = [...base, "list-panes", "-a", "-F", LIST_FORMAT];
      const result = await run(argv, { timeoutMs: 10_000 });
      if (result.code !== 0) {
        if (NO_SERVER.test(result.stderr)) return [];
        throw new TmuxError(argv, result.code, result.stderr);
      }
      return result.stdout.split("\n").filter(Boolean).map(parsePaneLine);
    },

    async newSession(name, command, size = DEFAULT_SIZE) {
      await exec([
        "new-session", "-d", "-s", name, "-c", command.cwd, "-x", String(size.width), "-y", String(size.height),
        "--", ...command.argv, ";", "set-option", "-w", "-t", `=${name}:`, "remain-on-exit", "on",
        // Claude Code asks for focus events (it prints "tmux focus-events off · add 'set -g focus-events on'").
        ";", "set-option", "-g", "focus-events", "on",
      ]);
    },

    async respawn(target, command) {
      await exec(["respawn-pane", "-k", "-t", exactTarget(target), "-c", command.cwd, "--", ...command.argv]);
    },

    async killSession(name) {
      await exec(["kill-session", "-t", `=${name}`]);
    },

    async snapshot(targets) {
      const argv = [...base, "list-panes", "-a", "-F", `${PANE_MARKER}${LIST_FORMAT}`];
      targets.forEach((target, i) => {
        argv.push(";", "capture-pane", "-p", "-J", "-t", exactTarget(target), ";", "display-message", "-p", "-t", exactTarget(target), `${CAPTURE_MARKER}${i}`);
      });
      const result = await run(argv, { timeoutMs: 10_000 });
      if (result.code !== 0 && NO_SERVER.test(result.stderr)) return { panes: [], screens: new Map() };
      const lines = result.stdout.split("\n");
      const panes = lines.filter((l) => l.startsWith(PANE_MARKER)).map((l) => parsePaneLine(l.slice(PANE_MARKER.length)));
      const screens = new Map<string, string[]>();
      const lastDone = parseCaptures(lines.filter((l) => !l.startsWith(PANE_MARKER)).join("\n"), targets, screens);
      if (result.code === 0) return { panes, screens };
      // The listing failed, or a capture did (a pane that vanished stops the chain): the rest the usual way.
      if (!panes.length) return { panes: await client.listPanes(), screens: await client.capture(targets) };
      for (const [target, screen] of await client.capture(targets.slice(lastDone + 2))) screens.set(target, screen);
      return { panes, screens };
    },

    async capture(targets) {
      const screens = new Map<string, string[]>();
      let remaining = [...targets];
      while (remaining.length) {
        const argv: string[] = [];
        remaining.forEach((target, i) => {
          if (i) argv.push(";");
          argv.push("capture-pane", "-p", "-J", "-t", exactTarget(target), ";",
            "display-message", "-p", "-t", exactTarget(target), `${CAPTURE_MARKER}${i}`);
        });
        const result = await run([...base, ...argv], { timeoutMs: 10_000 });
        const lastDone = parseCaptures(result.stdout, remaining, screens);
        if (result.code === 0 || NO_SERVER.test(result.stderr)) break;
        // The first failing command aborts the rest of the chain: skip the pane that failed, capture the others.
        remaining = remaining.slice(lastDone + 2);
      }
      return screens;
    },

    async sendText(target, text) {
      if (!text) return;
      await exec(["send-keys", "-t", exactTarget(target), "-l", "--", text]);
    },

    async sendKeys(target, ...keys) {
      await exec(["send-keys", "-t", exactTarget(target), ...keys]);
    },

    async sendKeysEach(targets, ...keys) {
      return (await forEachTarget(targets, (target) => ["send-keys", "-t", exactTarget(target), ...keys])).done;
    },

    async pasteEach(targets, text) {
      if (!targets.length) return new Set<string>();
      const buffer = `cf-${process.pid}-${++pasteCounter}`;
      const { done, clean } = await forEachTarget(targets, (target) => ["paste-buffer", "-p", "-r", "-b", buffer, "-t", exactTarget(target)], {
        before: ["load-buffer", "-b", buffer, "-"], after: ["delete-buffer", "-b", buffer], stdin: pasteSafe(text),
      });
      // A chain that stopped early never reached its delete-buffer.
      if (!clean) await run([...base, "delete-buffer", "-b", buffer], { timeoutMs: 10_000 }).catch(() => undefined);
      return done;
    },

    async pasteThenKeys(targets, text, pauseMs, ...keys) {
      if (!targets.length) return new Set<string>();
      if (pauseMs > 0 && !serverPause) return pasteWaitKeys(targets, text, pauseMs, keys);
      const buffer = `cf-${process.pid}-${++pasteCounter}`;
      const pause = pauseMs > 0 ? ["run-shell", "-d", (pauseMs / 1000).toFixed(3)] : null;
      const marked = (target: string, marker: string) => [";", "display-message", "-p", "-t", exactTarget(target), marker];
      const argv = ["load-buffer", "-b", buffer, "-"];
      targets.forEach((target, i) => argv.push(";", "paste-buffer", "-p", "-r", "-b", buffer, "-t", exactTarget(target), ...marked(target, `${PASTED_MARKER}${i}`)));
      argv.push(";", "delete-buffer", "-b", buffer, ...(pause ? [";", ...pause] : []));
      targets.forEach((target, i) => argv.push(";", "send-keys", "-t", exactTarget(target), ...keys, ...marked(target, `${DONE_MARKER}${i}`)));
      const full = [...base, ...argv];
      const result = await run(full, { stdin: pasteSafe(text), timeoutMs: 10_000 });
      const lines = result.stdout.split("\n");
      const markedIn = (marker: string) => new Set(lines.filter((l) => l.startsWith(marker)).map((l) => targets[Number(l.slice(marker.length))]!));
      const pasted = markedIn(PASTED_MARKER);
      const done = markedIn(DONE_MARKER);
      if (result.code === 0) return done;
      if (NO_SERVER.test(result.stderr)) throw new TmuxError(full, result.code, result.stderr);
      if (pause && pasted.size === 0 && /run-shell: unknown flag|usage: run-shell/.test(result.stderr)) {
        // A tmux before 3.2 has no `run-shell -d` and refuses the whole chain before running any of it: nothing was
        // pasted, and the pause is the daemon's from now on.
        serverPause = false;
        return pasteWaitKeys(targets, text, pauseMs, keys);
      }
      // A pane that vanished stopped the chain at its own command (markers come in order, so their count says where).
      if (pasted.size < targets.length) {
        // Among the pastes: the buffer was not deleted, nobody got the keys. The rest are pasted, then all get the keys.
        await run([...base, "delete-buffer", "-b", buffer], { timeoutMs: 10_000 }).catch(() => undefined);
        for (const target of await client.pasteEach(targets.slice(pasted.size + 1), text)) pasted.add(target);
        return (await forEachTarget([...pasted], (target) => ["send-keys", "-t", exactTarget(target), ...keys], pause ? { before: pause } : {})).done;
      }
      // Among the keys: every pane was pasted and has waited; the rest get their keys.
      for (const target of await client.sendKeysEach(targets.slice(done.size + 1), ...keys)) done.add(target);
      return done;
    },

    async ping() {
      const result = await run([...base, "list-sessions", "-F", "#{session_name}"], { timeoutMs: 5_000 });
      return result.code === 0 || /no sessions/i.test(result.stderr);
    },
  };
  return client;
}

/**
 * Makes text safe to paste: a control character inside a bracketed paste still acts on the terminal (an embedded
 * `ESC[201~` ends the paste and the rest becomes keystrokes; CR submits; Ctrl-C interrupts). C0 controls other than
 * tab and newline, and DEL, become their visible Control Pictures (`␛`, `␍`, `␃`), C1 controls are dropped, CRLF
 * becomes LF. The agent still reads every character; none acts as a key.
 */
export function pasteSafe(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f\u0080-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0x80) return "";
    return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
  });
}

/** Pane ids (`%3`) are used as they are; session names get `=` so tmux never matches a prefix of another session. */
function exactTarget(target: string): string {
  return target.startsWith("%") ? target : `=${target}:`;
}

function parsePaneLine(line: string): PaneInfo {
  const [session = "", paneId = "", pid, command = "", path = "", dead, deadStatus, activity, width, height] = line.split("\t");
  return {
    session, paneId, command, path,
    pid: Number(pid) || 0,
    dead: dead === "1",
    deadStatus: deadStatus ? Number(deadStatus) : null,
    activityAt: (Number(activity) || 0) * 1000,
    width: Number(width) || 0,
    height: Number(height) || 0,
  };
}

/** Splits chained capture output: each pane's lines end with its marker. Returns the index of the last complete pane (-1 if none). */
function parseCaptures(stdout: string, targets: string[], into: Map<string, string[]>): number {
  let lastDone = -1;
  let lines: string[] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith(CAPTURE_MARKER)) {
      lastDone = Number(line.slice(CAPTURE_MARKER.length));
      const target = targets[lastDone];
      if (target !== undefined) into.set(target, trimBottom(lines));
      lines = [];
    } else {
      lines.push(line);
    }
  }
  return lastDone;
}

function trimBottom(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0 && !lines[end - 1]?.trim()) end--;
  return lines.slice(0, end).map((l) => l.replace(/\s+$/, ""));
}
