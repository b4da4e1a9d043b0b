#!/usr/bin/env bash
# A local Node tool of tools/<name>/server.mjs (the sign-in provider, the mail catcher), run the same
# way for each; scripts/idp.sh and scripts/mail.sh name theirs:
#   local-tool.sh <name> "<what it is>" <health URL base> <module that proves npm ci ran> serve|start|stop
#   serve   in the foreground (Playwright's webServer)
#   start   in the background for make run (log .data/<name>.log, pid .data/<name>.pid); nothing if running
#   stop    stops the one start started
set -euo pipefail
source "$(dirname "$0")/env.sh"

NAME=$1 WHAT=$2 URL=$3 MODULE=$4
PIDFILE=$ROOT/.data/$NAME.pid
LOG=$ROOT/.data/$NAME.log
SERVER=tools/$NAME/server.mjs

# (node, not curl: node is there whenever the tool can run)
healthy() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$URL/healthz"
}
# The pid in the pid file, if that process is still this tool (not a reused pid).
our_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "$SERVER" && echo "$pid"
}

start() {
  if healthy; then
    echo "The $WHAT is already running on $URL"
    return
  fi
  if ! [ -d "$ROOT/tools/$NAME/node_modules/$MODULE" ]; then
    echo "tools/$NAME has no node_modules: run scripts/setup.sh first" >&2; exit 1
  fi
  mkdir -p "$ROOT/.data"
  # its own session, like Postgres: it outlives make run's Ctrl-C; make stop stops it
  setsid nohup node "$ROOT/$SERVER" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + 10))
  while [ "$SECONDS" -le "$deadline" ]; do
    if healthy; then echo "The $WHAT is running on $URL"; return; fi
    our_pid >/dev/null || break  # it exited
    sleep 0.2
  done
  echo "The $WHAT did not start on $URL; the end of $LOG:" >&2
  tail -n 20 "$LOG" >&2
  rm -f "$PIDFILE"
  exit 1
}

stop() {
  local pid
  if pid=$(our_pid); then
    kill "$pid"
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    echo "The $WHAT stopped"
  fi
  rm -f "$PIDFILE"
}

case "${5:-}" in
  serve) cd "$ROOT" && exec node "$SERVER" ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 <name> <what> <url> <module> serve|start|stop" >&2; exit 2 ;;
esac
