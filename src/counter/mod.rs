//! Rate-limit counters: window arithmetic and the reserve/release algorithm
//! over a compare-and-swap store. Pure: the store is a trait.
//!
//! Envoy runs one Wasm VM per worker thread; all of them share one key-value
//! store per `vm_id` (see `crate::store`). The counters in it must admit exactly
//! `max` calls per window whatever the number of workers, and must not grow
//! memory with time or with values clients choose:
//!
//! - `slot`: a fixed table of slot keys per region (enforced, dry run); a
//!   counter hashes to a few candidate slots and owns one at a time; the slot
//!   count is a setting ([`DEFAULT_SLOTS`]); when the table is crowded, new
//!   owners are refused as rate-limited until a slot's window ends;
//! - `record`: the bytes of a slot (owner, window, count);
//! - `limiter`: `reserve_in` (all or nothing, exact under concurrency, fails
//!   closed) and `release` (only to the owner and window taken from);
//! - `window`: calendar and numeric windows, from the host clock.

mod limiter;
mod record;
mod slot;
mod window;

#[cfg(test)]
mod tests;

pub use limiter::{
    current_count, release, reserve, reserve_in, reserve_placed, CounterSpec, LimitError,
    LimitRefusal, Reservation, Taken, MAX_CAS_ATTEMPTS, MAX_CLOCK_LEAD_SECS,
};
pub use record::{SlotRecord, RECORD_LEN};
pub use slot::{jump_hash, Identity, Region, Table, DEFAULT_SLOTS, MAX_SLOTS, PROBES};
pub use window::{Window, WindowError, MAX_WINDOW_SECS};
