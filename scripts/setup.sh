#!/usr/bin/env sh
# Installs what claude-failover needs on a fresh Debian-like machine that has Node.js and npm:
#   Bun (from the npm registry), tmux (from Debian's packages, if missing) and the locked dependencies.
#   With --browser, also Debian's Chromium for the dashboard's browser test.
#   With --postgres, also Debian's PostgreSQL server for the fleet store's tests (a private cluster: scripts/postgres.sh).
#   With --claude, also the tested Claude Code release (internal/claude/version.ts) from the npm registry, into a cache
#   outside the repo: ${XDG_CACHE_HOME:-$HOME/.cache}/claude-failover/claude-code-<version> (about 380 MB), for the
#   conformance suite (test/conformance/). A failed install is reported and the suite then says it is skipped.
# Safe to run again: it skips what is already there. Used by `npm run demo`, `npm test` and .ci/run.
set -eu
BUN_VERSION=1.4.5
cd "$(dirname "$0")/.."
want_browser=0
want_claude=0
want_postgres=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --claude) want_claude=1 ;;
    --postgres) want_postgres=1 ;;
    *) echo "setup: unknown option: $arg (expected --browser, --claude or --postgres)" >&2; exit 2 ;;
  esac
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else echo "setup: need root for: $*" >&2; exit 1; fi; }
apt_updated=0
apt_install() {
  [ "$apt_updated" -eq 1 ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v bun >/dev/null 2>&1; then
  echo "setup: installing Bun $BUN_VERSION from the npm registry"
  if ! npm install -g "bun@$BUN_VERSION" >/dev/null 2>&1; then
    npm install --prefix "$HOME/.local" -g "bun@$BUN_VERSION" >/dev/null
    echo "setup: Bun installed in $HOME/.local/bin; add it to PATH" >&2
  fi
fi
if ! command -v tmux >/dev/null 2>&1; then
  echo "setup: installing tmux from Debian's packages"
  apt_install tmux
fi
if [ "$want_browser" -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium from Debian's packages (for the dashboard browser test)"
  apt_install chromium
fi
if [ "$want_postgres" -eq 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "setup: installing PostgreSQL from Debian's packages (for the fleet store's tests)"
  apt_install postgresql
fi
PATH="$HOME/.local/bin:$PATH" bun install --frozen-lockfile >/dev/null
if [ "$want_claude" -eq 1 ]; then
  claude_version=$(sed -n 's/^export const TESTED_CLAUDE_CODE_VERSION = "\(.*\)";$/\1/p' internal/claude/version.ts)
  [ -n "$claude_version" ] || { echo "setup: cannot read TESTED_CLAUDE_CODE_VERSION from internal/claude/version.ts" >&2; exit 1; }
  claude_dir="${XDG_CACHE_HOME:-$HOME/.cache}/claude-failover/claude-code-$claude_version"
  if [ ! -x "$claude_dir/node_modules/.bin/claude" ]; then
    echo "setup: installing Claude Code $claude_version from the npm registry into $claude_dir (about 380 MB)"
    mkdir -p "$claude_dir"
    if ! npm install --prefix "$claude_dir" --no-audit --no-fund --loglevel=error "@anthropic-ai/claude-code@$claude_version" >"$claude_dir.install.log" 2>&1; then
      echo "setup: could not install Claude Code $claude_version (see $claude_dir.install.log); the conformance suite will be skipped" >&2
    fi
  fi
fi
