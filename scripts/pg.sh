#!/usr/bin/env bash
# The project-local Postgres cluster: start | stop | status | url [db] | create <db> | drop <db> | drop-e2e
set -euo pipefail
source "$(dirname "$0")/env.sh"

# initdb refuses to run as root: as root, the cluster belongs to the `postgres` system user.
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi
LOG=$ROOT/.data/pg-log/postgres.log

running() { "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }
psql_() { psql -v ON_ERROR_STOP=1 -qtA -h 127.0.0.1 -p "$PGPORT" -U gatehouse "$@"; }

# A postmaster still listening on this checkout's port although it is not this cluster's (a
# checkout deleted and cloned again at the same path while its Postgres was running): stop it.
# Postgres would notice by itself, but only within a minute, and its shutdown checkpoint would land in
# the new cluster at the same path. Runs before initdb. Anything else on the port is an error.
clear_stale_postmaster() {
  local pid mine cmd
  pid=$(ss -Hltnp "sport = :$PGPORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)
  [ -n "$pid" ] || return 0
  mine=$(head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
  [ "$pid" = "$mine" ] && return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  case "$cmd" in
    *postgres*"-D $PGDATA_DIR "*)
      echo "Stopping a leftover Postgres (pid $pid) of an earlier checkout at this path"
      # immediate shutdown: no checkpoint, so nothing is written into the path it shares with us
      kill -QUIT "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true ;;
    *)
      echo "Port $PGPORT is in use by another program ($cmd). Set GATEHOUSE_PGPORT to a free port." >&2
      exit 1 ;;
  esac
}

start() {
  running || clear_stale_postmaster
  mkdir -p "$ROOT/.data"
  if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
    echo "Creating the local Postgres cluster in .data/pg (port $PGPORT, loopback only)"
    mkdir -p "$PGDATA_DIR" "$ROOT/.data/pg-log"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDATA_DIR" "$ROOT/.data/pg-log"
    chmod 700 "$PGDATA_DIR"
    "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDATA_DIR" --username=gatehouse --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! running; then
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG" -w -t 60 \
      -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $PGDATA_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
    echo "Postgres is running on 127.0.0.1:$PGPORT"
  fi
  if [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'gatehouse'")" != 1 ]; then
    psql_ -d postgres -c "CREATE DATABASE gatehouse"
  fi
}

stop() {
  if [ -s "$PGDATA_DIR/PG_VERSION" ] && running; then
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
    echo "Postgres stopped"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running on 127.0.0.1:$PGPORT"; else echo "stopped"; exit 3; fi ;;
  url) pg_url "${2:-gatehouse}"; echo ;;
  create) psql_ -d postgres -c "CREATE DATABASE \"$2\"" ;;
  drop) psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" ;;
  drop-e2e)
    for db in $(psql_ -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'gatehouse_e2e_%'"); do
      psql_ -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)"
    done ;;
  *) echo "usage: $0 start|stop|status|url [db]|create <db>|drop <db>|drop-e2e" >&2; exit 2 ;;
esac
