#!/usr/bin/env bash
# make bench: requests/s of a signed-in API call against an anonymous one (and of a signed-in page
# against an anonymous one), on this machine, with wrk. The server and wrk share the machine's
# cores, so read the ratios more than the absolute numbers.
#
# Uses the release server binary when `make release` built one, else the debug one.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
command -v wrk >/dev/null || { step "installing wrk"; apt-get install -y wrk >/dev/null; }
scripts/pg.sh start >/dev/null
bin=$CARGO_TARGET_DIR/server-release/server
[[ -x $bin ]] || bin=$CARGO_TARGET_DIR/debug/server
[[ -x $bin ]] || { echo "no server binary: run make release (or make test) first" >&2; exit 1; }
db=gatehouse_bench_$(date +%s)
scripts/pg.sh create "$db" >/dev/null
port=$((E2E_PORT + 1))
# The public origin is http://localhost:<port> (what a browser would use; the Origin check compares
# with it exactly); wrk and curl connect to 127.0.0.1 directly.
origin=http://localhost:$port
DATABASE_URL=$(pg_url "$db") GATEHOUSE_SITE_ADDR=127.0.0.1:$port GATEHOUSE_SITE_ROOT=$ROOT/target/site \
  GATEHOUSE_PASSKEYS_ORIGIN=$origin GATEHOUSE_DEMO_ENABLED=false GATEHOUSE_PREVIEWS_ENABLED=false \
  RUST_LOG=warn "$bin" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; scripts/pg.sh drop "$db" >/dev/null 2>&1 || true' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.2; done

cookie=$(curl -fs -o /dev/null -D - -H "Origin: $origin" --data-urlencode email=bench@example.test \
  --data-urlencode "password=correct horse battery staple" --data-urlencode display_name= "$base/api/auth/sign-up" |
  grep -i '^set-cookie: __Host-gatehouse-session=' | sed -E 's/^[^:]+: ([^;]+).*/\1/')
[[ -n $cookie ]] || { echo "sign-up failed" >&2; exit 1; }
echo "server: $bin"

rps() { # path, extra wrk args…
  local path=$1; shift
  wrk -t2 -c16 -d${BENCH_SECONDS:-10}s "$@" "$base$path" | awk '/Requests\/sec/ {print $2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

json=(-H "Accept: application/json")
anon_api=$(rps /api/session "${json[@]}")
auth_api=$(rps /api/session "${json[@]}" -H "Cookie: $cookie")
anon_page=$(rps /sign-in -H "Accept: text/html")
auth_page=$(rps /settings/security -H "Accept: text/html" -H "Cookie: $cookie")
printf '\n%-44s %10s req/s\n' "GET /api/session, anonymous" "$anon_api" "GET /api/session, signed in" "$auth_api" \
  "GET /sign-in page, anonymous" "$anon_page" "GET /settings/security page, signed in" "$auth_page"
printf '\nsigned-in / anonymous API call: %s (goal ≥ 0.5)\n' "$(ratio "$auth_api" "$anon_api")"
printf 'signed-in / anonymous page:     %s\n' "$(ratio "$auth_page" "$anon_page")"

# Sign-ins per second, password against passkey, in one run (in-process through the router, so
# the two differ only in their work: argon2id against a P-256 WebAuthn assertion).
step "Sign-ins per second: password and passkey (optimised build of examples/sign_in_bench.rs)"
sdb=gatehouse_bench_signin_$(date +%s)
scripts/pg.sh create "$sdb" >/dev/null
DATABASE_URL=$(pg_url "$sdb") GATEHOUSE_DEMO_ENABLED=false RUST_LOG=error \
  cargo run --quiet --profile server-release -p server --example sign_in_bench || status=$?
scripts/pg.sh drop "$sdb" >/dev/null 2>&1 || true
exit ${status:-0}
