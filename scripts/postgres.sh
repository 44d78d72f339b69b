#!/usr/bin/env sh
# A private PostgreSQL cluster for the fleet tests and CI (docs/fleet.md): installs Debian's `postgresql` package if
# `initdb` is missing, creates a cluster in a temporary directory owned by a non-root user (initdb refuses root; as
# root it runs as the `postgres` user), starts it on 127.0.0.1 and a free port with fsync off and trust auth on
# loopback only, and prints its URL on stdout.
#   sh scripts/postgres.sh start [DIR]   create (DIR default: a new temp dir) and start; prints postgres://…
#   sh scripts/postgres.sh stop DIR      stop the cluster and remove DIR
#   sh scripts/postgres.sh halt DIR      stop the server only (fast shutdown), keeping DIR: `start DIR` brings it back
# Safe to run again on the same DIR: start reuses the cluster already there, on the port it had (kept in DIR/port).
set -eu
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else echo "postgres: need root for: $*" >&2; exit 1; fi; }
pg_bin() {
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }; done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}
# Runs a command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() {
  bun -e 'const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); console.log(s.port); s.stop(true);'
}

cmd="${1:-start}"
case "$cmd" in
  start)
    bin="$(pg_bin)" || {
      echo "postgres: installing PostgreSQL from Debian's packages" >&2
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      bin="$(pg_bin)" || { echo "postgres: initdb not found after installing postgresql" >&2; exit 1; }
    }
    dir="${2:-$(mktemp -d "${TMPDIR:-/tmp}/claude-failover-pg.XXXXXX")}"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
      id postgres >/dev/null 2>&1 || { echo "postgres: running as root needs the 'postgres' user (Debian's package creates it)" >&2; exit 1; }
      chown postgres "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { echo "postgres: initdb failed (see $dir/initdb.log)" >&2; exit 1; }
      # Loopback only, trust auth: a throwaway cluster for tests.
      printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_owner tee "$dir/data/pg_hba.conf" >/dev/null
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      port="$(sed -n 4p "$dir/data/postmaster.pid" | tr -d ' ')"
    else
      port="$(cat "$dir/port" 2>/dev/null || free_port)"
      echo "$port" >"$dir/port"
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
        start >/dev/null || { echo "postgres: the server did not start (see $dir/server.log)" >&2; exit 1; }
    fi
    echo "postgres: cluster in $dir (stop: sh scripts/postgres.sh stop $dir)" >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir="${2:?usage: sh scripts/postgres.sh stop DIR}"
    bin="$(pg_bin)" || { echo "postgres: initdb not found" >&2; exit 1; }
    if [ -f "$dir/data/postmaster.pid" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  halt)
    dir="${2:?usage: sh scripts/postgres.sh halt DIR}"
    bin="$(pg_bin)" || { echo "postgres: initdb not found" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  *) echo "postgres: unknown command: $cmd (expected start, stop or halt)" >&2; exit 2 ;;
esac
