import { mkdirSync } from "node:fs";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createLifecycle, type Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import { openStore } from "../../internal/state/state.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { systemClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { renderStatus } from "../../internal/cli/client.ts";
import { listPanes } from "../support/daemon.ts";
import { eventually, privateTmux, tempDir } from "../support/tmux.ts";

// Sessions that leave the owned names on a reload retire: real tmux, the simulated Claude Code, two lifecycles on one
// store standing for the daemon before and after the reload.
const SIM = join(import.meta.dir, "../support/sim-claude-bin.ts");
const FOREIGN = ["ccl-0", "ccl-auto-14", "ccl-auto11"];
const server = privateTmux("retire");
const dir = tempDir();
// The daemon never creates workdirs: the pool's and the dedicated ones exist before it starts.
for (const folder of ["work", "ded"]) mkdirSync(join(dir.path, folder), { recursive: true });
const account = { name: "main", home: join(dir.path, "home-main") };
const store = openStore(join(dir.path, "state.db"));
const log = memoryLog();
let busy = new Set<string>();

function lifecycleWith(max: number, dedicated: Array<{ session: string; workdir: string }>): Lifecycle {
  return createLifecycle({ tmux: server.tmux, store, clock: systemClock, log, hasRunningTask: (name) => busy.has(name) }, {
    pool: { prefix: "ccl-auto-", startIndex: 11, min: max, max, workdir: join(dir.path, "work") },
    dedicated,
    claude: { command: process.execPath, args: [SIM] },
    stripEnv: [],
    // Launched through the sessions' environment file (sh exec's Claude Code): retirement still recognises its own.
    sessionEnv: { CF_RETIRE_PROBE: "probe" },
    hooksDir: join(dir.path, "hooks"),
    hook: { self: ["/bin/true"], url: "http://127.0.0.1:1", spoolDir: join(dir.path, "spool"), tokenFile: join(dir.path, "hook-token") },
  });
}

const pids = async () => new Map((await listPanes(server)).map((p) => [p.name, p.pid]));
const statusOf = (name: string) => buildStatus(store, { version: "t", startedAt: 0, activeAccount: "main", paused: false, exhaustedUntil: null }, Date.now())
  .sessions.find((s) => s.name === name)?.state;

afterAll(async () => {
  await server.kill();
  store.close();
  await dir.cleanup();
});

describe("a reload that shrinks the pool and drops a dedicated session", () => {
  let after: Lifecycle;
  let foreignBefore: Map<string, number>;

  test("sessions that left the owned names are retiring while a task runs on them, the others stop at once", async () => {
    for (const name of FOREIGN) await server.raw("new-session", "-d", "-s", name, "sleep", "3600");
    const before = lifecycleWith(3, [{ session: "ccl-1-ded", workdir: join(dir.path, "ded") }]);
    expect((await before.reconcile(account)).created.sort()).toEqual(["ccl-1-ded", "ccl-auto-11", "ccl-auto-12", "ccl-auto-13"]);
    for (const name of before.ownedNames()) await eventually(async () => (await server.tmux.capture([name])).get(name)?.some((l) => l.startsWith("❯")));
    expect(existsSync(join(dir.path, "hooks", "ccl-auto-13.env"))).toBe(true);
    foreignBefore = await pids();

    busy = new Set(["ccl-auto-12"]);
    after = lifecycleWith(1, []);
    expect(after.retiringNames().sort()).toEqual(["ccl-1-ded", "ccl-auto-12", "ccl-auto-13"]);
    const report = await after.reconcile(account);
    expect(report.retired.sort()).toEqual(["ccl-1-ded", "ccl-auto-13"]);
    expect(report.created).toEqual([]);
    const now = await pids();
    expect([...now.keys()].sort()).toEqual([...FOREIGN, "ccl-auto-11", "ccl-auto-12"].sort());
    expect(now.get("ccl-auto-12")).toBe(foreignBefore.get("ccl-auto-12")!);
    for (const name of FOREIGN) expect(now.get(name)).toBe(foreignBefore.get(name)!);
    expect(after.retiringNames()).toEqual(["ccl-auto-12"]);
    expect(after.observedNames()).toEqual(["ccl-auto-11", "ccl-auto-12"]);
    expect(after.ownedNames()).toEqual(["ccl-auto-11"]);
    expect(statusOf("ccl-auto-12")).toBe("retiring");
    expect(statusOf("ccl-auto-11")).toBe("starting");
    expect(statusOf("ccl-auto-13")).toBeUndefined();
    expect(existsSync(join(dir.path, "hooks", "ccl-auto-13.json"))).toBe(false);
    expect(existsSync(join(dir.path, "hooks", "ccl-auto-13.env"))).toBe(false);
    const status = buildStatus(store, { version: "t", startedAt: 0, activeAccount: "main", paused: false, exhaustedUntil: null }, Date.now());
    expect(renderStatus(status, Date.now())).toMatch(/ccl-auto-12\s+pool\s+retiring/);
  });

  test("a retiring session is stopped once no task runs on it, and only then", async () => {
    await after.reconcile(account);
    expect((await pids()).has("ccl-auto-12")).toBe(true);
    busy = new Set();
    expect(await after.stopIfRetired((name) => busy.has(name))).toEqual(["ccl-auto-12"]);
    const now = await pids();
    expect([...now.keys()].sort()).toEqual([...FOREIGN, "ccl-auto-11"].sort());
    for (const name of FOREIGN) expect(now.get(name)).toBe(foreignBefore.get(name)!);
    expect(after.retiringNames()).toEqual([]);
    expect(store.session("ccl-auto-12")).toBeNull();
  });

  test("a session the daemon once launched that now runs something else is forgotten, never stopped", async () => {
    // The operator reuses an old pool name for a program of their own; the store still remembers the old session.
    store.upsertSession("ccl-auto-14", "pool", { state: "idle", account: "main" }, Date.now());
    await server.raw("respawn-pane", "-k", "-t", "=ccl-0:", "sh", "-c", "exec sleep 3600");
    store.upsertSession("ccl-0", "pool", { state: "idle", account: "main" }, Date.now());
    const before = await pids();
    expect((await after.reconcile(account)).retired).toEqual([]);
    expect(store.session("ccl-auto-14")).toBeNull();
    expect(store.session("ccl-0")).toBeNull();
    expect(await pids()).toEqual(before);
    expect(log.records.filter((r) => r.msg === "session forgotten").map((r) => r.session).sort()).toEqual(["ccl-0", "ccl-auto-14"]);
  });
});
