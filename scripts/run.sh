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
export DATABASE_URL=${DATABASE_URL:-$(pg_url gatehouse)}
export GATEHOUSE_SITE_ROOT=$ROOT/target/site
# Development: the demo accounts (printed below) and the component previews at /previews. Leptos.toml
# has both off, for production. (The server refuses demo accounts on a non-loopback address.)
export GATEHOUSE_DEMO_ENABLED=${GATEHOUSE_DEMO_ENABLED:-true}
export GATEHOUSE_PREVIEWS_ENABLED=${GATEHOUSE_PREVIEWS_ENABLED:-true}
# "Continue with Google/GitHub" go to the local provider (scripts/idp.sh), not the real ones.
idp_env
echo "  Local sign-in provider (stands in for Google and GitHub): http://127.0.0.1:$IDP_PORT"
# Every email the app sends goes to the local catcher (scripts/mail.sh), never to a real relay.
mail_env
echo "  Local mail catcher (every email the app sends): http://127.0.0.1:$MAIL_WEB_PORT"
exec "$CARGO_TARGET_DIR/debug/server"
