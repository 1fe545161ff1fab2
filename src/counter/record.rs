//! The bytes of one counter entry: the start of the window it counts and the
//! count. The entry is reused when the window rolls over, so keys do not grow
//! with time.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowCount {
    pub window_start: u64,
    pub count: u64,
}

const ENCODED_LEN: usize = 16;

impl WindowCount {
    pub fn encode(self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        let (start, count) = out.split_at_mut(8);
        start.copy_from_slice(&self.window_start.to_le_bytes());
        count.copy_from_slice(&self.count.to_le_bytes());
        out
    }

    /// `None` for bytes that are not an entry (a foreign or corrupt value).
    pub fn decode(bytes: &[u8]) -> Option<WindowCount> {
        if bytes.len() != ENCODED_LEN {
            return None;
        }
        let (start, count) = bytes.split_at(8);
        Some(WindowCount {
            window_start: u64::from_le_bytes(start.try_into().ok()?),
            count: u64::from_le_bytes(count.try_into().ok()?),
        })
    }

    /// The count that applies to the window starting at `window_start`.
    pub fn count_in(self, window_start: u64) -> u64 {
        if self.window_start == window_start {
            self.count
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let wc = WindowCount { window_start: 1_795_505_460, count: 29 };
        assert_eq!(WindowCount::decode(&wc.encode()), Some(wc));
        assert_eq!(WindowCount::decode(b"short"), None);
    }

    #[test]
    fn stale_window_counts_zero() {
        let wc = WindowCount { window_start: 60, count: 5 };
        assert_eq!(wc.count_in(60), 5);
        assert_eq!(wc.count_in(120), 0);
    }
}
