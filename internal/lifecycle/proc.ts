/**
 * @module lifecycle/proc
 * What runs under a pane, read from /proc (Linux): the process tree and whether a pane runs the Claude Code the
 * daemon launched (its command line holds the daemon's own `--settings` file). Reads only. The live-session registry
 * of the Claude Code under a pane is live.ts.
 */
import { readFileSync, readdirSync } from "node:fs";

/** Parent → children of every process, read once from /proc (Linux). */
export function processTree(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    // no /proc: only the pane's own process is looked at
  }
  return children;
}

/** Every descendant of `pid` in `tree`. */
export function descendants(pid: number, tree: Map<number, number[]>): number[] {
  const out: number[] = [];
  const queue = [...(tree.get(pid) ?? [])];
  while (queue.length && out.length < 1000) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(tree.get(next) ?? []));
  }
  return out;
}

/**
 * True when the pane's process, or one under it, is a program started with `--settings <settingsPath>`: the Claude
 * Code the daemon launched in that session (a shell or another program the operator put there is not).
 */
export function runsWithSettings(panePid: number, settingsPath: string, tree = processTree()): boolean {
  for (const pid of [panePid, ...descendants(panePid, tree)]) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const at = argv.indexOf("--settings");
      if (at >= 0 && argv[at + 1] === settingsPath) return true;
    } catch {
      // the process ended meanwhile
    }
  }
  return false;
}

/** Processes (other than this one) whose command line mentions `text`, e.g. a folder their arguments point into. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) found.push(Number(entry));
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    // no /proc: nothing to wait for
  }
  return found;
}
