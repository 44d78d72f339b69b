/**
 * @module test/quota/reset-time
 * Specs for reset-time parsing with fixed clocks: zones with whole and half-hour offsets, both DST transitions of
 * 2026, year roll-over, midnight and noon, relative and legacy epoch forms, and garbage.
 */
import { describe, expect, test } from "bun:test";
import { findResetTime, parseResetTime } from "../../internal/quota/reset-time.ts";

const at = (iso: string) => Date.parse(iso);
const NOW = at("2026-11-23T10:00:00Z"); // 11:00 Paris, 05:00 New York, 15:30 Kolkata

interface Case { name: string; text: string; now?: number; zone?: string; expected: string | number | undefined }
const c = (name: string, text: string, expected: string | number | undefined, now = NOW, zone = "Europe/Paris"): Case => ({ name, text, now, zone, expected });

const PARSE_CASES: Case[] = [
  c("a Paris afternoon time later today", "3pm (Europe/Paris)", "2026-11-23T14:00:00Z"),
  c("a time with minutes", "3:30pm (Europe/Paris)", "2026-11-23T14:30:00Z"),
  c("a time already past today as tomorrow", "10am (Europe/Paris)", "2026-11-24T09:00:00Z"),
  c("a time without zone in the default zone", "3pm", "2026-11-23T14:00:00Z"),
  c("a time without zone in another default zone", "3pm", "2026-11-23T20:00:00Z", NOW, "America/New_York"),
  c("a New York time", "3pm (America/New_York)", "2026-11-23T20:00:00Z"),
  c("a New York time before dawn there", "4:15am (America/New_York)", "2026-11-24T09:15:00Z"),
  c("a Kolkata time already past as tomorrow (UTC+5:30)", "3pm (Asia/Kolkata)", "2026-11-24T09:30:00Z"),
  c("a Kolkata time later today", "4:30pm (Asia/Kolkata)", "2026-11-23T11:00:00Z"),
  c("midnight in Kolkata", "12am (Asia/Kolkata)", "2026-11-23T18:30:00Z"),
  c("a UTC time", "3pm (UTC)", "2026-11-23T15:00:00Z"),
  c("12pm as noon", "12pm (UTC)", "2026-11-23T12:00:00Z"),
  c("12am as the coming midnight", "12am (UTC)", "2026-11-24T00:00:00Z"),
  c("12:30am as half past midnight", "12:30am (UTC)", "2026-11-24T00:30:00Z"),
  c("1am as one in the morning", "1am (Europe/Paris)", "2026-11-24T00:00:00Z"),
  c("a time printed less than a minute ago as today (seconds are truncated)", "10am (UTC)", "2026-11-23T10:00:00Z", at("2026-11-23T10:00:40Z")),
  c("a time printed two minutes ago as tomorrow", "10am (UTC)", "2026-11-24T10:00:00Z", at("2026-11-23T10:02:00Z")),
  c("an unknown zone in the default zone", "3pm (Mars/Olympus)", "2026-11-23T14:00:00Z"),
  c("an unknown default zone as UTC", "3pm", "2026-11-23T15:00:00Z", NOW, "Nowhere/Atlantis"),
  c("a date and time", "Nov 28, 10am (Europe/Paris)", "2026-11-28T09:00:00Z"),
  c("a date and time in UTC", "Nov 28, 10am (UTC)", "2026-11-28T10:00:00Z"),
  c("a date with minutes", "Nov 26, 11:30pm (Europe/Paris)", "2026-11-26T22:30:00Z"),
  c("a date early in the morning", "Nov 25, 5am (Europe/Paris)", "2026-11-25T04:00:00Z"),
  c("the first of next month at midnight", "Dec 1, 12am (Europe/Paris)", "2026-11-30T23:00:00Z"),
  c("a date without zone", "Nov 28, 10am", "2026-11-28T09:00:00Z"),
  c("a date with a year", "Jan 2, 2027, 9am (Europe/Paris)", "2027-01-02T08:00:00Z"),
  c("a date with a year and no zone", "Jan 2, 2027, 9am", "2027-01-02T08:00:00Z"),
  c("a date a year ahead", "Dec 28, 2027, 11pm (Europe/Paris)", "2027-12-28T22:00:00Z"),
  c("a date without year across New Year", "Jan 2, 9am (UTC)", "2027-01-02T09:00:00Z", at("2026-12-30T10:00:00Z")),
  c("a date without year still this year", "Dec 31, 9am (UTC)", "2026-12-31T09:00:00Z", at("2026-12-30T10:00:00Z")),
  c("a date without year already past as next year", "Nov 20, 10am (UTC)", "2027-11-20T10:00:00Z"),
  c("Feb 29 without year as the next leap year", "Feb 29, 9am (UTC)", "2028-02-29T09:00:00Z"),
  c("a full month name", "November 28, 10am (UTC)", "2026-11-28T10:00:00Z"),
  c("an upper-case meridiem", "3PM (UTC)", "2026-11-23T15:00:00Z"),
  c("a leading \"at\"", "at 3pm", "2026-11-23T14:00:00Z"),
  c("a trailing full stop", "3pm.", "2026-11-23T14:00:00Z"),
  c("\"in 45 minutes\"", "in 45 minutes", NOW + 45 * 60_000),
  c("\"in 2 hours\"", "in 2 hours", NOW + 2 * 3_600_000),
  c("\"in 1 hour\"", "in 1 hour", NOW + 3_600_000),
  c("\"in 5m\"", "in 5m", NOW + 5 * 60_000),
  c("\"in 30 seconds\"", "in 30 seconds", NOW + 30_000),
  c("\"2h 3m 4s\"", "2h 3m 4s", NOW + 2 * 3_600_000 + 3 * 60_000 + 4_000),
  c("\"1m 5s\"", "1m 5s", NOW + 65_000),
  c("\"2h 5m\"", "2h 5m", NOW + 2 * 3_600_000 + 5 * 60_000),
  c("\"1 hour 30 minutes\"", "1 hour 30 minutes", NOW + 90 * 60_000),
  c("\"in 2 days\"", "in 2 days", NOW + 2 * 86_400_000),
  c("a legacy epoch in seconds", "1764003600", 1_764_003_600_000),
  c("a legacy epoch in milliseconds", "1764003600000", 1_764_003_600_000),
];

const DST_CASES: Case[] = [
  c("3am Paris on the spring-forward night (01:00 UTC, not 02:00)", "3am (Europe/Paris)", "2026-03-29T01:00:00Z", at("2026-03-29T00:30:00Z")),
  c("3pm Paris on the spring-forward day in summer time", "3pm (Europe/Paris)", "2026-03-29T13:00:00Z", at("2026-03-29T00:30:00Z")),
  c("a Paris time skipped by spring-forward as the instant after the jump", "2:30am (Europe/Paris)", "2026-03-29T01:30:00Z", at("2026-03-29T00:30:00Z")),
  c("3pm New York on its spring-forward day", "3pm (America/New_York)", "2026-03-08T19:00:00Z", at("2026-03-08T05:00:00Z")),
  c("the first 2:30am of the Paris fall-back night", "2:30am (Europe/Paris)", "2026-10-25T00:30:00Z", at("2026-10-24T23:00:00Z")),
  c("the second 2:30am once the first has passed", "2:30am (Europe/Paris)", "2026-10-25T01:30:00Z", at("2026-10-25T00:45:00Z")),
  c("3pm Paris on the fall-back day in winter time", "3pm (Europe/Paris)", "2026-10-25T14:00:00Z", at("2026-10-25T08:00:00Z")),
  c("a date after the fall-back with the offset of that date", "Oct 28, 10am (Europe/Paris)", "2026-10-28T09:00:00Z", at("2026-10-20T10:00:00Z")),
  c("a date after spring-forward with the offset of that date", "Apr 2, 10am (America/New_York)", "2026-04-02T14:00:00Z", at("2026-03-01T12:00:00Z")),
];

const GARBAGE = ["", "   ", "soon", "shortly", "tomorrow", "when the limit resets", "13pm", "0am", "3:75pm", "3", "pm",
  "Foo 12, 3pm", "Feb 30, 3pm", "Feb 30, 2027, 3pm", "3pm (", "in minutes", "99999", "12345678901234567890", "(.*)+$[",
  "resets 3pm", "3pm tomorrow", "x".repeat(10_000)];

const expected = (e: string | number | undefined) => (typeof e === "string" ? at(e) : e);

describe("parseResetTime()", () => {
  for (const k of [...PARSE_CASES, ...DST_CASES]) {
    test(`resolves ${k.name}`, () => expect(parseResetTime(k.text, k.now ?? NOW, k.zone ?? "Europe/Paris")).toBe(expected(k.expected)!));
  }
  for (const text of GARBAGE) {
    test(`returns undefined for ${JSON.stringify(text.slice(0, 30))}`, () => expect(parseResetTime(text, NOW, "Europe/Paris")).toBeUndefined());
  }
  test("does not assume a fixed offset across DST (naive CET would say 02:00 UTC)", () => {
    expect(parseResetTime("3am (Europe/Paris)", at("2026-03-29T00:30:00Z"), "UTC")).not.toBe(at("2026-03-29T02:00:00Z"));
  });
});

describe("findResetTime()", () => {
  const FIND_CASES: Case[] = [
    c("a 2.1.330 limit line", "You've hit your 5-hour limit · resets 3pm (Europe/Paris) · progress saved", "2026-11-23T14:00:00Z"),
    c("a gutter line with its no-break space", "  ⎿ \u00a0You've hit your weekly limit · resets Nov 28, 10am (Europe/Paris)", "2026-11-28T09:00:00Z"),
    c("a relative reset", "You've hit your usage limit · resets in 45 minutes", NOW + 45 * 60_000),
    c("the first reset of a line naming two", "You've hit your team's pooled group budget · resets Dec 1, 12am (Europe/Paris) · your 5-hour limit resets 3pm (Europe/Paris)", "2026-11-30T23:00:00Z"),
    c("a sentence form", "You've hit your team's pooled group budget. It resets Dec 1, 12am (Europe/Paris).", "2026-11-30T23:00:00Z"),
    c("the clock time of a quota retry line", "✻ Session limit reached · Retrying in 2h (3pm) · attempt 1/10", "2026-11-23T14:00:00Z"),
    c("the duration of a quota retry line without clock time", "✻ 5-hour limit reached · retrying in 2h · attempt 1/10", NOW + 2 * 3_600_000),
    c("an auto-continue line", "Usage limit reached · set to continue automatically at 3pm", "2026-11-23T14:00:00Z"),
    c("a continuing line", "Continuing automatically at 3:30pm · Esc to cancel", "2026-11-23T14:30:00Z"),
    c("the legacy epoch", "Claude AI usage limit reached|1764003600", 1_764_003_600_000),
    c("the legacy TUI sentence", "Claude usage limit reached. Your limit will reset at 3pm.", "2026-11-23T14:00:00Z"),
    c("a 1.0.128 line without zone", "Session limit reached ∙ resets 3pm", "2026-11-23T14:00:00Z"),
    c("a 1.0.128 team line", "Session limit resets 3pm (Europe/Paris) ∙ contact an admin to keep working", "2026-11-23T14:00:00Z"),
    c("a credits notice", "You're now using usage credits · Your session limit resets 3pm (Europe/Paris)", "2026-11-23T14:00:00Z"),
    c("a fast-mode line", "You've hit your fast limit · resets in 5m", NOW + 5 * 60_000),
    c("nothing in a server retry line", "✻ API error · Retrying in 8s · attempt 2/10", undefined),
    c("nothing in a limit line without reset", "You've hit your usage limit", undefined),
    c("nothing in a 500 error", "API Error: 500 Internal server error", undefined),
    c("nothing in \"Usage limit reset\"", "Usage limit reset · Continuing automatically", undefined),
    c("nothing in a shortly auto-continue", "Usage limit reached · set to continue automatically shortly", undefined),
  ];
  for (const k of FIND_CASES) {
    test(`finds ${k.name}`, () => expect(findResetTime(k.text, k.now ?? NOW, k.zone ?? "Europe/Paris")).toBe(expected(k.expected)!));
  }
});
