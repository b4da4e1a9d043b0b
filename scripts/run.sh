#!/usr/bin/env bash
# make run: install what is missing, start Postgres, build, serve at http://localhost:3000.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/setup.sh run
step "Starting Postgres"
scripts/pg.sh start
step "Building Gatehouse (cargo leptos build)"
cargo leptos build "${LEPTOS_ARGS[@]}"
step "Serving"
export DATABASE_URL=${DATABASE_URL:-$(pg_url gatehouse)}
export GATEHOUSE_SITE_ROOT=$ROOT/target/site
exec "$CARGO_TARGET_DIR/debug/server"
