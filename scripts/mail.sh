#!/usr/bin/env bash
# The local mail catcher (tools/mail): SMTP on 127.0.0.1:$MAIL_SMTP_PORT, keeping every message it
# receives; they are shown at http://127.0.0.1:$MAIL_WEB_PORT.
#   serve   in the foreground (Playwright's webServer)
#   start   in the background for make run (log .data/mail.log, pid .data/mail.pid); nothing if running
#   stop    stops the one start started
set -euo pipefail
source "$(dirname "$0")/env.sh"

PIDFILE=$ROOT/.data/mail.pid
LOG=$ROOT/.data/mail.log
URL=http://127.0.0.1:$MAIL_WEB_PORT

# (node, not curl: node is there whenever the catcher can run)
healthy() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
    "$URL/healthz"
}
# The pid in the pid file, if that process is still this catcher (not a reused pid).
our_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'tools/mail/server.mjs' && echo "$pid"
}

start() {
  if healthy; then
    echo "The local mail catcher is already running on $URL"
    return
  fi
  if ! [ -d "$ROOT/tools/mail/node_modules/smtp-server" ]; then
    echo "tools/mail has no node_modules: run scripts/setup.sh first" >&2; exit 1
  fi
  mkdir -p "$ROOT/.data"
  # its own session, like Postgres: it outlives make run's Ctrl-C; make stop stops it
  setsid nohup node "$ROOT/tools/mail/server.mjs" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + 10))
  while [ "$SECONDS" -le "$deadline" ]; do
    if healthy; then echo "The local mail catcher is running on $URL"; return; fi
    our_pid >/dev/null || break  # it exited
    sleep 0.2
  done
  echo "The local mail catcher did not start on $URL; the end of $LOG:" >&2
  tail -n 20 "$LOG" >&2
  rm -f "$PIDFILE"
  exit 1
}

stop() {
  local pid
  if pid=$(our_pid); then
    kill "$pid"
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    echo "The local mail catcher stopped"
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  serve) cd "$ROOT" && exec node tools/mail/server.mjs ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 serve|start|stop" >&2; exit 2 ;;
esac
