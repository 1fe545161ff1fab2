#!/usr/bin/env bash
# Fuzzes the strict MCP reader, the event-stream reader, tools/list filtering,
# policy loading/evaluation and the proxy-wasm header map codec (the
# cargo-fuzz project in fuzz/).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     `make fuzz`
#       Runs every target (or the ones named) under libFuzzer for a bounded
#       time (default 60 s each), with AddressSanitizer when it links (else
#       without a sanitizer, and says so), and prints how many executions
#       each target ran. New coverage goes to fuzz/corpus-work/<target>/
#       (not committed). A crashing, hanging or memory-blowing input is
#       copied to fuzz/regressions/<target>/, where tests/fuzz_regressions.rs
#       replays it from then on; the script then exits 1.
#   scripts/fuzz.sh --corpus-only [TARGET...]            `make test`
#       Replays the committed corpus and the regressions (libFuzzer -runs=0)
#       for every target, nothing else. Builds the targets with plain cargo
#       (no coverage instrumentation, no cargo-fuzz, no nightly features), so
#       that it stays fast on a fresh machine.
#   scripts/fuzz.sh --merge [TARGET...]
#       Adds to the committed corpus the inputs of fuzz/corpus-work/ that
#       reach new edges (libFuzzer -merge=1, edges only, to keep it small),
#       then prints its size.
#
# Environment: FUZZ_ARGS adds libFuzzer options to timed runs (for example
# FUZZ_ARGS="-fork=1 -ignore_crashes=1" to go on after a crash);
# FUZZ_SANITIZER=none skips AddressSanitizer.
#
# cargo-fuzz (pinned below) is installed into .build/tools when missing.
# It needs nightly-only rustc flags: the stable toolchain accepts them with
# RUSTC_BOOTSTRAP=1, which is set for cargo-fuzz commands only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
TOOLS="$ROOT/.build/tools"
CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(read_payload sse_stream tools_list_json policy_evaluate policy_compile header_map)

log() { printf 'fuzz: %s\n' "$*" >&2; }

mode=timed
seconds=60
targets=()
for arg in "$@"; do
    case "$arg" in
        --corpus-only) mode=corpus ;;
        --merge) mode=merge ;;
        -h | --help) sed -n '2,29p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *[!0-9]*) targets+=("$arg") ;;
        *) seconds="$arg" ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for target in "${targets[@]}"; do
    [ -f "$FUZZ/fuzz_targets/$target.rs" ] || { log "no such target: $target (targets: ${ALL_TARGETS[*]})"; exit 2; }
done

dict_for() {
    case "$1" in
        policy_compile) echo "$FUZZ/dicts/policy.dict" ;;
        policy_evaluate | header_map) ;;
        *) echo "$FUZZ/dicts/jsonrpc.dict" ;;
    esac
}

# The corpus directories of a target: the committed corpus, then its
# regressions when there are any.
seed_dirs() {
    local target="$1"
    echo "$FUZZ/corpus/$target"
    if [ -n "$(ls -A "$FUZZ/regressions/$target" 2>/dev/null)" ]; then
        echo "$FUZZ/regressions/$target"
    fi
}

# ---------------------------------------------------------------------------
# --corpus-only: plain cargo build, every file through its target once.
# ---------------------------------------------------------------------------
if [ "$mode" = corpus ]; then
    started=$SECONDS
    log "building the fuzz targets for corpus replay"
    (cd "$FUZZ" && RUSTFLAGS="--cfg fuzzing" CARGO_TARGET_DIR="$FUZZ/target/replay" cargo build -q)
    failed=()
    for target in "${targets[@]}"; do
        mapfile -t dirs < <(seed_dirs "$target")
        out="$(mktemp)"
        mkdir -p "$FUZZ/artifacts/$target"
        if "$FUZZ/target/replay/debug/$target" -runs=0 -artifact_prefix="$FUZZ/artifacts/$target/" "${dirs[@]}" >"$out" 2>&1; then
            runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$out" | tail -1)"
            printf 'fuzz: %-16s corpus replay: %s inputs ok\n' "$target" "${runs:-?}"
        else
            # The panic message and the input that caused it.
            grep -a -A4 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)' "$out" | grep -av '^ *[0-9]*: \|^ *at ' | head -n 12 >&2 || true
            grep -a -E '^Running: |Test unit written' "$out" | tail -n 2 >&2 || true
            printf 'fuzz: %-16s corpus replay: FAILED\n' "$target"
            failed+=("$target")
        fi
        rm -f "$out"
    done
    log "corpus replay took $((SECONDS - started)) s"
    if [ ${#failed[@]} -gt 0 ]; then
        log "failed: ${failed[*]}"
        exit 1
    fi
    exit 0
fi

# ---------------------------------------------------------------------------
# cargo-fuzz, installed like a setup step.
# ---------------------------------------------------------------------------
CARGO_FUZZ="$TOOLS/bin/cargo-fuzz"
if ! "$CARGO_FUZZ" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION into .build/tools"
    cargo install -q --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"
cargo_fuzz() { (cd "$ROOT" && RUSTC_BOOTSTRAP=1 cargo fuzz "$@"); }

if [ "$mode" = merge ]; then
    for target in "${targets[@]}"; do
        [ -d "$FUZZ/corpus-work/$target" ] || continue
        # Edges only (no hit counters, no value profile): few files.
        cargo_fuzz run -s none "$target" "$FUZZ/corpus/$target" "$FUZZ/corpus-work/$target" -- \
            -merge=1 -use_counters=0 -use_value_profile=0 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true
    done
    du -sh "$FUZZ/corpus"
    exit 0
fi

# ---------------------------------------------------------------------------
# Timed runs.
# ---------------------------------------------------------------------------
sanitizer="${FUZZ_SANITIZER:-address}"
mkdir -p "$FUZZ/artifacts"
build_log="$FUZZ/artifacts/build.log"
log "building the fuzz targets (sanitizer: $sanitizer)"
if ! cargo_fuzz build -s "$sanitizer" >"$build_log" 2>&1; then
    tail -n 20 "$build_log" >&2
    [ "$sanitizer" != none ] || exit 1
    log "the AddressSanitizer build failed: fuzzing WITHOUT a sanitizer (-s none)"
    sanitizer=none
    cargo_fuzz build -s none
fi
log "sanitizer: $sanitizer; $seconds s per target"

# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})
summary=()
found=()
for target in "${targets[@]}"; do
    work="$FUZZ/corpus-work/$target"
    artifacts="$FUZZ/artifacts/$target"
    mkdir -p "$work" "$artifacts"
    dict="$(dict_for "$target")"
    options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/")
    [ -z "$dict" ] || options+=(-dict="$dict")
    marker="$(mktemp)"
    out="$FUZZ/artifacts/$target.log"
    log "running $target for $seconds s (log: fuzz/artifacts/$target.log)"
    status=0
    started=$SECONDS
    # Regressions are not seeds here: one that still fails would end the run
    # at once (--corpus-only and tests/fuzz_regressions.rs replay them).
    cargo_fuzz run -s "$sanitizer" "$target" "$work" "$FUZZ/corpus/$target" -- "${options[@]}" "${extra[@]}" >"$out" 2>&1 || status=$?
    elapsed=$((SECONDS - started))
    # libFuzzer's closing "Done N runs"; in fork mode the last "#N" status line.
    runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$out" | tail -1)"
    [ -n "$runs" ] || runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$out" | tail -1)"
    [ -n "$runs" ] || runs="$(sed -n 's/^#\([0-9]*\)[: \t].*/\1/p' "$out" | tail -1)"
    crashes=0
    while IFS= read -r -d '' artifact; do
        crashes=$((crashes + 1))
        mkdir -p "$FUZZ/regressions/$target"
        if find "$FUZZ/regressions/$target" -type f -exec cmp -s "$artifact" {} \; -print | grep -q .; then
            log "$target: $(basename "$artifact") is already in fuzz/regressions/$target/"
        else
            cp "$artifact" "$FUZZ/regressions/$target/"
            log "$target: $(basename "$artifact") kept as fuzz/regressions/$target/$(basename "$artifact")"
        fi
    done < <(find "$artifacts" -maxdepth 1 -type f -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -print0)
    rm -f "$marker"
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        tail -n 30 "$out" >&2
        log "$target: libFuzzer exited $status without an artifact"
        crashes="?"
    fi
    [ "$crashes" = 0 ] || found+=("$target")
    summary+=("$(printf '%-16s %6s s %14s runs  %s crashes' "$target" "$elapsed" "${runs:-?}" "$crashes")")
done

printf '\nfuzz summary (sanitizer %s, %s, %s):\n' "$sanitizer" "$(date -u +%Y-%m-%d)" "$(uname -m) $(nproc) cores"
printf '  %s\n' "${summary[@]}"
if [ ${#found[@]} -gt 0 ]; then
    log "crashing inputs in: ${found[*]} (see fuzz/regressions/, replayed by tests/fuzz_regressions.rs)"
    exit 1
fi
