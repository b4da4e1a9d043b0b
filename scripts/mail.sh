#!/usr/bin/env bash
# The local mail catcher (tools/mail): SMTP on 127.0.0.1:$MAIL_SMTP_PORT, keeping every message it
# receives; they are shown at http://127.0.0.1:$MAIL_WEB_PORT.
#   serve | start | stop   (see scripts/local-tool.sh; log .data/mail.log, pid .data/mail.pid)
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "$ROOT/scripts/local-tool.sh" mail "local mail catcher" "http://127.0.0.1:$MAIL_WEB_PORT" smtp-server "${1:-}"
