#!/usr/bin/env bash
# make release: the optimised build: the size-optimised wasm bundle (wasm-release profile, panics
# that abort without formatting, npm's wasm-opt), file names carrying their content's hash, brotli
# and gzip copies beside each built file, and the release server binary.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/setup.sh release
export PATH="$HOME/.cache/gatehouse/tools/node_modules/.bin:$PATH"
# (cargo-leptos adds --cfg erase_components to these for the server and the bundle alike:
# always-erase-components in Cargo.toml)
export RUSTFLAGS=$GATEHOUSE_RUSTFLAGS_OUTSIDE
[ -n "$RUSTFLAGS" ] || unset RUSTFLAGS
WASM_RELEASE_ARGS=()
if [ "$WASM_MODE" = debian ]; then
  # std built for the bundle: a panic aborts at once, without the formatting machinery that
  # reporting it would pull in (rustc 1.91+: -Cpanic=immediate-abort), without the file names and
  # lines it would have reported (-Zlocation-detail=none: 1.4% of the bundle), and std's smaller
  # algorithms. Only the wasm target (the server keeps its panic messages).
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Cpanic=immediate-abort -Zunstable-options -Zlocation-detail=none"
  WASM_RELEASE_ARGS=(--lib-cargo-args=-Zbuild-std-features=optimize_for_size)
fi
# hash-files names pkg/gatehouse.<hash>.{js,wasm,css} and writes their hashes to hash.txt beside
# the server binary; --precompress stores .br and .gz copies of every file in the site (after the
# renaming). The server reads the hashes from the site root (server/src/assets.rs).
LEPTOS_HASH_FILES=true cargo leptos build --release --precompress "${LEPTOS_ARGS[@]}" "${WASM_RELEASE_ARGS[@]}"
cp "$CARGO_TARGET_DIR/server-release/hash.txt" target/site/hash.txt
for f in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do
  printf '%-48s %9s bytes, %8s brotli, %8s gzip\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(stat -c %s "$f.br")" "$(stat -c %s "$f.gz")"
done
echo "server binary: $CARGO_TARGET_DIR/server-release/server"
