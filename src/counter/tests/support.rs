//! Test stores: an interposer that lands another worker's steps between two
//! of ours, a thread-safe store with Envoy's semantics, and a deterministic
//! scheduler that interleaves workers' store operations in a chosen order.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::counter::{CounterSpec, Window};
use crate::store::{Entry, MemoryStore, SharedStore, StoreError};

pub fn spec(key: &str, window: Window, max: u64) -> CounterSpec {
    CounterSpec {
        key: key.to_string(),
        window,
        max,
    }
}

pub fn minute(key: &str, max: u64) -> CounterSpec {
    spec(key, Window::Minute, max)
}

type Hook<'a> = Box<dyn FnOnce(&MemoryStore) + 'a>;

/// A worker's view of a `MemoryStore` that runs `hook` (another worker's
/// steps, on the same store) right before this worker's first write, as if
/// the other worker's thread had run between our reads and our write.
pub struct Interpose<'a> {
    pub store: &'a MemoryStore,
    fired: Cell<bool>,
    hook: RefCell<Option<Hook<'a>>>,
}

impl<'a> Interpose<'a> {
    /// Before our first write: between our last read and our write.
    pub fn before_first_set(
        store: &'a MemoryStore,
        hook: impl FnOnce(&MemoryStore) + 'a,
    ) -> Interpose<'a> {
        Interpose {
            store,
            fired: Cell::new(false),
            hook: RefCell::new(Some(Box::new(hook))),
        }
    }

    fn tick(&self, is_set: bool) {
        if is_set && !self.fired.replace(true) {
            if let Some(hook) = self.hook.borrow_mut().take() {
                hook(self.store);
            }
        }
    }

    pub fn fired(&self) -> bool {
        self.hook.borrow().is_none()
    }
}

impl SharedStore for Interpose<'_> {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.tick(false);
        self.store.get(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.tick(true);
        self.store.set(key, value, cas)
    }
}

/// Counts operations, to place an `Interpose` hook.
pub struct Counting<'a> {
    pub store: &'a MemoryStore,
    pub gets: Cell<usize>,
    pub sets: Cell<usize>,
}

impl<'a> Counting<'a> {
    pub fn new(store: &'a MemoryStore) -> Counting<'a> {
        Counting {
            store,
            gets: Cell::new(0),
            sets: Cell::new(0),
        }
    }
}

impl SharedStore for Counting<'_> {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.gets.set(self.gets.get() + 1);
        self.store.get(key)
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.sets.set(self.sets.get() + 1);
        self.store.set(key, value, cas)
    }
}

/// Envoy's shared data (proxy-wasm-cpp-host `SharedData`), shareable across
/// threads: one mutex, CAS checked only on existing keys, one token sequence.
type Entries = HashMap<String, (Vec<u8>, u32)>;

#[derive(Default)]
pub struct SyncStore {
    /// The entries and the last token issued.
    inner: Mutex<(Entries, u32)>,
}

impl SyncStore {
    pub fn snapshot(&self) -> HashMap<String, Vec<u8>> {
        let inner = self.inner.lock().unwrap();
        inner
            .0
            .iter()
            .map(|(key, (value, _))| (key.clone(), value.clone()))
            .collect()
    }
}

impl SharedStore for SyncStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.0.get(key).map(|(value, cas)| Entry {
            value: value.clone(),
            cas: *cas,
        }))
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap();
        let (entries, last) = &mut *inner;
        if let Some(existing) = entries.get(key) {
            if let Some(expected) = cas {
                if expected != 0 && expected != existing.1 {
                    return Err(StoreError::CasMismatch);
                }
            }
        }
        *last = last.wrapping_add(1);
        if *last == 0 {
            *last = 1;
        }
        entries.insert(key.to_string(), (value.to_vec(), *last));
        Ok(())
    }
}

/// Lets exactly one worker thread touch the store at a time, and picks the
/// next one from `choices` after every operation, so a schedule (a list of
/// choices) fixes the interleaving of the workers' store operations.
pub struct Scheduler {
    state: Mutex<Turns>,
    wake: Condvar,
}

struct Turns {
    turn: usize,
    live: Vec<bool>,
    choices: Vec<u8>,
    next: usize,
}

impl Turns {
    fn pass(&mut self) {
        let live: Vec<usize> = (0..self.live.len())
            .filter(|worker| self.live[*worker])
            .collect();
        if live.is_empty() {
            return;
        }
        let choice = if self.choices.is_empty() {
            self.next
        } else {
            usize::from(self.choices[self.next % self.choices.len()])
        };
        self.next += 1;
        self.turn = live[choice % live.len()];
    }
}

impl Scheduler {
    pub fn new(workers: usize, choices: Vec<u8>) -> Scheduler {
        let mut turns = Turns {
            turn: 0,
            live: vec![true; workers],
            choices,
            next: 0,
        };
        turns.pass();
        Scheduler {
            state: Mutex::new(turns),
            wake: Condvar::new(),
        }
    }

    fn wait_turn(&self, me: usize) -> std::sync::MutexGuard<'_, Turns> {
        let mut turns = self.state.lock().unwrap();
        while turns.turn != me {
            let (next, timeout) = self
                .wake
                .wait_timeout(turns, Duration::from_secs(20))
                .unwrap();
            assert!(
                !timeout.timed_out(),
                "scheduler stalled waiting for worker {me}"
            );
            turns = next;
        }
        turns
    }

    /// Runs `op` as worker `me`'s next store operation.
    pub fn step<R>(&self, me: usize, op: impl FnOnce() -> R) -> R {
        let mut turns = self.wait_turn(me);
        let result = op();
        turns.pass();
        self.wake.notify_all();
        result
    }

    /// Worker `me` has no more operations.
    pub fn finish(&self, me: usize) {
        let mut turns = self.wait_turn(me);
        turns.live[me] = false;
        turns.pass();
        self.wake.notify_all();
    }
}

/// One worker's view of a `SyncStore` under a `Scheduler`.
pub struct Scheduled<'a> {
    pub store: &'a SyncStore,
    pub scheduler: &'a Scheduler,
    pub me: usize,
}

impl SharedStore for Scheduled<'_> {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.scheduler.step(self.me, || self.store.get(key))
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        self.scheduler
            .step(self.me, || self.store.set(key, value, cas))
    }
}

/// One worker's whole run.
pub type Work<'a, T> = Box<dyn FnOnce(&dyn SharedStore) -> T + Send + 'a>;

/// Runs one closure per worker on its own thread, interleaving their store
/// operations by `choices`, and returns each worker's result.
pub fn run_workers<T: Send>(
    store: &SyncStore,
    choices: Vec<u8>,
    workers: Vec<Work<'_, T>>,
) -> Vec<T> {
    let scheduler = Scheduler::new(workers.len(), choices);
    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .enumerate()
            .map(|(me, work)| {
                let scheduler = &scheduler;
                scope.spawn(move || {
                    let view = Scheduled {
                        store,
                        scheduler,
                        me,
                    };
                    let result = work(&view);
                    scheduler.finish(me);
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    })
}

/// A pseudo-random schedule (xorshift64) for `run_workers`.
pub fn schedule(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect()
}
