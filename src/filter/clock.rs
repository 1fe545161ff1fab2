//! The host clock, read one way everywhere. A failed read is an error the
//! caller refuses on; it is never taken as the epoch.

use crate::host::{Host, HostError};

/// Whole seconds since the Unix epoch.
pub fn now_secs(host: &dyn Host) -> Result<u64, HostError> {
    host.now_nanos().map(|nanos| nanos / 1_000_000_000)
}
