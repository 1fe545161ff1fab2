//! Rate-limit counters: window arithmetic and the reserve/release algorithm
//! over a compare-and-swap store. Pure: the store is a trait.

mod limiter;
mod record;
mod store;
mod window;

pub use limiter::{release, reserve, CounterSpec, LimitError, Refusal, Reservation, MAX_CAS_ATTEMPTS};
pub use record::WindowCount;
#[cfg(any(test, feature = "fake-host"))]
pub use store::memory::MemoryStore;
pub use store::{Entry, SharedStore, StoreError};
pub use window::{Window, WindowError, MAX_WINDOW_SECS};
