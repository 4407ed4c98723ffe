#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for DbSync's tests, Pester checks, demo and benchmarks.
#
#   test-postgres.sh start DIR   creates a cluster under DIR (must not exist or be empty), starts it on a free
#                                loopback port with scram-sha-256 password authentication, and prints one line:
#                                an Npgsql connection string for it.
#   test-postgres.sh stop DIR    stops that cluster and removes DIR.
#   test-postgres.sh halt DIR    stops the server at once (as a crash would), keeping the cluster.
#   test-postgres.sh resume DIR  starts a halted server again on the same port.
#
# Server binaries come from PATH (initdb, pg_ctl) or else the newest /usr/lib/postgresql/*/bin. PostgreSQL
# refuses to run as root, so as root every server command runs through `runuser -u postgres`.
# The cluster trades durability for speed (fsync off): it is for tests, never for data anyone keeps.
set -euo pipefail

die() { echo "test-postgres.sh: $*" >&2; exit 1; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v pg_ctl)"; return
  fi
  die "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin; install the 'postgresql' package"
}

as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: test-postgres.sh start|stop|halt|resume DIR"

case "$cmd" in
start)
  bindir=$(find_bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
  printf '%s\n' "$password" > "$dir/pwfile"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    # The server user must be able to reach DIR through every parent folder.
    p=$dir; while [ "$p" != / ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
  fi
  as_server_user "$bindir/initdb" -D "$dir/data" -U dbsync --pwfile="$dir/pwfile" \
    --auth=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  rm -f "$dir/pwfile"
  for attempt in $(seq 1 20); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_in_use "$port" && continue
    if as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" \
        start >/dev/null 2>&1; then
      echo "$port" > "$dir/port"
      echo "Host=127.0.0.1;Port=$port;Username=dbsync;Password=$password;Database=postgres"
      exit 0
    fi
  done
  tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
  die "could not start PostgreSQL on a free port"
  ;;
halt)
  bindir=$(find_bindir)
  as_server_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || die "could not halt the server in $dir"
  ;;
resume)
  bindir=$(find_bindir)
  port=$(cat "$dir/port")
  as_server_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" \
    start >/dev/null 2>&1 || die "could not resume the server in $dir"
  ;;
stop)
  [ -d "$dir/data" ] || exit 0
  bindir=$(find_bindir)
  as_server_user "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  die "unknown command '$cmd' (start, stop, halt or resume)"
  ;;
esac
