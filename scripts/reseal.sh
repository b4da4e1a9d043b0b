#!/usr/bin/env bash
# make reseal: key rotation's re-seal step for the local database. Re-encrypts every stored TOTP
# secret under the first key of GATEHOUSE_SECRETS_TOTP_KEYS (here from .data/secrets.env), prints
# the counts and exits. In production run the deployed binary with the production environment:
# `server reseal-totp-secrets`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/pg.sh start >/dev/null
step "Building the server"
cargo build --quiet -p server --bin server
export DATABASE_URL=${DATABASE_URL:-$(pg_url gatehouse)}
exec "$CARGO_TARGET_DIR/debug/server" reseal-totp-secrets
