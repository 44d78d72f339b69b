#!/usr/bin/env bash
# Installs claude-failover on a systemd machine:
#   - the binary (dist/claude-failover, built with `bun run build`) to /usr/local/bin
#   - a default config in /etc/claude-failover (an existing one is never overwritten)
#   - the state folder /var/lib/claude-failover, owned by the user the agents run as
#   - two units: claude-failover-tmux.service (the tmux server, outside the daemon's cgroup) and
#     claude-failover.service (the daemon, Type=notify)
# Usage: sudo scripts/install.sh [--user dev] [--binary dist/claude-failover] [--no-start]
set -euo pipefail

user="${SUDO_USER:-$(id -un)}"
binary="dist/claude-failover"
start=1
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }
[ -x "$root/$binary" ] || [ -x "$binary" ] || { echo "install.sh: $binary not found; run 'bun run build' first" >&2; exit 1; }
[ -x "$binary" ] || binary="$root/$binary"
id "$user" >/dev/null 2>&1 || { echo "install.sh: no such user $user" >&2; exit 1; }
group="$(id -gn "$user")"
home="$(getent passwd "$user" | cut -d: -f6)"
command -v tmux >/dev/null || { echo "installing tmux"; apt-get install -y tmux; }

install -m 0755 "$binary" /usr/local/bin/claude-failover
install -d -m 0755 /etc/claude-failover
if [ ! -e /etc/claude-failover/config.yaml ]; then
  install -m 0640 -o root -g "$group" "$root/config.example.yaml" /etc/claude-failover/config.yaml
  echo "wrote /etc/claude-failover/config.yaml (edit the accounts, then: claude-failover validate-config /etc/claude-failover/config.yaml)"
else
  echo "kept the existing /etc/claude-failover/config.yaml"
fi
[ -e /etc/claude-failover/tmux.conf ] || install -m 0644 "$here/tmux.conf" /etc/claude-failover/tmux.conf
if [ ! -e /etc/claude-failover/secrets.env ]; then
  umask 077
  printf 'CLAUDE_FAILOVER_TOKEN=%s\n# TELEGRAM_BOT_TOKEN=\n# RESEND_API_KEY=\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > /etc/claude-failover/secrets.env
  chown root:"$group" /etc/claude-failover/secrets.env; chmod 0640 /etc/claude-failover/secrets.env
  echo "wrote /etc/claude-failover/secrets.env with a random API token"
fi
install -d -m 0750 -o "$user" -g "$group" /var/lib/claude-failover

for unit in claude-failover-tmux.service claude-failover.service; do
  sed -e "s|@USER@|$user|g" -e "s|@GROUP@|$group|g" -e "s|@HOME@|$home|g" "$here/$unit" > "/etc/systemd/system/$unit"
done
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable claude-failover-tmux.service claude-failover.service
  if [ "$start" -eq 1 ]; then
    systemctl restart claude-failover-tmux.service
    systemctl restart claude-failover.service
  fi
  echo "installed. status: systemctl status claude-failover; checks: claude-failover doctor --config /etc/claude-failover/config.yaml"
else
  echo "installed the files; systemd is not running here, so the units were not started"
fi
