import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { flipLink, inspectLink, LinkError, linkFlipProblem } from "../../internal/lifecycle/link.ts";
import { createLifecycle } from "../../internal/lifecycle/lifecycle.ts";
import { openStore } from "../../internal/state/state.ts";
import { systemClock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import { runDoctor } from "../../internal/cli/doctor.ts";
import { startTestDaemon } from "../support/daemon.ts";
import { eventually, privateTmux, tempDir } from "../support/tmux.ts";

const SIM = join(import.meta.dir, "../support/sim-claude-bin.ts");
const asRoot = process.getuid?.() === 0;

describe("flipLink()", () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  test("creates the link, then repoints it atomically", () => {
    const link = join(dir.path, "claude");
    flipLink(link, join(dir.path, "a"));
    expect(readlinkSync(link)).toBe(join(dir.path, "a"));
    flipLink(link, join(dir.path, "b"));
    expect(readlinkSync(link)).toBe(join(dir.path, "b"));
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  test("refuses a link that is a real directory or file and leaves it intact", () => {
    const real = join(dir.path, "real-claude");
    mkdirSync(real);
    writeFileSync(join(real, "settings.json"), "{}");
    expect(() => flipLink(real, join(dir.path, "a"))).toThrow(LinkError);
    expect(readFileSync(join(real, "settings.json"), "utf8")).toBe("{}");
    const file = join(dir.path, "file-claude");
    writeFileSync(file, "mine");
    expect(() => flipLink(file, join(dir.path, "a"))).toThrow(/real file/);
    expect(readFileSync(file, "utf8")).toBe("mine");
  });

  test("does nothing when no link is configured", () => {
    expect(() => flipLink("", "/x")).not.toThrow();
    expect(inspectLink("", "/x")).toEqual({ kind: "none" });
  });
});

describe("inspectLink() and linkFlipProblem()", () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  test("tell a missing, a right, a drifted and a real-directory link apart", () => {
    const link = join(dir.path, "deep", "claude");
    expect(inspectLink(link, "/h/a")).toEqual({ kind: "missing" });
    mkdirSync(join(dir.path, "deep"));
    symlinkSync("/h/a", link);
    expect(inspectLink(link, "/h/a")).toEqual({ kind: "ok" });
    expect(inspectLink(link, "/h/b")).toEqual({ kind: "drifted", current: "/h/a" });
    const real = join(dir.path, "real");
    mkdirSync(real);
    expect(inspectLink(real, "/h/a")).toMatchObject({ kind: "blocked", reason: expect.stringContaining("real directory") });
  });

  test("names a folder the daemon cannot write as the reason", async () => {
    const locked = join(dir.path, "locked");
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    try {
      const { problem, refused } = asRoot ? await checkAsNobody(dir.path, join(locked, "claude")) : checkHere(join(locked, "claude"));
      expect(problem).toContain(`the folder ${locked} is not writable`);
      expect(refused).toBe(true);
    } finally {
      chmodSync(locked, 0o700);
    }
  });
});

/** What the daemon sees of a link path it may not manage: the problem named, and whether a flip is refused with LinkError. */
function checkHere(link: string): { problem: string | null; refused: boolean } {
  try {
    flipLink(link, "/h/a");
    return { problem: linkFlipProblem(link), refused: false };
  } catch (error) {
    return { problem: linkFlipProblem(link), refused: error instanceof LinkError };
  }
}

/**
 * {@link checkHere} as an unprivileged user (`setpriv` to nobody): root writes into any folder, so as root (as CI runs)
 * the check only means something from another user. `dir` (the test's temp folder) is opened to others for it, and
 * the module runs from a bundle there: the checkout may be in a folder nobody cannot read (a clone under /root).
 */
async function checkAsNobody(dir: string, link: string): Promise<{ problem: string | null; refused: boolean }> {
  chmodSync(dir, 0o755);
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "../../internal/lifecycle/link.ts")], outdir: join(dir, "bundle"), target: "bun" });
  if (!built.success) throw new Error(`bundling link.ts failed: ${built.logs.join("; ")}`);
  chmodSync(join(dir, "bundle"), 0o755);
  const script = `import { flipLink, LinkError, linkFlipProblem } from ${JSON.stringify(built.outputs[0]!.path)};
    const link = ${JSON.stringify(link)};
    let refused = false;
    try { flipLink(link, "/h/a"); } catch (error) { refused = error instanceof LinkError; }
    console.log(JSON.stringify({ problem: linkFlipProblem(link), refused }));`;
  const proc = Bun.spawnSync(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "-e", script], { cwd: "/", env: { PATH: process.env.PATH ?? "", HOME: "/tmp" } });
  if (proc.exitCode !== 0) throw new Error(`setpriv failed (${proc.exitCode}): ${proc.stderr.toString().slice(0, 300)}`);
  return JSON.parse(proc.stdout.toString()) as { problem: string | null; refused: boolean };
}

describe("reconcile keeps claude.link on the account it is given (real tmux)", () => {
  const server = privateTmux("link");
  const dir = tempDir();
  const link = join(dir.path, "dot-claude");
  mkdirSync(join(dir.path, "work"), { recursive: true });
  const account = { name: "main", home: join(dir.path, "home-main") };
  const store = openStore(join(dir.path, "state.db"));
  const log = memoryLog();
  const makeLifecycle = () => createLifecycle({ tmux: server.tmux, store, clock: systemClock, log }, {
    pool: { prefix: "ccl-auto-", startIndex: 11, min: 1, max: 1, workdir: join(dir.path, "work") },
    dedicated: [],
    claude: { command: process.execPath, args: [SIM] },
    stripEnv: [],
    hooksDir: join(dir.path, "hooks"),
    hook: { self: ["/bin/true"], url: "http://127.0.0.1:1", spoolDir: join(dir.path, "spool"), tokenFile: join(dir.path, "hook-token") },
    link,
  });
  const lifecycle = makeLifecycle();
  afterAll(async () => {
    await server.kill();
    store.close();
    await dir.cleanup();
  });

  test("creates the link at the first reconcile and repairs it when it drifts", async () => {
    await lifecycle.reconcile(account);
    expect(readlinkSync(link)).toBe(account.home);
    rmSync(link);
    symlinkSync("/somewhere/else", link);
    const report = await lifecycle.reconcile(account);
    expect(readlinkSync(link)).toBe(account.home);
    expect(report.linkProblem).toBeUndefined();
    expect(lifecycle.linkProblem()).toBeNull();
    expect(log.records.find((r) => r.msg === "link repaired" && r.was === "/somewhere/else")).toBeDefined();
  });

  test("a real directory at the link path is never replaced and is reported once", async () => {
    rmSync(link);
    mkdirSync(link);
    writeFileSync(join(link, "settings.json"), "{\"mine\":true}");
    const reports = [await lifecycle.reconcile(account), await lifecycle.reconcile(account), await lifecycle.reconcile(account)];
    expect(reports.map((r) => r.linkProblem !== undefined)).toEqual([true, false, false]);
    expect(reports[0]!.linkProblem).toContain("real directory");
    expect(lifecycle.linkProblem()).toContain("real directory");
    expect(readFileSync(join(link, "settings.json"), "utf8")).toBe("{\"mine\":true}");
    expect(log.records.filter((r) => r.msg === "link not managed")).toHaveLength(1);
    // The sessions are kept all the same.
    expect((await server.tmux.listPanes()).map((p) => p.session)).toEqual(["ccl-auto-11"]);
  });

  test("a restarted daemon logs the problem again but does not tell the operator twice; once fixed, a new problem is told", async () => {
    const again = makeLifecycle();
    expect((await again.reconcile(account)).linkProblem).toBeUndefined();
    expect(log.records.filter((r) => r.msg === "link not managed")).toHaveLength(2);
    rmSync(link, { recursive: true });
    expect((await again.reconcile(account)).linkProblem).toBeUndefined();
    expect(readlinkSync(link)).toBe(account.home);
    rmSync(link);
    mkdirSync(link);
    expect((await again.reconcile(account)).linkProblem).toContain("real directory");
  });
});

describe("the daemon and claude.link", () => {
  test("start-up creates the link (at the session home); a real directory there shows in /health (still 200), doctor and one notification", async () => {
    const t = await startTestDaemon();
    try {
      const link = join(t.dir, "claude-link");
      expect(readlinkSync(link)).toBe(t.fleet);
      rmSync(link);
      mkdirSync(link);
      writeFileSync(join(link, "keep.txt"), "operator data");
      await eventually(() => t.log.records.some((r) => r.msg === "link not managed"), 10_000);
      const health = await fetch(`${t.daemon.url()}/health`);
      expect(health.status).toBe(200);
      const body = (await health.json()) as { checks: Record<string, { ok: boolean; warning?: boolean; detail?: string }> };
      expect(body.checks.link).toMatchObject({ ok: true, warning: true, detail: expect.stringContaining("real directory") });
      const db = new Database(join(t.config.state_dir, "state.db"), { readonly: true });
      const told = await eventually(() => db.query("SELECT kind, message FROM events WHERE kind = 'link_blocked'").all() as Array<{ message: string }>);
      expect(told).toHaveLength(1);
      expect(told[0]!.message).toContain("is not managed");
      db.close();
      const doctor = await runDoctor(t.config, t.server.run, { unitDir: t.dir });
      expect(doctor.find((c) => c.name === "claude.link")).toMatchObject({ ok: false, detail: expect.stringContaining("real directory") });
      expect(readFileSync(join(link, "keep.txt"), "utf8")).toBe("operator data");
    } finally {
      await t.cleanup();
    }
  }, 60_000);
});
