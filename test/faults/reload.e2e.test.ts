import { readLogin } from "../../internal/claude/login.ts";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "bun:test";
import { makeTask } from "../support/ledger.ts";
import { startFaultCase, type FaultCase } from "../support/fault-case.ts";
import { listPanes } from "../support/daemon.ts";
import { eventually } from "../support/tmux.ts";

// Reloads (SIGHUP with an edited config file) while tasks run: shrinking `autonomous.max`, moving the prefix, and
// removing the active account. Sessions that leave the owned range retire: no new task, their running task is followed
// to done/, then they are stopped. Sessions on a removed account move to another one. Nothing is left untracked.

let c: FaultCase | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

const pool = (prefix: string, size: number) => (dir: string) =>
  `{ prefix: ${prefix}, start_index: 11, min: ${size}, max: ${size}, workdir: ${dir}/work }`;
const names = (prefix: string, size: number) => Array.from({ length: size }, (_, i) => `${prefix}${11 + i}`);

/** Rewrites the `autonomous:` line of the config file and reloads. */
async function reloadPool(k: FaultCase, prefix: string, size: number): Promise<void> {
  k.d.writeConfig(k.d.configText().replace(/^autonomous: .*$/m, `autonomous: ${pool(prefix, size)(k.d.dir)}`));
  k.d.signal("SIGHUP");
  await k.d.waitLog("config reloaded");
}

const tmuxNames = async (k: FaultCase) => (await listPanes(k.d.server)).filter((p) => !p.dead).map((p) => p.name).sort();

/** Waits until `probe()` equals `want`, then asserts it (so a timeout shows the last difference, not just "not met"). */
async function expectEventually<T>(probe: () => Promise<T>, want: T, timeoutMs: number): Promise<void> {
  await eventually(async () => Bun.deepEquals(await probe(), want), timeoutMs).catch(() => undefined);
  expect<unknown>(await probe()).toEqual(want);
}

/** Records every `/status` session state seen until stopped (a state that is shown only for a while is not missed). */
function sampleStates(k: FaultCase): { seen: Set<string>; stop(): void } {
  const seen = new Set<string>();
  let on = true;
  void (async () => {
    while (on) {
      for (const s of await k.sessions().catch(() => [])) seen.add(`${s.name}:${s.state}`);
      await Bun.sleep(100);
    }
  })();
  return { seen, stop: () => void (on = false) };
}

describe("reload with tasks running", () => {
  test("shrinking autonomous.max: the leaving sessions retire (task done, then stopped)", async () => {
    c = await startFaultCase({ pool: pool("ccl-auto-", 3), poolNames: names("ccl-auto-", 3) });
    const tasks = ["shrink-a", "shrink-b", "shrink-c"].map((n) => makeTask(n, { work: "8s" }));
    c.drop(...tasks);
    for (const task of tasks) await c.typed(task);
    const states = sampleStates(c);
    await reloadPool(c, "ccl-auto-", 1);
    for (const task of tasks) expect(await c.settle(task, 60_000)).toBe("done");
    for (const task of tasks) c.once(task);
    await expectEventually(() => tmuxNames(c!), ["ccl-1-ded", "ccl-auto-11"], 30_000);
    expect((await c.sessions()).map((s) => s.name).sort()).toEqual(["ccl-1-ded", "ccl-auto-11"]);
    states.stop();
    expect([...states.seen].filter((s) => s.endsWith(":retiring")).sort()).toEqual(["ccl-auto-12:retiring", "ccl-auto-13:retiring"]);
  }, 120_000);

  test("moving the prefix: the old sessions finish their tasks and stop, the new ones take the next tasks", async () => {
    c = await startFaultCase({ pool: pool("ccl-auto-", 2), poolNames: names("ccl-auto-", 2) });
    const running = ["move-a", "move-b"].map((n) => makeTask(n, { work: "8s" }));
    c.drop(...running);
    for (const task of running) await c.typed(task);
    await reloadPool(c, "ccl-new-", 2);
    const later = makeTask("move-later", { work: "1s" });
    c.drop(later);
    for (const task of [...running, later]) expect(await c.settle(task, 60_000)).toBe("done");
    for (const task of [...running, later]) c.once(task);
    await expectEventually(() => tmuxNames(c!), ["ccl-1-ded", ...names("ccl-new-", 2)], 30_000);
  }, 120_000);

  test("removing the active account: its sessions move to another account, the running task is done once", async () => {
    c = await startFaultCase();
    const a = makeTask("moved", { work: "6s" });
    c.drop(a);
    await c.typed(a);
    c.d.writeConfig(c.d.configText().replace(/^ {2}- \{ name: a, home: .*\n/m, ""));
    c.d.signal("SIGHUP");
    await c.d.waitLog("config reloaded");
    expect(await c.settle(a, 60_000)).toBe("done");
    c.once(a, { continues: 1 });
    const where = async () => {
      const status = await c!.d.get("/status");
      const panes = (await listPanes(c!.d.server)).filter((p) => !p.dead);
      return { active: status.active_account, accounts: status.sessions.map((s: { name: string; account: string }) => `${s.name}:${s.account}`).sort(),
        inSessionHome: panes.filter((p) => p.command.includes(`${c!.d.dir}/state/homes/fleet`)).map((p) => p.name).sort(),
        login: readLogin(join(c!.d.dir, "state", "homes", "fleet"))?.oauth.accessToken };
    };
    await expectEventually(where, { active: "b", accounts: ["ccl-1-ded:b", "ccl-auto-11:b"], inSessionHome: ["ccl-1-ded", "ccl-auto-11"],
      login: "sk-ant-oat01-SIM-b" }, 40_000);
  }, 120_000);
});
