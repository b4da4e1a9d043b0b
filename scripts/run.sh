#!/usr/bin/env bash
# make run: install what is missing, start Postgres, build, serve at http://localhost:3000.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/setup.sh run
step "Starting Postgres"
scripts/pg.sh start
step "Starting the local sign-in provider"
scripts/idp.sh start
step "Starting the local mail catcher"
scripts/mail.sh start
step "Building Gatehouse (the first time about 7 minutes on 2 cores, then seconds)"
build_site
step "Serving"
dev_server_env
exec "$CARGO_TARGET_DIR/debug/server"
