//! Shared-data memory with many distinct scope values (run with
//! `--nocapture` to see the figures).

use super::support::minute;
use crate::counter::{reserve_in, LimitError, Table, DEFAULT_SLOTS, RECORD_LEN};
use crate::store::MemoryStore;

/// Envoy keeps each entry as a node of `std::unordered_map<std::string,
/// std::pair<std::string, uint32_t>>`: about 64 bytes beyond the key and the
/// value (node links, cached hash, string headers, token, bucket pointer).
const ENVOY_NODE_OVERHEAD: usize = 64;

struct Figures {
    distinct: usize,
    admitted: usize,
    keys: usize,
    bytes: usize,
}

fn fill(distinct: usize, now: u64, store: &MemoryStore) -> Figures {
    let table = Table::enforced(DEFAULT_SLOTS);
    let mut admitted = 0;
    for i in 0..distinct {
        let key =
            format!("mcp-policy/v1/c/calls\u{1f}session:{now}-{i:08x}-4f1c-9b1e-0c2a7d55e001");
        match reserve_in(store, table, now, &[minute(&key, 30)]) {
            Ok(_) => admitted += 1,
            Err(LimitError::Exhausted(refusals)) => assert!(refusals[0].no_slot),
            Err(other) => panic!("{other:?}"),
        }
    }
    Figures {
        distinct,
        admitted,
        keys: store.len(),
        bytes: store.bytes(),
    }
}

fn report(figures: &Figures) {
    println!(
        "{:>7} distinct scope values: {:>6} admitted, {:>6} keys, {:>9} key+value bytes ({:.2} MiB), Envoy estimate {:.2} MiB",
        figures.distinct,
        figures.admitted,
        figures.keys,
        figures.bytes,
        figures.bytes as f64 / 1_048_576.0,
        (figures.bytes + figures.keys * ENVOY_NODE_OVERHEAD) as f64 / 1_048_576.0,
    );
}

#[test]
fn memory_is_bounded_by_the_table() {
    let store = MemoryStore::new();
    let ten_thousand = fill(10_000, 1_795_505_460, &store);
    report(&ten_thousand);
    // At 15% load, a new owner finds its four candidates taken very rarely.
    assert!(ten_thousand.admitted >= 9_990, "{}", ten_thousand.admitted);
    assert_eq!(ten_thousand.keys, ten_thousand.admitted);
    let per_key = ten_thousand.bytes / ten_thousand.keys;
    assert!(per_key <= 24 + RECORD_LEN, "{per_key}");

    let store = MemoryStore::new();
    let hundred_thousand = fill(100_000, 1_795_505_460, &store);
    report(&hundred_thousand);
    assert!(
        hundred_thousand.keys <= DEFAULT_SLOTS as usize,
        "capped at the table"
    );
    assert!(
        hundred_thousand.admitted > 60_000,
        "{}",
        hundred_thousand.admitted
    );
    assert_eq!(hundred_thousand.keys, hundred_thousand.admitted);

    // Another 100,000 new values in each of the next windows: no growth
    // past the table.
    for minute in 1..4 {
        let later = fill(100_000, 1_795_505_460 + 60 * minute, &store);
        report(&later);
        assert!(later.keys <= DEFAULT_SLOTS as usize);
        assert!(later.admitted > 60_000, "{}", later.admitted);
    }
}
