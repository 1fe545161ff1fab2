//! A bounded map in the shared key-value store, for state that clients can
//! make grow: session and task bindings, legacy-transport denials, learned
//! tool header schemas. A fixed number of slot keys; a key hashes to a few
//! candidate slots; an entry carries its key's fingerprint and an expiry, and
//! an expired slot is reclaimed by the next writer. When every candidate is
//! held by a live entry of another key, `put` reports `Full` and the caller
//! fails closed. Keys are never deleted (Envoy cannot), only reused.

// Writes to keys read as absent carry ABSENT_TOKEN: the host
// ignores it when the key is absent and refuses it when a racer created the
// key first.
use super::{SharedStore, StoreError, ABSENT_TOKEN};

/// Candidate slots per key.
const WAYS: u64 = 4;
const HEADER_LEN: usize = 16;
const MAX_ATTEMPTS: u32 = 16;

pub struct BoundedMap {
    prefix: &'static str,
    slots: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Stored,
    /// Every candidate slot holds a live entry of another key.
    Full,
}

/// FNV-1a, 64 bit: stable across builds, workers and VM reloads.
pub fn fnv1a64(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn fingerprint(key: &str) -> u64 {
    // Never 0, so a zeroed slot is never mistaken for an owner.
    fnv1a64(0x9e37_79b9_7f4a_7c15, key.as_bytes()) | 1
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
        BoundedMap { prefix, slots }
    }

    fn slot_keys(&self, key: &str) -> impl Iterator<Item = String> + '_ {
        let slots = self.slots.max(1);
        let start = fnv1a64(0, key.as_bytes()) % slots;
        (0..WAYS.min(slots)).map(move |way| format!("{}/{}", self.prefix, (start + way) % slots))
    }

    /// The live value stored for `key`, if any.
    pub fn get(
        &self,
        store: &dyn SharedStore,
        key: &str,
        now_secs: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .get_entry(store, key, now_secs)?
            .map(|(value, _)| value))
    }

    /// The live value stored for `key` and when it expires.
    pub fn get_entry(
        &self,
        store: &dyn SharedStore,
        key: &str,
        now_secs: u64,
    ) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let owner = fingerprint(key);
        for slot_key in self.slot_keys(key) {
            if let Some(entry) = store.get(&slot_key)? {
                if let Some(slot) = decode(&entry.value) {
                    if slot.owner == owner && slot.expires_at > now_secs {
                        return Ok(Some((slot.value, slot.expires_at)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Stores `value` for `key` until `now_secs + ttl_secs`, replacing the
    /// key's previous value.
    pub fn put(
        &self,
        store: &dyn SharedStore,
        key: &str,
        value: &[u8],
        now_secs: u64,
        ttl_secs: u64,
    ) -> Result<PutOutcome, StoreError> {
        let owner = fingerprint(key);
        let bytes = encode(owner, now_secs.saturating_add(ttl_secs), value);
        for _ in 0..MAX_ATTEMPTS {
            let mut raced = false;
            let mut claimable: Option<(String, u32)> = None;
            for slot_key in self.slot_keys(key) {
                let entry = store.get(&slot_key)?;
                let (current, cas) = match &entry {
                    Some(entry) => (decode(&entry.value), entry.cas),
                    None => (None, ABSENT_TOKEN),
                };
                match current {
                    Some(slot) if slot.owner == owner => {
                        return match store.set(&slot_key, &bytes, Some(cas)) {
                            Ok(()) => Ok(PutOutcome::Stored),
                            Err(StoreError::CasMismatch) => {
                                raced = true;
                                break;
                            }
                            Err(error) => Err(error),
                        };
                    }
                    Some(slot) if slot.expires_at > now_secs => {}
                    _ => {
                        if claimable.is_none() {
                            claimable = Some((slot_key, cas));
                        }
                    }
                }
            }
            if raced {
                continue;
            }
            let Some((slot_key, cas)) = claimable else {
                return Ok(PutOutcome::Full);
            };
            match store.set(&slot_key, &bytes, Some(cas)) {
                Ok(()) => return Ok(PutOutcome::Stored),
                Err(StoreError::CasMismatch) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Host(format!(
            "{}: compare-and-swap kept failing",
            self.prefix
        )))
    }
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
            map.put(&store, "s1", b"alice", 100, 10),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "s1", 105), Ok(Some(b"alice".to_vec())));
        assert_eq!(map.get(&store, "s1", 110), Ok(None));
        assert_eq!(map.get(&store, "s2", 105), Ok(None));
    }

    #[test]
    fn replaces_its_own_value() {
        let store = MemoryStore::new();
        let map = BoundedMap::new("t", 64);
        assert_eq!(map.put(&store, "k", b"one", 0, 100), Ok(PutOutcome::Stored));
        assert_eq!(map.put(&store, "k", b"two", 1, 100), Ok(PutOutcome::Stored));
        assert_eq!(map.get(&store, "k", 2), Ok(Some(b"two".to_vec())));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn bounded_and_full_when_every_candidate_is_live() {
        let store = MemoryStore::new();
        let map = BoundedMap::new("t", 4);
        let mut outcomes = Vec::new();
        for i in 0..10 {
            outcomes.push(map.put(&store, &format!("key{i}"), b"v", 0, 100));
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
            map.put(&store, "late", b"v", 200, 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(map.get(&store, "late", 201), Ok(Some(b"v".to_vec())));
    }

    #[test]
    fn store_failure_is_reported() {
        let store = MemoryStore::new();
        store.fail_next_sets(100);
        let map = BoundedMap::new("t", 8);
        assert!(matches!(
            map.put(&store, "k", b"v", 0, 1),
            Err(StoreError::Host(_))
        ));
    }
}
