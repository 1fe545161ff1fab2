//! Go `encoding/json` style case-insensitive member matching.
//!
//! Go decodes `"Name"`, `"NAME"` or `"NAMΕ"`-like spellings into a field
//! tagged `name` when no exact match wins, the last one in the object
//! winning; it folds `K` (U+212A KELVIN SIGN) to `k` and `ſ` (U+017F) to `s`.
//! The request reader matches members exactly (see `message`); these helpers
//! let the gateway refuse or account for the difference.

use std::collections::HashMap;

use serde_json::Value;

use super::message::ReadLimits;
use super::strict_json::{parse_strict, show_key};
use crate::json::pointer;

/// Go's folding of one character: `lower(upper(c))` with simple mappings.
fn fold_char(ch: char) -> char {
    if ch.is_ascii() {
        return ch.to_ascii_lowercase();
    }
    let mut upper = ch.to_uppercase();
    let upper = match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => ch,
    };
    let mut lower = upper.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => ch,
    }
}

/// The folded form of a key.
pub(crate) fn fold(key: &str) -> String {
    key.chars().map(fold_char).collect()
}

/// Whether `key` is a spelling of `lower_ascii` that Go would accept.
pub(crate) fn folds_to(key: &str, lower_ascii: &str) -> bool {
    key.chars().map(fold_char).eq(lower_ascii.chars())
}

/// For servers that decode like Go: the first object (in any message, at any
/// depth) holding two keys that differ only by case folding, described as
/// `keys "name" and "Name" at /params`. `None` when there is none or the
/// body is not strict JSON (which `read_payload` refuses anyway).
pub fn case_variant_key_conflict(body: &[u8], limits: &ReadLimits) -> Option<String> {
    let value = parse_strict(body, limits.max_depth).ok()?;
    let mut pending: Vec<(String, &Value)> = vec![(String::new(), &value)];
    while let Some((path, value)) = pending.pop() {
        match value {
            Value::Object(object) => {
                let mut seen: HashMap<String, &str> = HashMap::new();
                for (key, child) in object {
                    if let Some(other) = seen.insert(fold(key), key) {
                        let at = if path.is_empty() {
                            "the top level"
                        } else {
                            path.as_str()
                        };
                        return Some(format!(
                            "keys {} and {} at {at}",
                            show_key(other),
                            show_key(key)
                        ));
                    }
                    pending.push((pointer::join(&path, key), child));
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    pending.push((format!("{path}/{index}"), child));
                }
            }
            _ => {}
        }
    }
    None
}
