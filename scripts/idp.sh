#!/usr/bin/env bash
# The local sign-in provider (tools/idp): stands in for Google and GitHub on 127.0.0.1:$IDP_PORT.
#   serve | start | stop   (see scripts/local-tool.sh; log .data/idp.log, pid .data/idp.pid)
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec "$ROOT/scripts/local-tool.sh" idp "local sign-in provider" "http://127.0.0.1:$IDP_PORT" oauth2-mock-server "${1:-}"
