/**
 * @module bench/idle-watch
 * A helper process of bench/real-cli.ts (not a bench): `bun bench/idle-watch.ts <tmux socket> <session,session,…>`
 * captures the named panes every 50 ms, in a process of its own so the daemon's event loop does not pay for it, and
 * prints one JSON line `{ "key": <session name>, "at" }` when a pane first shows an idle prompt (its cut turn ended and Claude Code
 * drew its prompt again). `at` is the start of the previous capture: the pane was not seen idle before it, so the
 * moment is never later than the real one and the daemon's share measured from it is never understated. Exits when
 * every pane was seen idle or when anything arrives on stdin.
 */
import { paneActivity } from "../internal/quota/classify.ts";
import { childEnv, createBunRun } from "../internal/tmux/runner.ts";
import { createTmux } from "../internal/tmux/tmux.ts";

const LOOK_MS = 50;
const [socket, list] = process.argv.slice(2);
if (!socket || !list) throw new Error("usage: bun bench/idle-watch.ts <tmux socket> <session,session,…>");
const tmux = createTmux(createBunRun(childEnv(process.env)), { socket, extraArgs: ["-f", "/dev/null"] });
const waiting = new Set(list.split(","));
process.stdin.on("data", () => process.exit(0));
let previous = Date.now();
while (waiting.size) {
  const started = Date.now();
  const screens = await tmux.capture([...waiting]);
  for (const [name, lines] of screens) {
    if (paneActivity(lines) !== "idle") continue;
    waiting.delete(name);
    console.log(JSON.stringify({ key: name, at: previous }));
  }
  previous = started;
  await Bun.sleep(Math.max(0, LOOK_MS - (Date.now() - started)));
}
process.exit(0);
