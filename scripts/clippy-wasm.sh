#!/usr/bin/env bash
# Clippy on the module as it is built: wasm32-unknown-unknown, default
# features (the proxy-wasm glue in src/envoy included), with the Debian
# toolchain and -Zbuild-std as scripts/build-wasm.sh uses them. Part of
# `make lint`; warnings are errors.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" wasm

PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 /usr/bin/cargo clippy --target wasm32-unknown-unknown \
    -Zbuild-std=std,panic_abort --lib --target-dir "$ROOT/target/wasm-clippy" -- -D warnings
