/**
 * @module dispatcher/workdir
 * Whether a working directory can be used as it is: {@link workdirProblem} for one path (the dispatcher asks it when
 * it claims a task, the lifecycle before it launches a session), {@link configuredWorkdirProblems} for the ones the
 * config names (checked at start-up and by `doctor`). The daemon never creates a working directory: a missing one
 * is a mistake (a typo, an unmounted disk) that `mkdir -p` would hide by running the agent in an empty folder.
 * Reads only (stat); it neither creates nor resolves anything.
 */
import { statSync } from "node:fs";
import { ConfigError } from "../config/config.ts";

/** Why `path` cannot be a working directory (`workdir /x does not exist`, `… is not a directory`), or null when it can. */
export function workdirProblem(path: string): string | null {
  try {
    return statSync(path).isDirectory() ? null : `workdir ${path} is not a directory`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `workdir ${path} does not exist`;
    if (code === "ENOTDIR") return `workdir ${path} is not a directory`;
    return `workdir ${path} cannot be used: ${code ?? (error as Error).message}`;
  }
}

/** The working directories a config names, each with its key. */
export interface ConfiguredWorkdirs {
  autonomous: { workdir: string };
  dedicated: ReadonlyArray<{ session: string; workdir: string }>;
  dispatcher: { projects: Readonly<Record<string, { workdir: string }>> };
}

/** One unusable configured working directory. `sessions`: the pool's and dedicated ones (the daemon cannot start without them). */
export interface WorkdirFinding { key: string; path: string; problem: string; sessions: boolean }

/** Every configured working directory that cannot be used: `autonomous.workdir`, `dedicated[i].workdir`, `dispatcher.projects.<p>.workdir`. */
export function configuredWorkdirProblems(config: ConfiguredWorkdirs): WorkdirFinding[] {
  const named = [
    { key: "autonomous.workdir", path: config.autonomous.workdir, sessions: true },
    ...config.dedicated.map((d, i) => ({ key: `dedicated[${i}].workdir (${d.session})`, path: d.workdir, sessions: true })),
    ...Object.entries(config.dispatcher.projects).map(([p, v]) => ({ key: `dispatcher.projects.${p}.workdir`, path: v.workdir, sessions: false })),
  ];
  const found: WorkdirFinding[] = [];
  for (const w of named) {
    const problem = workdirProblem(w.path);
    if (problem) found.push({ ...w, problem });
  }
  return found;
}

/**
 * At start-up and on reload: refuses a config whose pool or dedicated working directory cannot be used, as a
 * {@link ConfigError} naming each key (the daemon exits 2; a reload is refused and the running config kept).
 */
export function assertSessionWorkdirs(path: string, config: ConfiguredWorkdirs): void {
  const problems = configuredWorkdirProblems(config).filter((f) => f.sessions)
    .map((f) => ({ line: 0, column: 0, key: f.key, message: `${f.problem}; create it or correct the path` }));
  if (problems.length > 0) throw new ConfigError(path, problems);
}
