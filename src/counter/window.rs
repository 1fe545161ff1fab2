//! Rate-limit windows. Every window is a fixed length aligned to the Unix
//! epoch; because Unix time has no leap seconds, `minute`, `hour` and `day`
//! aligned to the epoch are exactly the calendar minute, hour and day in UTC.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Window {
    Minute,
    Hour,
    Day,
    /// A whole number of seconds, at least 1.
    Seconds(u64),
}

/// Why a JSON value is not a window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowError(pub String);

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest numeric window accepted: one year.
pub const MAX_WINDOW_SECS: u64 = 366 * 86_400;

impl Window {
    pub fn from_json(value: &serde_json::Value) -> Result<Window, WindowError> {
        match value {
            serde_json::Value::String(name) => match name.as_str() {
                "minute" => Ok(Window::Minute),
                "hour" => Ok(Window::Hour),
                "day" => Ok(Window::Day),
                other => Err(WindowError(format!(
                    "window must be \"minute\", \"hour\", \"day\" or a whole number of seconds, not {other:?}"
                ))),
            },
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(secs) if (1..=MAX_WINDOW_SECS).contains(&secs) => Ok(Window::Seconds(secs)),
                _ => Err(WindowError(format!(
                    "a numeric window must be a whole number of seconds from 1 to {MAX_WINDOW_SECS}, not {n}"
                ))),
            },
            other => Err(WindowError(format!(
                "window must be \"minute\", \"hour\", \"day\" or a whole number of seconds, not {other}"
            ))),
        }
    }

    pub fn length_secs(self) -> u64 {
        match self {
            Window::Minute => 60,
            Window::Hour => 3_600,
            Window::Day => 86_400,
            Window::Seconds(secs) => secs.max(1),
        }
    }

    /// Start (Unix seconds) of the window that contains `now_secs`.
    pub fn start_of(self, now_secs: u64) -> u64 {
        let len = self.length_secs();
        now_secs - now_secs % len
    }

    /// First second (Unix seconds) after the window that contains `now_secs`.
    pub fn reset_at(self, now_secs: u64) -> u64 {
        self.start_of(now_secs).saturating_add(self.length_secs())
    }

    /// Seconds from `now_secs` until the window that contains it ends (at least 1).
    pub fn retry_after(self, now_secs: u64) -> u64 {
        self.reset_at(now_secs).saturating_sub(now_secs).max(1)
    }
}

/// How a window reads in a denial: `minute`, `hour`, `day` or `N seconds`.
impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Minute => f.write_str("minute"),
            Window::Hour => f.write_str("hour"),
            Window::Day => f.write_str("day"),
            Window::Seconds(1) => f.write_str("1 second"),
            Window::Seconds(secs) => write!(f, "{secs} seconds"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_named_and_numeric_windows() {
        assert_eq!(Window::from_json(&json!("minute")), Ok(Window::Minute));
        assert_eq!(Window::from_json(&json!("hour")), Ok(Window::Hour));
        assert_eq!(Window::from_json(&json!("day")), Ok(Window::Day));
        assert_eq!(Window::from_json(&json!(60)), Ok(Window::Seconds(60)));
    }

    #[test]
    fn rejects_bad_windows() {
        for bad in [
            json!("week"),
            json!("Minute"),
            json!(0),
            json!(-5),
            json!(1.5),
            json!("60"),
            json!(null),
        ] {
            assert!(Window::from_json(&bad).is_err(), "{bad} accepted");
        }
        assert!(Window::from_json(&json!(MAX_WINDOW_SECS + 1)).is_err());
    }

    #[test]
    fn calendar_windows_align_to_utc() {
        // 2026-11-24T07:31:45Z
        let now = 1_795_505_505;
        assert_eq!(Window::Minute.start_of(now), 1_795_505_460);
        assert_eq!(Window::Hour.start_of(now), 1_795_503_600);
        assert_eq!(Window::Day.start_of(now), 1_795_478_400);
        assert_eq!(Window::Minute.retry_after(now), 15);
    }

    #[test]
    fn describes_windows_for_denials() {
        assert_eq!(Window::Minute.to_string(), "minute");
        assert_eq!(Window::Seconds(1).to_string(), "1 second");
        assert_eq!(Window::Seconds(90).to_string(), "90 seconds");
    }

    proptest! {
        #[test]
        fn now_lies_in_its_window(now in 0u64..(u64::MAX / 2), secs in 1u64..MAX_WINDOW_SECS) {
            for w in [Window::Minute, Window::Hour, Window::Day, Window::Seconds(secs)] {
                let start = w.start_of(now);
                prop_assert!(start <= now);
                prop_assert!(now < w.reset_at(now));
                prop_assert_eq!(start % w.length_secs(), 0);
                prop_assert_eq!(w.reset_at(now) - start, w.length_secs());
                prop_assert!(w.retry_after(now) >= 1 && w.retry_after(now) <= w.length_secs());
            }
        }

        #[test]
        fn same_window_same_start(now in 0u64..(u64::MAX / 2), secs in 1u64..100_000) {
            let w = Window::Seconds(secs);
            let start = w.start_of(now);
            prop_assert_eq!(w.start_of(start), start);
            prop_assert_eq!(w.start_of(start + secs - 1), start);
            prop_assert_eq!(w.start_of(start + secs), start + secs);
        }
    }
}
