import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { runCli, UsageError, type CliHost } from "../../internal/cli/commands.ts";
import { createFakeClock } from "../../internal/clock.ts";
import type { Config } from "../../internal/config/config.ts";
import type { NotifySecrets } from "../../internal/notify/channels.ts";
import { renderProbe, testChannels } from "../../internal/notify/probe.ts";
import { startFakeTelegram } from "../support/fake-telegram.ts";
import { startFakeWebhook } from "../support/fake-webhook.ts";

const AT = Date.UTC(2026, 10, 23, 12, 0);
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function setup() {
  const telegram = startFakeTelegram();
  const webhook = startFakeWebhook();
  const discord = startFakeWebhook({ okStatus: 204 });
  cleanups.push(() => telegram.stop(), () => webhook.stop(), () => discord.stop());
  const config = {
    timezone: "UTC",
    telegram: { token_env: "TG", chat_ids: [1001], api_root: telegram.apiRoot, min_level: "critical" },
    webhook: { url: `${webhook.url}/hook`, secret_env: "WH", min_level: "critical" },
    slack: { url_env: "SLACK_URL", min_level: "critical" },
    discord: { url_env: "DISCORD_URL", min_level: "critical" },
  } as Config["notifications"];
  const secrets: NotifySecrets = {
    telegramToken: telegram.token, resendApiKey: "", webhookSecret: "s3cret-s3cret", ntfyToken: "", slackUrl: "",
    discordUrl: `${discord.url}/api/webhooks/1/tok`,
  };
  const deps = { fetch, clock: createFakeClock(AT), version: "0.4.0", host: "build-01" };
  return { telegram, webhook, discord, config, secrets, deps };
}

describe("testChannels()", () => {
  test("sends one test message through every configured channel, whatever its level, and reports each outcome", async () => {
    const { telegram, webhook, discord, config, secrets, deps } = setup();
    discord.failNext(404, { message: "Unknown Webhook", code: 10015 });

    const report = await testChannels(config, secrets, deps);

    expect(report.configured).toEqual(["telegram", "webhook", "slack", "discord"]);
    expect(report.results).toEqual([
      { channel: "telegram", ok: true, detail: "sent" },
      { channel: "webhook", ok: true, detail: "sent" },
      { channel: "slack", ok: false, detail: "disabled: missing webhook URL: $SLACK_URL is empty" },
      { channel: "discord", ok: false, detail: "Cannot send Discord message: status 404 (Unknown Webhook)" },
    ]);
    expect(telegram.sent().map((m) => m.text)).toEqual(['<b>ℹ️ claude-failover test message</b>\nSent by "claude-failover notify test" on build-01.']);
    expect(webhook.requests[0]!.json).toMatchObject({ kind: "test_message", host: "build-01", level: "info" });
    expect(telegram.calls.map((c) => c.method)).toEqual(["sendMessage"]);
  });

  test("sends only through the channel named", async () => {
    const { telegram, webhook, config, secrets, deps } = setup();

    const report = await testChannels(config, secrets, deps, "webhook");

    expect(report.results).toEqual([{ channel: "webhook", ok: true, detail: "sent" }]);
    expect(telegram.calls).toHaveLength(0);
    expect(webhook.requests).toHaveLength(1);
  });
});

describe("renderProbe()", () => {
  test("prints one aligned line per channel", () => {
    expect(renderProbe([{ channel: "telegram", ok: true, detail: "sent" }, { channel: "slack", ok: false, detail: "disabled: x" }]))
      .toBe("telegram  ok\nslack     failed: disabled: x");
  });
});

describe("claude-failover notify test", () => {
  test("prints each channel's outcome and exits 0 when all were sent; a channel not configured is a usage error", async () => {
    const { webhook, config, secrets } = setup();
    const loaded = { notifications: { timezone: "UTC", webhook: config.webhook }, secrets } as unknown as Config;
    const host = { version: "0.4.0", defaultConfigPath: "/etc/cf.yaml", loadConfig: () => loaded } as unknown as CliHost;
    const out: string[] = [];
    const spy = spyOn(process.stdout, "write").mockImplementation((text) => (out.push(String(text)), true));
    let code: number;
    try {
      code = await runCli(["notify", "test"], host);
    } finally {
      spy.mockRestore();
    }

    expect(code).toBe(0);
    expect(out.join("")).toBe("webhook  ok\n");
    expect(webhook.delivered()).toHaveLength(1);
    await expect(runCli(["notify", "test", "slack"], host)).rejects.toThrow('no channel "slack" is configured (configured: webhook)');
    await expect(runCli(["notify", "send"], host)).rejects.toBeInstanceOf(UsageError);
  });
});
