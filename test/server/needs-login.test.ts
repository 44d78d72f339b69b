/**
 * @module test/server/needs-login
 * Specs for how an account that lost its login shows on every surface: `/status` (state `needs_login`, `login_fix`),
 * the dashboard, `claude-failover accounts` / `status`, Telegram `/status` and the `/metrics` gauges.
 */
import { describe, expect, test } from "bun:test";
import { openStore } from "../../internal/state/state.ts";
import { buildStatus } from "../../internal/state/status.ts";
import { renderDashboard } from "../../internal/server/dashboard.ts";
import { renderAccounts } from "../../internal/cli/client.ts";
import { renderStatus } from "../../internal/notify/telegram-commands.ts";
import { statusGauges } from "../../internal/server/metrics.ts";

const NOW = Date.UTC(2026, 10, 29, 2);

function snapshot() {
  const store = openStore(":memory:");
  store.syncAccounts([{ name: "main", home: "/home/op/.claude-main", priority: 0 }, { name: "backup", home: "/home/op/.claude-backup", priority: 1 }], NOW);
  store.setAccountState("main", "needs_login", null, NOW);
  return buildStatus(store, { version: "t", startedAt: NOW, activeAccount: "backup", paused: false, exhaustedUntil: null }, NOW);
}

describe("an account that needs a login, on every surface", () => {
  test("/status says needs_login with the fix, and no fix for the others", () => {
    const [main, backup] = snapshot().accounts;
    expect(main).toMatchObject({ name: "main", home: "/home/op/.claude-main", state: "needs_login", reset_at: null, login_fix: "CLAUDE_CONFIG_DIR=/home/op/.claude-main claude" });
    expect(backup).toMatchObject({ name: "backup", home: "/home/op/.claude-backup", state: "available", reset_at: null });
    expect(backup).not.toHaveProperty("login_fix");
  });

  test("the dashboard shows the state and the fix", () => {
    const page = renderDashboard(snapshot());
    expect(page).toContain('data-account="main" data-state="needs_login"');
    expect(page).toContain('<span class="pill ac-needs_login">needs_login</span>');
    expect(page).toContain("run CLAUDE_CONFIG_DIR=/home/op/.claude-main claude, then /login");
  });

  test("`claude-failover accounts` lists the state and says what to run", () => {
    const text = renderAccounts(snapshot(), NOW);
    expect(text).toMatch(/^ {2}main +needs_login +- +\/home\/op\/\.claude-main$/m);
    expect(text).toContain("main needs a login: run CLAUDE_CONFIG_DIR=/home/op/.claude-main claude, then /login in it; then claude-failover accounts enable main");
  });

  test("Telegram /status says what to run and to /enable it", () => {
    expect(renderStatus(snapshot(), NOW, "UTC")).toContain("• main needs_login — run CLAUDE_CONFIG_DIR=/home/op/.claude-main claude, then /login, then /enable main");
  });

  test("/metrics counts it under state needs_login", () => {
    const accounts = statusGauges(snapshot(), "t").find((g) => g.name === "claude_failover_accounts")!;
    expect(accounts.samples).toContainEqual({ labels: { state: "needs_login" }, value: 1 });
    expect(accounts.samples).toContainEqual({ labels: { state: "available" }, value: 1 });
  });
});
