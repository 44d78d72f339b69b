import { describe, expect, test } from "bun:test";
import { createTurnBook } from "../../internal/supervisor/turns.ts";

describe("createTurnBook()", () => {
  test("a Stop closes the oldest open turn, so a late Stop of a person's turn never closes the task's", () => {
    const book = createTurnBook();
    book.start("s", null, 1);
    book.start("s", 7, 2);
    expect(book.end("s", {}, 3)).toEqual({ taskId: null, startedAt: 1 });
    expect(book.busy("s")).toBe(true);
    expect(book.end("s", {}, 4)).toEqual({ taskId: 7, startedAt: 2 });
    expect(book.busy("s")).toBe(false);
  });

  test("a Stop that arrives before its UserPromptSubmit pairs with it", () => {
    const book = createTurnBook();
    expect(book.end("s", { last_assistant_message: "done" }, 10)).toBeNull();
    const { turn, earlyEnd } = book.start("s", 7, 12);
    expect(turn.taskId).toBe(7);
    expect(earlyEnd).toEqual({ last_assistant_message: "done" });
    expect(book.busy("s")).toBe(false);
  });

  test("an early Stop too old to belong to the next prompt is dropped", () => {
    const book = createTurnBook();
    book.end("s", {}, 0);
    expect(book.start("s", 7, 60_000).earlyEnd).toBeNull();
    expect(book.busy("s")).toBe(true);
  });

  test("a task adopted at start and its late UserPromptSubmit make one turn, not two", () => {
    const book = createTurnBook();
    book.adopt("s", 7, 1);
    book.start("s", 7, 5);
    expect(book.end("s", {}, 6)?.taskId).toBe(7);
    expect(book.busy("s")).toBe(false);
  });

  test("clear forgets a session's turns", () => {
    const book = createTurnBook();
    book.start("s", null, 1);
    book.clear("s");
    expect(book.busy("s")).toBe(false);
    expect(book.oldest("s")).toBeNull();
  });
});
