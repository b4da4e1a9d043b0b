#!/usr/bin/env bash
# make release: the optimised build (size-optimised wasm through npm's wasm-opt, release server).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/setup.sh release
export PATH="$HOME/.cache/gatehouse/tools/node_modules/.bin:$PATH"
cargo leptos build --release "${LEPTOS_ARGS[@]}"
wasm=$(ls target/site/pkg/*.wasm)
raw=$(stat -c %s "$wasm")
br=$(node -e "const z=require('zlib');console.log(z.brotliCompressSync(require('fs').readFileSync(process.argv[1]),{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length)" "$wasm")
echo "wasm bundle: $raw bytes raw, $br bytes brotli (quality 11)"
echo "server binary: $CARGO_TARGET_DIR/server-release/server"
