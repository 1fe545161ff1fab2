use serde_json::json;

use crate::mcp::strict_json::{parse_strict, DEPTH_CEILING};

fn ok(text: &str) -> serde_json::Value {
    parse_strict(text.as_bytes(), 64).unwrap()
}

fn bad(text: &str) -> String {
    match parse_strict(text.as_bytes(), 64) {
        Err(error) => error.message,
        Ok(value) => panic!("{text:?} should be refused, parsed as {value}"),
    }
}

#[test]
fn accepts_plain_json() {
    assert_eq!(
        ok(r#" {"a":[1,-2,3.5,true,false,null,"x"],"b":{}} "#),
        json!({"a":[1,-2,3.5,true,false,null,"x"],"b":{}})
    );
    assert_eq!(ok("[]"), json!([]));
    assert_eq!(ok("\"s\""), json!("s"));
    assert_eq!(ok("0"), json!(0));
    assert_eq!(ok("-0"), json!(-0.0));
    assert_eq!(ok("1E+2"), json!(100.0));
    assert_eq!(ok("18446744073709551615"), json!(18446744073709551615u64));
    assert_eq!(ok("-9223372036854775808"), json!(-9223372036854775808i64));
    assert_eq!(ok("18446744073709551616"), json!(18446744073709551616.0));
}

#[test]
fn decodes_escapes() {
    assert_eq!(
        ok(r#""\u0061\n\"\\\/\b\f\r\t""#),
        json!("a\n\"\\/\u{8}\u{c}\r\t")
    );
    assert_eq!(ok(r#""\ud83d\ude00""#), json!("😀"));
    assert_eq!(ok(r#"{"n\u0061me":1}"#), json!({"name":1}));
}

#[test]
fn refuses_bad_numbers_and_literals() {
    for text in [
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "tru",
        "nul",
        "True",
        "1 2",
    ] {
        bad(text);
    }
}

#[test]
fn refuses_bad_strings() {
    for text in [
        "\"abc",
        "'a'",
        "\"a\u{1}b\"",
        "\"tab\there\"",
        r#""\x""#,
        r#""\u12""#,
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800\u0041""#,
    ] {
        bad(text);
    }
}

#[test]
fn refuses_bad_structure() {
    for text in [
        "[1,]",
        "{\"a\":1,}",
        "{,}",
        "[,1]",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":}",
        "[1 2]",
        "]",
        "}",
        "{",
        "[",
        "// c\n{}",
        "{} /* c */",
        "[1]]",
    ] {
        bad(text);
    }
}

#[test]
fn refuses_empty_bom_invalid_utf8_trailing() {
    assert!(bad("").contains("empty"));
    assert!(bad(" \n\t").contains("empty"));
    assert!(bad("\u{feff}{}").contains("byte-order mark"));
    assert!(parse_strict(b"{\"a\":\"\xff\"}", 64)
        .unwrap_err()
        .message
        .contains("UTF-8"));
    assert!(
        parse_strict(b"{\"a\":\"\xed\xa0\x80\"}", 64).is_err(),
        "CESU surrogate bytes"
    );
    assert!(bad("{}x").contains("after the JSON value"));
    assert!(bad("{}{}").contains("after the JSON value"));
    assert!(bad("{}\0").contains("after the JSON value"));
    assert_eq!(ok("{} \r\n\t "), json!({}));
    // Only JSON whitespace counts.
    bad("{}\u{a0}");
    bad("\u{b}{}");
}

#[test]
fn duplicate_keys_anywhere_with_path() {
    assert_eq!(
        bad(r#"{"a":1,"a":2}"#),
        "duplicate key \"a\" at the top level"
    );
    assert_eq!(
        bad(r#"{"p":{"name":1,"n\u0061me":2}}"#),
        "duplicate key \"name\" at /p"
    );
    assert_eq!(
        bad(r#"[{"x":[0,{"k":{},"k":{}}]}]"#),
        "duplicate key \"k\" at /0/x/1"
    );
    assert_eq!(
        bad(r#"{"a/b":{"~":1,"~":2}}"#),
        "duplicate key \"~\" at /a~1b"
    );
    // Same key in sibling objects is fine.
    assert_eq!(ok(r#"[{"a":1},{"a":2}]"#), json!([{"a":1},{"a":2}]));
    // Case differs: not a duplicate.
    assert_eq!(ok(r#"{"name":1,"Name":2}"#), json!({"name":1,"Name":2}));
}

#[test]
fn long_keys_are_shortened_in_messages() {
    let key = "k".repeat(10_000);
    let text = format!("{{\"{key}\":1,\"{key}\":2}}");
    let message = bad(&text);
    assert!(message.len() < 200, "{message}");
}

#[test]
fn depth_limit() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(parse_strict(nested(64).as_bytes(), 64).is_ok());
    let message = parse_strict(nested(65).as_bytes(), 64).unwrap_err().message;
    assert!(
        message.starts_with("nesting deeper than 64 levels"),
        "{message}"
    );
    assert!(parse_strict(b"{\"a\":{\"b\":1}}", 2).is_ok());
    assert_eq!(
        parse_strict(b"{\"a\":{\"b\":[]}}", 2).unwrap_err().message,
        "nesting deeper than 2 levels at /a/b"
    );
    // Scalars do not count.
    assert!(parse_strict(b"1", 0).is_ok());
    assert!(parse_strict(b"[]", 0).is_err());
}

#[test]
fn huge_nesting_does_not_overflow() {
    for unit in ["[", "{\"a\":", "[{\"a\":"] {
        let text = unit.repeat(200_000);
        assert!(parse_strict(text.as_bytes(), 64).is_err());
        assert!(
            parse_strict(text.as_bytes(), usize::MAX).is_err(),
            "unterminated"
        );
    }
    // Complete nesting at the ceiling is accepted and dropped fine; one more
    // level is refused whatever limit is asked for.
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(parse_strict(nested(DEPTH_CEILING).as_bytes(), usize::MAX).is_ok());
    let message = parse_strict(nested(DEPTH_CEILING + 1).as_bytes(), usize::MAX)
        .unwrap_err()
        .message;
    assert!(
        message.starts_with("nesting deeper than 512 levels"),
        "{message}"
    );
}
