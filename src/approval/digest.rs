//! The digest that binds an approval to a call's arguments: SHA-256 of the
//! arguments' RFC 8785 (JCS) canonical form, so that reordered keys or
//! re-spelled numbers are the same call, and any other change is not.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The digest of `arguments` (absent arguments are `{}`); `None` if they
/// cannot be canonicalized.
pub fn arguments_digest(arguments: Option<&Value>) -> Option<[u8; 32]> {
    let empty = Value::Object(serde_json::Map::new());
    let canonical = canonical(arguments.unwrap_or(&empty));
    Some(Sha256::digest(canonical).into())
}

/// `value`'s RFC 8785 (JCS) canonical form, byte for byte what `serde_jcs`
/// gives for a `Value` (a test pins it): object members sorted by their
/// names' UTF-16 code units, strings escaped as serde_json escapes them, and
/// numbers spelled as ECMAScript spells the f64 they are. Written out here so
/// that the module carries no second JSON serializer (issue 24, module size).
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            // A serde_json number is finite, as an f64 too.
            let number = number.as_f64().unwrap_or(0.0);
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(number).as_bytes());
        }
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index != 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (index, (name, member)) in sorted.into_iter().enumerate() {
                if index != 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                write_canonical(out, member);
            }
            out.push(b'}');
        }
    }
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_canonical_form_is_serde_jcs_s() {
        let texts = [
            r#"{"b":1,"a":[true,false,null],"":{}}"#,
            r#"{"\u00e9":1,"\ud83d\ude00":2,"\uffff":3,"z":4,"\u0080":5,"A":6}"#,
            r#"[1e21,1e-7,-0.0,0.1,18446744073709551615,-9223372036854775808,123456789012345678,5e-324,1.7976931348623157e308]"#,
            r#"["\u0000\u001f\u007f\"\\/\b\f\n\r\t","\u2028\ud83d\ude00 é"]"#,
            r#"{"nested":{"y":[{"b":2,"a":1}],"x":"v"},"n":-12.5e3}"#,
            r#"[]"#,
            r#"{}"#,
            r#""text""#,
            r#"42"#,
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                canonical(&value),
                serde_jcs::to_vec(&value).unwrap(),
                "{text}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn every_value_is_canonical_as_serde_jcs_has_it(value in json_value()) {
            proptest::prop_assert_eq!(canonical(&value), serde_jcs::to_vec(&value).unwrap());
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
                .map(Value::Number)),
            ".{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,4}", inner, 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

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
