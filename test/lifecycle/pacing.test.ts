// Login spacing (lifecycle.login_spacing) on the lifecycle, with an in-memory tmux and a fake clock: launches on one
// account start at least the spacing apart, whether a reconcile defers them to a later pass or a caller waits.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import { createLifecycle, type Lifecycle } from "../../internal/lifecycle/lifecycle.ts";
import { createLoginPacer } from "../../internal/lifecycle/pacing.ts";
import { ENV_SCRIPT } from "../../internal/lifecycle/launch.ts";
import { memoryLog } from "../../internal/log.ts";
import { openStore, type Store } from "../../internal/state/state.ts";
import { createTmux } from "../../internal/tmux/tmux.ts";
import { createFakeTmux, type FakeTmux } from "../support/fake-tmux.ts";
import { tempDir } from "../support/tmux.ts";

const A = { name: "a", home: "/homes/a" };
const B = { name: "b", home: "/homes/b" };
const SPACING = 2_000;

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

interface World {
  dir: string;
  clock: FakeClock;
  fake: FakeTmux;
  store: Store;
  /** Every tmux argv run. */
  argvs: string[][];
  make(options?: { spacing?: number; sessionEnv?: Record<string, string>; min?: number; max?: number }): Lifecycle;
}

function world(): World {
  const d = tempDir("cf-pacing-");
  cleanups.push(() => d.cleanup());
  mkdirSync(join(d.path, "work"));
  const clock = createFakeClock();
  const fake = createFakeTmux({ now: () => clock.now() });
  const store = openStore(":memory:");
  cleanups.push(() => store.close());
  const argvs: string[][] = [];
  const tmux = createTmux(async (argv, opts) => {
    argvs.push(argv);
    return fake.run(argv, opts);
  }, { socket: "cf-pacing" });
  const make: World["make"] = (options = {}) => createLifecycle({ tmux, store, clock, log: memoryLog() }, {
    pool: { prefix: "ccl-auto-", startIndex: 11, min: options.min ?? 3, max: options.max ?? 3, workdir: join(d.path, "work") },
    dedicated: [], claude: { command: "claude", args: [] }, stripEnv: ["CLAUDE_FAILOVER_TOKEN"],
    hooksDir: join(d.path, "hooks"), hook: { self: ["/bin/false"], url: "http://127.0.0.1:1", spoolDir: join(d.path, "spool"), tokenFile: join(d.path, "t") },
    loginSpacingMs: options.spacing ?? SPACING, sessionEnv: options.sessionEnv,
  });
  return { dir: d.path, clock, fake, store, argvs, make };
}

/** Lets promise chains run until the fake clock has `n` sleepers (a launch waiting for its slot). */
async function sleepers(clock: FakeClock, n: number): Promise<void> {
  for (let i = 0; i < 1_000 && clock.pending() < n; i++) await Bun.sleep(0);
  expect(clock.pending()).toBe(n);
}

/** Lets promise chains run until `name`'s launch is recorded (its tmux calls done). */
async function launched(w: World, name: string): Promise<void> {
  for (let i = 0; i < 1_000 && !w.store.session(name)?.launchedAt; i++) await Bun.sleep(0);
  expect(w.store.session(name)?.launchedAt).toBeNumber();
}

describe("createLoginPacer()", () => {
  test("queues the launches of one account the spacing apart and leaves other accounts alone", () => {
    const pacer = createLoginPacer(SPACING, 10_000);
    expect(pacer.reserve("a", 10_000)).toBe(10_000);
    expect(pacer.reserve("a", 10_500)).toBe(12_000);
    expect(pacer.reserve("a", 10_600)).toBe(14_000);
    expect(pacer.reserve("b", 10_600)).toBe(10_600);
    expect(pacer.readyAt("a")).toBe(16_000);
  });

  test("starts from the launches recorded before, counting one recorded in the future as launched now", () => {
    const pacer = createLoginPacer(SPACING, 10_000, [{ account: "a", at: 9_000 }, { account: "a", at: 8_000 }, { account: "b", at: 99_000 }, { account: null, at: 9_999 }]);
    expect(pacer.readyAt("a")).toBe(11_000);
    expect(pacer.readyAt("b")).toBe(12_000);
    expect(pacer.readyAt("c")).toBe(-Infinity);
  });

  test("with spacing 0, every launch may start at once", () => {
    const pacer = createLoginPacer(0, 10_000);
    expect([pacer.reserve("a", 10_000), pacer.reserve("a", 10_000)]).toEqual([10_000, 10_000]);
  });
});

describe("lifecycle with login spacing", () => {
  test("a start-up reconcile launches one session per pass on the account and says when the next may start", async () => {
    const w = world();
    const lifecycle = w.make();
    const t0 = w.clock.now();
    const first = await lifecycle.reconcile(A);
    expect(first.created).toEqual(["ccl-auto-11"]);
    expect(first.deferred).toEqual(["ccl-auto-12", "ccl-auto-13"]);
    expect(lifecycle.nextLaunchAt()).toBe(t0 + SPACING);
    // A pass before that time launches nothing and never waits.
    await w.clock.advance(1_999);
    expect((await lifecycle.reconcile(A)).created).toEqual([]);
    expect(w.clock.pending()).toBe(0);
    await w.clock.advance(1);
    expect((await lifecycle.reconcile(A)).created).toEqual(["ccl-auto-12"]);
    await w.clock.advance(SPACING);
    const last = await lifecycle.reconcile(A);
    expect(last).toMatchObject({ created: ["ccl-auto-13"], deferred: [] });
    expect(lifecycle.nextLaunchAt()).toBeNull();
    expect(["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"].map((n) => w.store.session(n)!.launchedAt! - t0)).toEqual([0, 2_000, 4_000]);
  });

  test("only the sessions needed to reach min are deferred, not the rest of the pool", async () => {
    const w = world();
    const lifecycle = w.make({ min: 2, max: 4 });
    expect(await lifecycle.reconcile(A)).toMatchObject({ created: ["ccl-auto-11"], deferred: ["ccl-auto-12"] });
    await w.clock.advance(SPACING);
    expect(await lifecycle.reconcile(A)).toMatchObject({ created: ["ccl-auto-12"], deferred: [] });
    expect(await lifecycle.reconcile(A)).toMatchObject({ created: [], deferred: [] });
  });

  test("spacing 0 launches the whole pool in one pass", async () => {
    const w = world();
    const lifecycle = w.make({ spacing: 0 });
    expect(await lifecycle.reconcile(A)).toMatchObject({ created: ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"], deferred: [] });
  });

  test("launch() waits for its account's slot; a launch on another account does not wait", async () => {
    const w = world();
    const lifecycle = w.make();
    const t0 = w.clock.now();
    await lifecycle.launch("ccl-auto-11", { account: A });
    let done = false;
    const second = lifecycle.launch("ccl-auto-12", { account: A }).then((row) => ((done = true), row));
    await sleepers(w.clock, 1);
    expect(done).toBe(false);
    expect(w.fake.panes.has("ccl-auto-12")).toBe(false);
    await lifecycle.launch("ccl-auto-13", { account: B });
    expect(w.store.session("ccl-auto-13")!.launchedAt).toBe(t0);
    await w.clock.advance(SPACING);
    expect((await second).launchedAt).toBe(t0 + SPACING);
    expect(done).toBe(true);
  });

  test("launches asked for at once on one account start the spacing apart, in the order asked", async () => {
    const w = world();
    const lifecycle = w.make();
    const t0 = w.clock.now();
    const launches = ["ccl-auto-11", "ccl-auto-12", "ccl-auto-13"].map((name) => lifecycle.launch(name, { account: A }));
    await sleepers(w.clock, 2);
    await launched(w, "ccl-auto-11");
    await w.clock.advance(SPACING);
    await launched(w, "ccl-auto-12");
    await w.clock.advance(SPACING);
    expect((await Promise.all(launches)).map((row) => row.launchedAt! - t0)).toEqual([0, 2_000, 4_000]);
  });

  test("a restarted daemon keeps the spacing of the launches its store recorded", async () => {
    const w = world();
    await w.make({ spacing: 0 }).launch("ccl-auto-11", { account: A });
    await w.clock.advance(500);
    const again = w.make();
    const report = await again.reconcile(A);
    expect(report).toMatchObject({ created: [], deferred: ["ccl-auto-12", "ccl-auto-13"] });
    expect(again.nextLaunchAt()).toBe(w.clock.now() + 1_500);
  });

  test("sessions lost while the daemon runs come back the spacing apart, each resuming its conversation", async () => {
    const w = world();
    await w.make({ spacing: 0 }).reconcile(A);
    await w.clock.advance(60_000);
    const lifecycle = w.make();
    for (const name of ["ccl-auto-12", "ccl-auto-13"]) w.fake.panes.delete(name);
    expect(await lifecycle.reconcile(A)).toMatchObject({ created: ["ccl-auto-12"], deferred: ["ccl-auto-13"] });
    await w.clock.advance(SPACING);
    expect(await lifecycle.reconcile(A)).toMatchObject({ created: ["ccl-auto-13"], deferred: [] });
    for (const name of ["ccl-auto-12", "ccl-auto-13"]) expect(w.fake.panes.get(name)!.conversation).toBe(w.store.session(name)!.sessionId!);
  });
});

describe("lifecycle with a sessions' environment", () => {
  test("each launch writes the variables to a 0600 file that sh sources before Claude Code; no value reaches tmux's argv", async () => {
    const w = world();
    const lifecycle = w.make({ spacing: 0, sessionEnv: { HTTPS_PROXY: "http://user:s3cret@proxy:3128", NODE_EXTRA_CA_CERTS: "/etc/ssl/ca.pem" } });
    await lifecycle.reconcile(A);
    const envFile = join(w.dir, "hooks", "ccl-auto-11.env");
    expect(readFileSync(envFile, "utf8")).toBe("export HTTPS_PROXY=http://user:s3cret@proxy:3128\nexport NODE_EXTRA_CA_CERTS=/etc/ssl/ca.pem\n");
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const launches = w.argvs.filter((argv) => argv.includes("new-session"));
    expect(launches).toHaveLength(3);
    for (const argv of launches) {
      expect(argv.join(" ")).not.toContain("s3cret");
      const at = argv.indexOf("sh");
      expect(argv.slice(at, at + 5)).toEqual(["sh", "-c", ENV_SCRIPT, join(w.dir, "hooks", `${argv[argv.indexOf("-s") + 1]}.env`), "claude"]);
    }
    // The fake tmux still reads the config home and the conversation of the launch: Claude Code runs there.
    expect(w.fake.panes.get("ccl-auto-11")!.conversation).toBe(w.store.session("ccl-auto-11")!.sessionId!);
  });
});
