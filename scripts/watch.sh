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
dev_server_env
# (with the component previews, as make run has them: xtask adds the same feature)
exec cargo leptos watch --features app/previews "${LEPTOS_ARGS[@]}"
