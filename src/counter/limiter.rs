//! Reserve a unit of every limit that applies to a call, all or nothing, and
//! release it again when the call did not run.

use super::record::WindowCount;
use super::store::{SharedStore, StoreError};
use super::window::Window;

/// Attempts per counter before the store is declared unavailable.
pub const MAX_CAS_ATTEMPTS: u32 = 64;

/// One limit as the counter layer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSpec {
    /// The shared-data key (counter name and scope value already resolved).
    pub key: String,
    pub window: Window,
    pub max: u64,
}

/// Units taken, to be released if the call does not run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    pub taken: Vec<(String, u64)>,
    /// CAS retries spent, for contention metrics.
    pub retries: u32,
}

/// A limit that had no room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Index into the specs passed to `reserve`.
    pub index: usize,
    pub count: u64,
    pub retry_after_secs: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitError {
    /// At least one limit had no room; nothing was taken.
    Exhausted(Vec<Refusal>),
    /// The store failed or kept refusing; nothing was taken.
    StoreUnavailable(String),
}

enum Step {
    Taken { window_start: u64, retries: u32 },
    Full { count: u64 },
}

/// Takes one unit from every counter, or none: when any counter is full or
/// the store fails, units already taken are released before returning.
pub fn reserve(
    store: &dyn SharedStore,
    now_secs: u64,
    specs: &[CounterSpec],
) -> Result<Reservation, LimitError> {
    let mut reservation = Reservation::default();
    let mut refusals = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let step = if refusals.is_empty() {
            take_one(store, now_secs, spec)
        } else {
            peek(store, now_secs, spec).map(|count| {
                if count >= spec.max {
                    Step::Full { count }
                } else {
                    Step::Taken { window_start: 0, retries: 0 }
                }
            })
        };
        match step {
            Ok(Step::Taken { window_start, retries }) => {
                reservation.retries = reservation.retries.saturating_add(retries);
                if refusals.is_empty() {
                    reservation.taken.push((spec.key.clone(), window_start));
                }
            }
            Ok(Step::Full { count }) => refusals.push(Refusal {
                index,
                count,
                retry_after_secs: spec.window.retry_after(now_secs),
            }),
            Err(error) => {
                release(store, &reservation);
                return Err(LimitError::StoreUnavailable(error.to_string()));
            }
        }
    }
    if refusals.is_empty() {
        Ok(reservation)
    } else {
        release(store, &reservation);
        Err(LimitError::Exhausted(refusals))
    }
}

/// Gives back units taken by `reserve`. A unit whose window has since rolled
/// over is not given back: it does not belong to the new window.
pub fn release(store: &dyn SharedStore, reservation: &Reservation) {
    for (key, window_start) in &reservation.taken {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let entry = match store.get(key) {
                Ok(Some(entry)) => entry,
                _ => break,
            };
            let Some(current) = WindowCount::decode(&entry.value) else {
                break;
            };
            if current.window_start != *window_start || current.count == 0 {
                break;
            }
            let next = WindowCount {
                window_start: current.window_start,
                count: current.count - 1,
            };
            match store.set(key, &next.encode(), Some(entry.cas)) {
                Ok(()) => break,
                Err(StoreError::CasMismatch) => continue,
                Err(StoreError::Host(detail)) => {
                    log::warn!("counter release for {key} failed: {detail}");
                    break;
                }
            }
        }
    }
}

fn peek(store: &dyn SharedStore, now_secs: u64, spec: &CounterSpec) -> Result<u64, StoreError> {
    let window_start = spec.window.start_of(now_secs);
    Ok(store
        .get(&spec.key)?
        .and_then(|entry| WindowCount::decode(&entry.value))
        .map_or(0, |current| current.count_in(window_start)))
}

fn take_one(store: &dyn SharedStore, now_secs: u64, spec: &CounterSpec) -> Result<Step, StoreError> {
    let window_start = spec.window.start_of(now_secs);
    for attempt in 0..MAX_CAS_ATTEMPTS {
        let entry = store.get(&spec.key)?;
        let (count, cas) = match &entry {
            Some(entry) => (
                WindowCount::decode(&entry.value).map_or(0, |current| current.count_in(window_start)),
                Some(entry.cas),
            ),
            None => (0, None),
        };
        if count >= spec.max {
            return Ok(Step::Full { count });
        }
        let next = WindowCount {
            window_start,
            count: count + 1,
        };
        match store.set(&spec.key, &next.encode(), cas) {
            Ok(()) => {
                return Ok(Step::Taken {
                    window_start,
                    retries: attempt,
                })
            }
            Err(StoreError::CasMismatch) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Host(format!(
        "compare-and-swap on {} failed {MAX_CAS_ATTEMPTS} times",
        spec.key
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counter::store::memory::MemoryStore;

    fn spec(key: &str, max: u64) -> CounterSpec {
        CounterSpec {
            key: key.into(),
            window: Window::Minute,
            max,
        }
    }

    #[test]
    fn admits_exactly_max_per_window() {
        let store = MemoryStore::new();
        let now = 1_000_040;
        let specs = [spec("a", 30)];
        for _ in 0..30 {
            assert!(reserve(&store, now, &specs).is_ok());
        }
        match reserve(&store, now, &specs) {
            Err(LimitError::Exhausted(refusals)) => {
                assert_eq!(refusals[0].count, 30);
                assert_eq!(refusals[0].retry_after_secs, 40);
            }
            other => panic!("31st admitted: {other:?}"),
        }
        // next window
        assert!(reserve(&store, now + 40, &specs).is_ok());
        assert_eq!(store.len(), 1, "the key is reused across windows");
    }

    #[test]
    fn all_or_nothing_across_limits() {
        let store = MemoryStore::new();
        let now = 600;
        assert!(reserve(&store, now, &[spec("small", 1)]).is_ok());
        let both = [spec("big", 10), spec("small", 1)];
        match reserve(&store, now, &both) {
            Err(LimitError::Exhausted(refusals)) => assert_eq!(refusals[0].index, 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(peek(&store, now, &spec("big", 10)).ok(), Some(0), "nothing taken from big");
    }

    #[test]
    fn release_gives_back_only_in_same_window() {
        let store = MemoryStore::new();
        let specs = [spec("k", 2)];
        let first = reserve(&store, 60, &specs).ok().unwrap_or_default();
        assert!(reserve(&store, 60, &specs).is_ok());
        assert!(reserve(&store, 60, &specs).is_err());
        release(&store, &first);
        assert!(reserve(&store, 60, &specs).is_ok());
        // A reservation from an old window does not touch the new one.
        let old = reserve(&store, 120, &specs).ok().unwrap_or_default();
        assert!(reserve(&store, 180, &specs).is_ok());
        release(&store, &old);
        assert_eq!(peek(&store, 180, &specs[0]).ok(), Some(1));
    }

    #[test]
    fn store_failure_fails_closed_and_takes_nothing() {
        let store = MemoryStore::new();
        assert!(reserve(&store, 0, &[spec("a", 5)]).is_ok());
        store.fail_next_sets(1);
        let result = reserve(&store, 0, &[spec("b", 5), spec("a", 5)]);
        assert!(matches!(result, Err(LimitError::StoreUnavailable(_))), "{result:?}");
        assert_eq!(peek(&store, 0, &spec("a", 5)).ok(), Some(1));
        assert_eq!(peek(&store, 0, &spec("b", 5)).ok(), Some(0));
    }

    #[test]
    fn max_zero_never_admits() {
        let store = MemoryStore::new();
        assert!(matches!(reserve(&store, 0, &[spec("z", 0)]), Err(LimitError::Exhausted(_))));
    }
}
