/**
 * @module sim-login
 * The simulated Claude Code's login, read for every request like the real CLI 2.1.330 (reference/real-claude.md §14):
 * `claudeAiOauth` of `<home>/.credentials.json` and `oauthAccount` of `<home>/.claude.json`. Each request is logged to
 * `<home>/sim-requests.jsonl` (what a fake API would have received: token, account, conversation, prompt, model) so tests can
 * see which account a turn went out as. Also plays the two things the API decides per login: a limit (the login's
 * `claudeAiOauth.simQuotaFile`, a simulator-only key, names a file whose presence means "this account is out of
 * quota", so a limit follows the login and not the config home; a turn's first request is sent when it is typed and
 * its last when it ends, each with the login as it is then), a refused login (`claudeAiOauth.simAuthFile` names a file
 * whose presence means "the server refuses this token"; its first word says how: `revoked`, `expired`, `invalid` or
 * `not-logged-in`, reference/real-claude.md §13.3) and a token refresh (`[sim:refresh=1]`: a new token
 * set written back atomically, as the CLI does after `POST /v1/oauth/token`).
 */
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What one request went out with. */
export interface SimRequestLogin {
  /** `claudeAiOauth.accessToken`, null without a login. */
  token: string | null;
  /** `oauthAccount.accountUuid` (else the e-mail), null when the home has none. */
  account: string | null;
  /** The login's quota file (simulator-only `claudeAiOauth.simQuotaFile`), if any. */
  quotaFile: string | null;
  /** The login's refusal file (simulator-only `claudeAiOauth.simAuthFile`), if any. */
  authFile?: string | null;
}

/** The file the simulator appends one JSON line per request to. */
export const SIM_REQUEST_LOG = "sim-requests.jsonl";

const readJson = (path: string): Record<string, any> | null => {
  try {
    const value = JSON.parse(readFileSync(path, "utf8"));
    return value && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
};

/** Reads the login `home` holds now (no caching: the CLI re-reads it for every request). */
export function readSimLogin(home: string): SimRequestLogin {
  const oauth = readJson(join(home, ".credentials.json"))?.claudeAiOauth;
  const account = readJson(join(home, ".claude.json"))?.oauthAccount;
  const str = (v: unknown) => (typeof v === "string" && v ? v : null);
  return {
    token: str(oauth?.accessToken), account: str(account?.accountUuid) ?? str(account?.emailAddress), quotaFile: str(oauth?.simQuotaFile),
    authFile: str(oauth?.simAuthFile),
  };
}

/** How the server refuses `login` now: the first word of its refusal file (`revoked` when empty), or null when it accepts it. */
export function simLoginRefusal(login: SimRequestLogin): string | null {
  if (!login.authFile) return null;
  try {
    return readFileSync(login.authFile, "utf8").trim() || "revoked";
  } catch {
    return null;
  }
}

/** Appends what a request was sent with to `<home>/sim-requests.jsonl`; a failing disk is ignored. */
export function logSimRequest(home: string, entry: { sessionId: string; prompt: string; login: SimRequestLogin; model?: string }): void {
  try {
    appendFileSync(join(home, SIM_REQUEST_LOG), `${JSON.stringify({ at: new Date().toISOString(), session_id: entry.sessionId,
      token: entry.login.token, account: entry.login.account, prompt: entry.prompt, ...(entry.model ? { model: entry.model } : {}) })}\n`);
  } catch {
    // best effort, like every simulator write
  }
}

/**
 * Refreshes the token set in `home` as the CLI does: new access and refresh tokens (`…-r<n>`), a later `expiresAt`,
 * written to `.credentials.json` through a temp file and a rename. Returns the new access token, null without a login.
 */
export function refreshSimLogin(home: string, now = Date.now()): string | null {
  const path = join(home, ".credentials.json");
  const credentials = readJson(path);
  const oauth = credentials?.claudeAiOauth;
  if (!oauth || typeof oauth.accessToken !== "string") return null;
  const bump = (token: unknown) => {
    const text = String(token ?? "");
    const match = /-r(\d+)$/.exec(text);
    return match ? `${text.slice(0, match.index)}-r${Number(match[1]) + 1}` : `${text}-r1`;
  };
  const next = { ...oauth, accessToken: bump(oauth.accessToken), refreshToken: bump(oauth.refreshToken), expiresAt: Math.max(Number(oauth.expiresAt) || 0, now) + 3_600_000 };
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ ...credentials, claudeAiOauth: next }), { mode: 0o600 });
  renameSync(temp, path);
  return next.accessToken;
}

/** Whether `<home>/settings.json` arms the automatic continue after a limit (`autoContinueAtUsageLimit: true`; off by default here). */
export function autoContinueEnabled(home: string): boolean {
  return readJson(join(home, "settings.json"))?.autoContinueAtUsageLimit === true;
}

/**
 * Writes a simulated account login into `home`, as `claude /login` would leave it: `.credentials.json` (mode 0600,
 * a token naming the account) and `.claude.json` with `oauthAccount`. Its `simQuotaFile` is `<home>/sim-quota`: that
 * file makes the account run out of quota wherever its login is used; its `simAuthFile` is `<home>/sim-auth`: that file
 * makes the server refuse its token wherever it is used (a lost login; write `revoked`, `expired`, … into it).
 */
export function writeSimAccountLogin(home: string, name: string, now = Date.now()): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(join(home, ".credentials.json"), JSON.stringify({ claudeAiOauth: {
    accessToken: `sk-ant-oat01-SIM-${name}`, refreshToken: `sk-ant-ort01-SIM-${name}`, expiresAt: now + 365 * 86_400_000,
    scopes: ["user:inference", "user:profile", "user:sessions:claude_code"], subscriptionType: "max", simQuotaFile: join(home, "sim-quota"),
    simAuthFile: join(home, "sim-auth"),
  } }), { mode: 0o600 });
  writeFileSync(join(home, ".claude.json"), JSON.stringify({ hasCompletedOnboarding: true,
    oauthAccount: { accountUuid: `sim-account-${name}`, emailAddress: `${name}@example.invalid` } }), { mode: 0o600 });
}
