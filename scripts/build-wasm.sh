#!/usr/bin/env bash
# Builds the filter module: dist/mcp_policy_filter.wasm (release, LTO, stripped).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" wasm

export MCP_POLICY_GIT_REVISION="${MCP_POLICY_GIT_REVISION:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
TARGET_DIR="$ROOT/target/wasm"
# Debian's toolchain ships std's source, not a prebuilt wasm32 std, so std is
# built here with the immediate-abort panic strategy, which drops panic
# formatting (the code has no panics, and a panic traps the VM either way),
# without panic locations (nothing prints them), and with std's
# optimize_for_size feature: smaller sort, formatting and search code with the
# same results. bench/module_size.py builds with the same flags (issue 24).
PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 \
    RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
    /usr/bin/cargo build --release --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort \
    -Zbuild-std-features=optimize_for_size --target-dir "$TARGET_DIR"
mkdir -p dist
BUILT="$TARGET_DIR/wasm32-unknown-unknown/release/mcp_policy_filter.wasm"
if command -v wasm-opt >/dev/null 2>&1; then
    # --low-memory-unused: the linker puts the stack first and data from 1 MiB,
    # so nothing lives below 1 KiB and wasm-opt may fold constant offsets.
    wasm-opt -Oz --low-memory-unused --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
        --enable-mutable-globals "$BUILT" -o dist/mcp_policy_filter.wasm
else
    cp "$BUILT" dist/mcp_policy_filter.wasm
fi
printf 'built dist/mcp_policy_filter.wasm (%s bytes, git %s)\n' \
    "$(stat -c %s dist/mcp_policy_filter.wasm)" "$MCP_POLICY_GIT_REVISION"
