//! The bytes of one counter slot: who owns it, the window it counts and the
//! count. A slot is reused by its owner when the window rolls over, and by
//! another owner once the window has ended, so keys grow neither with time
//! nor with scope values.
//!
//! Layout (48 bytes, little-endian): owner fingerprint `u128`, window start
//! `u64`, window end `u64`, count `u64`, written at `u64`. The end is stored
//! so that any owner, whatever its own window length, can tell when the slot
//! is free. "Written at" is the writer's clock (never less than any "written
//! at" it read), so that a worker whose clock lags can tell that time has moved
//! on. The limit's `max` is not stored: a policy update applies to the current
//! window at once.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRecord {
    pub owner: u128,
    /// Unix seconds, inclusive.
    pub window_start: u64,
    /// Unix seconds, exclusive.
    pub window_end: u64,
    pub count: u64,
    /// Unix seconds: the latest time the writers of this slot had seen.
    pub written_at: u64,
}

/// Bytes in an encoded record.
pub const RECORD_LEN: usize = 48;

impl SlotRecord {
    pub fn encode(self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        let owner = self.owner.to_le_bytes();
        let start = self.window_start.to_le_bytes();
        let end = self.window_end.to_le_bytes();
        let count = self.count.to_le_bytes();
        let written = self.written_at.to_le_bytes();
        let fields = owner
            .iter()
            .chain(&start)
            .chain(&end)
            .chain(&count)
            .chain(&written);
        for (dst, src) in out.iter_mut().zip(fields) {
            *dst = *src;
        }
        out
    }

    /// `None` for bytes that are not a record (a foreign or corrupt value).
    pub fn decode(bytes: &[u8]) -> Option<SlotRecord> {
        if bytes.len() != RECORD_LEN {
            return None;
        }
        let (owner, rest) = bytes.split_first_chunk::<16>()?;
        let (start, rest) = rest.split_first_chunk::<8>()?;
        let (end, rest) = rest.split_first_chunk::<8>()?;
        let (count, rest) = rest.split_first_chunk::<8>()?;
        let (written, _) = rest.split_first_chunk::<8>()?;
        Some(SlotRecord {
            owner: u128::from_le_bytes(*owner),
            window_start: u64::from_le_bytes(*start),
            window_end: u64::from_le_bytes(*end),
            count: u64::from_le_bytes(*count),
            written_at: u64::from_le_bytes(*written),
        })
    }

    /// Whether the record's window shares a second with `[start, end)`.
    pub fn overlaps(self, start: u64, end: u64) -> bool {
        self.window_start < end && start < self.window_end
    }

    /// Whether the record's window has ended at `now_secs`.
    pub fn expired(self, now_secs: u64) -> bool {
        self.window_end <= now_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let record = SlotRecord {
            owner: 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            window_start: 1_795_505_460,
            window_end: 1_795_505_520,
            count: 29,
            written_at: 1_795_505_505,
        };
        let bytes = record.encode();
        assert_eq!(bytes.len(), RECORD_LEN);
        assert_eq!(SlotRecord::decode(&bytes), Some(record));
        assert_eq!(SlotRecord::decode(b"short"), None);
        assert_eq!(
            SlotRecord::decode(&[0u8; 16]),
            None,
            "the old 16-byte format is foreign"
        );
    }

    #[test]
    fn overlap_and_expiry() {
        let record = SlotRecord {
            owner: 1,
            window_start: 60,
            window_end: 120,
            count: 5,
            written_at: 61,
        };
        assert!(record.overlaps(60, 120));
        assert!(record.overlaps(0, 3600));
        assert!(!record.overlaps(120, 180));
        assert!(!record.overlaps(0, 60));
        assert!(!record.expired(119));
        assert!(record.expired(120));
    }
}
