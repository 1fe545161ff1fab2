#!/usr/bin/env bash
# Runs the policy-engine tests on wasm32 (tests/wasm_policy_engine.rs) under
# Node with wasm-bindgen-test. The filter runs on a 32-bit target in
# production; these tests prove its usize, u64 and float behaviour there.
#
# Installs what is missing: the wasm toolchain (scripts/setup.sh wasm), Node,
# and wasm-bindgen-cli into .build/tools at exactly the version of the
# wasm-bindgen crate in Cargo.lock (the test runner must match it). The first
# run compiles wasm-bindgen-cli (a few minutes); later runs take seconds.
#
# Extra arguments go to the test binary, e.g. `scripts/wasm-test.sh pattern`
# runs the tests whose names contain "pattern".
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'wasm-test: %s\n' "$*" >&2; }

"$ROOT/scripts/setup.sh" wasm
command -v node >/dev/null 2>&1 || "$ROOT/scripts/setup.sh" node

# --- wasm-bindgen-cli, at the Cargo.lock version -----------------------------
want="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/^version = "|"$/, ""); print; exit }' Cargo.lock)"
if [ -z "$want" ]; then
    log "no wasm-bindgen package in Cargo.lock"
    exit 1
fi
TOOLS="$ROOT/.build/tools"
RUNNER="$TOOLS/bin/wasm-bindgen-test-runner"
have="$("$RUNNER" --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$have" != "$want" ]; then
    log "installing wasm-bindgen-cli $want into .build/tools${have:+ (found $have)} (takes a few minutes)"
    # Host binaries: any cargo will do; prefer rustup's, as build-wasm.sh does.
    if command -v cargo >/dev/null 2>&1; then CARGO=cargo; else CARGO=/usr/bin/cargo; fi
    # --locked when the registry has every locked version; otherwise resolve.
    if ! "$CARGO" install --quiet wasm-bindgen-cli --version "=$want" --root "$TOOLS" --locked; then
        log "the registry lacks a version wasm-bindgen-cli $want locks; resolving its dependencies afresh"
        "$CARGO" install --quiet wasm-bindgen-cli --version "=$want" --root "$TOOLS"
    fi
    have="$("$RUNNER" --version 2>/dev/null | awk '{ print $2 }' || true)"
    if [ "$have" != "$want" ]; then
        log "wasm-bindgen-test-runner reports ${have:-nothing}, expected $want"
        exit 1
    fi
fi

# --- the tests -----------------------------------------------------------------
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$RUNNER"
TARGET_DIR="$ROOT/target/wasm-test"
TEST_ARGS=(--target wasm32-unknown-unknown --no-default-features --test wasm_policy_engine
    --target-dir "$TARGET_DIR")
# Debian's toolchain ships std's source, not a prebuilt wasm32 std.
PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 /usr/bin/cargo test "${TEST_ARGS[@]}" \
    -Zbuild-std=std,panic_abort -- "$@"
