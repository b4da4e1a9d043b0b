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

tests=(-p policy -p domain -p server -p app -p testkit --features app/ssr,app/previews,testkit/idp)
step "Building the tests, and checking that the committed query data (.sqlx/) matches the queries"
# Builds compile the queries against .sqlx/ (SQLX_OFFLINE, env.sh). Here the test build describes
# them again against a scratch database with the migrations, and .sqlx/ is compared with that (make
# sqlx rewrites it). Its output goes to a log file; make run compiled every dependency already.
echo "    building the tests (about 2 minutes the first time on 2 cores); its output goes to target/logs/build-tests.log"
build_start=$(date +%s)
logged build-tests scripts/sqlx-prepare.sh --check cargo test "${tests[@]}" --no-run
echo "    built the tests in $(( $(date +%s) - build_start ))s"

step "Unit, database (#[sqlx::test]) and HTTP (router oneshot) tests"
# sqlx::test creates a fresh database per test through this URL.
export DATABASE_URL=$(pg_url postgres)
runner=(test)
cargo nextest --version >/dev/null 2>&1 && runner=(nextest run)
cargo "${runner[@]}" "${tests[@]}" --no-fail-fast

step "The site build step's own tests (xtask/: the site layout agrees with cargo-leptos and the server)"
# Apart: in the same cargo run its wasm-bindgen dependencies would change shared crates' features
# and rebuild the tree above.
cargo "${runner[@]}" -p xtask --no-fail-fast

step "Building the site for the end-to-end tests (seconds after make run)"
build_site

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
