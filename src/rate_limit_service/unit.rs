//! The units a rate-limit service counts in (`envoy.type.v3.RateLimitUnit`),
//! and which limit windows they express. Every RLS window is one unit long
//! and aligned to the Unix epoch, as the filter's own windows are, so a
//! `minute` limit counts the same minute in both.

use crate::counter::Window;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    /// The unit a window is; `None` for a length no unit has (90 seconds).
    pub fn of(window: Window) -> Option<Unit> {
        match window {
            Window::Seconds(1) => Some(Unit::Second),
            Window::Minute | Window::Seconds(60) => Some(Unit::Minute),
            Window::Hour | Window::Seconds(3_600) => Some(Unit::Hour),
            Window::Day | Window::Seconds(86_400) => Some(Unit::Day),
            Window::Seconds(_) => None,
        }
    }

    /// The `RateLimitUnit` number.
    pub fn number(self) -> i32 {
        match self {
            Unit::Second => 1,
            Unit::Minute => 2,
            Unit::Hour => 3,
            Unit::Day => 4,
        }
    }

    /// As envoyproxy/ratelimit's configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
        }
    }

    pub fn seconds(self) -> u64 {
        match self {
            Unit::Second => 1,
            Unit::Minute => 60,
            Unit::Hour => 3_600,
            Unit::Day => 86_400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_map_to_the_unit_of_their_length() {
        for (window, unit) in [
            (Window::Seconds(1), Some(Unit::Second)),
            (Window::Minute, Some(Unit::Minute)),
            (Window::Seconds(60), Some(Unit::Minute)),
            (Window::Hour, Some(Unit::Hour)),
            (Window::Seconds(3_600), Some(Unit::Hour)),
            (Window::Day, Some(Unit::Day)),
            (Window::Seconds(86_400), Some(Unit::Day)),
            (Window::Seconds(90), None),
            (Window::Seconds(2), None),
            (Window::Seconds(7 * 86_400), None),
        ] {
            assert_eq!(Unit::of(window), unit, "{window}");
            if let Some(unit) = unit {
                assert_eq!(unit.seconds(), window.length_secs());
            }
        }
    }
}
