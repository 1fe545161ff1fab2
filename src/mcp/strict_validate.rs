//! Whether a text is strict JSON, without building it: the same rules as
//! [`parse_strict`] (duplicate keys after decoding, depth, BOM, UTF-8,
//! escapes, number range, trailing data), for bodies that are read through
//! their byte spans afterwards (`tools/list` results). No value is built and
//! strings without escapes are compared in place, so a large list costs a
//! lexer pass instead of a tree of maps and strings.
//!
//! Errors are rare, so their message comes from [`parse_strict`] itself.

use std::borrow::Cow;

use crate::json::expect::Expect;
use crate::json::lexer::{Lexer, Token, TokenKind};
use crate::json::number::number_value;
use crate::json::string::decode_str;

use super::strict_json::{parse_strict, JsonError, DEPTH_CEILING, UTF8_BOM};

/// Objects with more keys than this are checked by [`parse_strict`], so the
/// duplicate check here can stay a linear scan.
const SCANNED_KEYS: usize = 32;

/// `Ok` exactly when [`parse_strict`] accepts `body`; otherwise its error.
pub(crate) fn validate_strict(body: &[u8], max_depth: usize) -> Result<(), JsonError> {
    match scan(body, max_depth.min(DEPTH_CEILING)) {
        Scan::Strict => Ok(()),
        Scan::Invalid | Scan::TooManyKeys => match parse_strict(body, max_depth) {
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        },
    }
}

enum Scan {
    Strict,
    Invalid,
    /// An object too large for the linear duplicate check: undecided.
    TooManyKeys,
}

/// An open container; an object's keys are `keys[first_key..]`.
#[derive(Clone, Copy)]
struct Frame {
    object: bool,
    first_key: usize,
}

fn scan(body: &[u8], max_depth: usize) -> Scan {
    if body.starts_with(UTF8_BOM) {
        return Scan::Invalid;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Scan::Invalid;
    };
    let mut lexer = Lexer::new(body, 0);
    if lexer.at_end() {
        return Scan::Invalid;
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut keys: Vec<Cow<'_, str>> = Vec::new();
    let mut expect = Expect::Value;
    loop {
        let Ok(token) = lexer.next_token() else {
            return Scan::Invalid;
        };
        match (expect, token.kind) {
            (Expect::FirstElementOrEnd, TokenKind::EndArray)
            | (Expect::FirstKeyOrEnd, TokenKind::EndObject) => {
                if let Some(frame) = stack.pop() {
                    keys.truncate(frame.first_key);
                }
            }
            (
                Expect::Value | Expect::FirstElementOrEnd,
                TokenKind::BeginObject | TokenKind::BeginArray,
            ) => {
                if stack.len() >= max_depth {
                    return Scan::Invalid;
                }
                let object = token.kind == TokenKind::BeginObject;
                stack.push(Frame {
                    object,
                    first_key: keys.len(),
                });
                expect = if object {
                    Expect::FirstKeyOrEnd
                } else {
                    Expect::FirstElementOrEnd
                };
                continue;
            }
            (Expect::Value | Expect::FirstElementOrEnd, _) => {
                if !scalar_is_strict(text, body, token) {
                    return Scan::Invalid;
                }
            }
            (Expect::FirstKeyOrEnd | Expect::Key, TokenKind::String) => {
                let Ok(key) = decode_str(text, token) else {
                    return Scan::Invalid;
                };
                let Some(frame) = stack.last() else {
                    return Scan::Invalid;
                };
                let siblings = keys.get(frame.first_key..).unwrap_or_default();
                if siblings.len() >= SCANNED_KEYS {
                    return Scan::TooManyKeys;
                }
                if siblings.contains(&key) {
                    return Scan::Invalid;
                }
                keys.push(key);
                if !matches!(
                    lexer.next_token(),
                    Ok(Token {
                        kind: TokenKind::Colon,
                        ..
                    })
                ) {
                    return Scan::Invalid;
                }
                expect = Expect::Value;
                continue;
            }
            (Expect::FirstKeyOrEnd | Expect::Key, _) => return Scan::Invalid,
            (Expect::CommaOrEnd, kind) => {
                let Some(frame) = stack.last().copied() else {
                    return Scan::Invalid;
                };
                match (frame.object, kind) {
                    (false, TokenKind::Comma) => {
                        expect = Expect::Value;
                        continue;
                    }
                    (true, TokenKind::Comma) => {
                        expect = Expect::Key;
                        continue;
                    }
                    (false, TokenKind::EndArray) | (true, TokenKind::EndObject) => {
                        stack.pop();
                        keys.truncate(frame.first_key);
                    }
                    _ => return Scan::Invalid,
                }
            }
        }
        // A value was completed.
        if stack.is_empty() {
            break;
        }
        expect = Expect::CommaOrEnd;
    }
    if lexer.at_end() {
        Scan::Strict
    } else {
        Scan::Invalid
    }
}

fn scalar_is_strict(text: &str, body: &[u8], token: Token) -> bool {
    match token.kind {
        TokenKind::String => decode_str(text, token).is_ok(),
        TokenKind::Number => number_value(body, token).is_ok(),
        TokenKind::True | TokenKind::False | TokenKind::Null => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::arbitrary::{insert_at, json_like};
    use proptest::prelude::*;

    fn agrees(body: &[u8], depth: usize) {
        let strict = parse_strict(body, depth).map(|_| ());
        assert_eq!(
            validate_strict(body, depth),
            strict,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        let scanned = matches!(scan(body, depth.min(DEPTH_CEILING)), Scan::Strict);
        assert!(
            !scanned || strict.is_ok(),
            "scan accepted {:?}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn accepts_and_refuses_as_parse_strict_does() {
        let many: String = (0..40)
            .map(|n| format!("\"k{n}\":{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let many_dup = format!("{{{many},\"k39\":1}}");
        let many = format!("{{{many}}}");
        for body in [
            r#"{"a":1,"b":[true,false,null,"x",-0.5e3],"c":{}}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"a":{"a":1},"b":{"a":2}}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"[{"x":1},{"x":1}]"#,
            r#"{"a":1}x"#,
            r#"{"a":1} "#,
            "\u{feff}{}",
            r#""\ud800""#,
            r#""\u00e9""#,
            "1e400",
            "[1,]",
            "{,}",
            "[",
            "",
            "  ",
            r#"{"a"1}"#,
            r#"{"a":}"#,
            "[[[[]]]]",
            "{\"a\":\"\u{1}\"}",
            many.as_str(),
            many_dup.as_str(),
        ] {
            for depth in [1, 2, 3, 64] {
                agrees(body.as_bytes(), depth);
            }
        }
        agrees(b"{\"a\":\"\xff\"}", 64);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn agrees_with_parse_strict(
            text in json_like(),
            cut in 0..40usize,
            insert in prop_oneof![Just(""), Just(","), Just("}"), Just("]"), Just("\""), Just(" ")],
            depth in 1..6usize,
        ) {
            agrees(text.as_bytes(), depth);
            agrees(insert_at(&text, cut, insert).as_bytes(), depth);
        }
    }
}
