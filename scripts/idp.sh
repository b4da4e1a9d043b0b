#!/usr/bin/env bash
# The local sign-in provider (tools/idp): stands in for Google and GitHub on 127.0.0.1:$IDP_PORT.
#   serve   in the foreground (Playwright's webServer)
#   start   in the background for make run (log .data/idp.log, pid .data/idp.pid); nothing if running
#   stop    stops the one start started
set -euo pipefail
source "$(dirname "$0")/env.sh"

PIDFILE=$ROOT/.data/idp.pid
LOG=$ROOT/.data/idp.log
URL=http://127.0.0.1:$IDP_PORT

# (node, not curl: node is there whenever the provider can run)
healthy() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$URL/healthz"
}
# The pid in the pid file, if that process is still this provider (not a reused pid).
our_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'tools/idp/server.mjs' && echo "$pid"
}

start() {
  if healthy; then
    echo "The local sign-in provider is already running on $URL"
    return
  fi
  if ! [ -d "$ROOT/tools/idp/node_modules/oauth2-mock-server" ]; then
    echo "tools/idp has no node_modules: run scripts/setup.sh first" >&2; exit 1
  fi
  mkdir -p "$ROOT/.data"
  # its own session, like Postgres: it outlives make run's Ctrl-C; make stop stops it
  setsid nohup node "$ROOT/tools/idp/server.mjs" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + 10))
  while [ "$SECONDS" -le "$deadline" ]; do
    if healthy; then echo "The local sign-in provider is running on $URL"; return; fi
    our_pid >/dev/null || break  # it exited
    sleep 0.2
  done
  echo "The local sign-in provider did not start on $URL; the end of $LOG:" >&2
  tail -n 20 "$LOG" >&2
  rm -f "$PIDFILE"
  exit 1
}

stop() {
  local pid
  if pid=$(our_pid); then
    kill "$pid"
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    echo "The local sign-in provider stopped"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  serve) cd "$ROOT" && exec node tools/idp/server.mjs ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 serve|start|stop" >&2; exit 2 ;;
esac
