//! A bounded map in the shared key-value store, for state that grows with
//! traffic: task bindings, legacy-transport denials, learned tool header
//! schemas. Each scope (a grant, for state a grant's requests create) has its
//! own fixed number of slot keys, so that no grant can take another's room; a
//! key hashes to a few candidate slots of its scope; an entry carries its
//! key's fingerprint and an expiry, and an expired slot is reclaimed by the
//! next writer. When every candidate is held by a live entry of another key,
//! `put` reports `Full` (or, in a map made `evicting`, replaces the entry
//! that expires first, within the same scope). Keys are never deleted (Envoy cannot), only
//! reused.

// Writes to keys read as absent carry ABSENT_TOKEN: the host
// ignores it when the key is absent and refuses it when a racer created the
// key first.
use super::{SharedStore, StoreError, ABSENT_TOKEN};
use crate::hash::fnv1a64;

/// Candidate slots per key.
const WAYS: u64 = 4;
const HEADER_LEN: usize = 16;
const MAX_ATTEMPTS: u32 = 16;

pub struct BoundedMap {
    prefix: &'static str,
    slots: u64,
    /// A scope full of its own live entries forgets the one that expires
    /// first, instead of refusing.
    evict: bool,
}

/// What claiming a key came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key was not held: it is now.
    Claimed,
    /// A live entry holds the key already.
    Taken,
    /// Every candidate slot holds a live entry of another key.
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// Every candidate slot holds a live entry of another key.
    Full,
}

fn partition(scope: &str) -> String {
    if scope.is_empty() {
        String::new()
    } else {
        format!("{:016x}/", fnv1a64(0, scope.as_bytes()))
    }
}

fn fingerprint(scope: &str, key: &str) -> u64 {
    // Never 0, so a zeroed slot is never mistaken for an owner.
    let scope_hash = fnv1a64(0x9e37_79b9_7f4a_7c15, scope.as_bytes());
    fnv1a64(scope_hash, key.as_bytes()) | 1
}

struct Slot {
    owner: u64,
    expires_at: u64,
    value: Vec<u8>,
}

fn decode(bytes: &[u8]) -> Option<Slot> {
    let owner = u64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?);
    let expires_at = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
    Some(Slot {
        owner,
        expires_at,
        value: bytes.get(HEADER_LEN..)?.to_vec(),
    })
}

fn encode(owner: u64, expires_at: u64, value: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + value.len());
    bytes.extend_from_slice(&owner.to_le_bytes());
    bytes.extend_from_slice(&expires_at.to_le_bytes());
    bytes.extend_from_slice(value);
    bytes
}

impl BoundedMap {
    pub const fn new(prefix: &'static str, slots: u64) -> BoundedMap {
        BoundedMap {
            prefix,
            slots,
            evict: false,
        }
    }

    /// A map where a full scope forgets its entry that expires first.
    pub const fn evicting(prefix: &'static str, slots: u64) -> BoundedMap {
        BoundedMap {
            prefix,
            slots,
            evict: true,
        }
    }

    fn slot_keys<'m>(&'m self, scope: &str, key: &str) -> impl Iterator<Item = String> + 'm {
        let slots = self.slots.max(1);
        let start = fnv1a64(0, key.as_bytes()) % slots;
        let partition = partition(scope);
        (0..WAYS.min(slots))
            .map(move |way| format!("{}/{partition}{}", self.prefix, (start + way) % slots))
    }

    /// The live values of `scope`: every slot of the scope is read.
    pub fn values(
        &self,
        store: &dyn SharedStore,
        scope: &str,
        now_secs: u64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let partition = partition(scope);
        let mut values = Vec::new();
        for index in 0..self.slots.max(1) {
            let slot_key = format!("{}/{partition}{index}", self.prefix);
            if let Some(slot) = store.get(&slot_key)?.and_then(|entry| decode(&entry.value)) {
                if slot.expires_at > now_secs {
                    values.push(slot.value);
                }
            }
        }
        Ok(values)
    }

    /// Replaces the live value of `key` with what `change` makes of it
    /// (the new value and its expiry), with compare-and-swap: a racing
    /// writer makes `change` run again on the value it wrote. `Ok(None)`
    /// when the key has no live value or `change` declines.
    pub fn update(
        &self,
        store: &dyn SharedStore,
        scope: &str,
        key: &str,
        now_secs: u64,
        change: impl Fn(&[u8]) -> Option<(Vec<u8>, u64)>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let owner = fingerprint(scope, key);
        'attempts: for _ in 0..MAX_ATTEMPTS {
            for slot_key in self.slot_keys(scope, key) {
                let Some(entry) = store.get(&slot_key)? else {
                    continue;
                };
                let Some(slot) = decode(&entry.value) else {
                    continue;
                };
                if slot.owner != owner || slot.expires_at <= now_secs {
                    continue;
                }
                let Some((value, expires_at)) = change(&slot.value) else {
                    return Ok(None);
                };
                match store.set(
                    &slot_key,
                    &encode(owner, expires_at, &value),
                    Some(entry.cas),
                ) {
                    Ok(()) => return Ok(Some(value)),
                    Err(StoreError::CasMismatch) => continue 'attempts,
                    Err(error) => return Err(error),
                }
            }
            return Ok(None);
        }
        Err(StoreError::Host(format!(
            "{}: compare-and-swap kept failing",
            self.prefix
        )))
    }

    /// The live value stored for `key` in `scope`, if any.
    pub fn get(
        &self,
        store: &dyn SharedStore,
        scope: &str,
        key: &str,
        now_secs: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let owner = fingerprint(scope, key);
        for slot_key in self.slot_keys(scope, key) {
            if let Some(entry) = store.get(&slot_key)? {
                if let Some(slot) = decode(&entry.value) {
                    if slot.owner == owner && slot.expires_at > now_secs {
                        return Ok(Some(slot.value));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Stores `value` for `key` in `scope` until `now_secs + ttl_secs`,
    /// replacing the key's previous value.
    pub fn put(
        &self,
        store: &dyn SharedStore,
        scope: &str,
        key: &str,
        value: &[u8],
        now_secs: u64,
        ttl_secs: u64,
    ) -> Result<PutOutcome, StoreError> {
        let written = self.write(store, scope, key, value, now_secs, ttl_secs, Mode::Replace)?;
        Ok(match written {
            Claim::Full => PutOutcome::Full,
            Claim::Claimed | Claim::Taken => PutOutcome::Stored,
        })
    }

    /// Stores `key` in `scope` until `now_secs + ttl_secs` unless a live
    /// entry holds it already: an atomic "first one wins" across workers.
    pub fn claim(
        &self,
        store: &dyn SharedStore,
        scope: &str,
        key: &str,
        now_secs: u64,
        ttl_secs: u64,
    ) -> Result<Claim, StoreError> {
        self.write(store, scope, key, &[], now_secs, ttl_secs, Mode::Claim)
    }

    /// Writes `key`'s slot: its own slot (live, unless claiming), else the
    /// first free one, else (in an evicting map, not when claiming) the one
    /// that expires first. Compare-and-swap; a racer makes it read again.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        store: &dyn SharedStore,
        scope: &str,
        key: &str,
        value: &[u8],
        now_secs: u64,
        ttl_secs: u64,
        mode: Mode,
    ) -> Result<Claim, StoreError> {
        let owner = fingerprint(scope, key);
        let bytes = encode(owner, now_secs.saturating_add(ttl_secs), value);
        'attempts: for _ in 0..MAX_ATTEMPTS {
            let mut target: Option<(String, u32)> = None;
            let mut oldest: Option<(String, u32, u64)> = None;
            for slot_key in self.slot_keys(scope, key) {
                let entry = store.get(&slot_key)?;
                let (current, cas) = match &entry {
                    Some(entry) => (decode(&entry.value), entry.cas),
                    None => (None, ABSENT_TOKEN),
                };
                match current {
                    Some(slot) if slot.owner == owner && slot.expires_at > now_secs => {
                        if mode == Mode::Claim {
                            return Ok(Claim::Taken);
                        }
                        target = Some((slot_key, cas));
                        break;
                    }
                    Some(slot) if slot.owner != owner && slot.expires_at > now_secs => {
                        if oldest
                            .as_ref()
                            .is_none_or(|(_, _, at)| slot.expires_at < *at)
                        {
                            oldest = Some((slot_key, cas, slot.expires_at));
                        }
                    }
                    _ => {
                        target.get_or_insert((slot_key, cas));
                    }
                }
            }
            let evicting = self.evict && mode == Mode::Replace;
            let Some((slot_key, cas)) = target.or_else(|| {
                oldest
                    .filter(|_| evicting)
                    .map(|(slot_key, cas, _)| (slot_key, cas))
            }) else {
                return Ok(Claim::Full);
            };
            match store.set(&slot_key, &bytes, Some(cas)) {
                Ok(()) => return Ok(Claim::Claimed),
                // A racer wrote the slot first: read again (it may be this key).
                Err(StoreError::CasMismatch) => continue 'attempts,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Host(format!(
            "{}: compare-and-swap kept failing",
            self.prefix
        )))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Replace the key's value.
    Replace,
    /// Write only if no live entry holds the key.
    Claim,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn stores_and_reads_back_until_expiry() {
        let store = MemoryStore::new();
        let map = BoundedMap::new("t", 64);
        assert_eq!(
            map.put(&store, "g", "s1", b"alice", 100, 10),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "g", "s1", 105), Ok(Some(b"alice".to_vec())));
        assert_eq!(map.get(&store, "g", "s1", 110), Ok(None));
        assert_eq!(map.get(&store, "g", "s2", 105), Ok(None));
    }

    #[test]
    fn lists_a_scopes_live_values_and_updates_one_atomically() {
        let store = MemoryStore::new();
        let map = BoundedMap::new("t", 16);
        for (key, ttl) in [("a", 10), ("b", 10), ("c", 1)] {
            assert_eq!(
                map.put(&store, "g", key, key.as_bytes(), 100, ttl),
                Ok(PutOutcome::Stored)
            );
        }
        assert_eq!(
            map.put(&store, "h", "z", b"z", 100, 10),
            Ok(PutOutcome::Stored)
        );
        let mut live = map.values(&store, "g", 105).unwrap();
        live.sort();
        assert_eq!(live, vec![b"a".to_vec(), b"b".to_vec()]);
        let changed = map.update(&store, "g", "a", 105, |value| {
            Some(([value, b"!"].concat(), 200))
        });
        assert_eq!(changed, Ok(Some(b"a!".to_vec())));
        assert_eq!(map.get(&store, "g", "a", 150), Ok(Some(b"a!".to_vec())));
        assert_eq!(
            map.update(&store, "g", "c", 105, |_| Some((b"x".to_vec(), 200))),
            Ok(None)
        );
        assert_eq!(map.update(&store, "g", "b", 105, |_| None), Ok(None));
        assert_eq!(map.get(&store, "g", "b", 105), Ok(Some(b"b".to_vec())));
    }

    #[test]
    fn replaces_its_own_value() {
        let store = MemoryStore::new();
        let map = BoundedMap::new("t", 64);
        assert_eq!(
            map.put(&store, "", "k", b"one", 0, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(
            map.put(&store, "", "k", b"two", 1, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "", "k", 2), Ok(Some(b"two".to_vec())));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn bounded_and_full_when_every_candidate_is_live() {
        let store = MemoryStore::new();
        let map = BoundedMap::new("t", 4);
        let mut outcomes = Vec::new();
        for i in 0..10 {
            outcomes.push(map.put(&store, "", &format!("key{i}"), b"v", 0, 100));
        }
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == Ok(PutOutcome::Stored))
                .count(),
            4
        );
        assert!(outcomes.contains(&Ok(PutOutcome::Full)));
        assert!(store.len() <= 4);
        // once expired, slots are reclaimed
        assert_eq!(
            map.put(&store, "", "late", b"v", 200, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "", "late", 201), Ok(Some(b"v".to_vec())));
    }

    #[test]
    fn store_failure_is_reported() {
        let store = MemoryStore::new();
        store.fail_next_sets(100);
        let map = BoundedMap::new("t", 8);
        assert!(matches!(
            map.put(&store, "", "k", b"v", 0, 1),
            Err(StoreError::Host(_))
        ));
    }

    #[test]
    fn scopes_never_take_each_others_room() {
        let store = MemoryStore::new();
        let map = BoundedMap::evicting("t", 4);
        for i in 0..10 {
            let _ = map.put(&store, "mallory", &format!("key{i}"), b"v", 0, 100);
        }
        assert_eq!(
            map.put(&store, "alice", "mine", b"v", 0, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "alice", "mine", 1), Ok(Some(b"v".to_vec())));
        assert_eq!(map.get(&store, "mallory", "mine", 1), Ok(None));
        assert_eq!(
            map.get(&store, "mallory", "key9", 1),
            Ok(Some(b"v".to_vec()))
        );
    }

    #[test]
    fn a_full_scope_forgets_its_oldest_entry_when_evicting() {
        let store = MemoryStore::new();
        let refusing = BoundedMap::new("t", 1);
        let map = BoundedMap::evicting("t", 1);
        assert_eq!(
            map.put(&store, "g", "first", b"1", 0, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(
            refusing.put(&store, "g", "second", b"2", 1, 100),
            Ok(PutOutcome::Full)
        );
        assert_eq!(
            map.put(&store, "g", "second", b"2", 1, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "g", "first", 2), Ok(None));
        assert_eq!(map.get(&store, "g", "second", 2), Ok(Some(b"2".to_vec())));
    }
}
