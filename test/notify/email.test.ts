import { afterEach, describe, expect, test } from "bun:test";
import { systemClock } from "../../internal/clock.ts";
import type { Config } from "../../internal/config/config.ts";
import { memoryLog } from "../../internal/log.ts";
import { createChannels } from "../../internal/notify/channels.ts";
import { createEmailChannel, type EmailOptions } from "../../internal/notify/email.ts";
import type { NotifyEvent } from "../../internal/notify/events.ts";
import { createNotifier, type NotifyError } from "../../internal/notify/notify.ts";
import { FAKE_RESEND_KEY, startFakeResend, type FakeResend } from "../support/fake-resend.ts";
import { startFakeTelegram, type FakeTelegram } from "../support/fake-telegram.ts";

const AT = Date.UTC(2026, 10, 23, 12, 0);
const swapFailed: NotifyEvent = { kind: "swap_failed", at: AT, from: "main", to: "backup", error: "relaunch failed" };
const dead = (session: string): NotifyEvent => ({ kind: "session_dead", at: AT, session, reason: "pane exited" });
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

function setup(options: Partial<EmailOptions> = {}) {
  const resend = startFakeResend();
  const log = memoryLog();
  const channel = createEmailChannel({ log, fetch }, {
    apiKey: FAKE_RESEND_KEY, from: "Failover <failover@example.com>", to: ["ops@example.com"], apiBase: resend.apiBase,
    version: "0.4.0", ...options,
  });
  const notifier = createNotifier({ log, clock: systemClock, channels: [channel] }, { minBackoffMs: 20, timeZone: "Europe/Paris" });
  notifier.start();
  cleanups.push(() => resend.stop(), () => notifier.stop(0));
  return { resend, log, channel, notifier };
}

async function until(predicate: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Cannot meet condition: timed out after ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
}

describe("createEmailChannel()", () => {
  test("posts one email per message in Resend's wire format", async () => {
    const { resend, notifier } = setup();

    notifier.send(swapFailed);
    await until(() => resend.delivered().length === 1);

    const [request] = resend.requests;
    expect(request!.headers).toMatchObject({
      authorization: `Bearer ${FAKE_RESEND_KEY}`, "content-type": "application/json", "user-agent": "claude-failover/0.4.0",
    });
    expect(request!.headers["idempotency-key"]).toMatch(new RegExp(`^claude-failover/swap_failed/${AT}/[0-9a-f]+$`));
    expect(request!.body).toMatchObject({
      from: "Failover <failover@example.com>", to: ["ops@example.com"], subject: "[claude-failover] 🚨 Swap FAILED main → backup",
      text: "🚨 Swap FAILED main → backup\nrelaunch failed",
    });
    expect(request!.body.html).toContain("<b>🚨 Swap FAILED main → backup</b><br>\nrelaunch failed");
  });

  test("honours retry-after on a 429 and retries with the same idempotency key", async () => {
    const { resend, notifier } = setup();
    resend.failNext(429, { statusCode: 429, name: "rate_limit_exceeded", message: "Too many requests" }, 1);

    notifier.send(swapFailed);
    await until(() => resend.delivered().length === 1, 4_000);

    const [first, second] = resend.requests;
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(990);
    expect(second!.headers["idempotency-key"]).toBe(first!.headers["idempotency-key"]!);
  });

  test("retries a 5xx and a body that is not JSON", async () => {
    const { resend, notifier } = setup();
    resend.failNext(500, { statusCode: 500, name: "internal_server_error", message: "oops" });
    resend.failNext(502, "<html>Bad Gateway</html>");

    notifier.send(swapFailed);
    await until(() => resend.delivered().length === 1);

    expect(resend.requests).toHaveLength(3);
  });

  test("never retries a 422 validation_error", async () => {
    const { resend, notifier, log } = setup();
    resend.failNext(422, { statusCode: 422, name: "validation_error", message: "Invalid `to` field" });

    notifier.send(swapFailed);
    await until(() => notifier.stats().failed.email === 1);
    // Failed for good: nothing is left in the queue to retry.
    expect(notifier.stats().queued.email).toBe(0);

    expect(resend.requests).toHaveLength(1);
    expect(log.records.find((r) => r.msg === "notification not delivered")?.error).toBe(
      "Cannot send email: status 422 validation_error (Invalid `to` field)");
  });

  test("sends at most 2 requests per second", async () => {
    const { resend, notifier } = setup();

    for (const session of ["s1", "s2", "s3"]) notifier.send(dead(session));
    await until(() => resend.delivered().length === 3);

    const gaps = resend.requests.slice(1).map((r, i) => r.atMs - resend.requests[i]!.atMs);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(490);
  });

  test("a missing key disables the channel with one warning and sends nothing", async () => {
    const { resend, notifier, log } = setup({ apiKey: "" });

    notifier.send(swapFailed);
    // A disabled channel takes nothing into its queue, so nothing can be sent later either.
    expect(notifier.stats().queued.email).toBe(0);

    expect(log.records.filter((r) => r.level === "warn")).toEqual([expect.objectContaining({ msg: "email disabled", reason: "missing api key" })]);
    expect(resend.requests).toHaveLength(0);
  });

  test("a key Resend rejects disables the channel after one request", async () => {
    const { resend, notifier, log } = setup();
    resend.failNext(401, { statusCode: 401, name: "missing_api_key", message: "Missing API key in the authorization header" });

    notifier.send(swapFailed);
    await until(() => notifier.stats().failed.email === 1);
    notifier.send(dead("s1"));
    // A disabled channel takes nothing into its queue, so nothing can be sent later either.
    expect(notifier.stats().queued.email).toBe(0);

    expect(resend.requests).toHaveLength(1);
    expect(log.records.filter((r) => r.msg === "email disabled")).toHaveLength(1);
  });

  test("never writes the API key to logs or errors, even when requests fail", async () => {
    const { resend, channel, notifier, log } = setup();
    resend.failNext(403, { statusCode: 403, name: "validation_error", message: `Key ${FAKE_RESEND_KEY} cannot send from this domain` });
    notifier.send(swapFailed);
    await until(() => notifier.stats().failed.email === 1);
    const errors: string[] = [];
    await resend.stop();

    await channel.deliver({ title: "t", text: "t", html: "t" }, dead("s1"), new AbortController().signal)
      .catch((e: NotifyError) => errors.push(e.message));

    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith("Cannot reach Resend");
    for (const text of [JSON.stringify(log.records), ...errors]) expect(text).not.toContain(FAKE_RESEND_KEY);
  });
});

describe("createChannels()", () => {
  let telegram: FakeTelegram;

  test("routes every level to Telegram and only critical events to email by default", async () => {
    telegram = startFakeTelegram();
    const resend = startFakeResend();
    const log = memoryLog();
    const config = {
      timezone: "Europe/Paris",
      telegram: { token_env: "T", chat_ids: [1001], api_root: telegram.apiRoot, min_level: "info" },
      email: { api_key_env: "R", from: "f@example.com", to: ["ops@example.com"], api_base: resend.apiBase, min_level: "critical" },
    } satisfies Config["notifications"];
    const built = createChannels(config, {
      telegramToken: telegram.token, resendApiKey: FAKE_RESEND_KEY, webhookSecret: "", ntfyToken: "", slackUrl: "", discordUrl: "",
    }, {
      log, clock: systemClock, fetch, version: "0.4.0", host: "ci-host",
    });
    const notifier = createNotifier({ log, clock: systemClock, channels: built.channels });
    cleanups.push(() => telegram.stop(), () => resend.stop(), () => built.stop(), () => notifier.stop(0));
    built.start();
    notifier.start();

    notifier.send({ kind: "task_done", at: AT, project: "web", file: "a.md", session: "s1", duration_ms: 1 });
    notifier.send({ kind: "task_failed", at: AT, project: "web", file: "b.md", reason: "timeout" });
    notifier.send(swapFailed);
    await until(() => telegram.sent().length === 3 && resend.delivered().length === 1);
    // Nothing is left in any queue, so nothing more can be sent.
    expect(notifier.stats().queued).toEqual({ telegram: 0, email: 0 });

    expect(built.channels.map((c) => c.name)).toEqual(["telegram", "email"]);
    expect(resend.requests.map((r) => r.body.subject)).toEqual(["[claude-failover] 🚨 Swap FAILED main → backup"]);
    expect(telegram.sent()).toHaveLength(3);
  });
});
