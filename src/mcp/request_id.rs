//! JSON-RPC request ids.
//!
//! An id is a string or an integer of magnitude at most 2^53 - 1 (the range
//! where JavaScript and Python servers read the same number). Numbers written
//! with a fraction or exponent (`1.0`, `1e2`) and larger integers are refused
//! (-32600): servers disagree on what they mean and echo them differently.
//!
//! A `RequestId` holds the id's canonical JSON text: an integer in plain
//! decimal, a string re-escaped minimally (`"\u0061"` becomes `"a"`). That is
//! the client's own text for every ordinary id, and otherwise exactly what a
//! server that decoded the id echoes, so equality and hashing of `RequestId`
//! are equality of the id *value*.

use std::fmt;

use serde_json::Value;

use super::js_number::js_string_to_number;
use super::strict_json::parse_strict;
use crate::json::string::json_string;

/// 2^53 - 1, JavaScript's `Number.MAX_SAFE_INTEGER`.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// The id as canonical JSON text (`1`, `"abc"`), to echo back in replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// The JSON text of the id, ready to paste into a JSON-RPC message.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// Reads an id from JSON text (`1`, `"abc"`, surrounding whitespace
    /// allowed). `None` unless it is a string or a safe integer.
    pub fn from_json_text(text: &str) -> Option<RequestId> {
        let value = parse_strict(text.as_bytes(), 1).ok()?;
        RequestId::from_value(&value)
    }

    /// The id a JSON value denotes, if it is a valid id.
    pub fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(text) => Some(RequestId::from_string(text)),
            Value::Number(number) => RequestId::from_integer(number.as_i64()?),
            _ => None,
        }
    }

    /// A string id.
    pub fn from_string(text: &str) -> RequestId {
        RequestId(json_string(text))
    }

    /// An integer id; `None` beyond ±(2^53 - 1).
    pub fn from_integer(number: i64) -> Option<RequestId> {
        if number.checked_abs()? <= MAX_SAFE_INTEGER {
            Some(RequestId(number.to_string()))
        } else {
            None
        }
    }

    /// The string of a string id.
    pub fn as_string(&self) -> Option<String> {
        match serde_json::from_str::<Value>(&self.0) {
            Ok(Value::String(text)) => Some(text),
            _ => None,
        }
    }

    /// The value of an integer id.
    pub fn as_integer(&self) -> Option<i64> {
        if self.0.starts_with('"') {
            None
        } else {
            self.0.parse().ok()
        }
    }

    /// What JavaScript's `Number(id)` gives (`None` for NaN).
    pub(crate) fn js_number(&self) -> Option<f64> {
        match self.as_integer() {
            // Safe integers convert exactly.
            Some(number) => Some(number as f64),
            None => js_string_to_number(&self.as_string()?),
        }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What JavaScript's `Number(value)` gives for an id value (`None` for NaN,
/// objects and arrays).
fn js_number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => js_string_to_number(text),
        Value::Null => Some(0.0),
        Value::Bool(flag) => Some(if *flag { 1.0 } else { 0.0 }),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Whether a response carrying `id` may be taken, by some client, as the
/// answer to one of `ids`. Deliberately loose (fail closed): equal values,
/// or equal under JavaScript's `Number()` as the TypeScript SDK compares them.
pub(crate) fn response_id_matches(ids: &[RequestId], id: &Value) -> bool {
    if let Some(exact) = RequestId::from_value(id) {
        if ids.contains(&exact) {
            return true;
        }
    }
    match js_number_of(id) {
        Some(number) => ids
            .iter()
            .any(|candidate| candidate.js_number() == Some(number)),
        None => false,
    }
}

/// A key under which two ids that any server or client could confuse
/// collide: the numeric value (as JavaScript sees it) if there is one.
pub(crate) fn numeric_key(id: &RequestId) -> Option<u64> {
    let number = id.js_number()?;
    if number.is_nan() {
        return None;
    }
    // +0 and -0 are one key.
    Some(if number == 0.0 { 0 } else { number.to_bits() })
}
