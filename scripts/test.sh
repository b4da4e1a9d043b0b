#!/usr/bin/env bash
# make test: install what is missing, start Postgres, run every test layer. Exits non-zero on any
# failure; each runner ends with its own summary line.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)
scripts/setup.sh test
step "Starting Postgres"
scripts/pg.sh start

step "Checking that the browser bundle cannot reach server-only crates"
target_flags=(--target wasm32-unknown-unknown)
# Fails closed: if cargo tree itself fails, its error is shown and the step fails (an empty tree
# would otherwise read as "no leaks").
if ! tree=$(cargo tree -p frontend "${target_flags[@]}" -e normal --prefix none); then
  echo "cargo tree failed: cannot check the wasm dependency tree" >&2; exit 1
fi
if ! grep -q '^app ' <<<"$tree"; then
  echo "the frontend's wasm tree does not list app, so it cannot be checked:" >&2; echo "$tree" >&2; exit 1
fi
leaks=$(grep -E '^(sqlx|argon2|tokio|domain|leptos_axum) ' <<<"$tree" || true)
if [ -n "$leaks" ]; then echo "server-only crates in the wasm dependency tree:"; echo "$leaks"; exit 1; fi
echo "ok: no sqlx, argon2, tokio, domain or leptos_axum in the frontend's tree"

step "Checking that the committed query data (.sqlx/) matches the queries"
# The builds below compile the queries against .sqlx/ (SQLX_OFFLINE, env.sh); this describes them
# again against a scratch database with the migrations and compares (make sqlx rewrites it).
scripts/sqlx-prepare.sh --check

step "Unit, database (#[sqlx::test]) and HTTP (router oneshot) tests"
# sqlx::test creates a fresh database per test through this URL.
export DATABASE_URL=$(pg_url postgres)
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p policy -p domain -p server -p app -p testkit --features app/ssr,testkit/idp --no-fail-fast
else
  cargo test -p policy -p domain -p server -p app -p testkit --features app/ssr,testkit/idp --no-fail-fast
fi

step "Building the site for the end-to-end tests (cargo leptos build)"
cargo leptos build "${LEPTOS_ARGS[@]}"

step "End-to-end tests (Playwright + Chromium) against a fresh database"
scripts/pg.sh drop-e2e
export E2E_DATABASE=gatehouse_e2e_$(date +%s)
scripts/pg.sh create "$E2E_DATABASE"
export BASE_URL=http://localhost:$E2E_PORT
status=0
(cd end2end && npx playwright test) || status=$?
scripts/pg.sh start >/dev/null  # in case a recovery test left it stopped
echo
echo "make test finished in $(( $(date +%s) - start ))s"
exit $status
