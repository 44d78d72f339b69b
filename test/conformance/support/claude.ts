/**
 * @module test/conformance/support/claude
 * The real Claude Code CLI as the conformance suite runs it: where setup.sh cached the pinned release, account homes
 * prepared so the CLI starts straight into its prompt (reference/real-claude.md §1.2: credentials, `.claude.json`
 * with the trusted workdirs, `settings.json`), and the wrapper script used as `claude.command`, which gives the CLI
 * the pane environment of §1.3 (stand-in URL read from the home, no nonessential traffic, no updater, IS_SANDBOX=1
 * because the suite may run as root, a private HOME, TZ=UTC) and execs the cached binary.
 */
import { chmodSync, existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { homedir } from "node:os";
import { TESTED_CLAUDE_CODE_VERSION } from "../../../internal/claude/version.ts";

/** The cached CLI installed by `scripts/setup.sh --claude`. */
export const CLAUDE_BIN = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "claude-failover",
  `claude-code-${TESTED_CLAUDE_CODE_VERSION}`, "node_modules", ".bin", "claude");

/** True when the pinned CLI is installed; the suite is skipped (with a message saying why) otherwise. */
export function claudeInstalled(): boolean {
  return existsSync(CLAUDE_BIN);
}

/** Prints why the conformance suite does not run (once per file). */
export function explainSkip(file: string): void {
  if (claudeInstalled()) return;
  process.stderr.write(`conformance: SKIPPED ${file}: Claude Code ${TESTED_CLAUDE_CODE_VERSION} is not installed at ${CLAUDE_BIN} (run: sh scripts/setup.sh --claude)\n`);
}

/** The file in an account home from which the wrapper reads that account's stand-in URL. */
export const STANDIN_URL_FILE = ".standin-url";

/** How one account home is prepared. */
export interface HomeOptions {
  /** Stand-in base URL for this account. */
  url: string;
  /** Distinguishes the accounts' tokens and identities (`a` → `sk-ant-oat01-a…`). */
  account: string;
  /** Working directories the CLI trusts (keyed by their physical path, as the CLI does). */
  workdirs: string[];
  /** Extra `settings.json` keys, e.g. `{ tui: "default" }` or `{ autoContinueAtUsageLimit: false }`. */
  settings?: Record<string, unknown>;
}

/** The access token of a prepared account home: distinct per account, so a request names the login it used. */
export function accessToken(account: string): string {
  return `sk-ant-oat01-${account}-FAKE-${"x".repeat(40)}`;
}

/** Writes `.credentials.json`, `.claude.json`, `settings.json` and the stand-in URL into `home`. */
export function prepareHome(home: string, options: HomeOptions): void {
  mkdirSync(join(home, ".home"), { recursive: true });
  const oauth = {
    accessToken: accessToken(options.account),
    refreshToken: `sk-ant-ort01-${options.account}-FAKE-${"y".repeat(40)}`,
    expiresAt: Date.now() + 365 * 86_400_000,
    scopes: ["user:inference", "user:profile", "user:sessions:claude_code"],
    subscriptionType: "max", rateLimitTier: "default_claude_max_5x",
  };
  writeFileSync(join(home, ".credentials.json"), JSON.stringify({ claudeAiOauth: oauth }), { mode: 0o600 });
  const projects: Record<string, unknown> = {};
  for (const dir of options.workdirs) {
    mkdirSync(dir, { recursive: true });
    projects[realpathSync(dir)] = { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true, allowedTools: [] };
  }
  const id = options.account.padEnd(12, "0").slice(0, 12).replace(/[^0-9a-f]/g, "a");
  writeFileSync(join(home, ".claude.json"), JSON.stringify({
    numStartups: 3, autoUpdates: false, theme: "dark", hasCompletedOnboarding: true,
    lastOnboardingVersion: TESTED_CLAUDE_CODE_VERSION, lastReleaseNotesSeen: TESTED_CLAUDE_CODE_VERSION,
    bypassPermissionsModeAccepted: true, hasSeenTasksHint: true, userID: "0".repeat(52) + id,
    oauthAccount: {
      accountUuid: `00000000-0000-4000-8000-${id}`, emailAddress: `${options.account}@example.invalid`,
      organizationUuid: `00000000-0000-4000-9000-${id}`, organizationName: "Fake Org", displayName: options.account,
      billingType: "stripe_subscription", organizationRole: "admin",
    },
    projects,
  }));
  writeFileSync(join(home, "settings.json"), JSON.stringify({ skipDangerousModePermissionPrompt: true, autoUpdates: false, ...options.settings }));
  writeFileSync(join(home, STANDIN_URL_FILE), options.url);
}

/**
 * Writes the `claude.command` wrapper. `sandbox: false` leaves out IS_SANDBOX=1, so under root the CLI refuses
 * `--dangerously-skip-permissions` and exits at once (§11). `url` is the API address (default: the one the config home names).
 */
export function writeWrapper(path: string, options: { sandbox?: boolean; bin?: string; url?: string } = {}): string {
  const sandbox = options.sandbox ?? true;
  writeFileSync(path, `#!/bin/sh
# Runs the cached Claude Code against the stand-in named in the account home (test/conformance/support/claude.ts).
home="\${CLAUDE_CONFIG_DIR:?CLAUDE_CONFIG_DIR is not set}"
${options.url ? `url=${JSON.stringify(options.url)}` : `url="$(cat "$home/${STANDIN_URL_FILE}")" || exit 97`}
mkdir -p "$home/.home"
exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$home/.home" TERM=xterm-256color LANG=C.UTF-8 TZ=UTC \\
  CLAUDE_CONFIG_DIR="$home" ANTHROPIC_BASE_URL="$url" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \\
  _CLAUDE_CODE_ASSUME_FIRST_PARTY_BASE_URL=1 ${sandbox ? "IS_SANDBOX=1 " : ""}${JSON.stringify(options.bin ?? CLAUDE_BIN)} "$@"
`);
  chmodSync(path, 0o755);
  return path;
}
