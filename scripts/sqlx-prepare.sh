#!/usr/bin/env bash
# make sqlx: refresh the query data in .sqlx/ that lets sqlx's query!/query_as!/query_scalar! macros
# check every query at build time without a database (builds run with SQLX_OFFLINE=true, env.sh).
#   scripts/sqlx-prepare.sh          rewrite .sqlx/ from the queries in domain/src/db (then commit it)
#   scripts/sqlx-prepare.sh --check  only compare: fail if .sqlx/ is not what the queries give
#   scripts/sqlx-prepare.sh --check CMD…  the same, describing the queries while CMD builds (make test:
#                                         its test build, which compiles the domain crate anyway)
#
# How (what `cargo sqlx prepare` does, without needing sqlx-cli): a scratch database gets the
# migrations, then the domain crate is checked online with SQLX_OFFLINE_DIR set; sqlx-macros 0.8
# describes each query against the database and writes it there as query-<hash of its SQL>.json. The
# offline build reads <crate>/.sqlx, then the workspace's .sqlx/ (this one).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mode=${1:-write}
case "$mode" in write | --check) ;; *) echo "usage: $0 [--check [BUILD COMMAND…]]" >&2; exit 2 ;; esac
[ $# -gt 0 ] && shift

scripts/pg.sh start >/dev/null
db=gatehouse_sqlx_$$
work=$(mktemp -d)
out=$work/queries
mkdir "$out"
cleanup() {
  scripts/pg.sh drop "$db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The schema, as the server's migrator (domain::MIGRATOR) leaves it: each migration in version
# order, in one transaction unless it starts with `-- no-transaction` (sqlx's rule), and sqlx's
# bookkeeping table (domain::db::migrations reads it). Only the schema matters to the macros.
scripts/pg.sh create "$db" >/dev/null
psql_db() { psql -v ON_ERROR_STOP=1 -qtA -h 127.0.0.1 -p "$PGPORT" -U gatehouse -d "$db" "$@" >/dev/null; }
for migration in domain/migrations/*.sql; do
  case "$migration" in *.down.sql) continue ;; esac
  if [ "$(head -c 17 "$migration")" = "-- no-transaction" ]; then
    psql_db -f "$migration"
  else
    psql_db --single-transaction -f "$migration"
  fi
done
# sqlx-postgres 0.8's definition (Migrate::ensure_migrations_table).
psql_db -c "CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)"

# Every query is in the domain crate, and the macros describe each one whenever cargo compiles it.
# A build command given (make test's test build) runs first, with the macros online: if it compiles
# the domain crate (the first test build after a change to it, or in a new clone), the descriptions
# come from there at no extra cost. Otherwise the domain crate alone is compiled once more for the
# check, with a fresh --cfg each time (sqlx-cli's own trigger) in cargo's `check` profile: that
# never touches the test or server builds.
online=(env SQLX_OFFLINE=false DATABASE_URL="$(pg_url "$db")" SQLX_OFFLINE_DIR="$out")
if [ $# -gt 0 ]; then
  "${online[@]}" "$@"
fi
if ! compgen -G "$out/query-*.json" >/dev/null; then
  "${online[@]}" cargo rustc --quiet -p domain --lib --profile check -- --cfg "__sqlx_recompile_trigger=\"$(date +%s%N)\""
fi
if ! compgen -G "$out/query-*.json" >/dev/null; then
  echo "no query data was written to $out: did the domain crate get recompiled?" >&2
  exit 1
fi

if [ "$mode" = --check ]; then
  if ! diff -r .sqlx "$out" >"$work/diff" 2>&1; then
    sed -e "s|$out|(the queries in the code)|g" "$work/diff" | head -n 40
    echo
    echo "The query data in .sqlx/ is stale (it does not match the queries in the code): run \`make sqlx\` and commit .sqlx/." >&2
    exit 1
  fi
  echo "ok: .sqlx/ matches the $(ls "$out" | wc -l) queries in the code"
else
  rm -rf .sqlx
  mkdir .sqlx
  cp "$out"/query-*.json .sqlx/
  echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/: commit them with the queries"
fi
