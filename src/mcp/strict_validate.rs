//! Strict JSON read in one pass without building it, as a stream of events:
//! the same rules as [`parse_strict`] (duplicate keys after decoding, depth,
//! BOM, UTF-8, escapes, number range, trailing data), for bodies that are
//! read through their byte spans (`tools/list` results). No value is built
//! and strings without escapes are compared in place, so a large list costs
//! one lexer pass instead of a tree of maps and strings.
//!
//! Errors are rare, so their message comes from [`parse_strict`] itself.

use std::borrow::Cow;

use crate::json::expect::Expect;
use crate::json::lexer::{Lexer, Token, TokenKind};
use crate::json::number::number_value;
use crate::json::string::{decode_str, decode_string};

use super::strict_json::{parse_strict, JsonError, DEPTH_CEILING, UTF8_BOM};

/// Beyond this many keys in one object, the duplicate check stops being a
/// linear scan: [`parse_strict`] checks the whole body once instead.
const SCANNED_KEYS: usize = 32;

/// Numbers shorter than this, without an exponent, are within f64's range.
const SHORT_NUMBER: usize = 300;

/// `Ok` exactly when [`parse_strict`] accepts `body`; otherwise its error.
#[cfg(test)]
pub(crate) fn validate_strict(body: &[u8], max_depth: usize) -> Result<(), JsonError> {
    let drained = StrictScan::new(body, max_depth).and_then(|mut scan| {
        while scan.next()?.is_some() {}
        Ok(())
    });
    drained.map_err(|NotStrict| refusal(body, max_depth))
}

/// Why `body` is not strict JSON, as [`parse_strict`] says it.
pub(crate) fn refusal(body: &[u8], max_depth: usize) -> JsonError {
    match parse_strict(body, max_depth) {
        Err(error) => error,
        Ok(_) => JsonError {
            message: "the strict scan and the strict parser disagree".into(),
        },
    }
}

/// The body is not strict JSON (the reason is [`refusal`]'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NotStrict;

/// One step of the scan. Containers open with their first byte's offset and
/// close with the offset after their last; a key is read with
/// [`StrictScan::key`]; a scalar is its token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Begin { object: bool, start: usize },
    End { end: usize },
    Key,
    Scalar(Token),
}

/// An open container; an object's keys are `keys[first_key..]`.
#[derive(Clone, Copy)]
struct Frame {
    object: bool,
    first_key: usize,
}

pub(crate) struct StrictScan<'b> {
    text: &'b str,
    lexer: Lexer<'b>,
    max_depth: usize,
    stack: Vec<Frame>,
    keys: Vec<Cow<'b, str>>,
    expect: Expect,
    /// [`parse_strict`] accepted the whole body: keys need no more checking.
    proven: bool,
    done: bool,
}

impl<'b> StrictScan<'b> {
    pub(crate) fn new(body: &'b [u8], max_depth: usize) -> Result<Self, NotStrict> {
        if body.starts_with(UTF8_BOM) {
            return Err(NotStrict);
        }
        let text = std::str::from_utf8(body).map_err(|_| NotStrict)?;
        let mut lexer = Lexer::new(body, 0);
        if lexer.at_end() {
            return Err(NotStrict);
        }
        Ok(StrictScan {
            text,
            lexer,
            max_depth: max_depth.min(DEPTH_CEILING),
            stack: Vec::new(),
            keys: Vec::new(),
            expect: Expect::Value,
            proven: false,
            done: false,
        })
    }

    /// The body, known to be UTF-8.
    pub(crate) fn text(&self) -> &'b str {
        self.text
    }

    /// The last key read, decoded.
    pub(crate) fn key(&self) -> &str {
        self.keys.last().map_or("", |key| key)
    }

    /// The next event; `None` once the value and its trailing whitespace
    /// are read.
    pub(crate) fn next(&mut self) -> Result<Option<Event>, NotStrict> {
        if self.done {
            return Ok(None);
        }
        loop {
            let token = self.lexer.next_token().map_err(|_| NotStrict)?;
            match (self.expect, token.kind) {
                (Expect::FirstElementOrEnd, TokenKind::EndArray)
                | (Expect::FirstKeyOrEnd, TokenKind::EndObject) => {
                    return self.close(token);
                }
                (
                    Expect::Value | Expect::FirstElementOrEnd,
                    TokenKind::BeginObject | TokenKind::BeginArray,
                ) => {
                    if self.stack.len() >= self.max_depth {
                        return Err(NotStrict);
                    }
                    let object = token.kind == TokenKind::BeginObject;
                    self.stack.push(Frame {
                        object,
                        first_key: self.keys.len(),
                    });
                    self.expect = if object {
                        Expect::FirstKeyOrEnd
                    } else {
                        Expect::FirstElementOrEnd
                    };
                    return Ok(Some(Event::Begin {
                        object,
                        start: token.start,
                    }));
                }
                (Expect::Value | Expect::FirstElementOrEnd, _) => {
                    if !self.scalar_is_strict(token) {
                        return Err(NotStrict);
                    }
                    return self.completed(Event::Scalar(token));
                }
                (Expect::FirstKeyOrEnd | Expect::Key, TokenKind::String) => {
                    self.key_read(token)?;
                    if self.lexer.next_token().map(|colon| colon.kind) != Ok(TokenKind::Colon) {
                        return Err(NotStrict);
                    }
                    self.expect = Expect::Value;
                    return Ok(Some(Event::Key));
                }
                (Expect::FirstKeyOrEnd | Expect::Key, _) => return Err(NotStrict),
                (Expect::CommaOrEnd, kind) => {
                    let object = self.stack.last().ok_or(NotStrict)?.object;
                    match (object, kind) {
                        (false, TokenKind::Comma) => self.expect = Expect::Value,
                        (true, TokenKind::Comma) => self.expect = Expect::Key,
                        (false, TokenKind::EndArray) | (true, TokenKind::EndObject) => {
                            return self.close(token);
                        }
                        _ => return Err(NotStrict),
                    }
                }
            }
        }
    }

    fn close(&mut self, token: Token) -> Result<Option<Event>, NotStrict> {
        let frame = self.stack.pop().ok_or(NotStrict)?;
        self.keys.truncate(frame.first_key);
        self.completed(Event::End { end: token.end })
    }

    /// A value was completed: the next token follows it, or nothing does.
    fn completed(&mut self, event: Event) -> Result<Option<Event>, NotStrict> {
        if self.stack.is_empty() {
            if !self.lexer.at_end() {
                return Err(NotStrict);
            }
            self.done = true;
        } else {
            self.expect = Expect::CommaOrEnd;
        }
        Ok(Some(event))
    }

    fn key_read(&mut self, token: Token) -> Result<(), NotStrict> {
        let key = decode_str(self.text, token).map_err(|_| NotStrict)?;
        let frame = self.stack.last().ok_or(NotStrict)?;
        let siblings = self.keys.get(frame.first_key..).unwrap_or_default();
        if !self.proven {
            if siblings.len() >= SCANNED_KEYS {
                parse_strict(self.text.as_bytes(), self.max_depth).map_err(|_| NotStrict)?;
                self.proven = true;
            } else if siblings.contains(&key) {
                return Err(NotStrict);
            }
        }
        self.keys.push(key);
        Ok(())
    }

    fn scalar_is_strict(&self, token: Token) -> bool {
        let bytes = self.text.as_bytes();
        match token.kind {
            TokenKind::String => !self.lexer.escaped() || decode_string(bytes, token).is_ok(),
            TokenKind::Number => {
                let short = token.end - token.start < SHORT_NUMBER
                    && !bytes
                        .get(token.start..token.end)
                        .unwrap_or_default()
                        .iter()
                        .any(|byte| matches!(byte, b'e' | b'E'));
                short || number_value(bytes, token).is_ok()
            }
            TokenKind::True | TokenKind::False | TokenKind::Null => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agrees(body: &[u8], depth: usize) {
        let strict = parse_strict(body, depth).map(|_| ());
        assert_eq!(
            validate_strict(body, depth),
            strict,
            "{:?}",
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

    fn json_like() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("1".to_string()),
            Just("-0".to_string()),
            Just("1e999".to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            Just("\"a\"".to_string()),
            Just("\"\\u0061\"".to_string()),
            Just("\"\\ud800\"".to_string()),
            Just("\"b\"".to_string()),
        ];
        atom.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(
                    (
                        prop_oneof![Just("a"), Just("b"), Just("\\u0061"), Just("A")],
                        inner
                    ),
                    0..4
                )
                .prop_map(|members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(key, value)| format!("\"{key}\":{value}"))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
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
            let at = cut.min(text.len());
            if text.is_char_boundary(at) {
                let mutated = format!("{}{}{}", &text[..at], insert, &text[at..]);
                agrees(mutated.as_bytes(), depth);
            }
        }
    }
}
