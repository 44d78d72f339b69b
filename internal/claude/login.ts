/**
 * @module claude/login
 * A Claude Code login as files in a config home (reference/real-claude.md §1.2): `claudeAiOauth` of
 * `.credentials.json` (the token set) and `oauthAccount` of `.claude.json` (who it is). Reads a login, writes one into
 * another home atomically (temp file + rename, mode 0600, every other key of both files kept), and seeds a new session
 * home from an account home. Decides nothing about which account a home should hold: claude/session-homes.ts does.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The login of one account, as Claude Code stores it. */
export interface Login {
  /** `claudeAiOauth` of `.credentials.json`, kept whole (tokens, expiry, scopes, plan). */
  oauth: Record<string, unknown>;
  /** `oauthAccount` of `.claude.json`; null when the home has none (e.g. a token from `claude setup-token`). */
  account: Record<string, unknown> | null;
}

export const CREDENTIALS_FILE = ".credentials.json";
export const CONFIG_FILE = ".claude.json";
/** Files copied from the account home when a session home is created. */
const SEED_FILES = [CONFIG_FILE, "settings.json"];

/** A login file that exists but cannot be read as JSON: the operator must fix it; nothing is overwritten. */
export class LoginFileError extends Error {
  override name = "LoginFileError";
}

/** Reads a JSON object file; null when missing. @throws LoginFileError when it is not a JSON object. */
function readJsonObject(path: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new LoginFileError(`Cannot read ${path}: not a JSON object; fix or remove it`);
}

/** Writes `text` to `path` through a temp file renamed over it, so a reader never sees half a file. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const temp = `${path}.cf-tmp-${process.pid}`;
  writeFileSync(temp, text, { mode });
  chmodSync(temp, mode);
  renameSync(temp, path);
}

/** The login in `home`, or null when it has no `claudeAiOauth`. @throws LoginFileError on a malformed file. */
export function readLogin(home: string): Login | null {
  const oauth = readJsonObject(join(home, CREDENTIALS_FILE))?.claudeAiOauth;
  if (!oauth || typeof oauth !== "object" || Array.isArray(oauth)) return null;
  const account = readJsonObject(join(home, CONFIG_FILE))?.oauthAccount;
  return { oauth: oauth as Record<string, unknown>, account: account && typeof account === "object" ? (account as Record<string, unknown>) : null };
}

/**
 * Writes `login` into `home`: `.credentials.json` first (what each request is sent with), then `.claude.json`'s
 * `oauthAccount`. Each file is replaced atomically, mode 0600; the other keys of both files are kept.
 */
export function writeLogin(home: string, login: Login): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const credentialsPath = join(home, CREDENTIALS_FILE);
  const credentials = readJsonObject(credentialsPath) ?? {};
  writeFileAtomic(credentialsPath, JSON.stringify({ ...credentials, claudeAiOauth: login.oauth }));
  const configPath = join(home, CONFIG_FILE);
  const config = readJsonObject(configPath) ?? {};
  if (login.account) config.oauthAccount = login.account;
  else delete config.oauthAccount;
  writeFileAtomic(configPath, JSON.stringify(config, null, 2));
}

/** Whether two logins carry the same token set and identity. */
export function sameLogin(a: Login | null, b: Login | null): boolean {
  return JSON.stringify(a?.oauth ?? null) === JSON.stringify(b?.oauth ?? null) && JSON.stringify(a?.account ?? null) === JSON.stringify(b?.account ?? null);
}

/** Who a login is (account uuid, else e-mail); null when it does not say. */
export function loginIdentity(login: Login | null): string | null {
  const id = login?.account?.accountUuid ?? login?.account?.emailAddress;
  return typeof id === "string" && id ? id : null;
}

/** `expiresAt` of a login's token (epoch ms), 0 when absent: a refreshed token set expires later than the one it replaced. */
export function loginExpiry(login: Login | null): number {
  const value = Number(login?.oauth.expiresAt);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Creates a session home from an account home when it does not exist yet: `.claude.json` copied whole (onboarding,
 * trusted projects) and `settings.json` if present, mode 0600. Returns true when it created the home.
 */
export function seedSessionHome(home: string, from: string): boolean {
  if (existsSync(join(home, CONFIG_FILE))) return false;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  for (const name of SEED_FILES) {
    const source = join(from, name);
    if (!existsSync(source) || !statSync(source).isFile()) continue;
    const temp = join(home, `${name}.cf-tmp-${process.pid}`);
    copyFileSync(source, temp);
    chmodSync(temp, 0o600);
    renameSync(temp, join(home, name));
  }
  if (!existsSync(join(home, CONFIG_FILE))) writeFileAtomic(join(home, CONFIG_FILE), "{}");
  return true;
}

/** Modification time of a home's `.credentials.json` (ms), 0 when missing: a cheap "did it change" check. */
export function credentialsMtime(home: string): number {
  try {
    return statSync(join(home, CREDENTIALS_FILE)).mtimeMs;
  } catch {
    return 0;
  }
}
