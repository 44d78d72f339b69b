import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "../../internal/clock.ts";
import type { Config } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { createChannels, notifySecretEnvNames, type NotifySecrets } from "../../internal/notify/channels.ts";
import { renderEvent, type NotifyEvent } from "../../internal/notify/events.ts";
import { retryAfter } from "../../internal/notify/http.ts";
import { createNotifier, type NotifyError } from "../../internal/notify/notify.ts";
import { startFakeWebhook, type FakeWebhook } from "../support/fake-webhook.ts";

const AT = Date.UTC(2026, 10, 23, 12, 0);
const SECRET = "whsec_FakeSecretForTestsOnly_0123456789";
const NTFY_TOKEN = "tk_FakeNtfyTokenForTestsOnly_abcdef";
const SLACK_PATH = "/services/T0FAKE/B0FAKE/SlackSecretPart0123456789";
const DISCORD_PATH = "/api/webhooks/1234567890/DiscordSecretPart_abcdefghij";
const swapStarted: NotifyEvent = {
  kind: "swap_started", at: AT, from: "main", to: "backup", reason: "quota", trigger_session: "ccl-auto-11",
  pattern: "quota:usage-limit", snippet: "Claude usage limit reached", reset_at: AT + 7_800_000,
};
const taskFailed: NotifyEvent = { kind: "task_failed", at: AT, project: "web", file: "fix_*now*.md", reason: "@everyone <timed out> & gone" };
const dead: NotifyEvent = { kind: "session_dead", at: AT, session: "ccl-auto-12", reason: "pane exited" };
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

/** One stand-in per channel, and a notifier over the channels createChannels() builds for them. */
function setup(levels: { webhook?: string; ntfy?: string; slack?: string; discord?: string } = {}, clock: FakeClock = createFakeClock(AT)) {
  const fakes = {
    webhook: startFakeWebhook(),
    ntfy: startFakeWebhook({ okBody: JSON.stringify({ id: "n1", event: "message" }) }),
    slack: startFakeWebhook({ okBody: "ok" }),
    discord: startFakeWebhook({ okStatus: 204 }),
  };
  const config = {
    timezone: "Europe/Paris",
    webhook: { url: `${fakes.webhook.url}/hooks/failover`, secret_env: "WH_SECRET", min_level: levels.webhook ?? "info" },
    ntfy: { url: `${fakes.ntfy.url}/alerts`, token_env: "NTFY_TOKEN", min_level: levels.ntfy ?? "info" },
    slack: { url_env: "SLACK_URL", min_level: levels.slack ?? "info" },
    discord: { url_env: "DISCORD_URL", min_level: levels.discord ?? "info" },
  } as Config["notifications"];
  const secrets: NotifySecrets = {
    telegramToken: "", resendApiKey: "", webhookSecret: SECRET, ntfyToken: NTFY_TOKEN,
    slackUrl: fakes.slack.url + SLACK_PATH, discordUrl: fakes.discord.url + DISCORD_PATH,
  };
  const log = memoryLog();
  const built = createChannels(config, secrets, { log, clock, fetch, version: "0.4.0", host: "build-01" });
  const notifier = createNotifier({ log, clock, channels: built.channels }, { timeZone: "Europe/Paris", random: () => 0.5 });
  notifier.start();
  cleanups.push(...Object.values(fakes).map((f) => () => f.stop()), () => notifier.stop(0));
  return { fakes, log, notifier, built, clock, secrets };
}

/** Loads the verification function from the README's code block, so the documented recipe is what is tested. */
async function readmeVerifier(): Promise<(secret: string, headers: Headers, raw: string, nowMs?: number) => boolean> {
  const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
  const block = /```ts\n(\/\/ verify-webhook\.ts[\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error("README.md has no verify-webhook.ts block");
  const dir = mkdtempSync(join(tmpdir(), "cf-readme-"));
  const file = join(dir, "verify-webhook.ts");
  writeFileSync(file, block);
  try {
    return (await import(file)).verifyWebhook;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The notifier has seen the channel's first failure (and so has set its retry time). */
const failedOnce = (log: ReturnType<typeof memoryLog>, channel: string) =>
  log.records.some((r) => r.msg === "notification delivery failed" && r.channel === channel);
const headersOf = (r: { headers: Record<string, string> }) => new Headers(r.headers);

describe("webhook channel", () => {
  test("posts the typed event as JSON with the host, signed as the README's recipe verifies", async () => {
    const { fakes, notifier } = setup();
    const verify = await readmeVerifier();

    notifier.send(swapStarted);
    await fakes.webhook.waitFor(() => fakes.webhook.delivered().length === 1);

    const [request] = fakes.webhook.requests;
    expect(request!.method).toBe("POST");
    expect(request!.path).toBe("/hooks/failover");
    expect(request!.headers).toMatchObject({
      "content-type": "application/json", "user-agent": "claude-failover/0.4.0", "x-claude-failover-event": "swap_started",
      "x-claude-failover-timestamp": String(AT / 1000),
    });
    expect(request!.json).toEqual({
      kind: "swap_started", level: "warning", at: AT, from: "main", to: "backup", reason: "quota", trigger_session: "ccl-auto-11",
      pattern: "quota:usage-limit", snippet: "Claude usage limit reached", reset_at: AT + 7_800_000, count: 1, host: "build-01",
      title: "⚠️ Swap main → backup", text: expect.stringContaining("main resets 15:10 Europe/Paris, in 2h 10m"),
    });
    expect(verify(SECRET, headersOf(request!), request!.raw, AT)).toBe(true);
    expect(verify("another-secret", headersOf(request!), request!.raw, AT)).toBe(false);
    expect(verify(SECRET, headersOf(request!), request!.raw.replace("backup", "attack"), AT)).toBe(false);
    expect(verify(SECRET, headersOf(request!), request!.raw, AT + 600_000)).toBe(false);
  });

  test("an empty secret disables the webhook with one warning: nothing unsigned is sent", async () => {
    const fake = startFakeWebhook();
    cleanups.push(() => fake.stop());
    const log = memoryLog();
    const config = { timezone: "UTC", webhook: { url: fake.url, secret_env: "WH_SECRET", min_level: "info" } } as Config["notifications"];
    const built = createChannels(config, { telegramToken: "", resendApiKey: "", webhookSecret: "", ntfyToken: "", slackUrl: "", discordUrl: "" }, {
      log, clock: createFakeClock(AT), fetch, version: "0.4.0", host: "h",
    });

    expect(built.channels[0]!.isEnabled?.()).toBe(false);
    expect(log.records.filter((r) => r.level === "warn")).toEqual([
      expect.objectContaining({ msg: "webhook disabled", reason: "missing secret: $WH_SECRET is empty" }),
    ]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe("ntfy channel", () => {
  test("publishes JSON to the server root with the topic, title, priority from the level and tags", async () => {
    const { fakes, notifier } = setup();

    notifier.send(dead);
    await fakes.ntfy.waitFor(() => fakes.ntfy.delivered().length === 1);

    const [request] = fakes.ntfy.requests;
    expect(request!.path).toBe("/");
    expect(request!.headers.authorization).toBe(`Bearer ${NTFY_TOKEN}`);
    expect(request!.json).toEqual({
      topic: "alerts", title: "Session ccl-auto-12 dead", message: "pane exited", priority: 5, tags: ["rotating_light", "session_dead"],
    });
  });
});

describe("Slack channel", () => {
  test("sends a swap as one mrkdwn line with the account and its reset, text as the fallback", async () => {
    const { fakes, notifier } = setup();

    notifier.send(swapStarted);
    await fakes.slack.waitFor(() => fakes.slack.delivered().length === 1);

    const [request] = fakes.slack.requests;
    const line = "⚠️ Swap main → backup: quota, main resets 15:10 Europe/Paris, in 2h 10m";
    expect(request!.path).toBe(SLACK_PATH);
    expect(request!.json).toEqual({ text: line, blocks: [{ type: "section", text: { type: "mrkdwn", text: line } }], unfurl_links: false });
  });

  test("sends other events as a bold title and escaped details", async () => {
    const { fakes, notifier } = setup();

    notifier.send(taskFailed);
    await fakes.slack.waitFor(() => fakes.slack.delivered().length === 1);

    const block = (fakes.slack.requests[0]!.json!.blocks as Array<{ text: { text: string } }>)[0]!;
    expect(block.text.text).toBe("*⚠️ Task failed: web/fix_*now*.md*\n@everyone &lt;timed out&gt; &amp; gone");
  });

  test("waits the Retry-After of a 429 before sending again", async () => {
    const { fakes, notifier, clock, log } = setup();
    fakes.slack.failNext(429, "rate_limited", { "Retry-After": "30" });

    notifier.send(dead);
    await fakes.slack.waitFor(() => failedOnce(log, "slack"));
    await clock.advance(29_000);
    await fakes.ntfy.waitFor(() => fakes.ntfy.delivered().length === 1);
    expect(fakes.slack.requests).toHaveLength(1);
    await clock.advance(1_000);
    await fakes.slack.waitFor(() => fakes.slack.delivered().length === 1);

    expect(fakes.slack.requests).toHaveLength(2);
    expect(fakes.slack.requests[1]!.raw).toBe(fakes.slack.requests[0]!.raw);
  });

  test("a webhook Slack no longer knows (404 no_service) disables the channel with one warning", async () => {
    const { fakes, notifier, log } = setup();
    fakes.slack.failNext(404, "no_service");

    notifier.send(dead);
    await fakes.slack.waitFor(() => notifier.stats().failed.slack === 1);
    notifier.send(swapStarted);
    await fakes.ntfy.waitFor(() => fakes.ntfy.delivered().length === 2);

    expect(fakes.slack.requests).toHaveLength(1);
    expect(log.records.filter((r) => r.msg === "slack disabled")).toEqual([
      expect.objectContaining({ level: "warn", reason: "rejected with status 404 (no_service)" }),
    ]);
  });
});

describe("Discord channel", () => {
  test("sends a swap as a one-line embed coloured by level, with mentions off", async () => {
    const { fakes, notifier } = setup();

    notifier.send(swapStarted);
    await fakes.discord.waitFor(() => fakes.discord.delivered().length === 1);

    const [request] = fakes.discord.requests;
    expect(request!.path).toBe(DISCORD_PATH);
    expect(request!.json).toEqual({
      embeds: [{
        description: "⚠️ Swap main → backup: quota, main resets 15:10 Europe/Paris, in 2h 10m",
        color: 0xf1c40f, timestamp: new Date(AT).toISOString(),
      }],
      allowed_mentions: { parse: [] },
    });
  });

  test("sends other events with a Markdown-escaped title and details (none when there are none)", async () => {
    const { fakes, notifier, built } = setup();

    notifier.send(taskFailed);
    await fakes.discord.waitFor(() => fakes.discord.delivered().length === 1);

    const available: NotifyEvent = { kind: "account_available", at: AT, account: "main" };
    await built.channels.find((c) => c.name === "discord")!.deliver(renderEvent(available, "UTC"), available, new AbortController().signal);

    expect((fakes.discord.requests[0]!.json!.embeds as unknown[])[0]).toMatchObject({
      title: "⚠️ Task failed: web/fix\\_\\*now\\*.md", description: "@everyone <timed out> & gone",
    });
    expect((fakes.discord.requests[1]!.json!.embeds as unknown[])[0]).toEqual({ title: "ℹ️ Account main available again", color: 0x3498db, timestamp: new Date(AT).toISOString() });
  });

  test("honours retry_after in a 429 body when no header is sent", async () => {
    const { fakes, notifier, clock, log } = setup();
    fakes.discord.failNext(429, { message: "You are being rate limited.", retry_after: 2.5, global: false });

    notifier.send(dead);
    await fakes.discord.waitFor(() => failedOnce(log, "discord"));
    await clock.advance(2_499);
    await fakes.ntfy.waitFor(() => fakes.ntfy.delivered().length === 1);
    expect(fakes.discord.requests).toHaveLength(1);
    await clock.advance(1);

    await fakes.discord.waitFor(() => fakes.discord.delivered().length === 1);
  });
});

describe("channels together", () => {
  test("a five-minute outage of the webhook does not delay the others, and it gets every message once afterwards", async () => {
    const { fakes, notifier, clock } = setup({ ntfy: "warning", slack: "warning", discord: "warning" });
    fakes.webhook.down();
    const others = [fakes.ntfy, fakes.slack, fakes.discord];

    notifier.send(swapStarted);
    notifier.send(dead);
    await fakes.ntfy.waitFor(() => fakes.ntfy.delivered().length === 2);
    for (let t = 0; t < 300_000; t += 5_000) {
      await clock.advance(5_000);
      await Bun.sleep(10);
      if (t === 150_000) notifier.send({ ...taskFailed, at: AT + t });
    }
    await Promise.all(others.map((f) => f.waitFor(() => f.delivered().length === 3)));
    const attemptsDuringOutage = fakes.webhook.requests.length;
    fakes.webhook.down(false);
    for (let t = 0; t < 60_000 && fakes.webhook.delivered().length < 3; t += 5_000) {
      await clock.advance(5_000);
      await fakes.webhook.waitFor(() => fakes.webhook.delivered().length === 3, 200).catch(() => {});
    }

    expect(attemptsDuringOutage).toBeGreaterThanOrEqual(5); // kept retrying through the outage (about 14 with no load)
    expect(fakes.webhook.delivered().map((r) => r.json!.kind).sort()).toEqual(["session_dead", "swap_started", "task_failed"]);
    for (const f of others) expect(f.requests).toHaveLength(3);
    expect(notifier.stats()).toMatchObject({ failed: { webhook: 0, ntfy: 0, slack: 0, discord: 0 }, queued: { webhook: 0 } });
  });

  test("never writes a token, secret or webhook URL to logs or errors, even when the services echo them", async () => {
    const { fakes, notifier, log, built, secrets } = setup();
    fakes.slack.failNext(400, `invalid_payload for ${secrets.slackUrl}`);
    fakes.discord.failNext(400, { message: `Invalid Webhook Token ${DISCORD_PATH}`, code: 50027 });
    fakes.ntfy.failNext(400, { code: 40001, http: 400, error: `bad request, token ${NTFY_TOKEN}` });
    fakes.webhook.failNext(400, `bad signature with ${SECRET}`);
    notifier.send(taskFailed);
    await fakes.slack.waitFor(() => Object.values(notifier.stats().failed).reduce((a, b) => a + b, 0) === 4);
    const errors: string[] = [];
    for (const fake of Object.values(fakes)) await fake.stop();
    for (const channel of built.channels) {
      await channel.deliver({ title: "t", text: "t", html: "t" }, dead, new AbortController().signal).catch((e: NotifyError) => errors.push(e.message));
    }

    expect(errors).toHaveLength(4);
    expect(errors.every((e) => e.startsWith("Cannot reach"))).toBe(true);
    expect(log.records.filter((r) => r.msg === "notification not delivered")).toHaveLength(4);
    for (const text of [JSON.stringify(log.records), ...errors]) {
      for (const secret of [SECRET, NTFY_TOKEN, secrets.slackUrl, secrets.discordUrl, "SlackSecretPart0123456789", "DiscordSecretPart_abcdefghij"]) {
        expect(text).not.toContain(secret);
      }
    }
  });
});

describe("notifySecretEnvNames()", () => {
  test("lists the variable of every configured channel's secret", () => {
    const config = {
      timezone: "UTC", telegram: { token_env: "TG", chat_ids: [1], api_root: "x", min_level: "info" },
      webhook: { url: "https://x/y", secret_env: "WH", min_level: "info" }, ntfy: { url: "https://x/t", min_level: "info" },
      slack: { url_env: "SL", min_level: "info" }, discord: { url_env: "DC", min_level: "info" },
    } as Config["notifications"];

    expect(notifySecretEnvNames(config)).toEqual(["TG", "WH", "SL", "DC"]);
  });
});

describe("retryAfter()", () => {
  test("reads delta-seconds, an HTTP date, and nothing else", () => {
    expect(retryAfter("30", AT)).toBe(30_000);
    expect(retryAfter("1.5", AT)).toBe(1_500);
    expect(retryAfter(new Date(AT + 45_000).toUTCString(), AT)).toBe(45_000);
    expect(retryAfter("soon", AT)).toBeUndefined();
    expect(retryAfter(null, AT)).toBeUndefined();
  });
});
