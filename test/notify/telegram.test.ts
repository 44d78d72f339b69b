import { afterEach, describe, expect, test } from "bun:test";
import { createFakeClock, systemClock, type Clock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import type { NotifyEvent } from "../../internal/notify/events.ts";
import { createNotifier, type NotifyError } from "../../internal/notify/notify.ts";
import { createTelegram, POLL_RESTART_MIN_MS, type TelegramOptions } from "../../internal/notify/telegram.ts";
import { NO_DELIVERY, type TaskRow } from "../../internal/state/state.ts";
import type { StatusSnapshot } from "../../internal/state/status.ts";
import type { OperatorControl } from "../../internal/control/control.ts";
import { FAKE_TOKEN, startFakeTelegram, type FakeTelegram } from "../support/fake-telegram.ts";

const OPERATOR = 1001;
const STRANGER = 666;
const AT = Date.UTC(2026, 10, 23, 12, 0);
let fakes: FakeTelegram[] = [];
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  for (const fake of fakes) await fake.stop();
  fakes = [];
  cleanups = [];
});

function fake(): FakeTelegram {
  const f = startFakeTelegram();
  fakes.push(f);
  return f;
}

/** An OperatorControl that records calls and answers from canned data. */
function fakeControl() {
  const calls: string[] = [];
  const snapshot: StatusSnapshot = {
    version: "0.4.0", now: new Date(AT).toISOString(), started_at: new Date(AT).toISOString(), active_account: "main",
    swapping: false, paused: false, exhausted: false, wake_at: null,
    accounts: [
      { name: "main", home: "/h/main", state: "available", reset_at: null },
      { name: "backup", home: "/h/backup", state: "cooling", reset_at: new Date(AT + 7_800_000).toISOString() },
    ],
    sessions: [
      { name: "ccl-auto-11", kind: "pool", state: "working", account: "main", session_id: null, task: "web/fix.md", workdir: "/w" },
      { name: "ccl-auto-12", kind: "pool", state: "idle", account: "main", session_id: null, task: null, workdir: "/w" },
    ],
    tasks: { queued: 4, running: 1, done: 7, failed: 0, stalled: 0 },
    queue: [], last_swap: null, swaps: [],
  };
  const task = (id: number, state: TaskRow["state"], session: string | null): TaskRow => ({
    id, project: "web", file: `t${id}.md`, state, priority: 0, workdir: "/w", timeoutMs: null, prompt: "p", session,
    attempts: 0, createdAt: AT, startedAt: null, finishedAt: null, error: null, ...NO_DELIVERY,
  });
  const control: OperatorControl = {
    status: () => (calls.push("status"), snapshot),
    swap: async (account) => {
      calls.push(`swap:${account ?? ""}`);
      if (account === "boom") throw new Error("store is locked");
      return { ok: true, message: `swap to ${account ?? "next"} requested` };
    },
    pause: () => (calls.push("pause"), { ok: true, message: "dispatch paused" }),
    resume: () => (calls.push("resume"), { ok: true, message: "dispatch resumed" }),
    setAccountEnabled: (name, enabled) => (calls.push(`enable:${name}:${enabled}`), { ok: true, message: `account ${name} enabled` }),
    addTask: async () => (calls.push("addTask"), { ok: true, message: "" }),
    tasks: () => (calls.push("tasks"), [task(12, "queued", null), task(13, "running", "ccl-auto-11"), task(9, "done", "ccl-auto-12")]),
    tail: async (session, lines) => {
      calls.push(`tail:${session}:${lines}`);
      return session === "ccl-auto-11" ? ["$ make test", "<ok> & done"] : null;
    },
  };
  return { control, calls };
}

function setup(f: FakeTelegram, options: Partial<TelegramOptions> = {}, clock: Clock = systemClock) {
  const log = memoryLog();
  const { control, calls } = fakeControl();
  const telegram = createTelegram({ log, clock }, {
    token: f.token, chatIds: [OPERATOR], apiRoot: f.apiRoot, timeZone: "Europe/Paris", pollTimeoutSeconds: 5, ...options,
  });
  const notifier = createNotifier({ log, clock, channels: [telegram.channel] }, { timeZone: "Europe/Paris", minBackoffMs: 20 });
  cleanups.push(() => telegram.stop(), () => notifier.stop(0));
  return { log, telegram, notifier, control, calls };
}

const failedTask = (reason: string): NotifyEvent => ({ kind: "task_failed", at: AT, project: "web", file: "fix.md", reason });
const sentTo = (f: FakeTelegram, chat: number) => f.sent().filter((m) => m.chat_id === chat).map((m) => m.text);

describe("createTelegram() channel", () => {
  test("delivers an event to every chat as escaped HTML", async () => {
    const f = fake();
    const { notifier } = setup(f, { chatIds: [OPERATOR, 1002] });
    notifier.start();

    notifier.send(failedTask("exit <1> & no output"));
    await f.waitFor(() => f.sent().length === 2);

    expect(f.sent().map((m) => m.chat_id).sort()).toEqual([OPERATOR, 1002]);
    expect(f.sent()[0]).toMatchObject({ parse_mode: "HTML", text: "<b>⚠️ Task failed: web/fix.md</b>\nexit &lt;1&gt; &amp; no output" });
  });

  test("truncates a long message to 4096 characters", async () => {
    const f = fake();
    const { notifier } = setup(f);
    notifier.start();

    notifier.send(failedTask("x&".repeat(5000)));
    await f.waitFor(() => f.sent().length === 1);

    const text = f.sent()[0]!.text;
    expect(text.length).toBeLessThanOrEqual(4096);
    expect(text).toEndWith("…");
    expect(text).not.toMatch(/&[a-z]*…$/);
  });

  test("waits retry_after seconds after a 429 before sending again", async () => {
    const f = fake();
    f.failNext("sendMessage", { error_code: 429, description: "Too Many Requests: retry after 1", retry_after: 1 });
    const { notifier } = setup(f);
    notifier.start();

    notifier.send(failedTask("boom"));
    await f.waitFor(() => f.sent().length === 1, 4_000);

    const [first, second] = f.calls.filter((c) => c.method === "sendMessage");
    expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(990);
  });

  test("a five-minute outage loses no critical message and delivers it once after recovery", async () => {
    const f = fake();
    const clock = createFakeClock(AT);
    const { notifier } = setup(f, {}, clock);
    f.down("502");
    notifier.start();

    notifier.send({ kind: "swap_failed", at: AT, from: "main", to: "backup", error: "relaunch failed" });
    for (let t = 0; t < 300_000; t += 5_000) {
      await clock.advance(5_000);
      await Bun.sleep(15);
    }
    const attemptsDuringOutage = f.calls.filter((c) => c.method === "sendMessage").length;
    f.down(false);
    for (let t = 0; t < 60_000 && f.sent().length === 0; t += 5_000) {
      await clock.advance(5_000);
      await Bun.sleep(15);
    }

    expect(attemptsDuringOutage).toBeGreaterThan(8);
    expect(sentTo(f, OPERATOR)).toEqual(["<b>🚨 Swap FAILED main → backup</b>\nrelaunch failed"]);
  });
});

describe("createTelegram() polling", () => {
  test("starts polling again after a 409 (another poller) and serves commands afterwards", async () => {
    const f = fake();
    const clock = createFakeClock(AT);
    const ctx = setup(f, {}, clock);
    f.failNext("getUpdates", { error_code: 409, description: "Conflict: terminated by other getUpdates request" });
    ctx.telegram.start(ctx.control);
    await f.waitFor(() => ctx.log.records.some((r) => r.msg === "telegram polling stopped; restarting"));
    const polls = f.calls.filter((c) => c.method === "getUpdates").length;
    await clock.advance(POLL_RESTART_MIN_MS);
    await f.waitFor(() => f.calls.filter((c) => c.method === "getUpdates").length > polls);
    f.pushCommand(OPERATOR, "/help");
    await f.waitFor(() => sentTo(f, OPERATOR).length > 0);
    expect(sentTo(f, OPERATOR).at(-1)).toContain("/status");
  });
});

describe("createTelegram() commands", () => {
  async function started(f: FakeTelegram) {
    const ctx = setup(f, {}, createFakeClock(AT));
    ctx.telegram.start(ctx.control);
    await f.waitFor(() => f.calls.some((c) => c.method === "getUpdates"));
    return ctx;
  }
  async function ask(f: FakeTelegram, text: string): Promise<string> {
    const before = sentTo(f, OPERATOR).length;
    f.pushCommand(OPERATOR, text);
    await f.waitFor(() => sentTo(f, OPERATOR).length > before);
    return sentTo(f, OPERATOR).at(-1)!;
  }

  test("answers /status, /swap, /pause, /resume, /tasks, /tail and /help in an allowed chat", async () => {
    const f = fake();
    const { calls } = await started(f);

    const status = await ask(f, "/status");
    expect(status).toContain("active main");
    expect(status).toContain("backup cooling, resets 15:10 Europe/Paris, in 2h 10m");
    expect(status).toContain("1 working, 1 idle");
    expect(status).toContain("working: ccl-auto-11 (web/fix.md)");
    expect(status).toContain("4 queued, 1 running");
    expect(await ask(f, "/swap backup")).toBe("✅ swap to backup requested");
    expect(await ask(f, "/swap")).toBe("✅ swap to next requested");
    expect(await ask(f, "/pause")).toBe("✅ dispatch paused");
    expect(await ask(f, "/resume")).toBe("✅ dispatch resumed");
    expect(await ask(f, "/enable main")).toBe("✅ account main enabled");
    expect(await ask(f, "/enable")).toBe("Usage: /enable &lt;account&gt;");
    expect(await ask(f, "/tasks")).toBe("#12 queued web/t12.md\n#13 running web/t13.md on ccl-auto-11");
    expect(await ask(f, "/tail ccl-auto-11")).toBe("<b>ccl-auto-11</b>\n<pre>$ make test\n&lt;ok&gt; &amp; done</pre>");
    expect(await ask(f, "/tail ccl-0")).toBe("ccl-0: not an owned session");
    expect(await ask(f, "/help")).toContain("/tail — Last lines of a session: /tail &lt;session&gt;");

    expect(calls).toEqual(["status", "swap:backup", "swap:", "pause", "resume", "enable:main:true", "tasks", "tail:ccl-auto-11:20", "tail:ccl-0:20"]);
    expect(f.calls.find((c) => c.method === "setMyCommands")?.body.commands).toHaveLength(8);
  });

  test("ignores commands from other chats: no reply to them and the control is not called", async () => {
    const f = fake();
    const { calls, log } = await started(f);

    f.pushCommand(STRANGER, "/pause");
    f.pushCommand(STRANGER, "/swap evil");
    await ask(f, "/help");

    expect(sentTo(f, STRANGER)).toEqual([]);
    expect(calls).toEqual([]);
    const dropped = log.records.filter((r) => r.msg === "telegram update from unknown chat dropped");
    expect(dropped.map((r) => r.chat_id)).toEqual([STRANGER, STRANGER]);
    expect(JSON.stringify(dropped)).not.toContain("/pause");
  });

  test("keeps serving commands after a handler throws, and logs the failure", async () => {
    const f = fake();
    const { log } = await started(f);

    f.pushCommand(OPERATOR, "/swap boom");

    expect(await ask(f, "/pause")).toBe("✅ dispatch paused");
    expect(log.records.find((r) => r.msg === "telegram command failed")).toMatchObject({ level: "error", error: "store is locked" });
  });
});

describe("createTelegram() buttons", () => {
  const swapStarted: NotifyEvent = {
    kind: "swap_started", at: AT, from: "main", to: "backup", reason: "quota", trigger_session: "ccl-auto-11", pattern: null, snippet: null, reset_at: null,
  };
  async function started(f: FakeTelegram) {
    const ctx = setup(f, {}, createFakeClock(AT));
    ctx.telegram.start(ctx.control);
    ctx.notifier.start();
    await f.waitFor(() => f.calls.some((c) => c.method === "getUpdates"));
    return ctx;
  }
  const answers = (f: FakeTelegram) => f.calls.filter((c) => c.method === "answerCallbackQuery").map((c) => c.body.text);

  test("puts Swap now, Pause and Enable <account> for cooling accounts under a swap message, and none under others", async () => {
    const f = fake();
    const { notifier } = await started(f);

    notifier.send(swapStarted);
    notifier.send(failedTask("x"));
    await f.waitFor(() => f.sent().length === 2);

    const bySwap = f.sent().find((m) => m.text.includes("Swap main"));
    expect(bySwap?.reply_markup).toEqual({
      inline_keyboard: [
        [{ text: "Swap now", callback_data: "cf:swap" }, { text: "Pause", callback_data: "cf:pause" }],
        [{ text: "Enable backup", callback_data: "cf:enable:backup" }],
      ],
    });
    expect(f.sent().find((m) => m.text.includes("Task failed"))?.reply_markup).toBeUndefined();
  });

  test("a press in an allowed chat acts and is answered with what happened", async () => {
    const f = fake();
    const { calls } = await started(f);

    f.pushCallback(OPERATOR, "cf:pause");
    await f.waitFor(() => sentTo(f, OPERATOR).length === 1);
    f.pushCallback(OPERATOR, "cf:enable:backup");
    await f.waitFor(() => sentTo(f, OPERATOR).length === 2);
    f.pushCallback(OPERATOR, "cf:swap");
    await f.waitFor(() => sentTo(f, OPERATOR).length === 3);

    expect(f.calls.find((c) => c.method === "getUpdates")?.body.allowed_updates).toEqual(["message", "callback_query"]);
    expect(calls).toEqual(["pause", "enable:backup:true", "swap:"]);
    expect(answers(f)).toEqual(["dispatch paused", "account backup enabled", "swap to next requested"]);
    expect(sentTo(f, OPERATOR)).toEqual([
      "✅ dispatch paused <i>(Pause)</i>", "✅ account backup enabled <i>(Enable backup)</i>", "✅ swap to next requested <i>(Swap now)</i>",
    ]);
  });

  test("a press from a foreign chat does nothing: no action, no answer", async () => {
    const f = fake();
    const { calls, log } = await started(f);

    f.pushCallback(STRANGER, "cf:swap");
    f.pushCallback(STRANGER, "cf:enable:backup");
    f.pushCommand(OPERATOR, "/help");
    await f.waitFor(() => sentTo(f, OPERATOR).length === 1);

    expect(calls).toEqual([]);
    expect(answers(f)).toEqual([]);
    expect(sentTo(f, STRANGER)).toEqual([]);
    expect(log.records.filter((r) => r.msg === "telegram update from unknown chat dropped").map((r) => r.chat_id)).toEqual([STRANGER, STRANGER]);
  });
});

describe("createTelegram() lifecycle", () => {
  test("a missing token disables the channel with one warning and nothing throws", async () => {
    const log = memoryLog();
    const telegram = createTelegram({ log, clock: systemClock }, { token: "", chatIds: [OPERATOR] });
    const notifier = createNotifier({ log, clock: systemClock, channels: [telegram.channel] });

    telegram.start();
    notifier.start();
    notifier.send(failedTask("x"));
    // A disabled channel takes nothing into its queue, so nothing can be sent later either.
    expect(notifier.stats().queued).toEqual({ telegram: 0 });
    await telegram.stop();
    await notifier.stop(0);

    expect(log.records.filter((r) => r.level === "warn")).toEqual([expect.objectContaining({ msg: "telegram disabled", reason: "missing token" })]);
    expect(notifier.stats().sent).toEqual({ telegram: 0 });
  });

  test("a token rejected by getMe disables the channel with one warning and no polling", async () => {
    const f = fake();
    const { telegram, notifier, log } = setup(f, { token: "987654321:WrongTokenWrongTokenWrongToken" });

    telegram.start();
    await f.waitFor(() => log.records.some((r) => r.msg === "telegram disabled"));
    notifier.start();
    notifier.send(failedTask("x"));
    // A disabled channel takes nothing into its queue, so nothing can be sent later either.
    expect(notifier.stats().queued).toEqual({ telegram: 0 });

    expect(log.records.filter((r) => r.msg === "telegram disabled")).toHaveLength(1);
    expect(f.calls.map((c) => c.method)).toEqual(["getMe"]);
  });

  test("stop() returns once its bound has passed when Telegram stops answering during polling", async () => {
    const f = fake();
    const clock = createFakeClock(AT);
    const { telegram, log, control } = setup(f, {}, clock);
    telegram.start(control);
    await f.waitFor(() => f.calls.some((c) => c.method === "getUpdates"));
    f.down("hang");

    // Only the bound can end this stop: the fake clock moves by exactly that much and the call returns.
    const stopping = telegram.stop(500);
    await clock.advance(500);
    await stopping;

    expect(log.records.filter((r) => r.msg === "telegram stop timed out")).toEqual([expect.objectContaining({ timeout_ms: 500 })]);
  });

  test("stop() returns at once when Telegram never answered getMe", async () => {
    const f = fake();
    f.down("hang");
    const clock = createFakeClock(AT);
    const { telegram, log } = setup(f, {}, clock);
    telegram.start();
    await f.waitFor(() => f.calls.length > 0);

    // The fake clock never moves: stop() must return without waiting for its bound.
    await telegram.stop();

    expect(log.records.filter((r) => r.msg === "telegram stop timed out")).toEqual([]);
  });

  test("never writes the bot token to logs or errors, even when requests fail", async () => {
    const f = fake();
    const { telegram, notifier, log } = setup(f);
    f.failNext("getMe", { error_code: 500, description: `Internal error for /bot${FAKE_TOKEN}/getMe` });
    f.failNext("sendMessage", { error_code: 400, description: `Bad Request: chat not found (/bot${FAKE_TOKEN}/sendMessage)` });
    telegram.start();
    notifier.start();
    notifier.send(failedTask("one"));
    await f.waitFor(() => log.records.some((r) => r.msg === "notification not delivered"));
    const errors: string[] = [];
    f.down("502");
    await telegram.channel.deliver({ title: "t", text: "t", html: "t" }, failedTask("two"), new AbortController().signal)
      .catch((e: NotifyError) => errors.push(e.message));
    await f.stop();
    await telegram.channel.deliver({ title: "t", text: "t", html: "t" }, failedTask("three"), new AbortController().signal)
      .catch((e: NotifyError) => errors.push(e.message));

    const secretPart = FAKE_TOKEN.split(":")[1]!;
    expect(errors).toHaveLength(2);
    expect(log.records.map((r) => r.msg)).toEqual(expect.arrayContaining(["telegram getMe failed", "notification not delivered"]));
    for (const text of [JSON.stringify(log.records), ...errors]) {
      expect(text).not.toContain(secretPart);
      expect(text).not.toContain(FAKE_TOKEN);
    }
  });
});
