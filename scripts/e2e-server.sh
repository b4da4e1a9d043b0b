#!/usr/bin/env bash
# Started by Playwright (webServer): the built server on the end-to-end port, against the fresh
# database scripts/test.sh created for this run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
: "${E2E_DATABASE:?scripts/test.sh sets E2E_DATABASE}"
export DATABASE_URL=$(pg_url "$E2E_DATABASE")
export GATEHOUSE_SITE_ROOT=$ROOT/target/site
export GATEHOUSE_SITE_ADDR=127.0.0.1:$E2E_PORT
# passkeys need a domain (never an IP): the tests use http://localhost:<port>
export GATEHOUSE_PASSKEYS_ORIGIN=http://localhost:$E2E_PORT
export GATEHOUSE_DEMO_ENABLED=false
# Playwright connects from loopback and sends each test's own client address as X-Forwarded-For
# (end2end/tests/fixtures.ts): every test is its own client, so the per-address rate limits run at
# their production values without one test's attempts counting against another's.
export GATEHOUSE_SITE_TRUSTED_PROXIES='["127.0.0.1", "::1"]'
export GATEHOUSE_PREVIEWS_ENABLED=true
export RUST_LOG=${RUST_LOG:-warn,server=info}
# Google and GitHub sign-in go to the local provider, which Playwright starts first (scripts/idp.sh serve).
idp_env
# Email goes to the local mail catcher, which Playwright starts first too (scripts/mail.sh serve);
# the tests read what arrived from its JSON API (end2end/tests/fixtures.ts).
mail_env
exec "$CARGO_TARGET_DIR/debug/server"
