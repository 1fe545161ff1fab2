//! An in-memory store with Envoy's exact semantics, for tests and the CLI.
use super::{Entry, SharedStore, StoreError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

#[derive(Default)]
struct Inner {
    entries: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    next_cas: Cell<u32>,
    /// Forced failures for the next `set` calls, for fail-closed tests.
    fail_sets: Cell<u32>,
}

/// Cheap to clone; clones share the same store, like Envoy's workers.
#[derive(Clone, Default)]
pub struct MemoryStore(Rc<Inner>);

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    pub fn len(&self) -> usize {
        self.0.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.0
            .entries
            .borrow()
            .iter()
            .map(|(k, (v, _))| k.len() + v.len())
            .sum()
    }

    pub fn fail_next_sets(&self, count: u32) {
        self.0.fail_sets.set(count);
    }

    /// Makes the next successful write receive the token `next` (0 is
    /// never issued and means 1), for tests of the token's wrap.
    pub fn set_next_cas(&self, next: u32) {
        self.0.next_cas.set(next.wrapping_sub(1));
    }

    /// The keys held, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.0.entries.borrow().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn next_cas(&self) -> u32 {
        let mut cas = self.0.next_cas.get().wrapping_add(1);
        if cas == 0 {
            cas = 1;
        }
        self.0.next_cas.set(cas);
        cas
    }
}

impl SharedStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        Ok(self.0.entries.borrow().get(key).map(|(value, cas)| Entry {
            value: value.clone(),
            cas: *cas,
        }))
    }

    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        let failures = self.0.fail_sets.get();
        if failures > 0 {
            self.0.fail_sets.set(failures - 1);
            return Err(StoreError::Host("injected failure".into()));
        }
        let mut entries = self.0.entries.borrow_mut();
        match entries.get_mut(key) {
            Some(existing) => {
                if let Some(expected) = cas {
                    if expected != 0 && expected != existing.1 {
                        return Err(StoreError::CasMismatch);
                    }
                }
                *existing = (value.to_vec(), self.next_cas());
            }
            None => {
                entries.insert(key.to_string(), (value.to_vec(), self.next_cas()));
            }
        }
        Ok(())
    }
}
