use serde_json::json;

use super::rid;
use crate::mcp::js_number::js_string_to_number;
use crate::mcp::request_id::{numeric_key, response_id_matches};
use crate::mcp::{RequestId, MAX_SAFE_INTEGER};

#[test]
fn canonical_text() {
    assert_eq!(rid("1").as_json(), "1");
    assert_eq!(rid(" 42 ").as_json(), "42");
    // -0 is -0.0 to JavaScript and serde_json: not an id.
    assert_eq!(RequestId::from_json_text("-0"), None);
    assert_eq!(rid("\"abc\"").as_json(), "\"abc\"");
    assert_eq!(rid(r#""\u0061bc""#), rid("\"abc\""));
    assert_eq!(rid(r#""a\"b\\c\n""#).as_json(), r#""a\"b\\c\n""#);
    assert_eq!(rid("\"\\u0001\"").as_json(), "\"\\u0001\"");
    assert_eq!(rid("\"é😀\"").as_json(), "\"é😀\"");
    assert_eq!(rid("7").to_string(), "7");
    assert_ne!(rid("1"), rid("\"1\""));
}

#[test]
fn refused_texts() {
    for text in [
        "",
        "1.0",
        "1e0",
        "null",
        "true",
        "{}",
        "[]",
        "[1]",
        "01",
        "\"a",
        "1 2",
        "9007199254740992",
        "\u{feff}1",
        "'a'",
    ] {
        assert_eq!(RequestId::from_json_text(text), None, "{text}");
    }
}

#[test]
fn constructors_and_accessors() {
    assert_eq!(
        RequestId::from_integer(MAX_SAFE_INTEGER).unwrap().as_json(),
        "9007199254740991"
    );
    assert_eq!(
        RequestId::from_integer(-MAX_SAFE_INTEGER)
            .unwrap()
            .as_json(),
        "-9007199254740991"
    );
    assert_eq!(RequestId::from_integer(MAX_SAFE_INTEGER + 1), None);
    assert_eq!(RequestId::from_integer(i64::MIN), None);
    assert_eq!(RequestId::from_string("x\"y").as_json(), r#""x\"y""#);
    assert_eq!(
        RequestId::from_string("x\"y").as_string().as_deref(),
        Some("x\"y")
    );
    assert_eq!(rid("5").as_integer(), Some(5));
    assert_eq!(rid("5").as_string(), None);
    assert_eq!(rid("\"5\"").as_integer(), None);
    assert_eq!(RequestId::from_value(&json!(3)), Some(rid("3")));
    assert_eq!(RequestId::from_value(&json!(3.0)), None);
    assert_eq!(RequestId::from_value(&json!(null)), None);
}

#[test]
fn js_number_conversion() {
    let cases: &[(&str, Option<f64>)] = &[
        ("", Some(0.0)),
        ("  ", Some(0.0)),
        ("1", Some(1.0)),
        (" 1 ", Some(1.0)),
        ("\u{a0}\u{feff}1\u{2028}", Some(1.0)),
        ("+1", Some(1.0)),
        ("-1", Some(-1.0)),
        ("01", Some(1.0)),
        ("1.", Some(1.0)),
        (".5", Some(0.5)),
        ("1e2", Some(100.0)),
        ("1E-2", Some(0.01)),
        ("0x1f", Some(31.0)),
        ("0X1F", Some(31.0)),
        ("0o17", Some(15.0)),
        ("0b101", Some(5.0)),
        ("Infinity", Some(f64::INFINITY)),
        ("-Infinity", Some(f64::NEG_INFINITY)),
        ("-0x1", None),
        ("0x", None),
        ("0xg", None),
        (".", None),
        ("e5", None),
        ("1e", None),
        ("1_000", None),
        ("infinity", None),
        ("inf", None),
        ("NaN", None),
        ("1 2", None),
        ("abc", None),
        ("١", None),
    ];
    for (text, expected) in cases {
        assert_eq!(js_string_to_number(text), *expected, "{text:?}");
    }
}

#[test]
fn response_matching_is_loose() {
    let ids = [rid("1"), rid("\"abc\"")];
    for id in [
        json!(1),
        json!(1.0),
        json!("1"),
        json!(" 1"),
        json!("0x1"),
        json!("1e0"),
        json!("abc"),
        json!(true),
    ] {
        assert!(response_id_matches(&ids, &id), "{id}");
    }
    for id in [
        json!(2),
        json!("2"),
        json!("ab"),
        json!([1]),
        json!({"id":1}),
        json!(false),
        json!(null),
        json!(1.5),
    ] {
        assert!(!response_id_matches(&ids, &id), "{id}");
    }
    // Request 0: null, false and "" are 0 to JavaScript.
    let zero = [rid("0")];
    for id in [
        json!(null),
        json!(false),
        json!(""),
        json!(-0.0),
        json!("-0"),
    ] {
        assert!(response_id_matches(&zero, &id), "{id}");
    }
    // A string request id that looks numeric.
    assert!(response_id_matches(&[rid("\"7\"")], &json!(7)));
}

#[test]
fn numeric_keys() {
    assert_eq!(numeric_key(&rid("1")), numeric_key(&rid("\"1\"")));
    assert_eq!(numeric_key(&rid("0")), numeric_key(&rid("\"-0\"")));
    assert_eq!(numeric_key(&rid("\"x\"")), None);
    assert_ne!(numeric_key(&rid("1")), numeric_key(&rid("2")));
}
