//! Property tests: random workers, clocks, scope values and interleavings of
//! every store operation.

use std::collections::HashMap;

use proptest::collection::vec;
use proptest::prelude::*;

use super::support::{run_workers, spec, SyncStore, Work};
use crate::counter::{
    current_count, release, reserve_in, CounterSpec, Identity, LimitError, Reservation, SlotRecord,
    Table, Window, MAX_CLOCK_LEAD_SECS,
};
use crate::store::SharedStore;

/// What one reserve did.
#[derive(Clone, Debug)]
struct Outcome {
    specs: Vec<usize>,
    reservation: Option<Reservation>,
    released: bool,
    no_slot: bool,
}

/// Runs each worker's `(specs, now, release)` operations in order on its own
/// thread, interleaved by `choices`.
fn run(
    store: &SyncStore,
    table: Table,
    specs: &[CounterSpec],
    choices: Vec<u8>,
    workers: Vec<Vec<(Vec<usize>, u64, bool)>>,
) -> Vec<Outcome> {
    let work: Vec<Work<'_, Vec<Outcome>>> = workers
        .into_iter()
        .map(|ops| {
            Box::new(move |store: &dyn SharedStore| {
                ops.into_iter()
                    .map(|(indexes, now, release_it)| {
                        let chosen: Vec<CounterSpec> =
                            indexes.iter().map(|i| specs[*i].clone()).collect();
                        match reserve_in(store, table, now, &chosen) {
                            Ok(reservation) => {
                                if release_it {
                                    release(store, &reservation);
                                }
                                Outcome {
                                    specs: indexes,
                                    reservation: Some(reservation),
                                    released: release_it,
                                    no_slot: false,
                                }
                            }
                            Err(LimitError::Exhausted(refusals)) => Outcome {
                                specs: indexes,
                                reservation: None,
                                released: false,
                                no_slot: refusals.iter().any(|r| r.no_slot),
                            },
                            Err(LimitError::StoreUnavailable(detail)) => {
                                panic!("store unavailable: {detail}")
                            }
                        }
                    })
                    .collect()
            }) as Work<'_, Vec<Outcome>>
        })
        .collect();
    run_workers(store, choices, work)
        .into_iter()
        .flatten()
        .collect()
}

/// Net units (taken minus released) per (owner, window), and per (slot,
/// owner, window).
type Units = (
    HashMap<(u128, u64, u64), i64>,
    HashMap<(String, u128, u64, u64), i64>,
);

fn units(outcomes: &[Outcome]) -> Units {
    let mut per_window = HashMap::new();
    let mut per_slot = HashMap::new();
    for outcome in outcomes {
        let Some(reservation) = &outcome.reservation else {
            continue;
        };
        let delta = if outcome.released { 0 } else { 1 };
        for taken in &reservation.taken {
            *per_window
                .entry((taken.owner, taken.window_start, taken.window_end))
                .or_insert(0) += delta;
            *per_slot
                .entry((
                    taken.slot_key.clone(),
                    taken.owner,
                    taken.window_start,
                    taken.window_end,
                ))
                .or_insert(0) += delta;
        }
    }
    (per_window, per_slot)
}

/// Every record in the store holds exactly the units taken into it and not
/// given back.
fn records_match(
    store: &SyncStore,
    per_slot: &HashMap<(String, u128, u64, u64), i64>,
) -> Result<(), TestCaseError> {
    for (key, value) in store.snapshot() {
        let record = SlotRecord::decode(&value);
        prop_assert!(record.is_some(), "{key} holds a foreign value");
        let Some(record) = record else { continue };
        let expected = per_slot
            .get(&(
                key.clone(),
                record.owner,
                record.window_start,
                record.window_end,
            ))
            .copied()
            .unwrap_or(0);
        prop_assert_eq!(record.count as i64, expected, "{} {:?}", key, record);
    }
    Ok(())
}

proptest! {
    // Failures are not persisted outside the module: the cases found so far
    // are the deterministic `regression_*` tests below.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// No collisions (three scope values and one global counter: fewer owners
    /// than probes), phases of one minute each, clocks within
    /// `MAX_CLOCK_LEAD_SECS` of each other, every store operation of three
    /// workers interleaved: each scope value is admitted exactly
    /// `min(requests, max)` per window when nothing is released, never more
    /// than `max` net, and every call is charged to its own window.
    #[test]
    fn exact_per_window_under_any_interleaving(
        max in 0u64..6,
        global_max in 0u64..12,
        with_global in any::<bool>(),
        slots in prop_oneof![Just(4u32), Just(64), Just(65_536)],
        phases in vec(vec((0usize..3, 0usize..3, 0u64..MAX_CLOCK_LEAD_SECS, prop::bool::weighted(0.2)), 0..14), 1..4),
        choices in vec(any::<u8>(), 1..64),
    ) {
        let table = Table::enforced(slots);
        let mut specs: Vec<CounterSpec> = (0..3)
            .map(|scope| spec(&format!("calls\u{1f}session:s{scope}"), Window::Minute, max))
            .collect();
        specs.push(spec("all\u{1f}global", Window::Minute, global_max));
        let store = SyncStore::default();
        let base = 1_795_505_460; // a minute boundary
        let mut history: Vec<Outcome> = Vec::new();
        for (phase, requests) in phases.iter().enumerate() {
            let start = base + 60 * phase as u64;
            let mut workers = vec![Vec::new(), Vec::new(), Vec::new()];
            for (worker, scope, offset, release_it) in requests {
                let chosen = if with_global { vec![*scope, 3] } else { vec![*scope] };
                workers[*worker].push((chosen, start + offset, *release_it));
            }
            let outcomes = run(&store, table, &specs, choices.clone(), workers);
            prop_assert!(outcomes.iter().all(|o| !o.no_slot));
            for outcome in &outcomes {
                for taken in outcome.reservation.iter().flat_map(|r| &r.taken) {
                    prop_assert_eq!((taken.window_start, taken.window_end), (start, start + 60));
                }
            }
            history.extend(outcomes.iter().cloned());
            let (per_window, per_slot) = units(&history);
            records_match(&store, &per_slot)?;
            for (index, spec) in specs.iter().enumerate() {
                let requests = outcomes.iter().filter(|o| o.specs.contains(&index)).count() as u64;
                let admitted = outcomes.iter().filter(|o| o.reservation.is_some() && o.specs.contains(&index)).count() as u64;
                let released = outcomes.iter().filter(|o| o.released && o.specs.contains(&index)).count() as u64;
                let net = per_window.get(&(Identity::of(&spec.key).owner, start, start + 60)).copied().unwrap_or(0);
                prop_assert_eq!(net, (admitted - released) as i64);
                prop_assert_eq!(current_count(&store, table, start + 59, spec).unwrap(), admitted - released);
                prop_assert!(admitted - released <= spec.max);
                if !with_global {
                    prop_assert!(admitted >= requests.min(spec.max), "a call refused with room left");
                    if released == 0 {
                        prop_assert_eq!(admitted, requests.min(spec.max));
                    }
                }
            }
            if with_global {
                // All or nothing: the global counter counts every admitted call.
                let admitted = outcomes.iter().filter(|o| o.reservation.is_some()).count() as u64;
                let released = outcomes.iter().filter(|o| o.released).count() as u64;
                prop_assert_eq!(current_count(&store, table, start, &specs[3]).unwrap(), admitted - released);
                let refused = outcomes.len() as u64 - admitted;
                if refused > 0 && released == 0 {
                    // A call was refused only because one of its limits was full.
                    let full_global = admitted >= global_max;
                    let full_scope = outcomes.iter().filter(|o| o.reservation.is_none()).all(|o| {
                        let scope = o.specs[0];
                        outcomes.iter().filter(|x| x.reservation.is_some() && x.specs[0] == scope).count() as u64 >= max
                    });
                    prop_assert!(full_global || full_scope);
                }
            }
        }
    }

    /// A crowded table (1 to 6 slots for 6 owners), windows of 2, 3 and 5
    /// seconds ending at different times, workers whose clocks disagree by up
    /// to 12 seconds, calls that charge two limits, releases: no owner is
    /// ever charged more than `max` net in any window, the store holds exactly
    /// the units taken, and it never grows past the table.
    #[test]
    fn crowded_table_and_skewed_clocks_never_over_admit(
        slots in 1u32..7,
        limits in vec((prop_oneof![Just(2u64), Just(3), Just(5)], 0u64..4), 6),
        workers in vec(vec((0usize..6, prop::option::of(0usize..6), 0u64..12, prop::bool::weighted(0.2)), 0..10), 2..4),
        choices in vec(any::<u8>(), 1..64),
    ) {
        check_skewed(slots, "k", &limits, workers, choices)?;
    }

    /// The narrow case of the above: few owners in two to four slots, short
    /// windows, clocks a second or two apart, so that windows end while
    /// workers disagree about it and claims race.
    #[test]
    fn racing_claims_around_window_ends_never_over_admit(
        slots in 2u32..5,
        limits in vec((prop_oneof![Just(2u64), Just(3)], 1u64..3), 3),
        workers in vec(vec((0usize..3, 0u64..5), 1..8), 2..4),
        choices in vec(any::<u8>(), 1..32),
    ) {
        check_skewed(slots, "r", &limits, racing(workers), choices)?;
    }

    /// Many distinct scope values, one worker: a counter either gets a slot and
    /// counts exactly, or is refused for want of one; never merged.
    #[test]
    fn owners_are_never_merged(
        slots in 1u32..40,
        requests in vec((0usize..60, 0u64..3), 1..200),
    ) {
        let store = crate::store::MemoryStore::new();
        let table = Table::enforced(slots);
        let mut admitted: HashMap<(usize, u64), u64> = HashMap::new();
        let mut requests = requests;
        requests.sort_by_key(|r| r.1);
        for (scope, minute) in requests {
            let now = 60 * minute;
            let spec = spec(&format!("session:{scope}"), Window::Minute, 3);
            match reserve_in(&store, table, now, std::slice::from_ref(&spec)) {
                Ok(_) => *admitted.entry((scope, minute)).or_insert(0) += 1,
                Err(LimitError::Exhausted(refusals)) => {
                    let taken = admitted.get(&(scope, minute)).copied().unwrap_or(0);
                    if refusals[0].no_slot {
                        prop_assert_eq!(taken, 0, "an owner lost its slot within its window");
                    } else {
                        prop_assert_eq!(refusals[0].count, 3);
                        prop_assert_eq!(taken, 3);
                    }
                }
                Err(other) => panic!("{other:?}"),
            }
            prop_assert_eq!(
                current_count(&store, table, now, &spec).unwrap(),
                admitted.get(&(scope, minute)).copied().unwrap_or(0)
            );
        }
        prop_assert!(store.len() <= slots as usize);
    }
}

type Op = (usize, Option<usize>, u64, bool);

fn racing(workers: Vec<Vec<(usize, u64)>>) -> Vec<Vec<Op>> {
    workers
        .into_iter()
        .map(|ops| {
            ops.into_iter()
                .map(|(owner, offset)| (owner, None, offset, false))
                .collect()
        })
        .collect()
}

/// Owners `<prefix>0…` with `(window seconds, max)` each; every worker's
/// operations `(limit, second limit, clock offset, release)` run in clock
/// order, interleaved with the others' by `choices`.
fn check_skewed(
    slots: u32,
    prefix: &str,
    limits: &[(u64, u64)],
    workers: Vec<Vec<Op>>,
    choices: Vec<u8>,
) -> Result<(), TestCaseError> {
    let table = Table::enforced(slots);
    let specs: Vec<CounterSpec> = limits
        .iter()
        .enumerate()
        .map(|(i, (secs, max))| spec(&format!("{prefix}{i}"), Window::Seconds(*secs), *max))
        .collect();
    let store = SyncStore::default();
    let base = 1_000_000;
    let workers: Vec<Vec<(Vec<usize>, u64, bool)>> = workers
        .into_iter()
        .map(|mut ops| {
            // Each worker's own clock never goes back.
            ops.sort_by_key(|op| op.2);
            ops.into_iter()
                .map(|(first, second, offset, release_it)| {
                    let mut chosen = vec![first];
                    chosen.extend(second);
                    (chosen, base + offset, release_it)
                })
                .collect()
        })
        .collect();
    let outcomes = run(&store, table, &specs, choices, workers);
    let (per_window, per_slot) = units(&outcomes);
    records_match(&store, &per_slot)?;
    let max_of: HashMap<u128, u64> = specs
        .iter()
        .map(|s| (Identity::of(&s.key).owner, s.max))
        .collect();
    for ((owner, start, end), net) in &per_window {
        prop_assert!(*net >= 0);
        prop_assert!(
            *net as u64 <= max_of[owner],
            "{} units in [{}, {}) over max {}",
            net,
            start - base,
            end - base,
            max_of[owner]
        );
    }
    prop_assert!(store.snapshot().len() <= slots as usize);
    for outcome in &outcomes {
        if let Some(reservation) = &outcome.reservation {
            prop_assert_eq!(reservation.taken.len(), outcome.specs.len());
        }
    }
    Ok(())
}

// Interleavings the properties found against earlier versions of the
// algorithm, replayed exactly (the scheduler is deterministic).

/// Rolling a stale record over while another worker claims a second slot for
/// the same owner and window: two records, each writer counting only its own.
#[test]
fn regression_roll_over_beside_a_claim() {
    let workers = racing(vec![
        vec![(0, 0), (1, 0), (1, 2)],
        vec![(1, 2), (2, 0), (2, 0)],
        vec![(0, 0)],
    ]);
    let choices = vec![
        16, 67, 139, 189, 15, 108, 139, 78, 28, 10, 64, 96, 46, 108, 21, 3, 81, 63,
    ];
    check_skewed(3, "r", &[(2, 1), (2, 1), (2, 1)], workers, choices).unwrap();
}

/// Two records for one owner and window, and two writers each incrementing a
/// different one after reading the other before it existed.
#[test]
fn regression_increments_of_two_records() {
    let workers = vec![
        vec![
            (5, None, 2, false),
            (0, None, 2, false),
            (1, Some(0), 0, false),
            (0, None, 0, false),
        ],
        vec![
            (3, None, 5, false),
            (0, None, 0, false),
            (5, None, 8, false),
            (4, Some(0), 6, false),
            (0, None, 5, false),
        ],
        vec![
            (4, None, 0, true),
            (2, None, 0, false),
            (4, Some(5), 5, false),
        ],
    ];
    let choices = vec![95, 69, 17, 191, 163, 199, 114, 136, 190, 109, 10, 24];
    check_skewed(
        6,
        "k",
        &[(3, 3), (2, 0), (2, 0), (2, 1), (3, 2), (5, 2)],
        workers,
        choices,
    )
    .unwrap();
}

/// A unit written in a window whose other record another worker has already
/// rolled into the next window: confirmed only if the window has not ended.
#[test]
fn regression_unit_confirmed_after_its_window_ended() {
    let workers = racing(vec![
        vec![(1, 0)],
        vec![(1, 2), (2, 2), (2, 0), (0, 4)],
        vec![(2, 2), (1, 1), (0, 0), (1, 2)],
    ]);
    let choices = vec![52, 34, 2, 203, 24, 140, 53, 202, 67, 113, 220, 106, 79, 11];
    check_skewed(3, "r", &[(2, 1), (2, 1), (2, 2)], workers, choices).unwrap();
}
