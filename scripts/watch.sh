#!/usr/bin/env bash
# make watch: make run's setup, then `cargo leptos watch` (rebuilds the site and reloads the page on
# every change). cargo-leptos reads the same [[workspace.metadata.leptos]] as xtask/ (make run), so
# both lay out target/site alike; it is installed on first use.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/setup.sh watch
scripts/setup.sh run
scripts/pg.sh start
scripts/idp.sh start
scripts/mail.sh start
export DATABASE_URL=${DATABASE_URL:-$(pg_url gatehouse)}
export GATEHOUSE_DEMO_ENABLED=${GATEHOUSE_DEMO_ENABLED:-true}
export GATEHOUSE_PREVIEWS_ENABLED=${GATEHOUSE_PREVIEWS_ENABLED:-true}
idp_env
mail_env
echo "  Local mail catcher: http://127.0.0.1:$MAIL_WEB_PORT"
exec cargo leptos watch "${LEPTOS_ARGS[@]}"
