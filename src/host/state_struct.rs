//! A decision's fields as one `google.protobuf.Struct`, in protobuf wire
//! format. Envoy keeps it as one filter-state object, so publishing every field
//! costs one host call; access logs read it with
//! `%CEL(filter_state['wasm.mcp_policy'].grant)%` or whole with
//! `%FILTER_STATE(wasm.mcp_policy:TYPED)%`.

/// The schema the property is declared with.
pub const STRUCT_TYPE_URL: &str = "type.googleapis.com/google.protobuf.Struct";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StateValue<'a> {
    Text(&'a str),
    Number(f64),
}

// Field tags: (field number << 3) | wire type (1: 64-bit, 2: length-delimited).
const STRUCT_FIELDS: u8 = 0x0a;
const ENTRY_KEY: u8 = 0x0a;
const ENTRY_VALUE: u8 = 0x12;
const VALUE_NUMBER: u8 = 0x11;
const VALUE_STRING: u8 = 0x1a;

pub fn encode_struct(fields: &[(&str, StateValue)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|(k, v)| entry_len(k, v) + 4).sum());
    for (key, value) in fields {
        out.push(STRUCT_FIELDS);
        push_varint(&mut out, entry_len(key, value));
        push_bytes(&mut out, ENTRY_KEY, key.as_bytes());
        out.push(ENTRY_VALUE);
        push_varint(&mut out, value_len(value));
        push_value(&mut out, value);
    }
    out
}

/// Envoy's `envoy.source.extensions.common.wasm.DeclarePropertyArguments`
/// for the `declare_property` foreign function: `wasm.<name>` holds a protobuf
/// of type `type_url`, kept for the filter chain (span 0, the default).
pub fn declare_property_arguments(name: &str, type_url: &str) -> Vec<u8> {
    const NAME: u8 = 0x0a;
    const TYPE: u8 = 0x18;
    const WASM_TYPE_PROTOBUF: u8 = 3;
    const SCHEMA: u8 = 0x22;
    let mut out = Vec::with_capacity(delimited_len(name.len()) + 2 + delimited_len(type_url.len()));
    push_bytes(&mut out, NAME, name.as_bytes());
    out.extend_from_slice(&[TYPE, WASM_TYPE_PROTOBUF]);
    push_bytes(&mut out, SCHEMA, type_url.as_bytes());
    out
}

fn push_value(out: &mut Vec<u8>, value: &StateValue) {
    match value {
        StateValue::Text(text) => push_bytes(out, VALUE_STRING, text.as_bytes()),
        StateValue::Number(number) => {
            out.push(VALUE_NUMBER);
            out.extend_from_slice(&number.to_le_bytes());
        }
    }
}

fn push_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    push_varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn push_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(mut value: usize) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

/// A tag, a length and the bytes.
fn delimited_len(len: usize) -> usize {
    1 + varint_len(len) + len
}

fn value_len(value: &StateValue) -> usize {
    match value {
        StateValue::Text(text) => delimited_len(text.len()),
        StateValue::Number(_) => 9,
    }
}

fn entry_len(key: &str, value: &StateValue) -> usize {
    delimited_len(key.len()) + delimited_len(value_len(value))
}

#[cfg(test)]
mod tests {
    use super::{declare_property_arguments, encode_struct, StateValue};

    /// Reads one length-delimited field: (tag, payload, rest).
    fn field(bytes: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = bytes[0];
        if tag & 7 == 1 {
            return (tag, &bytes[1..9], &bytes[9..]);
        }
        let (mut len, mut at, mut shift) = (0usize, 1, 0);
        loop {
            let byte = bytes[at];
            len |= usize::from(byte & 0x7f) << shift;
            at += 1;
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        (tag, &bytes[at..at + len], &bytes[at + len..])
    }

    fn decode(mut bytes: &[u8]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (tag, entry, rest) = field(bytes);
            assert_eq!(tag, 0x0a);
            let (key_tag, key, entry) = field(entry);
            assert_eq!(key_tag, 0x0a);
            let (value_tag, value, tail) = field(entry);
            assert_eq!((value_tag, tail), (0x12, &[][..]));
            let (kind, payload, tail) = field(value);
            assert!(tail.is_empty());
            let text = match kind {
                0x1a => String::from_utf8(payload.to_vec()).unwrap(),
                0x11 => f64::from_le_bytes(payload.try_into().unwrap()).to_string(),
                other => panic!("unexpected value tag {other:#x}"),
            };
            out.push((String::from_utf8(key.to_vec()).unwrap(), text));
            bytes = rest;
        }
        out
    }

    #[test]
    fn encodes_text_and_number_values_of_any_length() {
        let long_rule = "r".repeat(300);
        let long_key = "k".repeat(20_000);
        let bytes = encode_struct(&[
            ("decision", StateValue::Text("allowed")),
            ("rule", StateValue::Text(&long_rule)),
            ("decide_us", StateValue::Number(42.0)),
            (&long_key, StateValue::Text("")),
        ]);
        assert_eq!(
            decode(&bytes),
            vec![
                ("decision".into(), "allowed".into()),
                ("rule".into(), long_rule.clone()),
                ("decide_us".into(), "42".into()),
                (long_key.clone(), String::new()),
            ]
        );
    }

    #[test]
    fn declares_a_protobuf_property() {
        let mut expected = vec![0x0a, 0x01, b'p', 0x18, 3, 0x22, 0x05];
        expected.extend_from_slice(b"t/x.Y");
        assert_eq!(declare_property_arguments("p", "t/x.Y"), expected);
    }

    #[test]
    fn matches_the_reference_encoding() {
        // protoc --encode=google.protobuf.Struct of fields { key: "a" value { string_value: "b" } }
        assert_eq!(
            encode_struct(&[("a", StateValue::Text("b"))]),
            [0x0a, 0x08, 0x0a, 0x01, b'a', 0x12, 0x03, 0x1a, 0x01, b'b']
        );
    }
}
