//! The claims of a JWT that Envoy's `jwt_authn` filter verified, as Envoy
//! hands them to a Wasm module: the payload is an attribute map, serialized
//! as pairs (a `u32` count, a `u32` key length and value length per pair,
//! then each key and value followed by a NUL, little-endian), and each value
//! by its type: a string as its bytes, a number as an 8-byte `f64`, a bool as
//! one byte, a list as pairs of (element, empty) and a map as pairs. Values
//! carry no type tag, so a claim is read as the type the configuration
//! expects of it.

use serde_json::Value;

/// The longest claim value read as a name (a grant named from a claim).
pub const MAX_NAME_CLAIM_BYTES: usize = 256;

/// A verified token's claims, by name, each in Envoy's encoding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    entries: Vec<(String, Vec<u8>)>,
}

/// One claim's value, in Envoy's encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClaimValue<'c>(&'c [u8]);

/// The pairs of Envoy's map encoding; `None` if `bytes` is not exactly one.
pub fn pairs(bytes: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let word = |at: usize| -> Option<usize> {
        let raw = bytes.get(at..at.checked_add(4)?)?;
        usize::try_from(u32::from_le_bytes(raw.try_into().ok()?)).ok()
    };
    let count = word(0)?;
    let mut cursor = count.checked_mul(8)?.checked_add(4)?;
    if cursor > bytes.len() {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let sizes = 4 + index * 8;
        let (key_len, value_len) = (word(sizes)?, word(sizes + 4)?);
        let key = bytes.get(cursor..cursor.checked_add(key_len)?)?;
        cursor = cursor.checked_add(key_len)?;
        if bytes.get(cursor) != Some(&0) {
            return None;
        }
        cursor += 1;
        let value = bytes.get(cursor..cursor.checked_add(value_len)?)?;
        cursor = cursor.checked_add(value_len)?;
        if bytes.get(cursor) != Some(&0) {
            return None;
        }
        cursor += 1;
        out.push((key, value));
    }
    (cursor == bytes.len()).then_some(out)
}

/// Envoy's map encoding of `entries`.
pub fn encode_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(entries: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (key, value) in entries {
        out.extend_from_slice(&(key.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.as_ref().len() as u32).to_le_bytes());
    }
    for (key, value) in entries {
        out.extend_from_slice(key.as_ref());
        out.push(0);
        out.extend_from_slice(value.as_ref());
        out.push(0);
    }
    out
}

/// Envoy's encoding of a JSON value.
pub fn encode_value(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Number(number) => number.as_f64().unwrap_or(0.0).to_le_bytes().to_vec(),
        Value::Bool(flag) => vec![u8::from(*flag)],
        Value::Null => Vec::new(),
        Value::Array(items) => {
            let elements: Vec<(Vec<u8>, &[u8])> = items
                .iter()
                .map(|item| (encode_value(item), &[][..]))
                .collect();
            encode_pairs(&elements)
        }
        Value::Object(members) => {
            let entries: Vec<(&[u8], Vec<u8>)> = members
                .iter()
                .map(|(key, value)| (key.as_bytes(), encode_value(value)))
                .collect();
            encode_pairs(&entries)
        }
    }
}

impl Claims {
    /// The payload attribute as Envoy serializes it; `None` if it is not a map.
    pub fn from_envoy(bytes: &[u8]) -> Option<Claims> {
        let entries = pairs(bytes)?
            .into_iter()
            .map(|(key, value)| Some((String::from_utf8(key.to_vec()).ok()?, value.to_vec())))
            .collect::<Option<Vec<_>>>()?;
        Some(Claims { entries })
    }

    /// A payload given as JSON (by `mcp-policy explain` and tests), encoded as
    /// Envoy would; `None` if it is not an object.
    pub fn from_json(payload: &Value) -> Option<Claims> {
        let members = payload.as_object()?;
        Some(Claims {
            entries: members
                .iter()
                .map(|(key, value)| (key.clone(), encode_value(value)))
                .collect(),
        })
    }

    pub fn get(&self, name: &str) -> Option<ClaimValue<'_>> {
        self.entries
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| ClaimValue(value))
    }

    /// Whether the token was issued for `audience`: its `aud` (a string or a
    /// list) holds it.
    pub fn audience_holds(&self, audience: &str) -> bool {
        self.get("aud")
            .is_some_and(|value| value.strings().contains(&audience))
    }

    /// The scopes the token grants: the space-separated `scope` claim and
    /// the `scp` claim (a list, or a space-separated string).
    pub fn scopes(&self) -> Vec<&str> {
        let mut scopes = Vec::new();
        for name in ["scope", "scp"] {
            if let Some(value) = self.get(name) {
                for text in value.strings() {
                    scopes.extend(text.split(' ').filter(|scope| !scope.is_empty()));
                }
            }
        }
        scopes
    }
}

/// Bytes a string claim would not hold: ASCII control characters.
fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().any(|&byte| byte < 0x20)
}

impl<'c> ClaimValue<'c> {
    /// The value as a string, if it is valid UTF-8.
    pub fn as_str(self) -> Option<&'c str> {
        std::str::from_utf8(self.0).ok()
    }

    /// The strings the value holds: the string itself, or the elements of a
    /// list of strings. A value is read as a list only when it is not text
    /// (it holds control characters) and decodes exactly as a list.
    pub fn strings(self) -> Vec<&'c str> {
        if looks_binary(self.0) {
            if let Some(elements) = pairs(self.0) {
                if elements.iter().all(|(_, empty)| empty.is_empty()) {
                    return elements
                        .into_iter()
                        .filter_map(|(element, _)| std::str::from_utf8(element).ok())
                        .collect();
                }
            }
        }
        self.as_str().into_iter().collect()
    }

    /// Whether the value equals `expected` (a string, number or bool), or,
    /// for a list, holds it.
    pub fn holds(self, expected: &Value) -> bool {
        match expected {
            Value::String(text) => self.strings().contains(&text.as_str()),
            Value::Number(number) => {
                let Ok(bytes) = <[u8; 8]>::try_from(self.0) else {
                    return false;
                };
                number.as_f64() == Some(f64::from_le_bytes(bytes))
            }
            Value::Bool(flag) => self.0 == [u8::from(*flag)],
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What Envoy 1.40 handed a Wasm module for a verified payload (read in a
    /// probe): `{"aud": ["mcp","other"], "scp": ["a:b","c"], "n": 42, "b": true, ...}`.
    const ENVOY_AUD: &str = "02000000030000000000000005000000000000006d637000006f746865720000";
    const ENVOY_N: &str = "0000000000004540";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_envoys_encoding_of_lists_numbers_and_bools() {
        let aud = unhex(ENVOY_AUD);
        assert_eq!(ClaimValue(&aud).strings(), vec!["mcp", "other"]);
        assert!(ClaimValue(&aud).holds(&json!("other")));
        assert!(!ClaimValue(&aud).holds(&json!("nope")));
        let n = unhex(ENVOY_N);
        assert!(ClaimValue(&n).holds(&json!(42)));
        assert!(ClaimValue(&[1]).holds(&json!(true)));
        assert_eq!(encode_value(&json!(["mcp", "other"])), aud);
        assert_eq!(encode_value(&json!(42)), n);
    }

    #[test]
    fn claims_from_json_match_what_envoy_sends() {
        let payload = json!({"iss": "https://idp", "aud": ["mcp", "other"], "scope": "x y", "scp": ["a:b"], "sub": "u1"});
        let claims = Claims::from_json(&payload).unwrap();
        let envoy = Claims::from_envoy(&encode_value(&payload)).unwrap();
        assert_eq!(claims, envoy);
        assert_eq!(
            claims.get("iss").and_then(ClaimValue::as_str),
            Some("https://idp")
        );
        assert_eq!(claims.scopes(), vec!["x", "y", "a:b"]);
        assert!(claims.audience_holds("other") && !claims.audience_holds("mcp other"));
        let single = Claims::from_json(&json!({"aud": "https://mcp.example/mcp"})).unwrap();
        assert!(single.audience_holds("https://mcp.example/mcp"));
        assert!(!Claims::default().audience_holds("https://mcp.example/mcp"));
    }

    #[test]
    fn a_text_claim_is_never_read_as_a_list() {
        // Printable text that happens to look like nothing else stays text.
        assert_eq!(ClaimValue(b"mcp other").strings(), vec!["mcp other"]);
        // Malformed pairs are not a list.
        assert_eq!(pairs(b"\x01\x00\x00\x00"), None);
        assert_eq!(pairs(&[]), None);
    }
}
