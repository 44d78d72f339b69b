import { describe, expect, test } from "bun:test";
import { createFakeClock, type Clock } from "../../internal/clock.ts";
import { memoryLog } from "../../internal/log.ts";
import type { Level, NotifyEvent, RenderedMessage } from "../../internal/notify/events.ts";
import { createNotifier, NotifyError, type Channel, type NotifierOptions } from "../../internal/notify/notify.ts";

const AT = Date.UTC(2026, 10, 23, 12, 0);

/** An in-memory channel that can be taken down, made to fail once, or disabled. */
function fakeChannel(name = "fake", minLevel: Level = "info") {
  const delivered: Array<{ message: RenderedMessage; event: NotifyEvent }> = [];
  const failures: NotifyError[] = [];
  const state = { attempts: 0, down: false, enabled: true };
  const channel: Channel = {
    name, minLevel,
    isEnabled: () => state.enabled,
    async deliver(message, event) {
      state.attempts++;
      if (state.down) throw new NotifyError("Cannot send fake message: status 502", { channel: name, status: 502, retryable: true });
      const failure = failures.shift();
      if (failure) throw failure;
      delivered.push({ message, event });
    },
  };
  return { channel, delivered, failures, state, titles: () => delivered.map((d) => d.message.title) };
}

const dead = (session: string, at = AT): NotifyEvent => ({ kind: "session_dead", at, session, reason: "pane exited" });
const done = (file: string): NotifyEvent => ({ kind: "task_done", at: AT, project: "web", file, session: "s1", duration_ms: 1000 });
const failed = (file: string): NotifyEvent => ({ kind: "task_failed", at: AT, project: "web", file, reason: "timeout" });
const settle = () => Bun.sleep(2);

function setup(channels: Channel[], options: NotifierOptions = {}, clock: Clock = createFakeClock(AT)) {
  const log = memoryLog();
  const notifier = createNotifier({ log, clock, channels }, { random: () => 0.5, ...options });
  return { notifier, log };
}

async function advance(clock: ReturnType<typeof createFakeClock>, totalMs: number, stepMs: number) {
  for (let t = 0; t < totalMs; t += stepMs) {
    await clock.advance(stepMs);
    await settle();
  }
}

describe("createNotifier()", () => {
  test("send() returns synchronously, before any delivery is attempted, while the channel is down", async () => {
    const fake = fakeChannel();
    fake.state.down = true;
    const { notifier } = setup([fake.channel]);
    notifier.start();

    for (let i = 0; i < 1000; i++) {
      const result = notifier.send(i % 2 ? done(`f${i}.md`) : dead(`s${i}`)) as unknown;
      expect(result).toBeUndefined();
    }

    // Nothing ran inline: the channel is reached only from the notifier's own loop, after send() returned.
    expect(fake.state.attempts).toBe(0);
    for (let i = 0; i < 1_000 && fake.state.attempts === 0; i++) await settle();
    expect(fake.state.attempts).toBeGreaterThan(0);
    await notifier.stop(0);
  });

  test("routes an event only to channels whose minLevel it reaches", async () => {
    const chatty = fakeChannel("chatty", "info");
    const quiet = fakeChannel("quiet", "critical");
    const { notifier } = setup([chatty.channel, quiet.channel]);
    notifier.start();

    notifier.send(done("a.md"));
    notifier.send(failed("b.md"));
    notifier.send(dead("s1"));
    await settle();

    expect(chatty.delivered.map((d) => d.event.kind).sort()).toEqual(["session_dead", "task_done", "task_failed"]);
    expect(quiet.delivered.map((d) => d.event.kind)).toEqual(["session_dead"]);
  });

  test("sends the daily digest and test messages to every channel, whatever its minLevel", async () => {
    const quiet = fakeChannel("quiet", "critical");
    const { notifier } = setup([quiet.channel]);
    notifier.start();

    notifier.send({ kind: "test_message", at: AT, host: "h" });
    notifier.send({ kind: "daily_digest", at: AT, since: AT - 86_400_000, accounts: [], tasks_done: 0, tasks_failed: 0, failed: [], swaps: [] });
    notifier.send(done("a.md"));
    await settle();

    expect(quiet.delivered.map((d) => d.event.kind)).toEqual(["test_message", "daily_digest"]);
  });

  test("merges repeats of one key sent while queued into one message with a count", async () => {
    const fake = fakeChannel();
    const { notifier } = setup([fake.channel]);

    for (let i = 0; i < 12; i++) notifier.send(dead("ccl-auto-11"));
    notifier.start();
    await settle();

    expect(fake.titles()).toEqual(["🚨 Session ccl-auto-11 dead ×12"]);
  });

  test("holds repeats of a key sent recently until the window passes, then sends them as one", async () => {
    const clock = createFakeClock(AT);
    const fake = fakeChannel();
    const { notifier } = setup([fake.channel], {}, clock);
    notifier.start();
    notifier.send(dead("ccl-auto-11"));
    await settle();

    for (let i = 0; i < 5; i++) notifier.send(dead("ccl-auto-11"));
    await advance(clock, 59_000, 1_000);
    expect(fake.delivered).toHaveLength(1);
    await advance(clock, 1_000, 1_000);

    expect(fake.titles()).toEqual(["🚨 Session ccl-auto-11 dead", "🚨 Session ccl-auto-11 dead ×5"]);
  });

  test("turns a flood of 1,000 info events into a bounded number of messages", async () => {
    const same = fakeChannel();
    const distinct = fakeChannel();
    const a = setup([same.channel]);
    const b = setup([distinct.channel]);

    for (let i = 0; i < 1000; i++) a.notifier.send(done("same.md"));
    for (let i = 0; i < 1000; i++) b.notifier.send(done(`task-${i}.md`));
    a.notifier.start();
    b.notifier.start();
    await settle();

    expect(same.titles()).toEqual(["ℹ️ Task done: web/same.md ×1000"]);
    expect(distinct.delivered).toHaveLength(200);
    expect(distinct.delivered.at(-1)?.event).toMatchObject({ file: "task-999.md" });
    expect(b.notifier.stats().dropped).toEqual({ fake: 800 });
  });

  test("drops the oldest info first, then warnings, and never a critical message", async () => {
    const fake = fakeChannel();
    const { notifier } = setup([fake.channel], { queueLimit: 10 });

    for (let i = 0; i < 5; i++) notifier.send(dead(`s${i}`));
    for (let i = 0; i < 10; i++) notifier.send(failed(`w${i}.md`));
    for (let i = 0; i < 20; i++) notifier.send(done(`i${i}.md`));
    for (let i = 5; i < 12; i++) notifier.send(dead(`s${i}`));

    expect(notifier.stats()).toMatchObject({ queued: { fake: 12 }, dropped: { fake: 30 } });
    notifier.start();
    await settle();
    expect(fake.delivered.filter((d) => d.event.kind === "session_dead")).toHaveLength(12);
    expect(fake.delivered.filter((d) => d.event.kind === "task_failed").map((d) => (d.event as { file: string }).file)).toEqual([]);
  });

  test("waits retryAfterMs before retrying a rate-limited message", async () => {
    const clock = createFakeClock(AT);
    const fake = fakeChannel();
    fake.failures.push(new NotifyError("Cannot send fake message: status 429, retry after 30000 ms", {
      channel: "fake", status: 429, retryAfterMs: 30_000, retryable: true,
    }));
    const { notifier } = setup([fake.channel], {}, clock);
    notifier.start();

    notifier.send(dead("s1"));
    await settle();
    await clock.advance(29_999);
    await settle();
    expect(fake.state.attempts).toBe(1);
    await clock.advance(1);
    await settle();

    expect(fake.state.attempts).toBe(2);
    expect(fake.delivered).toHaveLength(1);
  });

  test("a five-minute outage loses no critical message and delivers each once after recovery", async () => {
    const clock = createFakeClock(AT);
    const fake = fakeChannel();
    fake.state.down = true;
    const { notifier, log } = setup([fake.channel], {}, clock);
    notifier.start();

    notifier.send(dead("s1"));
    notifier.send({ kind: "swap_failed", at: AT, from: "main", to: "backup", error: "relaunch failed" });
    notifier.send(done("a.md"));
    await advance(clock, 300_000, 5_000);
    expect(fake.state.attempts).toBeGreaterThan(8);
    expect(fake.delivered).toHaveLength(0);
    fake.state.down = false;
    await advance(clock, 30_000, 5_000);

    expect(fake.delivered.map((d) => d.event.kind).sort()).toEqual(["session_dead", "swap_failed", "task_done"]);
    expect(notifier.stats()).toMatchObject({ sent: { fake: 3 }, failed: { fake: 0 }, queued: { fake: 0 } });
    expect(log.records.filter((r) => r.msg === "notification delivery failed" && r.level === "warn")).toHaveLength(1);
    expect(log.records.some((r) => r.msg === "notification channel recovered")).toBe(true);
  });

  test("gives up on an info message after its bounded attempts while the channel is down", async () => {
    const clock = createFakeClock(AT);
    const fake = fakeChannel();
    fake.state.down = true;
    const { notifier } = setup([fake.channel], { infoAttempts: 3 }, clock);
    notifier.start();

    notifier.send(done("a.md"));
    await advance(clock, 60_000, 1_000);

    expect(fake.state.attempts).toBe(3);
    expect(notifier.stats()).toMatchObject({ failed: { fake: 1 }, queued: { fake: 0 } });
  });

  test("does not retry a failure the API marked as not retryable", async () => {
    const clock = createFakeClock(AT);
    const fake = fakeChannel();
    fake.failures.push(new NotifyError("Cannot send fake message: status 400", { channel: "fake", status: 400, retryable: false }));
    const { notifier, log } = setup([fake.channel], {}, clock);
    notifier.start();

    notifier.send(dead("s1"));
    await advance(clock, 60_000, 1_000);

    expect(fake.state.attempts).toBe(1);
    expect(log.records.find((r) => r.msg === "notification not delivered")).toMatchObject({ status: 400, kind: "session_dead" });
  });

  test("stop() flushes everything queued while the channel is up, critical first, including held repeats", async () => {
    const fake = fakeChannel();
    const { notifier } = setup([fake.channel]);
    notifier.start();
    notifier.send(dead("s1"));
    await settle();
    notifier.send(done("a.md"));
    notifier.send(dead("s1"));

    await notifier.stop();

    expect(fake.titles()).toEqual(["🚨 Session s1 dead", "🚨 Session s1 dead", "ℹ️ Task done: web/a.md"]);
    expect(notifier.stats()).toMatchObject({ sent: { fake: 3 }, dropped: { fake: 0 }, queued: { fake: 0 } });
  });

  test("stop() returns within its bound while the channel stays down, retrying only critical messages", async () => {
    const fake = fakeChannel();
    fake.state.down = true;
    const clock = createFakeClock(AT);
    const { notifier, log } = setup([fake.channel], {}, clock);
    notifier.send(done("a.md"));
    notifier.send(dead("s1"));

    let stopped = false;
    const stopping = notifier.stop(600).then(() => {
      stopped = true;
    });
    await advance(clock, 700, 50);
    expect(stopped).toBe(true);
    await stopping;
    expect(fake.state.attempts).toBeGreaterThanOrEqual(3);
    expect(log.records.find((r) => r.msg === "critical notifications lost at stop")).toMatchObject({ channel: "fake", count: 1 });
    expect(notifier.stats()).toMatchObject({ dropped: { fake: 2 }, sent: { fake: 0 } });
  });

  test("ignores sends after stop and never throws", async () => {
    const fake = fakeChannel();
    const { notifier } = setup([fake.channel]);
    await notifier.stop(0);

    expect(() => notifier.send(dead("s1"))).not.toThrow();
    expect(() => notifier.send(null as unknown as NotifyEvent)).not.toThrow();
    expect(fake.state.attempts).toBe(0);
  });

  test("sends nothing to a disabled channel and drops what it had queued", async () => {
    const fake = fakeChannel();
    const { notifier } = setup([fake.channel]);
    notifier.send(dead("s1"));
    fake.state.enabled = false;

    notifier.start();
    notifier.send(dead("s2"));
    await settle();

    expect(fake.state.attempts).toBe(0);
    expect(notifier.stats()).toMatchObject({ queued: { fake: 0 }, dropped: { fake: 1 } });
  });
});
