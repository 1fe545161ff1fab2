//! The digest that binds an approval to a call's arguments: SHA-256 of the
//! arguments' RFC 8785 (JCS) canonical form, so that reordered keys or
//! re-spelled numbers are the same call, and any other change is not.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The digest of `arguments` (absent arguments are `{}`); `None` if they
/// cannot be canonicalized.
pub fn arguments_digest(arguments: Option<&Value>) -> Option<[u8; 32]> {
    let empty = Value::Object(serde_json::Map::new());
    let canonical = serde_jcs::to_vec(arguments.unwrap_or(&empty)).ok()?;
    Some(Sha256::digest(canonical).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_same_call_in_another_spelling_has_the_same_digest() {
        let a = json!({"amount_total": 100.0, "currency": "PES", "items": [1, 2]});
        let b: Value =
            serde_json::from_str(r#"{"items":[1,2],"currency":"PES","amount_total":1e2}"#).unwrap();
        assert_eq!(arguments_digest(Some(&a)), arguments_digest(Some(&b)));
        let c = json!({"amount_total": 101, "currency": "PES", "items": [1, 2]});
        assert_ne!(arguments_digest(Some(&a)), arguments_digest(Some(&c)));
        assert_eq!(arguments_digest(None), arguments_digest(Some(&json!({}))));
    }
}
