//! Replays the fuzzers' inputs as ordinary tests, without libFuzzer or a
//! nightly feature: every file of `fuzz/regressions/<target>/` (inputs that
//! once crashed a target) and of `fuzz/corpus/<target>/` (the seed corpus)
//! goes through the same check the fuzz target runs, from
//! `fuzz/src/lib.rs`. See `fuzz/README.md`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_checks;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every file of `fuzz/<kind>/<target>/` through its target's check,
/// each in its own thread so one failure names its file; returns how many
/// files ran.
fn replay(kind: &str) -> usize {
    let mut failures = Vec::new();
    let mut count = 0;
    for target in fuzz_checks::TARGETS {
        for path in files(&root().join(kind).join(target)) {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            count += 1;
            let target = target.to_string();
            let outcome = std::thread::Builder::new()
                .stack_size(8 << 20)
                .spawn(move || assert!(fuzz_checks::run(&target, &data), "unknown target {target}"))
                .map(|handle| handle.join());
            if !matches!(outcome, Ok(Ok(()))) {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fuzz inputs that fail their check:\n{}",
        failures.join("\n")
    );
    count
}

#[test]
fn crashing_inputs_stay_fixed() {
    // Files outside a target's directory would never be replayed.
    let stray = files(&root().join("regressions"));
    assert!(
        stray.is_empty(),
        "stray files in fuzz/regressions: {stray:?}"
    );
    if let Ok(entries) = std::fs::read_dir(root().join("regressions")) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                fuzz_checks::TARGETS.contains(&name.as_str()),
                "fuzz/regressions/{name} is not a fuzz target"
            );
        }
    }
    replay("regressions");
}

#[test]
fn seed_corpus_passes() {
    let count = replay("corpus");
    assert!(
        count >= fuzz_checks::TARGETS.len(),
        "the seed corpus is missing ({count} files)"
    );
}

#[test]
fn fuzz_policies_load() {
    assert_eq!(fuzz_checks::policies().len(), 6);
}
