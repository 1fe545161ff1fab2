//! Two workers racing: another worker's steps land between our read and our
//! write (`Interpose`), or every store operation is interleaved by a schedule
//! (`run_workers`).

use super::support::{minute, run_workers, schedule, spec, Interpose, SyncStore, Work};
use crate::counter::{
    current_count, reserve, reserve_in, Identity, LimitError, Reservation, Table, Window,
    DEFAULT_SLOTS,
};
use crate::store::{MemoryStore, SharedStore, StoreError, ABSENT_TOKEN};

const T: Table = Table::enforced(DEFAULT_SLOTS);

/// The hazard the absent-key token closes, on the raw store: Envoy checks the
/// CAS token only when the key exists, so a write "without a token" to a key
/// read as absent overwrites a racer's insert.
#[test]
fn raw_store_loses_an_increment_when_the_key_was_read_as_absent() {
    let store = MemoryStore::new();
    // Both workers read the key as absent...
    assert_eq!(store.get("k").unwrap(), None);
    assert_eq!(store.get("k").unwrap(), None);
    // ...the racer creates it with count 1...
    store.set("k", &1u64.to_le_bytes(), None).unwrap();
    // ...and our "count 1", meant as a create, silently replaces it.
    store.set("k", &1u64.to_le_bytes(), None).unwrap();
    assert_eq!(
        store.get("k").unwrap().unwrap().value,
        1u64.to_le_bytes(),
        "two increments, one counted"
    );
    // A write with token 0 is unconditional too, so 0 cannot close the race.
    store.set("k", &2u64.to_le_bytes(), Some(0)).unwrap();

    // The absent-key token: a create that finds the key already created fails.
    let store = MemoryStore::new();
    assert_eq!(store.get("k").unwrap(), None);
    store
        .set("k", &1u64.to_le_bytes(), Some(ABSENT_TOKEN))
        .unwrap(); // the racer, first
    assert_eq!(
        store.set("k", &1u64.to_le_bytes(), Some(ABSENT_TOKEN)),
        Err(StoreError::CasMismatch)
    );
}

#[test]
fn a_racer_creating_the_slot_between_our_read_and_write_is_counted() {
    let store = MemoryStore::new();
    let specs = [minute("k", 5)];
    let specs_for_racer = specs.clone();
    // The racer's whole reserve runs between our reads and our write.
    let ours = Interpose::before_first_set(&store, move |store| {
        assert!(reserve(store, 0, &specs_for_racer).is_ok());
    });
    let reservation = reserve(&ours, 0, &specs).unwrap();
    assert!(ours.fired());
    assert!(
        reservation.retries >= 1,
        "our create failed and was retried"
    );
    assert_eq!(
        current_count(&store, T, 0, &specs[0]).unwrap(),
        2,
        "no increment lost"
    );
    assert_eq!(store.len(), 1);

    // With room for one, exactly one of the two is admitted.
    let store = MemoryStore::new();
    let one = [minute("k", 1)];
    let one_for_racer = one.clone();
    let ours = Interpose::before_first_set(&store, move |store| {
        assert!(reserve(store, 0, &one_for_racer).is_ok());
    });
    assert!(matches!(
        reserve(&ours, 0, &one),
        Err(LimitError::Exhausted(_))
    ));
    assert_eq!(current_count(&store, T, 0, &one[0]).unwrap(), 1);
}

/// The residual hazard of the token, documented on `ABSENT_TOKEN`: when the
/// racer's create is the one write in 2^32 that receives `u32::MAX`, our
/// create is taken for a write-back and replaces it.
#[test]
fn the_absent_token_fails_only_when_the_racer_received_that_very_token() {
    let store = MemoryStore::new();
    store.set_next_cas(ABSENT_TOKEN);
    let specs = [minute("k", 5)];
    let specs_for_racer = specs.clone();
    let ours = Interpose::before_first_set(&store, move |store| {
        assert!(reserve(store, 0, &specs_for_racer).is_ok());
    });
    assert!(reserve(&ours, 0, &specs).is_ok());
    assert_eq!(
        current_count(&store, T, 0, &specs[0]).unwrap(),
        1,
        "one increment lost at the wrap"
    );
    // Our write got the next token, 1 (0 is skipped): the hazard is gone again.
    let slot = T.slot_key(T.candidates(&Identity::of("k"))[0]);
    assert_eq!(store.get(&slot).unwrap().unwrap().cas, 1);
}

#[test]
fn a_racer_writing_between_our_read_and_write_of_a_live_slot_is_counted() {
    let store = MemoryStore::new();
    let specs = [minute("k", 3)];
    reserve(&store, 0, &specs).unwrap();
    let specs_for_racer = specs.clone();
    let ours = Interpose::before_first_set(&store, move |store| {
        assert!(reserve(store, 0, &specs_for_racer).is_ok());
    });
    assert!(reserve(&ours, 0, &specs).is_ok());
    assert_eq!(current_count(&store, T, 0, &specs[0]).unwrap(), 3);
    assert!(matches!(
        reserve(&store, 0, &specs),
        Err(LimitError::Exhausted(_))
    ));
}

#[test]
fn a_racer_rolling_the_window_over_first_is_counted() {
    let store = MemoryStore::new();
    let specs = [minute("k", 2)];
    reserve(&store, 0, &specs).unwrap();
    reserve(&store, 0, &specs).unwrap();
    let specs_for_racer = specs.clone();
    let ours = Interpose::before_first_set(&store, move |store| {
        assert!(reserve(store, 60, &specs_for_racer).is_ok());
    });
    assert!(reserve(&ours, 60, &specs).is_ok());
    assert_eq!(current_count(&store, T, 60, &specs[0]).unwrap(), 2);
}

#[test]
fn a_racer_releasing_between_our_read_and_write_is_not_lost() {
    let store = MemoryStore::new();
    let specs = [minute("k", 2)];
    let first = reserve(&store, 0, &specs).unwrap();
    let ours = Interpose::before_first_set(&store, move |store| {
        crate::counter::release(store, &first);
    });
    assert!(reserve(&ours, 0, &specs).is_ok());
    assert_eq!(
        current_count(&store, T, 0, &specs[0]).unwrap(),
        1,
        "the release and our unit both kept"
    );
}

/// In the second another owner's window ends, two workers with clocks a
/// second apart judge that slot differently and claim two different slots
/// for the same new owner. The units are summed over both records, and a
/// unit that the confirming scan finds over `max` is given back.
#[test]
fn two_claims_of_different_slots_for_one_owner_admit_at_most_max() {
    for max in [1u64, 2] {
        let store = MemoryStore::new();
        let table = Table::enforced(2);
        let o = [spec("o", Window::Minute, max)];
        let home = table.candidates(&Identity::of("o"))[0];
        // x holds o's home slot until 7.
        let x_key = (0..10_000)
            .map(|i| format!("x{i}"))
            .find(|key| table.candidates(&Identity::of(key))[0] == home)
            .unwrap();
        reserve_in(&store, table, 0, &[spec(&x_key, Window::Seconds(7), 1)]).unwrap();
        let o_for_racer = o.clone();
        // We read both candidates at 6 (x still live), then the racer, at 7,
        // reclaims x's slot for o before we claim the other one.
        let ours = Interpose::before_first_set(&store, move |store| {
            assert!(reserve_in(store, table, 7, &o_for_racer).is_ok());
        });
        let result = reserve_in(&ours, table, 6, &o);
        assert!(ours.fired());
        let total = current_count(&store, table, 7, &o[0]).unwrap();
        assert_eq!(total, max.min(2), "max {max}");
        match max {
            // Our unit made two: given back, and the retry counts both records.
            1 => assert!(
                matches!(result, Err(LimitError::Exhausted(_))),
                "{result:?}"
            ),
            // Two records for one owner and window, counted together.
            _ => {
                assert!(result.is_ok(), "{result:?}");
                assert_eq!(store.len(), 2);
                assert!(matches!(
                    reserve_in(&store, table, 8, &o),
                    Err(LimitError::Exhausted(_))
                ));
            }
        }
    }
}

/// Two workers, each reserving `per_worker` times in the same window, under
/// every interleaving a seed picks: exactly `max` admitted in all.
#[test]
fn two_workers_interleaved_admit_exactly_max() {
    for seed in 0u64..200 {
        let store = SyncStore::default();
        let max = 1 + seed % 7;
        let per_worker = 6usize;
        let choices = schedule(seed, 512);
        let worker = |now: u64| {
            Box::new(move |store: &dyn SharedStore| {
                (0..per_worker)
                    .filter(|_| reserve(store, now, &[minute("shared", max)]).is_ok())
                    .count()
            }) as Work<'_, usize>
        };
        let admitted: usize = run_workers(&store, choices, vec![worker(100), worker(101)])
            .into_iter()
            .sum();
        assert_eq!(
            admitted as u64,
            max.min(2 * per_worker as u64),
            "seed {seed}"
        );
        assert_eq!(
            current_count(&store, T, 100, &minute("shared", max)).unwrap(),
            admitted as u64
        );
    }
}

/// Releases interleaved with reserves on another worker: the stored count is
/// always what was taken and not given back.
#[test]
fn interleaved_reserves_and_releases_stay_consistent() {
    for seed in 0u64..100 {
        let store = SyncStore::default();
        let choices = schedule(seed + 1000, 1024);
        let worker = |release_every: usize| {
            Box::new(move |store: &dyn SharedStore| {
                let mut net = 0i64;
                for i in 0..8 {
                    if let Ok(reservation) = reserve(store, 30, &[minute("k", 3)]) {
                        net += 1;
                        if i % release_every == 0 {
                            crate::counter::release(store, &reservation);
                            net -= 1;
                        }
                    }
                }
                net
            }) as Work<'_, i64>
        };
        let net: i64 = run_workers(&store, choices, vec![worker(2), worker(3)])
            .into_iter()
            .sum();
        let stored = current_count(&store, T, 30, &minute("k", 3)).unwrap() as i64;
        assert_eq!(stored, net, "seed {seed}");
        assert!((1..=3).contains(&net), "seed {seed}: {net}");
    }
}

#[test]
fn reservations_record_slot_owner_and_window() {
    let store = MemoryStore::new();
    let reservation: Reservation = reserve(&store, 61, &[minute("k", 1)]).unwrap();
    let taken = &reservation.taken[0];
    assert_eq!(taken.owner, Identity::of("k").owner);
    assert_eq!((taken.window_start, taken.window_end), (60, 120));
    assert_eq!(
        taken.slot_key,
        T.slot_key(T.candidates(&Identity::of("k"))[0])
    );
}
