import { expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { testConfigText, TOKEN } from "../support/daemon.ts";
import { tempDir } from "../support/tmux.ts";

// `claude-failover run` refuses a pool or dedicated workdir that does not exist, before it touches tmux or creates it.
const ENTRY = join(import.meta.dir, "../../cmd/claude-failover.ts");

test("run exits 2 naming each missing session workdir, and creates none of them", () => {
  const dir = tempDir("cf-startup-");
  try {
    const configPath = join(dir.path, "config.yaml");
    writeFileSync(configPath, testConfigText(dir.path, "cf-startup-unused", 1));
    const run = Bun.spawnSync([process.execPath, ENTRY, "run", "--config", configPath], {
      env: { ...process.env, CF_TEST_TOKEN: TOKEN, HOME: dir.path }, timeout: 30_000,
    });
    const stderr = run.stderr.toString();
    expect(run.exitCode).toBe(2);
    expect(stderr).toContain(`${configPath} autonomous.workdir: workdir ${dir.path}/work does not exist; create it or correct the path`);
    expect(stderr).toContain(`${configPath} dedicated[0].workdir (ccl-1-ded): workdir ${dir.path}/work/ded does not exist`);
    expect(existsSync(join(dir.path, "work"))).toBe(false);
  } finally {
    dir.cleanup();
  }
});
