import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, parseConfig, poolSessionNames, readConfig } from "../../internal/config/config.ts";
import { parseDuration } from "../../internal/config/schema.ts";

const env = { env: { CLAUDE_FAILOVER_TOKEN: "tok", TELEGRAM_BOT_TOKEN: "123:abc" }, home: "/home/dev" };
const MINIMAL = "accounts:\n  - name: main\n    home: ~/.claude-main\n";

function problems(text: string) {
  try {
    parseConfig(text, "/etc/cf.yaml", env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig()", () => {
  test("accepts config.example.yaml and resolves paths, durations and secrets", () => {
    const config = readConfig(join(import.meta.dir, "../../config.example.yaml"), env);
    expect(config.accounts.map((a) => a.name)).toEqual(["main", "backup"]);
    expect(config.accounts[0]!.home).toBe("/home/dev/.claude-accounts/main");
    expect(config.autonomous).toMatchObject({ prefix: "ccl-auto-", start_index: 11, min: 10, max: 10 });
    expect(config.quota.reactivate_cooldown).toBe(300_000);
    expect(config.janitor.retention).toBe(7 * 86_400_000);
    expect(config.dispatcher.max_task_bytes).toBe(256 * 1024);
    expect(config.secrets.httpToken).toBe("tok");
    expect(config.secrets.telegramToken).toBe("123:abc");
    expect(config.httpHost).toBe("127.0.0.1");
    expect(config.httpPort).toBe(8787);
    expect(Object.isFrozen(config.accounts)).toBe(true);
  });

  test("fills every default from a minimal file", () => {
    const config = parseConfig(MINIMAL, "/etc/cf.yaml", env);
    expect(config.state_dir).toBe("/var/lib/claude-failover");
    expect(config.dispatcher.queue_dir).toBe("/var/lib/claude-failover/queue");
    expect(config.lifecycle.reconcile_interval).toBe(15_000);
    expect(config.quota.confirm_polls).toBe(2);
    expect(config.notifications.telegram).toBeUndefined();
    expect(config.tmux.socket).toBe("");
  });

  test("quota.on_model_limit defaults to swap; fallback needs quota.fallback_model, a model name", () => {
    expect(parseConfig(MINIMAL, "/etc/cf.yaml", env).quota).toMatchObject({ on_model_limit: "swap" });
    expect(parseConfig(`${MINIMAL}quota:\n  on_model_limit: fallback\n  fallback_model: sonnet\n`, "/etc/cf.yaml", env).quota)
      .toMatchObject({ on_model_limit: "fallback", fallback_model: "sonnet" });
    const [missing] = problems(`${MINIMAL}quota:\n  on_model_limit: fallback\n`);
    expect(missing).toMatchObject({ line: 5, key: "quota.on_model_limit" });
    expect(missing!.message).toContain("quota.fallback_model");
    const [flag] = problems(`${MINIMAL}quota:\n  on_model_limit: fallback\n  fallback_model: --resume\n`);
    expect(flag).toMatchObject({ line: 6, key: "quota.fallback_model" });
  });

  test("reports an unknown key with its line and column", () => {
    const [p] = problems(`${MINIMAL}autonomous:\n  prefx: ccl-auto-\n`);
    expect(p).toMatchObject({ line: 5, column: 3, key: "autonomous.prefx" });
    expect(p!.message).toContain("unknown key");
  });

  test("reports a wrong type with its line", () => {
    const [p] = problems(`${MINIMAL}autonomous:\n  max: ten\n`);
    expect(p).toMatchObject({ line: 5, key: "autonomous.max" });
  });

  test("reports a bad duration with the accepted forms", () => {
    const [p] = problems(`${MINIMAL}quota:\n  poll_interval: 5x\n`);
    expect(p).toMatchObject({ line: 5, key: "quota.poll_interval" });
    expect(p!.message).toContain('"5x"');
  });

  test("refuses a negative start_index", () => {
    const [p] = problems(`${MINIMAL}autonomous:\n  start_index: -1\n  max: 2\n`);
    expect(p).toMatchObject({ line: 5, key: "autonomous.start_index" });
  });

  test("refuses min greater than max", () => {
    const [p] = problems(`${MINIMAL}autonomous:\n  min: 5\n  max: 2\n`);
    expect(p).toMatchObject({ line: 5, key: "autonomous.min" });
    expect(p!.message).toContain("must not exceed max");
  });

  test("refuses duplicate account names", () => {
    const [p] = problems("accounts:\n  - name: a\n    home: /a\n  - name: a\n    home: /b\n");
    expect(p).toMatchObject({ line: 4, key: "accounts.1.name" });
    expect(p!.message).toContain("duplicate account name");
  });

  test("refuses an account without a home", () => {
    const [p] = problems("accounts:\n  - name: a\n");
    expect(p!.key).toBe("accounts.0.home");
    expect(p!.line).toBe(2);
  });

  test("refuses a config without accounts", () => {
    const [p] = problems("log_level: info\n");
    expect(p!.key).toBe("accounts");
  });

  test("lists every mistake at once, in file order", () => {
    const list = problems("accounts:\n  - name: a\n    home: /a\n  - name: a\n    home: /b\nautonomous:\n  start_index: -3\n  min: 4\n  max: 1\n  hots: 1\nquota:\n  poll_interval: soon\n");
    expect(list.map((p) => p.key)).toEqual(["accounts.1.name", "autonomous.start_index", "autonomous.min", "autonomous.hots", "quota.poll_interval"]);
    expect(list.every((p) => p.line > 0)).toBe(true);
  });

  test("reports YAML syntax errors with a position", () => {
    const [p] = problems("accounts:\n  - name: a\n    home: /a\n  bad: [1,\n");
    expect(p!.line).toBeGreaterThan(0);
  });

  test("treats an empty file as missing accounts, not a crash", () => {
    const [p] = problems("");
    expect(p!.key).toBe("accounts");
  });

  test("places every session on the first usable account by default, and pins a dedicated session in spread placement", () => {
    expect(parseConfig(MINIMAL, "/etc/cf.yaml", env).switcher.placement).toBe("failover");
    const config = parseConfig(`${MINIMAL}switcher: {placement: spread}\ndedicated:\n  - {session: ccl-1-x, workdir: /w, account: main}\n`, "/etc/cf.yaml", env);
    expect(config.switcher.placement).toBe("spread");
    expect(config.dedicated).toEqual([{ session: "ccl-1-x", workdir: "/w", account: "main" }]);
  });

  test("refuses a pin to an unknown account, and a pin without spread placement", () => {
    const [unknown] = problems(`${MINIMAL}switcher: {placement: spread}\ndedicated:\n  - {session: ccl-1-x, workdir: /w, account: other}\n`);
    expect([unknown!.key, unknown!.message]).toEqual(["dedicated.0.account", 'unknown account "other"']);
    const [failover] = problems(`${MINIMAL}dedicated:\n  - {session: ccl-1-x, workdir: /w, account: main}\n`);
    expect([failover!.key, failover!.message]).toEqual(["dedicated.0.account", "pinning a session to an account needs switcher.placement: spread"]);
    expect(problems(`${MINIMAL}switcher: {placement: everywhere}\n`)[0]!.key).toBe("switcher.placement");
  });

  test("refuses a dedicated session that is also a pool name", () => {
    const [p] = problems(`${MINIMAL}autonomous: {prefix: ccl-auto-, start_index: 11, max: 10}\ndedicated:\n  - {session: ccl-auto-12, workdir: /w}\n`);
    expect(p!.key).toBe("dedicated.0.session");
  });

  test("refuses an invalid extra pattern and an unknown time zone", () => {
    const list = problems(`${MINIMAL}quota:\n  extra_quota_patterns: ["(unclosed"]\nnotifications:\n  timezone: Mars/Olympus\n`);
    expect(list.map((p) => p.key)).toEqual(["quota.extra_quota_patterns.0", "notifications.timezone"]);
  });

  test("claude.timezone defaults to the daemon's own zone, takes an IANA zone, and refuses an unknown one", () => {
    expect(parseConfig(MINIMAL, "/etc/cf.yaml", env).claude.timezone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    const set = parseConfig(`${MINIMAL}claude:\n  timezone: Asia/Tokyo\nnotifications:\n  timezone: Europe/Paris\n`, "/etc/cf.yaml", env);
    expect([set.claude.timezone, set.notifications.timezone]).toEqual(["Asia/Tokyo", "Europe/Paris"]);
    const [p] = problems(`${MINIMAL}claude:\n  timezone: Mars/Olympus\n`);
    expect(p).toMatchObject({ key: "claude.timezone", line: 5, message: 'unknown time zone "Mars/Olympus"' });
  });

  test("never reads a secret from the file itself", () => {
    const [p] = problems(`${MINIMAL}notifications:\n  telegram:\n    token: "123:abc"\n    chat_ids: [1]\n`);
    expect(p!.key).toBe("notifications.telegram.token");
  });

  test("makes a missing file a ConfigError naming the file", () => {
    expect(() => readConfig("/nonexistent/cf.yaml", env)).toThrow(/nonexistent\/cf.yaml[\s\S]*file not found/);
  });
});

describe("parseDuration()", () => {
  test.each([["30s", 30_000], ["5m", 300_000], ["2h", 7_200_000], ["7d", 604_800_000], ["1h30m", 5_400_000], ["250ms", 250], [1500, 1500]] as const)(
    "reads %p as %p ms", (input, ms) => expect(parseDuration(input)).toBe(ms));
  test.each(["", "5", "5x", "-1s", "1.5h", "m"])("rejects %p", (input) => expect(parseDuration(input)).toBeUndefined());
});

describe("poolSessionNames()", () => {
  test("iterates [start_index, start_index + max) only", () => {
    expect(poolSessionNames({ autonomous: { prefix: "ccl-auto-", start_index: 11, max: 10 } })).toEqual(
      Array.from({ length: 10 }, (_, i) => `ccl-auto-${11 + i}`));
  });
});

test("config.example.yaml documents every key with a comment", () => {
  const text = readFileSync(join(import.meta.dir, "../../config.example.yaml"), "utf8");
  for (const key of ["state_dir", "log_level", "listen", "token_env", "socket", "command", "args", "link", "accounts", "prefix", "start_index", "min", "max", "workdir", "dedicated", "reconcile_interval", "poll_interval", "reactivate_cooldown", "confirm_polls", "task_timeout", "queue_dir", "interval", "retention", "telegram", "chat_ids", "api_root", "api_key_env", "api_base", "min_level", "webhook", "secret_env", "slack", "discord", "url_env", "digest_at"]) {
    expect(text).toMatch(new RegExp(`^\\s*-?\\s*${key}:`, "m"));
  }
});

describe("notifications", () => {
  const channels = `${MINIMAL}notifications:
  webhook: { url: "https://hooks.example.com/cf" }
  ntfy: { url: "https://ntfy.example.com/base/alerts", token_env: NTFY_TOKEN }
  slack: {}
  discord: { url_env: MY_DISCORD }
  digest_at: "09:00"
`;

  test("reads each channel's secret from the variable it names, with defaults", () => {
    const env = { env: { CLAUDE_FAILOVER_WEBHOOK_SECRET: "s", NTFY_TOKEN: "n", SLACK_WEBHOOK_URL: "https://hooks.slack.com/x", MY_DISCORD: "https://discord.com/y" }, home: "/h" };
    const config = parseConfig(channels, "/etc/cf.yaml", env);

    expect(config.secrets).toMatchObject({ webhookSecret: "s", ntfyToken: "n", slackUrl: "https://hooks.slack.com/x", discordUrl: "https://discord.com/y" });
    expect(config.notifications).toMatchObject({
      digest_at: "09:00", webhook: { min_level: "info" }, ntfy: { min_level: "warning" }, slack: { url_env: "SLACK_WEBHOOK_URL", min_level: "warning" },
    });
  });

  test("refuses a digest time that is not HH:MM, an ntfy URL without a topic and a webhook URL that is not http(s)", () => {
    const bad = `${MINIMAL}notifications:\n  digest_at: "9am"\n  ntfy: { url: "https://ntfy.sh/" }\n  webhook: { url: "ftp://example.com/x" }\n`;

    expect(problems(bad).map((p) => `${p.key}: ${p.message}`)).toEqual([
      'notifications.digest_at: must be a 24-hour time like "09:00"',
      "notifications.ntfy.url: must be the topic's URL, e.g. https://ntfy.sh/my-topic",
      "notifications.webhook.url: must be an http:// or https:// URL",
    ]);
  });
});

describe("httpConnectHost", () => {
  test("is loopback when the API listens on every interface, and the listen host otherwise", () => {
    for (const [listen, host] of [["0.0.0.0:8787", "127.0.0.1"], ["10.0.0.5:9000", "10.0.0.5"], ["127.0.0.1:8787", "127.0.0.1"]] as const) {
      expect(parseConfig(`${MINIMAL}http: { listen: "${listen}" }\n`, "/etc/cf.yaml", env).httpConnectHost).toBe(host);
    }
  });
});
