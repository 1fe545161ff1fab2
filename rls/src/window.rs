//! Fixed windows aligned to the Unix epoch, one length per unit.

use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit as ResponseUnit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds of the window's first second.
    pub start: u64,
    /// Whole seconds from now until the next window starts, 1 to the unit's length.
    pub reset_after: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("unit {0} is not a RateLimitUnit")]
    Unknown(i32),
    #[error("unit UNKNOWN is not a unit of time")]
    Unspecified,
    /// No epoch-aligned window of fixed length is a calendar month or year.
    #[error("unit {0} is not supported: only SECOND, MINUTE, HOUR and DAY have epoch-aligned windows")]
    Unsupported(&'static str),
}

impl Unit {
    /// The unit of a descriptor's `limit` override (`envoy.type.v3.RateLimitUnit`).
    pub fn from_override(unit: i32) -> Result<Unit, UnitError> {
        match RateLimitUnit::try_from(unit) {
            Ok(RateLimitUnit::Second) => Ok(Unit::Second),
            Ok(RateLimitUnit::Minute) => Ok(Unit::Minute),
            Ok(RateLimitUnit::Hour) => Ok(Unit::Hour),
            Ok(RateLimitUnit::Day) => Ok(Unit::Day),
            Ok(RateLimitUnit::Unknown) => Err(UnitError::Unspecified),
            Ok(other @ (RateLimitUnit::Month | RateLimitUnit::Year)) => {
                Err(UnitError::Unsupported(other.as_str_name()))
            }
            Err(_) => Err(UnitError::Unknown(unit)),
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

    pub fn response_unit(self) -> ResponseUnit {
        match self {
            Unit::Second => ResponseUnit::Second,
            Unit::Minute => ResponseUnit::Minute,
            Unit::Hour => ResponseUnit::Hour,
            Unit::Day => ResponseUnit::Day,
        }
    }

    /// The window holding the Unix second `now`.
    pub fn window_at(self, now: u64) -> Window {
        let length = self.seconds();
        let start = now - now % length;
        Window { start, reset_after: start + length - now }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        for (unit, now, start, reset_after) in [
            (Unit::Second, 1_700_000_000, 1_700_000_000, 1),
            (Unit::Minute, 1_700_000_000, 1_699_999_980, 40),
            (Unit::Hour, 3_600, 3_600, 3_600),
            (Unit::Hour, 7_199, 3_600, 1),
            (Unit::Day, 86_400 * 3 + 5, 86_400 * 3, 86_395),
        ] {
            assert_eq!(unit.window_at(now), Window { start, reset_after }, "{unit:?} at {now}");
        }
    }

    #[test]
    fn override_units_map_by_their_proto_numbers() {
        for (number, unit) in [
            (1, Ok(Unit::Second)),
            (2, Ok(Unit::Minute)),
            (3, Ok(Unit::Hour)),
            (4, Ok(Unit::Day)),
            (0, Err(UnitError::Unspecified)),
            (5, Err(UnitError::Unsupported("MONTH"))),
            (6, Err(UnitError::Unsupported("YEAR"))),
            (7, Err(UnitError::Unknown(7))),
            (-1, Err(UnitError::Unknown(-1))),
        ] {
            assert_eq!(Unit::from_override(number), unit, "{number}");
        }
    }

    #[test]
    fn response_units_keep_their_names() {
        for unit in [Unit::Second, Unit::Minute, Unit::Hour, Unit::Day] {
            let name = unit.response_unit().as_str_name();
            assert_eq!(Unit::from_override(RateLimitUnit::from_str_name(name).unwrap() as i32), Ok(unit));
        }
    }
}
