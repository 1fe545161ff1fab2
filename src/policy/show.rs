//! Short, bounded text for denial messages: a condition's operand, and the
//! value a request carried where a condition looked. Argument values are
//! the agent's own input and may be as long as the body: they are cut.

use serde_json::Value;

use crate::json::string::json_string_cut;

/// The most characters of a condition's operand shown (as JSON).
const OPERAND_CHARS: usize = 60;

/// The most characters of a string argument shown.
const STRING_CHARS: usize = 40;

const CUT: char = '…';

/// `value` as compact JSON, cut after [`OPERAND_CHARS`] characters.
pub(crate) fn json(value: &Value) -> String {
    cut(&value.to_string(), OPERAND_CHARS)
}

/// What a request carried: `"EUR"`, `150000`, `true`, `null`, `an array`,
/// `an object` or `missing`. Strings are cut after [`STRING_CHARS`]
/// characters; arrays and objects are not shown.
pub(crate) fn value(found: Option<&Value>) -> String {
    match found {
        None => "missing".to_owned(),
        Some(Value::String(s)) => string(s),
        Some(Value::Array(_)) => "an array".to_owned(),
        Some(Value::Object(_)) => "an object".to_owned(),
        Some(scalar) => scalar.to_string(),
    }
}

/// A string as a JSON string literal, cut after [`STRING_CHARS`] characters.
pub(crate) fn string(s: &str) -> String {
    json_string_cut(s, STRING_CHARS)
}

/// `message`, followed by `facts` in parentheses when there are any.
pub(crate) fn with_facts(message: String, facts: &[String]) -> String {
    if facts.is_empty() {
        message
    } else {
        format!("{message} ({})", facts.join(", "))
    }
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}{CUT}", text.get(..end).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operands_are_compact_json_cut_at_60_characters() {
        assert_eq!(json(&json!(["PES", "DOL"])), r#"["PES","DOL"]"#);
        assert_eq!(json(&json!(100000)), "100000");
        let long = json(&json!(vec!["ABCDEFGH"; 20]));
        assert_eq!(long.chars().count(), 61);
        assert!(long.ends_with('…'), "{long}");
    }

    #[test]
    fn values_are_short() {
        assert_eq!(value(None), "missing");
        assert_eq!(value(Some(&json!("EUR"))), r#""EUR""#);
        assert_eq!(value(Some(&json!(1.5))), "1.5");
        assert_eq!(value(Some(&json!(null))), "null");
        assert_eq!(value(Some(&json!([1, 2]))), "an array");
        assert_eq!(value(Some(&json!({"k": "secret"}))), "an object");
        let long = value(Some(&json!("é".repeat(10_000))));
        assert_eq!(long, format!("\"{}…\"", "é".repeat(40)));
        assert_eq!(string("a\"b\n"), r#""a\"b\n""#);
    }

    #[test]
    fn facts_go_in_parentheses() {
        assert_eq!(with_facts("No.".into(), &[]), "No.");
        assert_eq!(
            with_facts("No.".into(), &["a is 1".into(), "b is 2".into()]),
            "No. (a is 1, b is 2)"
        );
    }
}
