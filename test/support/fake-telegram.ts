/**
 * @module test/support/fake-telegram
 * A fake Telegram Bot API on loopback (reference/ecosystem.md §4.4): getMe, deleteWebhook, getUpdates (held as a
 * long poll until an update arrives or the timeout passes, honouring `offset`), sendMessage, setMyCommands,
 * answerCallbackQuery; button presses arrive with `pushCallback()`.
 * Records every call, injects one-off errors, and simulates outages (502 or requests that never answer).
 * Point grammY's `client.apiRoot` at `apiRoot`. Owns nothing else.
 */

/** One recorded request. */
export interface FakeTelegramCall {
  method: string;
  body: Record<string, unknown>;
  /** The token in the URL. */
  token: string;
  /** Answered ok (false when an injected error, an outage or a wrong token answered). */
  ok: boolean;
  /** `performance.now()` when it arrived. */
  atMs: number;
}

/** An error the fake answers once, for the next call of a method. */
export interface FakeTelegramError {
  error_code: number;
  description: string;
  retry_after?: number;
}

/** Outage modes: `502` answers Bad Gateway in HTML; `hang` never answers. */
export type FakeTelegramOutage = false | "502" | "hang";

/** The running fake. */
export interface FakeTelegram {
  /** Base URL for `client.apiRoot`, without trailing slash. */
  apiRoot: string;
  /** The token it accepts; others get 401. */
  token: string;
  calls: FakeTelegramCall[];
  /** Successful sendMessage bodies. */
  sent(): Array<{ chat_id: number; text: string; parse_mode?: string; reply_markup?: { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> } }>;
  failNext(method: string, error: FakeTelegramError): void;
  down(mode: FakeTelegramOutage | true): void;
  pushUpdate(update: Record<string, unknown>): void;
  /** A command message from `chatId` with the `bot_command` entity grammY needs. */
  pushCommand(chatId: number, text: string): void;
  /** A press of an inline button with `data`, under a bot message in `chatId`. */
  pushCallback(chatId: number, data: string): void;
  /** Resolves when `predicate` holds, polling every 5 ms; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A token shaped like a real one, so redaction by shape is exercised too. */
export const FAKE_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijklm";

const BOT_INFO = {
  id: 42, is_bot: true, first_name: "Test", username: "test_bot", can_join_groups: true,
  can_read_all_group_messages: false, supports_inline_queries: false,
};

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export function startFakeTelegram(token = FAKE_TOKEN): FakeTelegram {
  const calls: FakeTelegramCall[] = [];
  const failures = new Map<string, FakeTelegramError[]>();
  let updates: Array<Record<string, unknown> & { update_id: number }> = [];
  let waiters: Array<() => void> = [];
  let outage: FakeTelegramOutage = false;
  let nextUpdateId = 1;
  let nextMessageId = 100;
  const hung = new Set<() => void>();

  const json = (body: unknown, status = 200) => Response.json(body, { status });
  const apiError = (e: FakeTelegramError) => json({
    ok: false, error_code: e.error_code, description: e.description,
    ...(e.retry_after !== undefined ? { parameters: { retry_after: e.retry_after } } : {}),
  }, e.error_code);

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const match = /^\/bot([^/]+)\/(\w+)$/.exec(new URL(request.url).pathname);
      if (!match) return new Response("not found", { status: 404 });
      const [, callToken, method] = match as unknown as [string, string, string];
      const text = await request.text();
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      const call: FakeTelegramCall = { method, body, token: callToken, ok: false, atMs: performance.now() };
      calls.push(call);
      if (outage === "hang") return new Promise<Response>((resolve) => hung.add(() => resolve(new Response("gone", { status: 502 }))));
      if (outage === "502") return new Response("<html><body>502 Bad Gateway</body></html>", { status: 502, headers: { "content-type": "text/html" } });
      if (callToken !== token) return apiError({ error_code: 401, description: "Unauthorized" });
      const injected = failures.get(method)?.shift();
      if (injected) return apiError(injected);
      call.ok = true;
      switch (method) {
        case "getMe": return json({ ok: true, result: BOT_INFO });
        case "deleteWebhook": case "setMyCommands": case "answerCallbackQuery": return json({ ok: true, result: true });
        case "sendMessage":
          return json({ ok: true, result: {
            message_id: nextMessageId++, date: 1_700_000_000, chat: { id: body.chat_id, type: "private", first_name: "Op" }, text: body.text,
          } });
        case "getUpdates": return json({ ok: true, result: await takeUpdates(body, request.signal) });
        default: return apiError({ error_code: 404, description: "Not Found: method not found" });
      }
    },
  });

  async function takeUpdates(body: Record<string, unknown>, signal: AbortSignal) {
    const offset = typeof body.offset === "number" ? body.offset : 0;
    const limit = typeof body.limit === "number" ? body.limit : 100;
    const timeoutS = typeof body.timeout === "number" ? body.timeout : 0;
    updates = updates.filter((u) => u.update_id >= offset);
    if (updates.length === 0 && timeoutS > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        };
        const timer = setTimeout(done, timeoutS * 1000);
        waiters.push(done);
        signal.addEventListener("abort", done, { once: true });
      });
    }
    return updates.filter((u) => u.update_id >= offset).slice(0, limit);
  }

  const fake: FakeTelegram = {
    apiRoot: `http://127.0.0.1:${server.port}`,
    token,
    calls,
    sent: () => calls.filter((c) => c.method === "sendMessage" && c.ok).map((c) => c.body as { chat_id: number; text: string }),
    failNext(method, error) {
      failures.set(method, [...(failures.get(method) ?? []), error]);
    },
    down(mode) {
      outage = mode === true ? "502" : mode;
      if (!outage) for (const release of hung) release();
      if (!outage) hung.clear();
    },
    pushUpdate(update) {
      updates.push({ update_id: nextUpdateId++, ...update });
      for (const wake of [...waiters]) wake();
    },
    pushCommand(chatId, text) {
      const command = text.split(" ")[0]!;
      fake.pushUpdate({
        message: {
          message_id: nextMessageId++, date: 1_700_000_000, text,
          chat: { id: chatId, type: "private", first_name: "Op" }, from: { id: chatId, is_bot: false, first_name: "Op" },
          entities: [{ type: "bot_command", offset: 0, length: command.length }],
        },
      });
    },
    pushCallback(chatId, data) {
      const chat = { id: chatId, type: "private", first_name: "Op" };
      fake.pushUpdate({
        callback_query: {
          id: `cb${nextMessageId}`, from: { id: chatId, is_bot: false, first_name: "Op" }, chat_instance: `ci${chatId}`, data,
          message: { message_id: nextMessageId++, date: 1_700_000_000, chat, from: { id: 42, is_bot: true, first_name: "Test" }, text: "⚠️ Swap" },
        },
      });
    },
    async waitFor(predicate, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`Cannot meet condition: timed out after ${timeoutMs} ms`);
        await Bun.sleep(5);
      }
    },
    async stop() {
      for (const release of hung) release();
      for (const wake of [...waiters]) wake();
      await server.stop(true);
    },
  };
  return fake;
}
