#!/usr/bin/env bash
# make bench: every performance goal of issue 17 as a ratio of a subject and its baseline, measured
# side by side in one run on this machine's cores, with a report (target/bench/report.md), a chart
# (target/bench/chart.svg) and the README's bench block regenerated. Fails (after writing the
# report) when the wasm bundle is over its 150 KB brotli budget.
#
# This script installs what the measures need (wrk from Debian, oha from crates.io and Lighthouse
# from npm, into ~/.cache/gatehouse/tools; Chromium and Playwright as make test does), builds the
# optimised site and release server (scripts/release.sh) and the bench examples, starts Postgres,
# a fresh database, the mail catcher and the release server, creates the bench accounts, then runs
# the measures (scripts/bench/run.mjs) and stops what it started.
#
# Knobs (environment):
#   BENCH_SECONDS=10            each peak-rate measure (wrk, argon2_bench, sign_in_bench), per side
#   BENCH_STEP_SECONDS=…        each point of the chart's curves (default BENCH_SECONDS)
#   BENCH_OVERLOAD_SECONDS=60   the overload run (2× sign-in capacity)
#   BENCH_LOAD_STEPS="0.25 0.5 0.75 1 1.5 2"   the chart's offered loads, × measured capacity
#   BENCH_ACCOUNTS=64           accounts the sign-in load rotates over
#   BENCH_ONLY=1,3              only these measures (1–8; 5 needs 1 and 4); the README is left alone
#   BENCH_BUILD=0               use the built site, server and examples as they are (no make release)
#   BENCH_ACCEPT_ENCODING=…     what the load generators accept (default as browsers: gzip, deflate, br)
#   BENCH_README=0              do not rewrite the README's bench block
#   BENCH_SITE_ROOT=…           the built site to serve and measure (default target/site)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

TOOLS=$HOME/.cache/gatehouse/tools
OHA_VERSION=1.16.0
LIGHTHOUSE_VERSION=12.8.2
OUT=$ROOT/target/bench
mkdir -p "$OUT"

# --- tools (each only when missing) -------------------------------------------------------------
scripts/setup.sh test
if ! command -v wrk >/dev/null; then
  step "Installing wrk (Debian)"
  SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo)
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
OHA=$TOOLS/cargo/bin/oha
if [ "$("$OHA" --version 2>/dev/null | awk '{print $2}')" != "$OHA_VERSION" ]; then
  step "Installing oha $OHA_VERSION (crates.io; once, a few minutes on 2 cores)"
  # built in a scratch target directory (its default features: oha does not build without a TLS
  # stack, although the bench only speaks plain HTTP to loopback)
  build=$(mktemp -d)
  CARGO_TARGET_DIR=$build cargo install --quiet --locked --force --root "$TOOLS/cargo" "oha@$OHA_VERSION"
  rm -rf "$build"
fi
LIGHTHOUSE=$TOOLS/node_modules/.bin/lighthouse
if ! grep -qs "\"version\": \"$LIGHTHOUSE_VERSION\"" "$TOOLS/node_modules/lighthouse/package.json"; then
  step "Installing Lighthouse $LIGHTHOUSE_VERSION (npm)"
  mkdir -p "$TOOLS" && npm install --prefix "$TOOLS" --no-audit --no-fund --save-exact "lighthouse@$LIGHTHOUSE_VERSION" >/dev/null
fi

# --- build --------------------------------------------------------------------------------------
site_built=0
if [ "${BENCH_BUILD:-1}" != 0 ]; then
  step "Building the optimised site and the release server (make release)"
  scripts/release.sh
  site_built=1
  [ -n "${BENCH_SITE_ROOT:-}" ] && site_built=0  # another site than the one just built
fi
bin=$CARGO_TARGET_DIR/server-release/server
[ -x "$bin" ] || { echo "no release server at $bin: run make release (or make bench without BENCH_BUILD=0)" >&2; exit 1; }
EXAMPLES=$CARGO_TARGET_DIR/server-release/examples
if [ "${BENCH_BUILD:-1}" != 0 ] || ! [ -x "$EXAMPLES/argon2_bench" ] || ! [ -x "$EXAMPLES/sign_in_bench" ] || ! [ -x "$EXAMPLES/bench_accounts" ]; then
  step "Building the bench examples (argon2_bench, sign_in_bench, bench_accounts)"
  # (the flags cargo-leptos gave the release server, or cargo would rebuild its dependencies)
  RUSTFLAGS="${GATEHOUSE_RUSTFLAGS_OUTSIDE:+$GATEHOUSE_RUSTFLAGS_OUTSIDE }--cfg erase_components" cargo build --quiet --profile server-release -p server --example argon2_bench --example sign_in_bench --example bench_accounts
fi

# --- services -----------------------------------------------------------------------------------
scripts/pg.sh start >/dev/null
stamp=$(date +%s)
db=gatehouse_bench_$stamp inproc_db=gatehouse_bench_inproc_$stamp
scripts/pg.sh create "$db" >/dev/null
scripts/pg.sh create "$inproc_db" >/dev/null
server='' mail=''
cleanup() {
  [ -n "$server" ] && { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
  [ -n "$mail" ] && { kill "$mail" 2>/dev/null; wait "$mail" 2>/dev/null || true; }
  scripts/pg.sh drop "$db" >/dev/null 2>&1 || true
  scripts/pg.sh drop "$inproc_db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The local mail catcher, as for make run and the tests (the server sends to it): one already
# running (make run's) is used as it is.
mail_env
if ! curl -fs -o /dev/null "http://127.0.0.1:$MAIL_WEB_PORT/healthz"; then
  scripts/mail.sh serve >"$OUT/mail.log" 2>&1 &
  mail=$!
  for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$MAIL_WEB_PORT/healthz" && break; sleep 0.2; done
fi

port=$((E2E_PORT + 1))
# The public origin is http://localhost:<port> (what a browser uses; the Origin check compares with
# it exactly); the load generators connect to 127.0.0.1 directly.
origin=http://localhost:$port
site=${BENCH_SITE_ROOT:-$ROOT/target/site}
export DATABASE_URL GATEHOUSE_SITE_ADDR=127.0.0.1:$port GATEHOUSE_SITE_ROOT=$site \
  GATEHOUSE_PASSKEYS_ORIGIN=$origin GATEHOUSE_DEMO_ENABLED=false GATEHOUSE_PREVIEWS_ENABLED=false
DATABASE_URL=$(pg_url "$db")
# The sign-in measures come from one address at hundreds of attempts a second: the per-network
# limits are raised out of the way. The per-account throttle stays on (its counter is written on
# every attempt, as in production); its free attempts go to the most it allows, so that concurrent
# correct sign-ins of one account never wait.
bench_env=(
  GATEHOUSE_LIMITS_PASSWORD_PER_MINUTE=1000000000 GATEHOUSE_LIMITS_PASSWORD_BURST=1000000000
  GATEHOUSE_LIMITS_PASSKEY_PER_MINUTE=1000000000 GATEHOUSE_LIMITS_PASSKEY_BURST=1000000000
  GATEHOUSE_THROTTLE_FREE_ATTEMPTS=99 GATEHOUSE_THROTTLE_LOCKOUT_AFTER=100
)
export "${bench_env[@]}"

step "Creating the bench accounts"
accounts=${BENCH_ACCOUNTS:-64}
RUST_LOG=error "$EXAMPLES/bench_accounts" "$accounts" "$OUT/sign-in-bodies.txt"

step "Starting the release server on $origin"
RUST_LOG=${RUST_LOG:-warn} "$bin" >"$OUT/server.log" 2>&1 &
server=$!
for _ in $(seq 150); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" || { echo "the server did not start; the end of $OUT/server.log:" >&2; tail -n 20 "$OUT/server.log" >&2; exit 1; }

status=0
ROOT=$ROOT BENCH_OUT=$OUT BENCH_BASE=http://127.0.0.1:$port BENCH_ORIGIN=$origin \
  BENCH_SERVER_PID=$server BENCH_SERVER_BIN=$bin BENCH_SERVER_LOG=$OUT/server.log BENCH_SERVER_ENV="${bench_env[*]}" \
  BENCH_POSTMASTER_PID=$(head -n1 "$PGDATA_DIR/postmaster.pid") BENCH_DATABASE=$db \
  BENCH_INPROC_DATABASE_URL=$(pg_url "$inproc_db") BENCH_BODIES=$OUT/sign-in-bodies.txt BENCH_ACCOUNTS=$accounts \
  BENCH_PAGE_EMAIL=page@bench.test BENCH_PASSWORD="correct horse battery staple" \
  BENCH_EXAMPLES=$EXAMPLES BENCH_WRK=$(command -v wrk) BENCH_OHA=$OHA BENCH_OHA_VERSION=$OHA_VERSION \
  BENCH_LIGHTHOUSE=$LIGHTHOUSE BENCH_LIGHTHOUSE_VERSION=$LIGHTHOUSE_VERSION BENCH_SITE_BUILT=$site_built BENCH_SITE_ROOT=$site \
  node scripts/bench/run.mjs || status=$?
exit $status
