import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLogin, seedSessionHome, writeLogin, LoginFileError, type Login } from "../../internal/claude/login.ts";
import { createSessionHomes } from "../../internal/claude/session-homes.ts";
import { openStore } from "../../internal/state/state.ts";
import { memoryLog } from "../../internal/log.ts";
import { transcriptPath } from "../../internal/claude/home.ts";
import { tempDir } from "../support/tmux.ts";

let dirs: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const d of dirs) d.cleanup();
  dirs = [];
});
const temp = () => {
  const d = tempDir("cf-login-");
  dirs.push(d);
  return d.path;
};
const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const login = (name: string, expiresAt = 1_000): Login => ({
  oauth: { accessToken: `at-${name}`, refreshToken: `rt-${name}`, expiresAt, scopes: ["user:inference"] },
  account: { accountUuid: `uuid-${name}`, emailAddress: `${name}@example.invalid` },
});
/** An account home as `claude /login` leaves it. */
const accountHome = (root: string, name: string, expiresAt = 1_000) => {
  const home = join(root, "accounts", name);
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, ".claude.json"), JSON.stringify({ hasCompletedOnboarding: true, projects: { "/w": { hasTrustDialogAccepted: true } } }));
  writeFileSync(join(home, "settings.json"), JSON.stringify({ skipDangerousModePermissionPrompt: true }));
  writeLogin(home, login(name, expiresAt));
  return home;
};

describe("readLogin() and writeLogin()", () => {
  test("round-trips the token set and the account, keeping every other key of both files", () => {
    const home = temp();
    writeFileSync(join(home, ".claude.json"), JSON.stringify({ numStartups: 3, oauthAccount: { accountUuid: "old" } }));
    writeFileSync(join(home, ".credentials.json"), JSON.stringify({ other: 1, claudeAiOauth: { accessToken: "old" } }));
    writeLogin(home, login("a"));
    expect(readLogin(home)).toEqual(login("a"));
    expect(json(join(home, ".claude.json")).numStartups).toBe(3);
    expect(json(join(home, ".credentials.json")).other).toBe(1);
  });

  test("writes both files mode 0600 and leaves no temporary file behind", () => {
    const home = temp();
    writeLogin(home, login("a"));
    for (const name of [".credentials.json", ".claude.json"]) expect(statSync(join(home, name)).mode & 0o777).toBe(0o600);
    expect(readdirSync(home).sort()).toEqual([".claude.json", ".credentials.json"]);
  });

  test("reads no login from a home without credentials, and refuses a malformed file instead of overwriting it", () => {
    const home = temp();
    expect(readLogin(home)).toBeNull();
    writeFileSync(join(home, ".credentials.json"), "{not json");
    expect(() => readLogin(home)).toThrow(LoginFileError);
    expect(() => writeLogin(home, login("a"))).toThrow(LoginFileError);
    expect(readFileSync(join(home, ".credentials.json"), "utf8")).toBe("{not json");
  });
});

describe("seedSessionHome()", () => {
  test("copies .claude.json whole and settings.json from the account home, once", () => {
    const root = temp();
    const from = accountHome(root, "a");
    const home = join(root, "fleet");
    expect(seedSessionHome(home, from)).toBe(true);
    expect(json(join(home, ".claude.json")).projects).toEqual({ "/w": { hasTrustDialogAccepted: true } });
    expect(json(join(home, "settings.json"))).toEqual({ skipDangerousModePermissionPrompt: true });
    expect(statSync(join(home, ".claude.json")).mode & 0o777).toBe(0o600);
    expect(seedSessionHome(home, from)).toBe(false);
  });
});

describe("createSessionHomes()", () => {
  const setup = () => {
    const root = temp();
    const accounts = [{ name: "a", home: accountHome(root, "a") }, { name: "b", home: accountHome(root, "b") }];
    const store = openStore(join(root, "state.db"));
    const log = memoryLog();
    const homes = createSessionHomes({ store, log, accounts }, { stateDir: join(root, "state") });
    return { root, accounts, store, log, homes };
  };

  test("prepare creates the fleet home holding the active account's login; moveTo replaces it with another's", () => {
    const { homes, root } = setup();
    homes.prepare("a");
    expect(homes.fleetHome).toBe(join(root, "state", "homes", "fleet"));
    expect(readLogin(homes.fleetHome)).toEqual(login("a"));
    expect(homes.accountOf(homes.fleetHome)).toBe("a");
    homes.moveTo("b");
    expect(readLogin(homes.fleetHome)).toEqual(login("b"));
    expect(homes.accountOf(homes.fleetHome)).toBe("b");
    expect(json(join(homes.fleetHome, ".claude.json")).projects).toEqual({ "/w": { hasTrustDialogAccepted: true } });
  });

  test("moveTo refuses an account whose home has no login, leaving the session home as it was", () => {
    const { homes, accounts } = setup();
    homes.prepare("a");
    const bare = accounts[1]!.home;
    writeFileSync(join(bare, ".credentials.json"), "{}");
    expect(() => homes.moveTo("b")).toThrow(/has no login/);
    expect(readLogin(homes.fleetHome)).toEqual(login("a"));
  });

  test("a token the session's CLI refreshed is carried back to the account home, and never to another account", () => {
    const { homes, accounts } = setup();
    homes.prepare("a");
    const refreshed: Login = { ...login("a", 5_000), oauth: { ...login("a", 5_000).oauth, accessToken: "at-a-r1", refreshToken: "rt-a-r1" } };
    writeLogin(homes.fleetHome, refreshed);
    expect(homes.syncRefreshes()).toEqual([accounts[0]!.home]);
    expect(readLogin(accounts[0]!.home)).toEqual(refreshed);
    expect(readLogin(accounts[1]!.home)).toEqual(login("b"));
    expect(homes.syncRefreshes()).toEqual([]);
  });

  test("a token refreshed just before a swap goes back to its account before the other account's login replaces it", () => {
    const { homes, accounts } = setup();
    homes.prepare("a");
    writeLogin(homes.fleetHome, login("a", 5_000));
    homes.moveTo("b");
    expect(readLogin(accounts[0]!.home)).toEqual(login("a", 5_000));
    expect(readLogin(homes.fleetHome)).toEqual(login("b"));
  });

  test("the login of an account that needs a login (refused by the server) is not carried back: its home is the operator's", () => {
    const { homes, accounts, store } = setup();
    homes.prepare("a");
    store.syncAccounts(accounts.map((a, priority) => ({ ...a, priority })), 0);
    store.setAccountState("a", "needs_login", null, 0);
    writeLogin(homes.fleetHome, login("a", 5_000));
    homes.moveTo("b");
    expect(readLogin(accounts[0]!.home)).toEqual(login("a"));
    expect(readLogin(homes.fleetHome)).toEqual(login("b"));
  });

  test("a swap resumed after a crash between writing the login and recording it never carries b's login into a's home", () => {
    const { homes, accounts } = setup();
    homes.prepare("a");
    // The crash left b's login written (a later expiry than a's) but the home still recorded as a's; a's home says
    // nothing about who it is, so only the login itself can tell.
    writeLogin(accounts[1]!.home, login("b", 9_000));
    writeLogin(homes.fleetHome, login("b", 9_000));
    writeLogin(accounts[0]!.home, { ...login("a"), account: null });
    homes.moveTo("b");
    expect(readLogin(accounts[0]!.home)).toEqual({ ...login("a"), account: null });
    expect(homes.accountOf(homes.fleetHome)).toBe("b");
  });

  test("a new login in the account home (the operator ran /login) reaches the session home", () => {
    const { homes, accounts } = setup();
    homes.prepare("a");
    writeLogin(accounts[0]!.home, login("a", 9_000));
    expect(homes.syncRefreshes()).toEqual([homes.fleetHome]);
    expect(readLogin(homes.fleetHome)).toEqual(login("a", 9_000));
  });

  test("prepare on a restart keeps a refreshed token in the session home instead of overwriting it", () => {
    const { homes, accounts } = setup();
    homes.prepare("a");
    writeLogin(homes.fleetHome, login("a", 7_000));
    homes.prepare("a");
    expect(readLogin(homes.fleetHome)).toEqual(login("a", 7_000));
    expect(readLogin(accounts[0]!.home)).toEqual(login("a", 7_000));
  });

  test("a legacy session keeps its account home until its next launch, which copies its transcript into the session home", () => {
    const { homes, accounts } = setup();
    const uuid = "11111111-2222-4333-8444-555555555555";
    const old = transcriptPath(accounts[0]!.home, "/w", uuid);
    mkdirSync(join(old, ".."), { recursive: true });
    writeFileSync(old, '{"type":"user"}\n');
    homes.markLegacy("ccl-1", accounts[0]!.home);
    expect(homes.homeOf("ccl-1")).toBe(accounts[0]!.home);
    expect(homes.homeOf("ccl-2")).toBe(homes.fleetHome);
    expect(homes.launchHome("ccl-1", { resumeId: uuid, workdir: "/w" })).toBe(homes.fleetHome);
    expect(existsSync(transcriptPath(homes.fleetHome, "/w", uuid))).toBe(true);
    expect(homes.homeOf("ccl-1")).toBe(homes.fleetHome);
    expect(homes.legacySessions()).toEqual([]);
  });
});

describe("createSessionHomes() in spread placement", () => {
  const setup = () => {
    const root = temp();
    const accounts = [{ name: "a", home: accountHome(root, "a") }, { name: "b", home: accountHome(root, "b") }];
    const store = openStore(join(root, "state.db"));
    const homes = createSessionHomes({ store, log: memoryLog(), accounts }, { stateDir: join(root, "state"), placement: "spread" });
    return { root, accounts, store, homes };
  };

  test("each session launches in a home of its own holding its account's login; moving one rewrites only its home", () => {
    const { homes, root } = setup();
    const one = homes.launchHome("ccl-1", { resumeId: null, workdir: "/w", account: "a" });
    const two = homes.launchHome("ccl-2", { resumeId: null, workdir: "/w", account: "a" });
    expect([one, two]).toEqual([join(root, "state", "homes", "sessions", "ccl-1"), join(root, "state", "homes", "sessions", "ccl-2")]);
    expect([homes.homeOf("ccl-1"), homes.sessionHomeOf("ccl-2")]).toEqual([one, two]);
    expect(json(join(one, ".claude.json")).projects).toEqual({ "/w": { hasTrustDialogAccepted: true } });
    homes.moveSession("ccl-1", "b");
    expect([readLogin(one), readLogin(two)]).toEqual([login("b"), login("a")]);
    expect([homes.accountOf(one), homes.accountOf(two)]).toEqual(["b", "a"]);
    expect([homes.isSessionHome(one), homes.isSessionHome(homes.fleetHome), homes.isSessionHome(join(one, "projects")), homes.isSessionHome(root)]).toEqual([true, true, false, false]);
  });

  test("a relaunch on the same account keeps a token its session refreshed; the account and its other sessions get it", () => {
    const { homes, accounts } = setup();
    const one = homes.launchHome("ccl-1", { resumeId: null, workdir: "/w", account: "a" });
    const two = homes.launchHome("ccl-2", { resumeId: null, workdir: "/w", account: "a" });
    writeLogin(one, login("a", 7_000));
    homes.launchHome("ccl-1", { resumeId: null, workdir: "/w", account: "a" });
    expect([readLogin(one), readLogin(accounts[0]!.home), readLogin(two)]).toEqual([login("a", 7_000), login("a", 7_000), login("a")]);
    expect(homes.syncRefreshes()).toEqual([two]);
    expect(readLogin(two)).toEqual(login("a", 7_000));
  });

  test("a session found in the fleet home (the placement was failover) moves to its own home at its next launch, its transcript copied", () => {
    const { homes, store } = setup();
    const uuid = "11111111-2222-4333-8444-555555555555";
    const old = transcriptPath(homes.fleetHome, "/w", uuid);
    mkdirSync(join(old, ".."), { recursive: true });
    writeFileSync(old, '{"type":"user"}\n');
    store.upsertSession("ccl-1", "pool", { home: homes.fleetHome, account: "a", state: "idle", workdir: "/w" }, 1);
    store.upsertSession("ccl-2", "pool", { home: homes.sessionHomeOf("ccl-2"), account: "a", state: "idle", workdir: "/w" }, 1);
    expect(homes.adoptPlacement(store.sessions())).toEqual(["ccl-1"]);
    expect(homes.homeOf("ccl-1")).toBe(homes.fleetHome);
    const home = homes.launchHome("ccl-1", { resumeId: uuid, workdir: "/w", account: "b" });
    expect(home).toBe(homes.sessionHomeOf("ccl-1"));
    expect(existsSync(transcriptPath(home, "/w", uuid))).toBe(true);
    expect(readLogin(home)).toEqual(login("b"));
    expect(homes.legacySessions()).toEqual([]);
  });
});
