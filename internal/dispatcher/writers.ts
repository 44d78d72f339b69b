/**
 * @module dispatcher/writers
 * Which files some process still holds open for writing ({@link openForWriting}), read from Linux's `/proc`: the
 * inbox's last guard for a file written in place, so one whose writer pauses mid-file with the file open (a script
 * between two `echo`s into the same redirection) is not taken however long it stays unchanged. It sees the processes
 * the daemon may inspect (its own user's, or all as root); elsewhere, or without `/proc`, it finds nothing and the
 * settle rule alone applies. Reads only.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** `O_ACCMODE` bits of an fdinfo `flags:` line: 0 = read only. */
const ACCESS_MODE = 0o3;

/** The subset of `paths` (absolute, symlinks resolved) open for writing by some visible process. */
export function openForWriting(paths: ReadonlySet<string>, procRoot = "/proc"): Set<string> {
  const found = new Set<string>();
  if (paths.size === 0) return found;
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!paths.has(target) || found.has(target)) continue;
      try {
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, "utf8"))?.[1];
        if (flags !== undefined && (Number.parseInt(flags, 8) & ACCESS_MODE) !== 0) found.add(target);
      } catch {
        // closed meanwhile
      }
    }
    if (found.size === paths.size) break;
  }
  return found;
}
