#!/usr/bin/env bun
/**
 * @module sim-claude-bin
 * Command-line entry of the simulated Claude Code for tests: `bun test/support/sim-claude-bin.ts <claude args…>`
 * can stand in for `claude.command`. Exits with the code {@link runSimClaude} returns.
 */
import { runSimClaude } from "../../internal/demo/sim-claude.ts";

void runSimClaude(process.argv.slice(2), process.env).then((code) => process.exit(code));
