#!/usr/bin/env bun
/**
 * @module cmd/main
 * The binary's entry (`bun build --compile ./cmd/main.ts`, `bun cmd/main.ts` from the sources). Claude Code runs
 * `claude-failover hook <event>` for every hook event of every session, so that command loads only the hook
 * forwarder (internal/hook/hook.ts): about 20 ms of CPU per event instead of about 55 ms for loading the whole daemon
 * (25 ms instead of 230 ms from the sources; bench/hook.ts), which matters most when a limit ends a dozen turns at
 * once. Every other command goes to cmd/claude-failover.ts, where the daemon is wired.
 */
const argv = process.argv.slice(2);

// No top-level await: the bytecode build (`--bytecode`) compiles to CommonJS, where it is not allowed.
const exitCode = argv[0] === "hook"
  // A hook never fails Claude Code's turn, whatever happens here.
  ? import("../internal/hook/hook.ts").then((hook) => hook.runHookCommand(argv.slice(1), process.env)).catch(() => 0)
  : import("./claude-failover.ts").then((cli) => cli.main(argv));
void exitCode.then((code) => process.exit(code));
