//! Reading the filter's own JSON records (a pending approval in shared data,
//! a sealed `requestState`) from a `serde_json::Value`, as their derived
//! `Deserialize` would, without a derived deserializer per record in the
//! module (issue 24, module size). The records are the filter's own writing
//! (shared data, or sealed with an HMAC), so nothing else reaches these
//! readers; tests pin them to the derived deserializers.

use serde_json::{Map, Value};

/// The fields of a JSON object.
pub fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A required string.
pub fn string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key)? {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// An optional string: absent or `null` is `None`; any other non-string
/// refuses the record.
pub fn optional_string(map: &mut Map<String, Value>, key: &str) -> Option<Option<String>> {
    match map.remove(key) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(text)) => Some(Some(text)),
        Some(_) => None,
    }
}

/// A required whole number `0..=u64::MAX`.
pub fn unsigned(map: &mut Map<String, Value>, key: &str) -> Option<u64> {
    map.remove(key)?.as_u64()
}
