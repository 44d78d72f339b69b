import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../internal/config/config.ts";
import { daemonSecretEnvs } from "../../internal/config/session-env.ts";

const env = { env: { CLAUDE_FAILOVER_TOKEN: "tok", HTTPS_PROXY: "http://user:pw@proxy:3128", EMPTY: "" }, home: "/home/dev" };
const MINIMAL = "accounts:\n  - name: main\n    home: ~/.claude-main\n";

/** The ConfigError's message for `text` (the whole of what the operator reads). */
function refusal(text: string): string {
  try {
    parseConfig(text, "/etc/cf.yaml", env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("claude.env and claude.env_from", () => {
  test("are empty by default, and launches on one login are spaced 2 s", () => {
    const config = parseConfig(MINIMAL, "/etc/cf.yaml", env);
    expect(config.claude.env).toEqual({});
    expect(config.claude.env_from).toEqual([]);
    expect(config.sessionEnv).toEqual({ values: {}, missing: [] });
    expect(config.lifecycle.login_spacing).toBe(2_000);
    expect(parseConfig(`${MINIMAL}lifecycle:\n  login_spacing: 0\n`, "/etc/cf.yaml", env).lifecycle.login_spacing).toBe(0);
  });

  test("resolve to the variables set for sessions: env_from read from the daemon's environment, then env", () => {
    const config = parseConfig(`${MINIMAL}claude:
  env:
    NODE_EXTRA_CA_CERTS: /etc/ssl/corp-ca.pem
    ANTHROPIC_MODEL: "claude-opus-4"
    NO_PROXY: ""
  env_from: [HTTPS_PROXY, EMPTY, NOT_SET]
`, "/etc/cf.yaml", env);
    expect(config.sessionEnv.values).toEqual({
      HTTPS_PROXY: "http://user:pw@proxy:3128", EMPTY: "", NODE_EXTRA_CA_CERTS: "/etc/ssl/corp-ca.pem", ANTHROPIC_MODEL: "claude-opus-4", NO_PROXY: "",
    });
    expect(config.sessionEnv.missing).toEqual(["NOT_SET"]);
  });

  test("refuse the daemon's HTTP token variable, naming the file, line and key", () => {
    expect(refusal(`${MINIMAL}claude:\n  env:\n    CLAUDE_FAILOVER_TOKEN: x\n`)).toBe(
      "Cannot use config /etc/cf.yaml: 1 problem\n" +
      "  /etc/cf.yaml:6:5 claude.env.CLAUDE_FAILOVER_TOKEN: CLAUDE_FAILOVER_TOKEN holds the daemon's own secret (http.token_env) and is never passed to sessions",
    );
  });

  test("refuse a notification channel's secret in env_from, and the hook token", () => {
    const text = `${MINIMAL}claude:\n  env_from: [BOT, CLAUDE_FAILOVER_HOOK_TOKEN]\nnotifications:\n  telegram: { token_env: BOT, chat_ids: [1] }\n`;
    expect(refusal(text)).toBe(
      "Cannot use config /etc/cf.yaml: 2 problems\n" +
      "  /etc/cf.yaml:5:14 claude.env_from.0: BOT holds the daemon's own secret (notifications.telegram.token_env) and is never passed to sessions\n" +
      "  /etc/cf.yaml:5:19 claude.env_from.1: CLAUDE_FAILOVER_HOOK_TOKEN holds the daemon's own secret (the hook token) and is never passed to sessions",
    );
  });

  test("allow a channel's default variable name when that channel is not configured", () => {
    const config = parseConfig(`${MINIMAL}claude:\n  env: { TELEGRAM_BOT_TOKEN: for-a-tool }\n`, "/etc/cf.yaml", env);
    expect(config.sessionEnv.values).toEqual({ TELEGRAM_BOT_TOKEN: "for-a-tool" });
  });

  test("refuse CLAUDE_CONFIG_DIR, a transcript-killing variable and names that are not variable names", () => {
    const text = `${MINIMAL}claude:\n  env:\n    CLAUDE_CONFIG_DIR: /x\n    CLAUDECODE: "1"\n    HTTP-PROXY: x\n  env_from: ["1ST"]\n`;
    expect(refusal(text)).toBe(
      "Cannot use config /etc/cf.yaml: 4 problems\n" +
      "  /etc/cf.yaml:6:5 claude.env.CLAUDE_CONFIG_DIR: CLAUDE_CONFIG_DIR is set by the daemon for each session (its config home); configure accounts instead\n" +
      "  /etc/cf.yaml:7:5 claude.env.CLAUDECODE: CLAUDECODE would stop Claude Code writing the transcripts the daemon follows\n" +
      `  /etc/cf.yaml:8:5 claude.env.HTTP-PROXY: "HTTP-PROXY" is not an environment variable name (letters, digits and '_', not starting with a digit)\n` +
      `  /etc/cf.yaml:9:14 claude.env_from.0: "1ST" is not an environment variable name (letters, digits and '_', not starting with a digit)`,
    );
  });

  test("refuse a name listed twice, or both copied and set", () => {
    const text = `${MINIMAL}claude:\n  env: { HTTPS_PROXY: http://other:3128 }\n  env_from: [LANG, LANG, HTTPS_PROXY]\n`;
    expect(refusal(text)).toBe(
      "Cannot use config /etc/cf.yaml: 2 problems\n" +
      "  /etc/cf.yaml:6:20 claude.env_from.1: duplicate name LANG (also claude.env_from.0)\n" +
      "  /etc/cf.yaml:6:26 claude.env_from.2: HTTPS_PROXY is also set in claude.env: keep one",
    );
  });

  test("refuse a value that is not a string, rather than guess how YAML read it", () => {
    expect(refusal(`${MINIMAL}claude:\n  env:\n    MAX_THINKING_TOKENS: 08000\n`)).toBe(
      "Cannot use config /etc/cf.yaml: 1 problem\n" +
      `  /etc/cf.yaml:6:26 claude.env.MAX_THINKING_TOKENS: must be a string: quote the value (e.g. "8080")`,
    );
  });
});

describe("daemonSecretEnvs()", () => {
  test("lists the HTTP token, every configured channel's secret and the hook token, each with its key", () => {
    const config = parseConfig(`${MINIMAL}http: { token_env: API }\nnotifications:\n  email: { api_key_env: RS, from: cf@example.com, to: [ops@example.com] }\n  slack: {}\n`, "/etc/cf.yaml", { env: {}, home: "/h" });
    expect(daemonSecretEnvs(config)).toEqual([
      { name: "API", key: "http.token_env" },
      { name: "RS", key: "notifications.email.api_key_env" },
      { name: "SLACK_WEBHOOK_URL", key: "notifications.slack.url_env" },
      { name: "CLAUDE_FAILOVER_HOOK_TOKEN", key: "the hook token" },
    ]);
  });
});
