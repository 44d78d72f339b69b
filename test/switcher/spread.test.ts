// `switcher.placement: spread` through the whole daemon as wire() builds it, with an in-memory tmux
// (test/support/fake-tmux.ts) and a fake clock: sessions spread over three accounts, each in a home of its own, and
// a limit on one account moves only its sessions, in place, each to the account with the most headroom.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock } from "../../internal/clock.ts";
import { parseConfig } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { freePort } from "../../internal/demo/demo.ts";
import { readLogin } from "../../internal/claude/login.ts";
import { wire } from "../../cmd/claude-failover.ts";
import { createFakeTmux } from "../support/fake-tmux.ts";
import { tempDir } from "../support/tmux.ts";
import { seedAccountHomes } from "../support/daemon.ts";
import { HOOK_TOKEN_FILE } from "../../internal/hook/hook.ts";
import { HOOK_HEADER } from "../../internal/server/server.ts";

const POOL = ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13", "ccl-auto-14", "ccl-auto-15", "ccl-auto-16"];
const LIMIT = "You've hit your 5-hour limit · resets 11pm (UTC)";
type World = Awaited<ReturnType<typeof world>>;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A daemon in spread placement over accounts a, b, c (pool of six, `dedicated` as YAML), started. */
async function world(dedicated = "[]", beforeSwapStep?: (swapId: number, step: string) => Promise<void> | void, mode = "in-place", placement = "spread") {
  const temp = tempDir("cf-spread-");
  cleanups.push(() => temp.cleanup());
  const dir = realpathSync(temp.path);
  mkdirSync(join(dir, "work", "ded"), { recursive: true });
  const text = `state_dir: ${dir}/state
log_level: debug
http: { listen: "127.0.0.1:${await freePort()}", token_env: CF_SPREAD_TOKEN }
tmux: { socket: cf-spread-fake }
claude: { command: claude, args: [], link: ${dir}/claude-link }
accounts:
  - { name: a, home: ${dir}/homes/a }
  - { name: b, home: ${dir}/homes/b }
  - { name: c, home: ${dir}/homes/c }
autonomous: { prefix: ccl-auto-, start_index: 11, min: 6, max: 6, workdir: ${dir}/work }
dedicated: ${dedicated.replaceAll("$DIR", dir)}
lifecycle: { reconcile_interval: 1s }
switcher: { mode: ${mode}, placement: ${placement}, relaunch_stagger: 0s }
watcher: { poll_interval: 1s, task_timeout: 10m }
quota: { poll_interval: 1s }
`;
  seedAccountHomes(dir, ["a", "b", "c"]);
  const config = parseConfig(text, join(dir, "config.yaml"), { env: { CF_SPREAD_TOKEN: "spread-token-0123456789" }, home: dir });
  const clock = createFakeClock();
  const fake = createFakeTmux({ now: () => clock.now() });
  const noNetwork = (() => Promise.reject(new Error("no network in this test"))) as unknown as typeof fetch;
  const boot = async (config: ReturnType<typeof parseConfig>) => {
    const daemon = wire(config, { run: fake.run, clock, fetch: noNetwork, log: memoryLog(), self: ["/bin/false"], beforeSwapStep });
    cleanups.push(() => daemon.stop("test done"));
    await daemon.start();
    return daemon;
  };
  const w = {
    dir, clock, fake, config, daemon: await boot(config),
    /** Stops the daemon and starts one with the config text changed by `edit` (same state, same panes). */
    async reboot(edit: (text: string) => string) {
      await w.daemon.stop("reboot");
      w.config = parseConfig(edit(text), join(dir, "config.yaml"), { env: { CF_SPREAD_TOKEN: "spread-token-0123456789" }, home: dir });
      w.daemon = await boot(w.config);
    },
  };
  return w;
}

/** Advances the fake clock in 250 ms steps until `done()` holds. */
async function driveUntil(w: World, what: string, done: () => boolean, maxSteps = 400): Promise<void> {
  for (let step = 0; step < maxSteps; step++) {
    if (done()) return;
    await w.clock.advance(250);
    await Bun.sleep(1);
  }
  if (!done()) throw new Error(`still waiting for ${what} after ${maxSteps * 250} ms of fake time`);
}

/** Posts a limit's StopFailure hook from `session`, as Claude Code's hook command does. */
async function limitHook(w: World, session: string): Promise<void> {
  const token = readFileSync(join(w.config.state_dir, HOOK_TOKEN_FILE), "utf8").trim();
  const res = await fetch(new URL(`/hooks/StopFailure?session=${session}`, w.daemon.url()), {
    method: "POST", headers: { [HOOK_HEADER]: token, "Content-Type": "application/json" },
    body: JSON.stringify({ hook_event_name: "StopFailure", error: "rate_limit", last_assistant_message: LIMIT }),
  });
  expect(res.status).toBe(202);
}

const accountsOf = (w: World) => new Map(w.daemon.control.status().sessions.map((s) => [s.name, s.account]));
const onAccount = (w: World, account: string) => [...accountsOf(w)].filter(([, a]) => a === account).map(([name]) => name).sort();
const homeOf = (w: World, session: string) => join(w.config.state_dir, "homes", "sessions", session);
const tokenIn = (home: string) => readLogin(home)?.oauth.accessToken;

describe("spread placement", () => {
  test("an install switched from failover to spread moves each idle session into its own home, balanced over the accounts", async () => {
    const w = await world("[]", undefined, "in-place", "failover");
    await driveUntil(w, "six sessions", () => w.daemon.control.status().sessions.length === 6);
    const fleet = join(w.config.state_dir, "homes", "fleet");
    expect(onAccount(w, "a")).toEqual(POOL);
    for (const name of POOL) expect(w.fake.panes.get(name)!.home).toBe(fleet);
    await w.reboot((text) => text.replace("placement: failover", "placement: spread"));
    await driveUntil(w, "every session in its own home", () => POOL.every((name) => w.fake.panes.get(name)!.home === homeOf(w, name)));
    await driveUntil(w, "the rows to follow", () => w.daemon.control.status().sessions.every((s) => s.state === "idle"));
    expect(["a", "b", "c"].map((a) => onAccount(w, a).length)).toEqual([2, 2, 2]);
    for (const [name, account] of accountsOf(w)) expect(tokenIn(homeOf(w, name))).toBe(`sk-ant-oat01-SIM-${account}`);
  });

  test("six sessions run two per account, each in its own home holding its account's login", async () => {
    const w = await world();
    await driveUntil(w, "six sessions", () => w.daemon.control.status().sessions.length === 6);
    expect(["a", "b", "c"].map((a) => onAccount(w, a).length)).toEqual([2, 2, 2]);
    for (const [name, account] of accountsOf(w)) {
      expect(w.fake.panes.get(name)!.home).toBe(homeOf(w, name));
      expect(tokenIn(homeOf(w, name))).toBe(`sk-ant-oat01-SIM-${account}`);
    }
    const status = w.daemon.control.status();
    expect(status.placement).toBe("spread");
    // claude.link points at the fleet home, holding the highest-priority usable account's login.
    expect(tokenIn(join(w.config.state_dir, "homes", "fleet"))).toBe("sk-ant-oat01-SIM-a");
  });

  test("a limit on one account moves only its sessions, in place, one to each other account", async () => {
    const w = await world();
    await driveUntil(w, "six sessions", () => w.daemon.control.status().sessions.length === 6);
    const before = accountsOf(w);
    const pids = new Map(POOL.map((name) => [name, w.fake.panes.get(name)!.pid]));
    const onA = onAccount(w, "a");
    await limitHook(w, onA[0]!);
    await driveUntil(w, "the swap to end", () => w.daemon.control.status().last_swap?.step === "done");

    const status = w.daemon.control.status();
    expect(status.last_swap).toMatchObject({ from: "a", reason: "quota", trigger_session: onA[0] });
    expect(status.last_swap!.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(onA.map((name) => [name, "kept"]));
    expect(status.last_swap!.sessions.map((s) => s.to).sort()).toEqual(["b", "c"]);
    expect(onAccount(w, "a")).toEqual([]);
    expect(["b", "c"].map((a) => onAccount(w, a).length)).toEqual([3, 3]);
    // The other sessions did not move; no process was restarted.
    for (const [name, account] of before) if (account !== "a") expect(accountsOf(w).get(name)).toBe(account);
    expect(new Map(POOL.map((name) => [name, w.fake.panes.get(name)!.pid]))).toEqual(pids);
    for (const [name, account] of accountsOf(w)) expect(tokenIn(homeOf(w, name))).toBe(`sk-ant-oat01-SIM-${account}`);
    expect(status.accounts.map((a) => [a.name, a.state])).toEqual([["a", "cooling"], ["b", "available"], ["c", "available"]]);
    expect(tokenIn(join(w.config.state_dir, "homes", "fleet"))).toBe("sk-ant-oat01-SIM-b");
    expect(status.active_account).toBe(status.last_swap!.to);
  });

  test("a limit on an account other than the active one moves its sessions at once (no failover cooldown)", async () => {
    const w = await world();
    await driveUntil(w, "six sessions", () => w.daemon.control.status().sessions.length === 6);
    expect(w.daemon.control.status().active_account).not.toBe("c");
    const onC = onAccount(w, "c");
    await limitHook(w, onC[0]!);
    await driveUntil(w, "the swap to end", () => w.daemon.control.status().last_swap?.step === "done");
    expect(w.daemon.control.status().last_swap).toMatchObject({ from: "c", reason: "quota" });
    expect(onAccount(w, "c")).toEqual([]);
    expect(["a", "b"].map((a) => onAccount(w, a).length)).toEqual([3, 3]);
    // claude.link's home holds the highest-priority usable account.
    expect(tokenIn(join(w.config.state_dir, "homes", "fleet"))).toBe("sk-ant-oat01-SIM-a");
    // A second limit right after, on b, moves b's sessions too: no cooldown between spread swaps.
    await limitHook(w, onAccount(w, "b")[0]!);
    await driveUntil(w, "the second swap to end", () => w.daemon.control.status().swaps.length === 2 && w.daemon.control.status().last_swap?.step === "done");
    expect(onAccount(w, "a")).toEqual([...POOL].sort());
  });

  test("with switcher.mode restart, only the limited account's sessions are relaunched, each in its own home on its target", async () => {
    const w = await world("[]", undefined, "restart");
    await driveUntil(w, "six sessions", () => w.daemon.control.status().sessions.length === 6);
    const onA = onAccount(w, "a");
    // Each session on a has a conversation to resume: one turn in its transcript.
    for (const name of onA) {
      await w.fake.run(["tmux", "send-keys", "-t", name, "-l", "hello"]);
      await w.fake.run(["tmux", "send-keys", "-t", name, "Enter"]);
      w.fake.endTurn(name, "Hello.");
    }
    const pids = new Map(POOL.map((name) => [name, w.fake.panes.get(name)!.pid]));
    await limitHook(w, onA[0]!);
    await driveUntil(w, "the swap to end", () => w.daemon.control.status().last_swap?.step === "done");
    const swap = w.daemon.control.status().last_swap!;
    expect(swap.sessions.map((s) => [s.name, s.outcome]).sort()).toEqual(onA.map((name) => [name, "resumed"]));
    expect(swap.sessions.map((s) => s.to).sort()).toEqual(["b", "c"]);
    for (const name of POOL) {
      const pane = w.fake.panes.get(name)!;
      expect(pane.pid !== pids.get(name)).toBe(onA.includes(name));
      expect(pane.home).toBe(homeOf(w, name));
    }
    for (const [name, account] of accountsOf(w)) expect(tokenIn(homeOf(w, name))).toBe(`sk-ant-oat01-SIM-${account}`);
    expect(onAccount(w, "a")).toEqual([]);
  });

  test("a session pinned to the limited account stays on it; the others move", async () => {
    const w = await world("\n  - { session: ccl-1-ded, workdir: $DIR/work/ded, account: a }");
    await driveUntil(w, "seven sessions", () => w.daemon.control.status().sessions.length === 7);
    expect(accountsOf(w).get("ccl-1-ded")).toBe("a");
    const onA = onAccount(w, "a");
    await limitHook(w, "ccl-1-ded");
    await driveUntil(w, "the swap to end", () => w.daemon.control.status().last_swap?.step === "done");
    expect(onAccount(w, "a")).toEqual(["ccl-1-ded"]);
    expect(w.daemon.control.status().last_swap!.sessions.map((s) => s.name).sort()).toEqual(onA.filter((n) => n !== "ccl-1-ded"));
    expect(tokenIn(homeOf(w, "ccl-1-ded"))).toBe("sk-ant-oat01-SIM-a");
  });

  test("a swap requested for one account's sessions while another runs moves them once it ends", async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const w = await world("[]", async (id, step) => {
      if (id !== 1 || step !== "moving") return;
      holding = true;
      await held;
    });
    await driveUntil(w, "six sessions", () => w.daemon.control.status().sessions.length === 6);
    const [onA, onB] = [onAccount(w, "a"), onAccount(w, "b")];
    await limitHook(w, onA[0]!);
    await driveUntil(w, "the first swap to hold at moving", () => holding);
    await limitHook(w, onB[0]!);
    await driveUntil(w, "b to cool", () => w.daemon.control.status().accounts[1]!.state === "cooling");
    expect(w.daemon.control.status().swaps).toHaveLength(1);
    release();
    await driveUntil(w, "a and b to be left", () => onAccount(w, "a").length + onAccount(w, "b").length === 0 && !w.daemon.control.status().swapping);
    expect(onAccount(w, "c")).toEqual([...POOL].sort());
    expect(w.daemon.control.status().accounts.map((a) => a.state)).toEqual(["cooling", "cooling", "available"]);
    // The second limit came while the first swap ran: its sessions moved on the next reconcile (reason `reset`).
    expect(w.daemon.control.status().swaps.map((s) => [s.from, s.reason, s.step]).reverse()).toEqual([["a", "quota", "done"], ["b", "reset", "done"]]);
  });
});
