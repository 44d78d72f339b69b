#!/usr/bin/env sh
# Installs what claude-failover needs on a fresh Debian-like machine that has Node.js and npm:
#   Bun (from the npm registry), tmux (from Debian's packages, if missing) and the locked dependencies.
#   With --browser, also Debian's Chromium for the dashboard's browser test.
# Safe to run again: it skips what is already there. Used by `npm run demo`, `npm test` and .ci/run.
set -eu
BUN_VERSION=1.4.5
cd "$(dirname "$0")/.."

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
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium from Debian's packages (for the dashboard browser test)"
  apt_install chromium
fi
PATH="$HOME/.local/bin:$PATH" bun install --frozen-lockfile >/dev/null
