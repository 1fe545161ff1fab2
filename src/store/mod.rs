//! The shared key-value store (Envoy shared data) that counters and bounded
//! maps live in. Envoy's semantics, which every implementation must reproduce:
//! - one store per `vm_id`, shared by all worker threads;
//! - every write gives the entry a new CAS token from one global sequence;
//! - a write with a CAS token fails with `CasMismatch` only if the key exists
//!   and holds a different token; a write to an absent key always succeeds;
//! - keys are never deleted.

use std::fmt;

mod bounded_map;

pub use bounded_map::{BoundedMap, Claim, PutOutcome};

/// The CAS token used to write a key that was read as absent.
///
/// Envoy checks a CAS token only when the key exists. A write carrying this
/// token therefore inserts when the key is still absent, and fails with
/// `CasMismatch` when another worker inserted the key in between, unless that
/// insert happened to receive this very token.
///
/// Envoy's tokens come from one process-wide counter that starts at 1 and
/// grows by one per successful write to any key (of any `vm_id`), skipping 0.
/// `u32::MAX` is handed out once every 4,294,967,295 writes, so an entry holds
/// it only if its latest write was that one. The hazard needs both: another
/// worker inserts the same slot key between our read and our write, and that
/// insert is the one write in 2^32 that gets `u32::MAX`. Then our write
/// succeeds and overwrites the racer's fresh record (one unit lost, once).
/// Slot keys are created once and reused forever, so absent-key writes only
/// happen while the table fills; at a million writes a second the token comes
/// round every 71 minutes, and the race window is a few microseconds.
pub const ABSENT_TOKEN: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    CasMismatch,
    Host(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::CasMismatch => f.write_str("compare-and-swap mismatch"),
            StoreError::Host(detail) => write!(f, "shared data unavailable: {detail}"),
        }
    }
}

/// An entry as read: its bytes and the CAS token to write it back with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: Vec<u8>,
    pub cas: u32,
}

pub trait SharedStore {
    fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;
    fn set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError>;
}

#[cfg(any(test, feature = "fake-host", feature = "cli"))]
mod memory;
#[cfg(any(test, feature = "fake-host", feature = "cli"))]
pub use memory::MemoryStore;
