#!/usr/bin/env bash
# Smoke test of a built binary (default dist/claude-failover), the same checks the test suite makes of the sources:
# version, validate-config (good and bad), run + /health + status + SIGTERM (agents survive), and the demo.
# Uses a private tmux socket and a temporary folder; leaves nothing behind.
set -euo pipefail
bin="$(readlink -f "${1:-dist/claude-failover}")"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
socket="cf-smoke-$$"
port=$(( 20000 + RANDOM % 20000 ))
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  tmux -L "$socket" kill-server 2>/dev/null || true
  rm -f "/tmp/tmux-$(id -u)/$socket"
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'smoke: %s\n' "$*"; }

"$bin" version
"$bin" validate-config "$root/config.example.yaml"
set +e; "$bin" validate-config "$root/test/fixtures/config/bad.yaml" 2>/dev/null; code=$?; set -e
[ "$code" -eq 2 ] || { say "bad config exited $code, expected 2"; exit 1; }

mkdir -p "$work/homes/a" "$work/work"
cat > "$work/config.yaml" <<YAML
state_dir: $work/state
http: { listen: "127.0.0.1:$port", token_env: SMOKE_TOKEN }
tmux: { socket: $socket }
claude: { command: "$bin", args: ["sim-claude", "--dangerously-skip-permissions"] }
accounts: [{ name: a, home: $work/homes/a }]
autonomous: { prefix: ccl-auto-, start_index: 11, min: 1, max: 1, workdir: $work/work }
quota: { poll_interval: 1s }
YAML
export SMOKE_TOKEN=smoke-token
"$bin" run --config "$work/config.yaml" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { say "/health never answered 200"; cat "$work/daemon.log"; exit 1; }
for _ in $(seq 1 100); do "$bin" status --config "$work/config.yaml" | grep -q "ccl-auto-11  pool  idle" && break; sleep 0.2; done
"$bin" status --config "$work/config.yaml"
"$bin" status --config "$work/config.yaml" | grep -q "ccl-auto-11  pool  idle" || { say "pool session not idle"; exit 1; }
# A hook event as Claude Code runs it (the binary's light entry, cmd/main.ts): posted to the daemon, not spooled.
echo '{"hook_event_name":"Notification","message":"smoke"}' | "$bin" hook Notification --session ccl-auto-11 \
  --url "http://127.0.0.1:$port" --spool "$work/spool" --token-file "$work/state/hook-token"
[ ! -e "$work/spool" ] || { say "the hook event was spooled, not posted"; ls -la "$work/spool"; exit 1; }
say "hook ok (posted)"
agent_pid=$(tmux -L "$socket" display-message -p -t "=ccl-auto-11:" "#{pane_pid}")
kill -TERM "$pid"; wait "$pid"; code=$?; pid=""
[ "$code" -eq 0 ] || { say "SIGTERM exit code $code"; exit 1; }
[ "$(tmux -L "$socket" display-message -p -t "=ccl-auto-11:" "#{pane_pid}")" = "$agent_pid" ] || { say "the agent did not survive the daemon"; exit 1; }
say "run/health/status/SIGTERM ok (agent $agent_pid survived)"

timeout 180 "$bin" demo < /dev/null
say "all checks passed for $bin"
