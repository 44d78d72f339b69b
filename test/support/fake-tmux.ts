/**
 * @module test/support/fake-tmux
 * A small in-memory tmux behind a {@link RunCommand}: the argv the daemon's tmux client builds (list-panes, chained
 * capture-pane, load-buffer/paste-buffer/delete-buffer, send-keys, `run-shell -d`, new-session, respawn-pane, kill-session, list-sessions) is
 * answered from a table of panes, with no process started. Each pane plays a Claude Code that writes the real ledger
 * records through the simulator's store (internal/demo/sim-store.ts): Enter on a non-empty input box appends the
 * prompt's `user` record (with a fresh `promptId`) and turns the pane busy; {@link FakeTmux.endTurn} appends the reply
 * and the `turn_duration` record and turns it idle. Hooks are not fired: a test posts the ones it wants.
 * Unknown commands fail the call with exit 1, so an argv the fake does not understand never passes silently.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { CommandResult, RunCommand } from "../../internal/tmux/tmux.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { ledgerEntry } from "../../internal/claude/transcript.ts";
import { createSimStore, readTranscript, type SimStore } from "../../internal/demo/sim-store.ts";

/** One pane of the fake server, playing one Claude Code process. */
export interface FakePane {
  session: string;
  paneId: string;
  pid: number;
  cwd: string;
  /** CLAUDE_CONFIG_DIR from the launch argv; "" for a pane that runs something else. */
  home: string;
  /** Conversation id from `--session-id`/`--resume`; "" when not Claude Code. */
  conversation: string;
  transcript: string;
  input: string;
  busy: boolean;
  /** Prompts submitted in this pane's conversation (continues its count on `--resume`). */
  prompts: number;
  /** The open turn's prompt id, while busy. */
  promptId: string | null;
  ledger: SimStore | null;
  /** The program's argv from the last `new-session`/`respawn-pane` (after `--`). */
  argv: string[];
}

/** Settings of {@link createFakeTmux}. */
export interface FakeTmuxOptions {
  /** Called after a prompt's `user` record is written (the pane is busy now). */
  onSubmit?(pane: FakePane, text: string, promptId: string): void;
  /** Time source of `window_activity`. @default Date.now */
  now?(): number;
  /** True to swallow this paste (keys lost on the way, as when the daemon dies mid-typing). @default never */
  dropPaste?(pane: FakePane): boolean;
}

/** The fake server and what it saw. */
export interface FakeTmux {
  run: RunCommand;
  panes: Map<string, FakePane>;
  /** Every command word run, in order (e.g. `capture-pane`), for counting. */
  commands: string[];
  /**
   * Ends the open turn of `session`: the `reply` record (unless null, when it was written by {@link FakeTmux.reply}),
   * then `turn_duration`; the pane is idle again. Returns the turn's prompt id, null when no turn was open.
   */
  endTurn(session: string, reply: string | null): string | null;
  /** Writes a reply record into the open turn of `session` without ending it (Claude Code runs Stop hooks next). */
  reply(session: string, text: string): string | null;
  /** Every transcript a pane of this server wrote to. */
  transcripts(): string[];
  /** How many `user` prompt records each prompt text has, over every transcript of this server. */
  promptCounts(): Map<string, number>;
  /** Drops every pane (`kill-server`). */
  killServer(): void;
}

const NO_SERVER = { code: 1, stdout: "", stderr: "no server running on /tmp/tmux-0/fake\n" };
const ok = (stdout = ""): CommandResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string): CommandResult => ({ code: 1, stdout: "", stderr: `${stderr}\n` });
const RULE = "─".repeat(80);

/** Creates a {@link FakeTmux}. */
export function createFakeTmux(options: FakeTmuxOptions = {}): FakeTmux {
  const now = options.now ?? Date.now;
  const panes = new Map<string, FakePane>();
  const buffers = new Map<string, string>();
  const commands: string[] = [];
  const transcripts = new Set<string>();
  let nextPane = 0;

  const target = (spec: string | undefined): FakePane | undefined => {
    if (!spec) return undefined;
    if (spec.startsWith("%")) return [...panes.values()].find((p) => p.paneId === spec);
    return panes.get(spec.replace(/^=/, "").replace(/:.*$/, ""));
  };
  const flag = (args: string[], name: string) => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args[i + 1];
  };

  /** Starts the program of a `new-session`/`respawn-pane` argv in `pane` (Claude Code when it names a config home). */
  const launch = (pane: FakePane, args: string[]) => {
    const argv = args.slice(args.indexOf("--") + 1);
    pane.cwd = flag(args, "-c") ?? "/";
    pane.home = argv.find((a) => a.startsWith("CLAUDE_CONFIG_DIR="))?.slice("CLAUDE_CONFIG_DIR=".length) ?? "";
    pane.conversation = flag(argv, "--session-id") ?? flag(argv, "--resume") ?? "";
    pane.argv = argv;
    pane.pid = 4_000_000 + ++nextPane;
    pane.input = "";
    pane.busy = false;
    pane.promptId = null;
    pane.ledger = null;
    pane.prompts = 0;
    if (!pane.home || !pane.conversation) return;
    pane.transcript = transcriptPath(pane.home, pane.cwd, pane.conversation);
    transcripts.add(pane.transcript);
    const before = existsSync(pane.transcript) ? readTranscript(readFileSync(pane.transcript, "utf8")) : null;
    pane.prompts = before?.prompts ?? 0;
    pane.ledger = createSimStore({
      home: pane.home, cwd: pane.cwd, sessionId: pane.conversation, transcript: pane.transcript, lastUuid: before?.lastUuid ?? null,
      hooks: {}, permissionMode: "bypassPermissions", env: {}, pid: pane.pid,
    });
  };

  const screen = (pane: FakePane): string => {
    if (!pane.ledger) return "$ \n";
    const footer = `  ⏵⏵ bypass permissions on (shift+tab to cycle)${pane.busy ? " · esc to interrupt" : ""}`;
    return [`● ${pane.prompts} prompt(s) in this conversation`, "", RULE, `❯ ${pane.input}`, RULE, footer, ""].join("\n");
  };

  const submit = (pane: FakePane) => {
    const text = pane.input.trim();
    if (!pane.ledger || pane.busy || !text) return;
    pane.input = "";
    pane.busy = true;
    pane.promptId = randomUUID();
    pane.ledger.userPrompt(text, pane.promptId, ++pane.prompts);
    options.onSubmit?.(pane, text, pane.promptId);
  };

  const one = (args: string[], stdin: string | undefined): CommandResult => {
    const [command = "", ...rest] = args;
    commands.push(command);
    if (panes.size === 0 && command !== "new-session") return command === "list-sessions" ? fail("no server running on /tmp/tmux-0/fake") : NO_SERVER;
    switch (command) {
      case "list-panes": {
        // The fields are fixed; only the format's literal text before its first field (a marker) is honoured.
        const format = flag(rest, "-F") ?? "";
        const prefix = format.slice(0, Math.max(0, format.indexOf("#{")));
        return ok([...panes.values()].map((p) => prefix + [p.session, p.paneId, p.pid, p.ledger ? "claude" : "sh", p.cwd, 0, "", Math.floor(now() / 1000), 200, 50].join("\t")).join("\n") + "\n");
      }
      case "list-sessions":
        return ok([...panes.keys()].join("\n") + "\n");
      case "new-session": {
        const name = flag(rest, "-s")!;
        if (panes.has(name)) return fail(`duplicate session: ${name}`);
        const pane: FakePane = { session: name, paneId: `%${nextPane}`, pid: 0, cwd: "/", home: "", conversation: "", transcript: "", input: "", busy: false, prompts: 0, promptId: null, ledger: null, argv: [] };
        launch(pane, rest);
        panes.set(name, pane);
        return ok();
      }
      case "set-option":
        return ok();
      case "respawn-pane": {
        const pane = target(flag(rest, "-t"));
        if (!pane) return fail(`can't find pane: ${flag(rest, "-t")}`);
        launch(pane, rest);
        return ok();
      }
      case "kill-session": {
        const pane = target(flag(rest, "-t"));
        return pane && panes.delete(pane.session) ? ok() : fail(`can't find session: ${flag(rest, "-t")}`);
      }
      case "capture-pane": {
        const pane = target(flag(rest, "-t"));
        return pane ? ok(screen(pane)) : fail(`can't find pane: ${flag(rest, "-t")}`);
      }
      case "display-message": {
        const format = rest.at(-1) ?? "";
        return ok(`${format === "#{pid}" ? process.pid : format}\n`);
      }
      case "load-buffer":
        buffers.set(flag(rest, "-b")!, stdin ?? "");
        return ok();
      case "paste-buffer": {
        const pane = target(flag(rest, "-t"));
        const name = flag(rest, "-b")!;
        if (!pane || !buffers.has(name)) return fail("no buffer or pane");
        if (!options.dropPaste?.(pane)) pane.input += buffers.get(name);
        if (rest.includes("-d")) buffers.delete(name);
        return ok();
      }
      case "run-shell":
        // Only the pause between a paste and its Enter (`run-shell -d`): the fake's panes take a paste at once.
        return rest[0] === "-d" && rest.length === 2 ? ok() : fail(`fake tmux: run-shell ${rest.join(" ")}`);
      case "delete-buffer":
        return buffers.delete(flag(rest, "-b")!) ? ok() : fail(`no buffer ${flag(rest, "-b")}`);
      case "send-keys": {
        const pane = target(flag(rest, "-t"));
        if (!pane) return fail(`can't find pane: ${flag(rest, "-t")}`);
        const keys = rest.slice(rest.indexOf(flag(rest, "-t")!) + 1);
        if (keys[0] === "-l") pane.input += keys.slice(keys[1] === "--" ? 2 : 1).join(" ");
        else for (const key of keys) if (key === "Enter") submit(pane); else if (key === "Escape") pane.input = "";
        return ok();
      }
      default:
        return fail(`fake tmux: unknown command ${command}`);
    }
  };

  const run: RunCommand = async (argv, opts) => {
    // Global options first (`-L name`, `-f file`), then commands separated by ";" arguments.
    let i = 1;
    while (argv[i] === "-L" || argv[i] === "-f") i += 2;
    let stdout = "";
    let current: string[] = [];
    const chains: string[][] = [];
    for (const arg of argv.slice(i)) {
      if (arg === ";") (chains.push(current), (current = []));
      else current.push(arg);
    }
    chains.push(current);
    for (const args of chains) {
      const result = one(args, opts?.stdin);
      stdout += result.stdout;
      if (result.code !== 0) return { ...result, stdout };
    }
    return ok(stdout);
  };

  return {
    run, panes, commands,
    reply(session, text) {
      const pane = panes.get(session);
      if (!pane?.ledger || !pane.busy) return null;
      pane.ledger.assistantReply("claude-fake", text);
      return pane.promptId;
    },
    endTurn(session, reply) {
      const pane = panes.get(session);
      if (!pane?.ledger || !pane.busy) return null;
      if (reply !== null) pane.ledger.assistantReply("claude-fake", reply);
      pane.ledger.turnEnded(1_000, []);
      pane.busy = false;
      const id = pane.promptId;
      pane.promptId = null;
      return id;
    },
    killServer: () => panes.clear(),
    transcripts: () => [...transcripts],
    promptCounts() {
      const counts = new Map<string, number>();
      for (const path of transcripts) {
        if (!existsSync(path)) continue;
        for (const line of readFileSync(path, "utf8").split("\n")) {
          const entry = line ? ledgerEntry(JSON.parse(line)) : null;
          if (entry?.kind === "prompt") counts.set(entry.text, (counts.get(entry.text) ?? 0) + 1);
        }
      }
      return counts;
    },
  };
}
