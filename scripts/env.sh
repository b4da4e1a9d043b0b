# Sourced by every script: where things live and which toolchain builds the wasm.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ROOT

# One cargo target directory shared by every clone on this machine (CI reuses compiled dependencies).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse/target}
export PATH="$HOME/.cargo/bin:$PATH"
# npm's "new version available" notices are noise in a newcomer's first run.
export NPM_CONFIG_UPDATE_NOTIFIER=false
# sqlx's query macros check each query at build time against the query data committed in .sqlx/,
# not a live database: builds need no database, and the DATABASE_URL the tests export is not used
# to compile. `make sqlx` refreshes .sqlx/ (scripts/sqlx-prepare.sh).
export SQLX_OFFLINE=${SQLX_OFFLINE:-true}
# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set (leptos reads it at compile time to name the
# wasm file); setting it for every build keeps test builds and cargo-leptos builds sharing artifacts.
export LEPTOS_OUTPUT_NAME=gatehouse

# The wasm toolchain: a rustup wasm32 target if this machine has one; otherwise Debian's rustc-web
# (rustc 1.96 with std sources), building std for wasm with -Zbuild-std. The same compiler builds
# the server and the tests, so every build shares one set of compiled dependencies.
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  WASM_MODE=rustup
  LEPTOS_ARGS=()
else
  WASM_MODE=debian
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  LEPTOS_ARGS=(--lib-cargo-args=-Zbuild-std=std,panic_abort)
fi
export WASM_MODE

# The development site (make run, make test): the workspace's own build step (xtask/), which builds
# the browser bundle and the server and lays out target/site as cargo-leptos would, from the same
# [[workspace.metadata.leptos]] in Cargo.toml, without cargo-leptos (about 31 minutes to compile on
# 2 cores; `make watch` and `make release` install it when first used).
#
# Every development build (the site, the tests, the query check) gets the same RUSTFLAGS, so
# `make test` reuses every dependency `make run` compiled: `--cfg erase_components`, as cargo-leptos'
# development builds have (Leptos erases view types: a debug wasm a third the size, which Chromium
# compiles faster on every page load of the end-to-end tests, and less to compile). The server and
# the bundle must agree on it or the page does not hydrate. Optimised builds (scripts/release.sh)
# have it too (cargo-leptos' always-erase-components, Cargo.toml).
GATEHOUSE_RUSTFLAGS_OUTSIDE=${GATEHOUSE_RUSTFLAGS_OUTSIDE-${RUSTFLAGS-}}
export GATEHOUSE_RUSTFLAGS_OUTSIDE
export RUSTFLAGS="--cfg erase_components${GATEHOUSE_RUSTFLAGS_OUTSIDE:+ $GATEHOUSE_RUSTFLAGS_OUTSIDE}"

# Host binaries (the server, every test binary, the build step) link with LLD, Debian's lld-22
# (setup.sh installs it with rustc-web), through the system C compiler, as rustup's own toolchains
# do since Rust 1.90; GNU ld is the fallback where LLD is missing. Measured with cargo --timings, the
# test build in a new clone: 123 s against 158 s with GNU ld (the server binary 4.7 s against
# 11.8 s). Cargo rebuilds every crate when the linker's path changes, so the path is the same for
# every checkout (the shared target folder stays warm across clones); its content is rewritten
# whenever it differs from this one.
GATEHOUSE_LINKER=$HOME/.cache/gatehouse/tools/cc-lld
linker_script='#!/bin/sh
# The host linker of Gatehouse builds (scripts/env.sh): LLD when installed, else the default.
LLD=/usr/lib/llvm-22/bin
[ -x "$LLD/ld.lld" ] && exec cc -fuse-ld=lld -B"$LLD" "$@"
exec cc "$@"'
if [ "$(cat "$GATEHOUSE_LINKER" 2>/dev/null)" != "$linker_script" ]; then
  mkdir -p "${GATEHOUSE_LINKER%/*}"
  printf '%s\n' "$linker_script" >"$GATEHOUSE_LINKER.$$" && chmod +x "$GATEHOUSE_LINKER.$$" && mv -f "$GATEHOUSE_LINKER.$$" "$GATEHOUSE_LINKER"
fi
unset linker_script
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=$GATEHOUSE_LINKER

build_site() {
  local site_args=()
  [ "$WASM_MODE" = debian ] && site_args=(--lib-cargo-arg=-Zbuild-std=std,panic_abort)
  echo "    building the build step (xtask/); its output goes to target/logs/build-xtask.log"
  logged build-xtask cargo build -p xtask || return 1
  # (through cargo, which tells it this checkout's folder: checkouts share one target folder, so the
  # binary may have been built by another checkout, whose path it has compiled in)
  cargo run --quiet -p xtask -- site "${site_args[@]}"
}

# logged NAME CMD…: runs CMD with its stderr (cargo's Compiling lines) in target/logs/NAME.log; if it
# fails, shows the log from its first error (or its last lines) and where the whole log is.
logged() {
  local log=$ROOT/target/logs/$1.log; shift
  mkdir -p "$ROOT/target/logs"
  if ! "$@" 2>"$log"; then
    grep -A30 -m1 '^error' "$log" || tail -n 30 "$log"
    echo "(the whole output is in $log)" >&2
    return 1
  fi
}

# The development server's environment (make run, make watch): the local Postgres, the demo accounts
# and the component previews (Leptos.toml has both off, for production; the server refuses demo
# accounts on a non-loopback address), sign-in through the local provider and mail to the local
# catcher, never the real ones.
dev_server_env() {
  export DATABASE_URL=${DATABASE_URL:-$(pg_url gatehouse)}
  export GATEHOUSE_SITE_ROOT=$ROOT/target/site
  export GATEHOUSE_DEMO_ENABLED=${GATEHOUSE_DEMO_ENABLED:-true}
  export GATEHOUSE_PREVIEWS_ENABLED=${GATEHOUSE_PREVIEWS_ENABLED:-true}
  idp_env
  mail_env
  echo "  Local sign-in provider (stands in for Google and GitHub): http://127.0.0.1:$IDP_PORT"
  echo "  Local mail catcher (every email the app sends): http://127.0.0.1:$MAIL_WEB_PORT"
}

# The project-local Postgres cluster (ignored folder .data/), on loopback only. The port is derived
# from the checkout's path so two clones on one machine never share a cluster.
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PGDATA_DIR=$ROOT/.data/pg
PGPORT=${GATEHOUSE_PGPORT:-$((40000 + $(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 10000))}
E2E_PORT=${GATEHOUSE_E2E_PORT:-$((PGPORT + 10000))}
export PGBIN PGDATA_DIR PGPORT E2E_PORT
# The local sign-in provider (tools/idp, scripts/idp.sh), standing in for Google and GitHub on
# loopback: make run and the end-to-end tests sign in through it, never through the real ones. Its
# port is 10000 below Postgres's, so it too is the checkout's own.
export IDP_PORT=${GATEHOUSE_IDP_PORT:-$((PGPORT - 10000))}
# The local mail catcher (tools/mail, scripts/mail.sh): the SMTP server every email of make run and
# the end-to-end tests goes to (never a real relay), and its pages and JSON API listing what it
# caught. Its ports are 20000 and 30000 below Postgres's, so they too are the checkout's own.
export MAIL_SMTP_PORT=${GATEHOUSE_MAIL_SMTP_PORT:-$((PGPORT - 20000))}
export MAIL_WEB_PORT=${GATEHOUSE_MAIL_WEB_PORT:-$((PGPORT - 30000))}

# The server's settings for signing in with Google and GitHub through that provider (run.sh and
# e2e-server.sh call it). In production, GATEHOUSE_GOOGLE_* and GATEHOUSE_GITHUB_* name the real ones.
idp_env() {
  local idp=http://127.0.0.1:$IDP_PORT
  export GATEHOUSE_GOOGLE_CLIENT_ID=gatehouse-local
  export GATEHOUSE_GOOGLE_CLIENT_SECRET=local-google-secret
  export GATEHOUSE_GOOGLE_ISSUER=$idp/google
  export GATEHOUSE_GOOGLE_LOCAL=true
  export GATEHOUSE_GITHUB_CLIENT_ID=gatehouse-local
  export GATEHOUSE_GITHUB_CLIENT_SECRET=local-github-secret
  export GATEHOUSE_GITHUB_AUTHORIZE_URL=$idp/github/login/oauth/authorize
  export GATEHOUSE_GITHUB_TOKEN_URL=$idp/github/login/oauth/access_token
  export GATEHOUSE_GITHUB_API_URL=$idp/github/api
  export GATEHOUSE_GITHUB_LOCAL=true
}

# The server's settings for sending email through that catcher: plain SMTP on loopback, no
# credentials (run.sh and e2e-server.sh call it). In production, [email] in Leptos.toml or
# GATEHOUSE_EMAIL_* name a real relay.
mail_env() {
  export GATEHOUSE_EMAIL_SMTP_HOST=127.0.0.1
  export GATEHOUSE_EMAIL_SMTP_PORT=$MAIL_SMTP_PORT
  export GATEHOUSE_EMAIL_TLS=none
}

# Keys for secrets at rest (TOTP secrets' encryption keys, the backup codes' HMAC key): generated
# once per checkout into .data/secrets.env (ignored, mode 600) and exported for the server. In
# production set GATEHOUSE_SECRETS_TOTP_KEYS and GATEHOUSE_SECRETS_BACKUP_CODE_KEY from your secret
# store instead (see README).
SECRETS_ENV=$ROOT/.data/secrets.env
if ! [ -s "$SECRETS_ENV" ]; then
  mkdir -p "$ROOT/.data"
  (umask 077 && {
    echo "GATEHOUSE_SECRETS_TOTP_KEYS=k$(date +%Y%m%d):$(head -c 32 /dev/urandom | base64 -w0)"
    echo "GATEHOUSE_SECRETS_BACKUP_CODE_KEY=$(head -c 32 /dev/urandom | base64 -w0)"
  } >"$SECRETS_ENV")
fi
# Keys added since a checkout first generated the file.
if ! grep -q '^GATEHOUSE_SECRETS_DEVICE_COOKIE_KEY=' "$SECRETS_ENV"; then
  (umask 077 && echo "GATEHOUSE_SECRETS_DEVICE_COOKIE_KEY=$(head -c 32 /dev/urandom | base64 -w0)" >>"$SECRETS_ENV")
fi
set -a
# shellcheck disable=SC1090
. "$SECRETS_ENV"
set +a

pg_url() { printf 'postgres://gatehouse@127.0.0.1:%s/%s' "$PGPORT" "${1:-gatehouse}"; }

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
