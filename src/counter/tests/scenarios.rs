//! The algorithm against `MemoryStore`, one worker at a time.

use super::support::{minute, spec, Counting};
use crate::counter::{
    current_count, release, reserve, reserve_in, CounterSpec, Identity, LimitError, LimitRefusal,
    Reservation, SlotRecord, Table, Window, DEFAULT_SLOTS, MAX_CAS_ATTEMPTS, MAX_CLOCK_LEAD_SECS,
    PROBES,
};
use crate::store::{Entry, MemoryStore, SharedStore, StoreError};

fn refusals(result: Result<Reservation, LimitError>) -> Vec<LimitRefusal> {
    match result {
        Err(LimitError::Exhausted(refusals)) => refusals,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn admitted(result: Result<Reservation, LimitError>) -> Reservation {
    match result {
        Ok(reservation) => reservation,
        other => panic!("expected admission, got {other:?}"),
    }
}

fn count_in(store: &MemoryStore, table: Table, now: u64, spec: &CounterSpec) -> u64 {
    current_count(store, table, now, spec).unwrap()
}

/// A key whose home slot in `table` is `home`.
fn key_with_home(table: Table, prefix: &str, home: u32) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|key| table.candidates(&Identity::of(key))[0] == home)
        .unwrap()
}

const T: Table = Table::enforced(DEFAULT_SLOTS);

#[test]
fn admits_exactly_max_per_window_and_reuses_the_slot() {
    let store = MemoryStore::new();
    let now = 1_000_040;
    let specs = [minute("a", 30)];
    for _ in 0..30 {
        admitted(reserve(&store, now, &specs));
    }
    let refused = refusals(reserve(&store, now, &specs));
    assert_eq!(
        refused,
        vec![LimitRefusal {
            index: 0,
            count: 30,
            retry_after_secs: 40,
            no_slot: false
        }]
    );
    // The next window starts from zero, in the same key.
    admitted(reserve(&store, now + 40, &specs));
    assert_eq!(count_in(&store, T, now + 40, &specs[0]), 1);
    assert_eq!(store.len(), 1, "one slot key, reused across windows");
    assert!(store.keys()[0].starts_with("mcp-policy/v1/slot/"));
}

#[test]
fn all_or_nothing_across_limits() {
    let store = MemoryStore::new();
    let now = 600;
    admitted(reserve(&store, now, &[minute("small", 1)]));
    let both = [minute("big", 10), minute("small", 1), minute("other", 0)];
    let refused = refusals(reserve(&store, now, &both));
    assert_eq!(
        refused.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![1, 2],
        "every refusal reported"
    );
    assert_eq!(
        count_in(&store, T, now, &minute("big", 10)),
        0,
        "nothing kept from big"
    );
    assert_eq!(count_in(&store, T, now, &minute("small", 1)), 1);
}

#[test]
fn the_same_limit_twice_takes_two_units() {
    let store = MemoryStore::new();
    let twice = [minute("k", 3), minute("k", 3)];
    let reservation = admitted(reserve(&store, 0, &twice));
    assert_eq!(reservation.taken.len(), 2);
    assert_eq!(count_in(&store, T, 0, &twice[0]), 2);
    refusals(reserve(&store, 0, &twice));
    assert_eq!(
        count_in(&store, T, 0, &twice[0]),
        2,
        "the refused pair kept nothing"
    );
    release(&store, &reservation);
    assert_eq!(count_in(&store, T, 0, &twice[0]), 0);
}

#[test]
fn release_gives_back_only_in_the_same_window() {
    let store = MemoryStore::new();
    let specs = [minute("k", 2)];
    let first = admitted(reserve(&store, 60, &specs));
    admitted(reserve(&store, 60, &specs));
    refusals(reserve(&store, 60, &specs));
    release(&store, &first);
    admitted(reserve(&store, 60, &specs));
    // A reservation from an old window does not touch the new one.
    let old = admitted(reserve(&store, 120, &specs));
    admitted(reserve(&store, 180, &specs));
    release(&store, &old);
    assert_eq!(count_in(&store, T, 180, &specs[0]), 1);
    // A reservation is released once: each release gives back one unit per
    // unit taken (never below zero).
    let one = admitted(reserve(&store, 180, &specs));
    release(&store, &one);
    assert_eq!(count_in(&store, T, 180, &specs[0]), 1);
    release(&store, &one);
    release(&store, &one);
    assert_eq!(count_in(&store, T, 180, &specs[0]), 0);
}

#[test]
fn release_does_not_touch_a_slot_now_owned_by_someone_else() {
    let store = MemoryStore::new();
    let table = Table::enforced(1);
    let a = [spec("a", Window::Seconds(10), 5)];
    let b = [spec("b", Window::Seconds(100), 5)];
    let reservation = admitted(reserve_in(&store, table, 5, &a));
    // a's window has ended; b reclaims the only slot.
    admitted(reserve_in(&store, table, 10, &b));
    admitted(reserve_in(&store, table, 10, &b));
    release(&store, &reservation);
    assert_eq!(count_in(&store, table, 11, &b[0]), 2);
    assert_eq!(store.len(), 1);
}

#[test]
fn live_owners_that_collide_are_not_merged_the_later_one_waits() {
    let store = MemoryStore::new();
    let table = Table::enforced(1);
    let a = [spec("a", Window::Minute, 5)];
    let b = [spec("b", Window::Minute, 5)];
    admitted(reserve_in(&store, table, 100, &a));
    let refused = refusals(reserve_in(&store, table, 100, &b));
    assert_eq!(
        refused,
        vec![LimitRefusal {
            index: 0,
            count: 0,
            retry_after_secs: 20,
            no_slot: true
        }],
        "retry when a's window ends"
    );
    // a is unaffected and keeps counting alone.
    for _ in 0..4 {
        admitted(reserve_in(&store, table, 110, &a));
    }
    assert_eq!(count_in(&store, table, 110, &a[0]), 5);
    assert_eq!(count_in(&store, table, 110, &b[0]), 0);
    refusals(reserve_in(&store, table, 110, &a));
    // Once a's window has ended, b reclaims the slot and starts from zero.
    admitted(reserve_in(&store, table, 120, &b));
    assert_eq!(count_in(&store, table, 120, &b[0]), 1);
    assert!(refusals(reserve_in(&store, table, 121, &a))[0].no_slot);
}

#[test]
fn expired_slots_are_reclaimed_and_foreign_values_overwritten() {
    let store = MemoryStore::new();
    let table = Table::enforced(1);
    store
        .set(&table.slot_key(0), b"not a slot record", None)
        .unwrap();
    admitted(reserve_in(
        &store,
        table,
        0,
        &[spec("a", Window::Seconds(5), 1)],
    ));
    admitted(reserve_in(
        &store,
        table,
        5,
        &[spec("b", Window::Seconds(5), 1)],
    ));
    assert_eq!(store.len(), 1);
}

#[test]
fn a_full_table_refuses_new_owners_until_a_window_ends() {
    let store = MemoryStore::new();
    // With as many slots as probes, every owner's candidates are every slot.
    let table = Table::enforced(PROBES);
    for i in 0..PROBES {
        // Windows of 20 to 90 seconds; o0's ends first, at 20.
        let secs = 20 + 10 * u64::from(i);
        admitted(reserve_in(
            &store,
            table,
            0,
            &[spec(&format!("o{i}"), Window::Seconds(secs), 3)],
        ));
    }
    let late = [spec("late", Window::Minute, 3)];
    let refused = refusals(reserve_in(&store, table, 0, &late));
    assert_eq!(
        refused,
        vec![LimitRefusal {
            index: 0,
            count: 0,
            retry_after_secs: 20,
            no_slot: true
        }],
        "retry when the earliest window ends"
    );
    // Owners already in the table keep working.
    admitted(reserve_in(
        &store,
        table,
        1,
        &[spec("o1", Window::Seconds(30), 3)],
    ));
    assert_eq!(store.len(), PROBES as usize);
    // At 20 the first slot frees up.
    admitted(reserve_in(&store, table, 20, &late));
    assert_eq!(store.len(), PROBES as usize);

    // Many more owners than slots: the store never grows past the table.
    let store = MemoryStore::new();
    let table = Table::enforced(64);
    let mut in_table = 0;
    for i in 0..1000 {
        match reserve_in(&store, table, 0, &[minute(&format!("session:{i}"), 1)]) {
            Ok(_) => in_table += 1,
            Err(LimitError::Exhausted(refused)) => assert!(refused[0].no_slot),
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!((48..=64).contains(&in_table), "{in_table}");
    assert_eq!(store.len(), 64);
    // The next window: the table is reused, not grown.
    let next: usize = (1000..2000)
        .filter(|i| reserve_in(&store, table, 60, &[minute(&format!("session:{i}"), 1)]).is_ok())
        .count();
    assert!(next >= 48, "{next}");
    assert_eq!(store.len(), 64);
}

#[test]
fn store_failure_fails_closed_and_takes_nothing() {
    let store = MemoryStore::new();
    admitted(reserve(&store, 0, &[minute("a", 5)]));
    store.fail_next_sets(1);
    let result = reserve(&store, 0, &[minute("a", 5), minute("b", 5)]);
    // "a" was taken, then "b" failed: "a" is given back.
    assert!(
        matches!(result, Err(LimitError::StoreUnavailable(_))),
        "{result:?}"
    );
    assert_eq!(count_in(&store, T, 0, &minute("a", 5)), 1);
    assert_eq!(count_in(&store, T, 0, &minute("b", 5)), 0);
}

/// A store whose writes always lose the race, or whose reads fail.
struct Hostile<'a> {
    store: &'a MemoryStore,
    reads_fail: bool,
}

impl SharedStore for Hostile<'_> {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        if self.reads_fail {
            return Err(StoreError::Host("get failed".into()));
        }
        self.store.get(key)
    }

    fn set(&self, _key: &str, _value: &[u8], _cas: Option<u32>) -> Result<(), StoreError> {
        Err(StoreError::CasMismatch)
    }
}

#[test]
fn a_store_that_keeps_refusing_is_unavailable() {
    let store = MemoryStore::new();
    let result = reserve(
        &Hostile {
            store: &store,
            reads_fail: false,
        },
        0,
        &[minute("a", 5)],
    );
    match result {
        Err(LimitError::StoreUnavailable(detail)) => {
            assert!(detail.contains(&MAX_CAS_ATTEMPTS.to_string()), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(store.is_empty());
    let result = reserve(
        &Hostile {
            store: &store,
            reads_fail: true,
        },
        0,
        &[minute("a", 5)],
    );
    assert!(
        matches!(result, Err(LimitError::StoreUnavailable(_))),
        "{result:?}"
    );

    // Taken units are given back when a later limit's store keeps refusing.
    struct SecondRefuses<'a>(&'a MemoryStore, std::cell::Cell<bool>);
    impl SharedStore for SecondRefuses<'_> {
        fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
            self.0.get(key)
        }
        fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
            let decoded = SlotRecord::decode(value);
            if self.1.get() && decoded.is_some_and(|r| r.owner == Identity::of("b").owner) {
                return Err(StoreError::CasMismatch);
            }
            self.0.set(key, value, cas)
        }
    }
    let refusing = SecondRefuses(&store, std::cell::Cell::new(true));
    let result = reserve(&refusing, 0, &[minute("a", 5), minute("b", 5)]);
    assert!(
        matches!(result, Err(LimitError::StoreUnavailable(_))),
        "{result:?}"
    );
    assert_eq!(count_in(&store, T, 0, &minute("a", 5)), 0);
}

#[test]
fn max_zero_never_admits() {
    let store = MemoryStore::new();
    let refused = refusals(reserve(&store, 0, &[minute("z", 0)]));
    assert_eq!(refused[0].count, 0);
    assert!(!refused[0].no_slot);
    assert!(store.is_empty());
}

#[test]
fn a_policy_update_keeps_counts_and_applies_the_new_max_at_once() {
    let store = MemoryStore::new();
    for _ in 0..5 {
        admitted(reserve(&store, 0, &[minute("calls", 10)]));
    }
    // Lowered: refused at once, the 5 taken still count.
    assert_eq!(
        refusals(reserve(&store, 1, &[minute("calls", 3)]))[0].count,
        5
    );
    // Raised: one more fits under 6.
    admitted(reserve(&store, 2, &[minute("calls", 6)]));
    refusals(reserve(&store, 2, &[minute("calls", 6)]));
    // A renamed counter is a new counter.
    admitted(reserve(&store, 3, &[minute("calls-renamed", 1)]));
    // A longer window keeps the units taken in the overlapping shorter one.
    assert_eq!(
        refusals(reserve(&store, 4, &[spec("calls", Window::Hour, 6)]))[0].count,
        6
    );
    admitted(reserve(&store, 4, &[spec("calls", Window::Hour, 7)]));
}

#[test]
fn dry_run_counters_never_take_enforced_slots() {
    let store = MemoryStore::new();
    let enforced = Table::enforced(2);
    let shadow = Table::shadow(1);
    admitted(reserve_in(&store, shadow, 0, &[minute("dry", 5)]));
    // The shadow region is full, the enforced one is not affected.
    assert!(refusals(reserve_in(&store, shadow, 0, &[minute("other", 5)]))[0].no_slot);
    admitted(reserve_in(&store, enforced, 0, &[minute("real", 5)]));
    // The same key counts separately in each region.
    admitted(reserve_in(&store, enforced, 0, &[minute("dry", 5)]));
    assert_eq!(count_in(&store, shadow, 0, &minute("dry", 5)), 1);
    assert_eq!(count_in(&store, enforced, 0, &minute("real", 5)), 1);
    let keys = store.keys();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys[0], "mcp-policy/v1/dry-slot/0");
    assert!(keys[1..]
        .iter()
        .all(|key| key.starts_with("mcp-policy/v1/slot/")));
}

#[test]
fn resizing_keeps_most_counts() {
    let store = MemoryStore::new();
    let small = Table::enforced(1000);
    let large = Table::enforced(1100);
    let specs: Vec<CounterSpec> = (0..300)
        .map(|i| minute(&format!("grant:{i}"), 5))
        .filter(|spec| reserve_in(&store, small, 0, std::slice::from_ref(spec)).is_ok())
        .collect();
    assert!(specs.len() >= 290, "{}", specs.len());
    let kept = specs
        .iter()
        .filter(|spec| count_in(&store, large, 1, spec) == 1)
        .count();
    // About 1000/1100 keep their home slot; the others start from zero.
    assert!(kept * 100 >= specs.len() * 85, "{kept} of {}", specs.len());
    let kept_back = specs
        .iter()
        .filter(|spec| count_in(&store, small, 1, spec) == 1)
        .count();
    assert_eq!(
        kept_back,
        specs.len(),
        "shrinking back finds every record again"
    );
}

#[test]
fn a_lagging_clock_never_rolls_a_window_back() {
    let store = MemoryStore::new();
    let specs = [minute("k", 2)];
    // One worker is already in the window starting at 120...
    let first = admitted(reserve(&store, 120, &specs));
    // ...another read the clock at 119, just before.
    let lagging = admitted(reserve(&store, 119, &specs));
    assert_eq!(first.taken[0].window_start, 120);
    assert_eq!(
        lagging.taken[0].window_start, 120,
        "charged to the newer window"
    );
    assert_eq!(count_in(&store, T, 121, &specs[0]), 2);
    refusals(reserve(&store, 119, &specs));
}

#[test]
fn a_lagging_clock_cannot_recreate_a_reclaimed_window() {
    let store = MemoryStore::new();
    let table = Table::enforced(2);
    let a = [spec("a", Window::Seconds(10), 1)];
    let home = table.candidates(&Identity::of("a"))[0];
    let z = [spec(&key_with_home(table, "z", home), Window::Hour, 1)];
    let taken = admitted(reserve_in(&store, table, 5, &a));
    assert_eq!(taken.taken[0].slot_key, table.slot_key(home));
    // At 10, z reclaims a's expired slot; the other slot is still free.
    admitted(reserve_in(&store, table, 10, &z));
    // A worker that read the clock at 9 must not start a's window [0, 10)
    // again in the free slot: it is charged to [10, 20).
    let lagging = admitted(reserve_in(&store, table, 9, &a));
    assert_eq!(lagging.taken[0].window_start, 10);
    refusals(reserve_in(&store, table, 12, &a));
}

#[test]
fn operations_per_reserve_are_bounded() {
    let store = MemoryStore::new();
    let counting = Counting::new(&store);
    admitted(reserve(&counting, 0, &[minute("a", 5)]));
    // A sparse table: the home slot is absent, so reading stops there; the
    // write is confirmed by reading on to the next absent candidate.
    assert_eq!((counting.gets.get(), counting.sets.get()), (3, 1));
    let counting = Counting::new(&store);
    admitted(reserve(&counting, 0, &[minute("a", 5)]));
    assert_eq!((counting.gets.get(), counting.sets.get()), (4, 1));

    // A crowded table: at most every candidate is read, before and after
    // the write; a refused owner has read every candidate and written nothing.
    let store = MemoryStore::new();
    let table = Table::enforced(PROBES);
    for i in 0..PROBES - 1 {
        admitted(reserve_in(&store, table, 0, &[minute(&format!("o{i}"), 5)]));
    }
    let probes = PROBES as usize;
    let counting = Counting::new(&store);
    admitted(reserve_in(&counting, table, 0, &[minute("last", 5)]));
    assert!(counting.gets.get() <= 2 * probes && counting.sets.get() == 1);
    let counting = Counting::new(&store);
    admitted(reserve_in(&counting, table, 0, &[minute("last", 5)]));
    assert_eq!((counting.gets.get(), counting.sets.get()), (2 * probes, 1));
    let counting = Counting::new(&store);
    refusals(reserve_in(&counting, table, 0, &[minute("refused", 5)]));
    assert_eq!((counting.gets.get(), counting.sets.get()), (probes, 0));
}

#[test]
fn a_clock_stepped_back_does_not_hold_slots_or_windows() {
    let store = MemoryStore::new();
    let table = Table::enforced(1);
    let a = [minute("a", 1)];
    admitted(reserve_in(&store, table, 10_000, &a));
    refusals(reserve_in(&store, table, 10_010, &a));
    // The clock steps back an hour: a's record is from "the future".
    let b = [minute("b", 1)];
    admitted(reserve_in(&store, table, 6_400, &b));
    assert_eq!(current_count(&store, table, 6_400, &b[0]), Ok(1));
    // Within the tolerated lead, a later record still moves the clock...
    let store = MemoryStore::new();
    let a = [minute("a", 2)];
    admitted(reserve_in(&store, table, 180, &a));
    let lagging = admitted(reserve_in(&store, table, 180 - MAX_CLOCK_LEAD_SECS, &a));
    assert_eq!(lagging.taken[0].window_start, 180);
    // ...beyond it, the record is taken for a clock step and overwritten.
    let stepped = admitted(reserve_in(&store, table, 179 - MAX_CLOCK_LEAD_SECS, &a));
    assert_eq!(stepped.taken[0].window_start, 120);
    assert_eq!(
        current_count(&store, table, 179 - MAX_CLOCK_LEAD_SECS, &a[0]),
        Ok(1)
    );
}
