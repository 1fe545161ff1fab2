//! Reading a JSON text that people write (policies, wrapper configurations,
//! grants lists): its value, where every value and member key starts (by
//! JSON pointer), every repeated key, and syntax errors placed at a line and
//! column, saying what was expected and what was found.
//!
//! Tokens come from the strict [`lexer`](super::lexer), and strings and
//! numbers are decoded as `serde_json` decodes them, so a `serde_json::Value`
//! read here is what `serde_json::from_str` gives, except that repeated keys
//! are reported rather than silently resolved. A UTF-8 byte-order mark is
//! skipped. Iterative: nesting costs no stack.

use std::collections::HashMap;

use super::expect::Expect;
use super::lexer::{LexError, LexErrorKind, Lexer, Token, TokenKind};
use super::number::{self, number_value};
use super::pointer;
use super::positions::Positions;
use super::string::{decode_str, refusal};
use super::tree::{Scalar, Tree};

/// Deeper nesting is a syntax error (the same limit as `serde_json`).
pub(crate) const MAX_DEPTH: usize = 128;

/// A text read.
pub(crate) struct Document<'t, T> {
    pub value: T,
    pub positions: Positions<'t>,
    /// Every repeated key, in text order.
    pub duplicates: Vec<Duplicate>,
}

/// A key its object already had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The member's pointer.
    pub pointer: String,
    pub key: String,
    /// Where this occurrence of the key starts.
    pub offset: usize,
    /// Where the previous occurrence of the key starts.
    pub previous: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// The pointer of the value being read, or of the object or array whose
    /// punctuation is wrong.
    pub pointer: String,
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads `text` as one JSON value, or says where and why it is not one.
pub(crate) fn read<T: Tree>(text: &str) -> Result<Document<'_, T>, SyntaxError> {
    let start = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut reader = Reader {
        text,
        lexer: Lexer::new(text.as_bytes(), start),
        positions: Positions::new(text),
        duplicates: Vec::new(),
        pointer: String::new(),
        stack: Vec::new(),
    };
    match reader.document() {
        Ok(value) => Ok(Document {
            value,
            positions: reader.positions,
            duplicates: reader.duplicates,
        }),
        Err(failure) => {
            let (line, column) = reader.positions.line_col(failure.offset);
            Err(SyntaxError {
                pointer: failure.pointer,
                line,
                column,
                message: failure.message,
            })
        }
    }
}

struct Failure {
    pointer: String,
    offset: usize,
    message: String,
}

/// An open container. `base` is the length of its own pointer.
enum Frame<'t, T: Tree> {
    Array {
        items: Vec<T>,
        base: usize,
    },
    Object {
        members: T::Members,
        /// Where each key was last seen.
        seen: HashMap<String, usize>,
        /// The key whose value is being read, and its text.
        key: Option<(String, &'t str)>,
        base: usize,
    },
}

/// What reading a value's first token gave.
enum Step<T> {
    Complete(T),
    Opened(Expect),
}

struct Reader<'t, T: Tree> {
    text: &'t str,
    lexer: Lexer<'t>,
    positions: Positions<'t>,
    duplicates: Vec<Duplicate>,
    /// The pointer of the value being read, or between values, of the
    /// innermost open container.
    pointer: String,
    stack: Vec<Frame<'t, T>>,
}

impl<'t, T: Tree> Reader<'t, T> {
    fn document(&mut self) -> Result<T, Failure> {
        let mut expect = Expect::Value;
        let root = loop {
            let next = self.lexer.next_token();
            // Where the token starts, also when the lexer refused it.
            let start = match next {
                Ok(token) => token.start,
                Err(_) => self.lexer.pos(),
            };
            let completed = match expect {
                Expect::FirstElementOrEnd if is(next, TokenKind::EndArray) => self.close()?,
                Expect::FirstKeyOrEnd if is(next, TokenKind::EndObject) => self.close()?,
                Expect::Value | Expect::FirstElementOrEnd => match self.value(next, start)? {
                    Step::Complete(value) => value,
                    Step::Opened(then) => {
                        expect = then;
                        continue;
                    }
                },
                Expect::FirstKeyOrEnd | Expect::Key => {
                    self.key(next, start)?;
                    expect = Expect::Value;
                    continue;
                }
                Expect::CommaOrEnd => {
                    let (end, after_comma, wanted) = match self.stack.last() {
                        Some(Frame::Object { .. }) => {
                            (TokenKind::EndObject, Expect::Key, "',' or '}'")
                        }
                        _ => (TokenKind::EndArray, Expect::Value, "',' or ']'"),
                    };
                    if is(next, TokenKind::Comma) {
                        expect = after_comma;
                        continue;
                    }
                    if !is(next, end) {
                        return Err(self.expected(wanted, start));
                    }
                    self.close()?
                }
            };
            if self.stack.is_empty() {
                break completed;
            }
            self.add(completed)?;
            expect = Expect::CommaOrEnd;
        };
        if !self.lexer.at_end() {
            return Err(self.fail(
                self.lexer.pos(),
                "unexpected characters after the JSON document",
            ));
        }
        Ok(root)
    }

    /// A value whose first token is `next`.
    fn value(&mut self, next: Result<Token, LexError>, start: usize) -> Result<Step<T>, Failure> {
        if let Some(Frame::Array { items, base }) = self.stack.last() {
            self.pointer.truncate(*base);
            pointer::push_index(&mut self.pointer, items.len());
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.fail(start, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.positions.record_value(&self.pointer, start);
        let token = match next {
            Ok(token) => token,
            Err(error) => {
                return Err(self
                    .string_error(error, start)
                    .or_else(|| self.number_error(error, start))
                    .unwrap_or_else(|| self.expected("a JSON value", start)))
            }
        };
        let scalar = match token.kind {
            TokenKind::BeginObject => {
                self.stack.push(Frame::Object {
                    members: T::Members::default(),
                    seen: HashMap::new(),
                    key: None,
                    base: self.pointer.len(),
                });
                return Ok(Step::Opened(Expect::FirstKeyOrEnd));
            }
            TokenKind::BeginArray => {
                self.stack.push(Frame::Array {
                    items: Vec::new(),
                    base: self.pointer.len(),
                });
                return Ok(Step::Opened(Expect::FirstElementOrEnd));
            }
            TokenKind::String => Scalar::String(self.string(token)?),
            TokenKind::Number => Scalar::Number(
                number_value(self.text.as_bytes(), token)
                    .map_err(|why| self.fail(token.start, format!("invalid number: {why}")))?,
            ),
            TokenKind::True => Scalar::Bool(true),
            TokenKind::False => Scalar::Bool(false),
            TokenKind::Null => Scalar::Null,
            TokenKind::EndObject | TokenKind::EndArray | TokenKind::Colon | TokenKind::Comma => {
                return Err(self.expected("a JSON value", token.start))
            }
        };
        let raw = self.text.get(token.start..token.end).unwrap_or_default();
        Ok(Step::Complete(T::scalar(raw, scalar)))
    }

    /// A member's key (first token `next`) and its colon.
    fn key(&mut self, next: Result<Token, LexError>, start: usize) -> Result<(), Failure> {
        let token = match next {
            Ok(token) if token.kind == TokenKind::String => token,
            Ok(token) => return Err(self.expected("a string key", token.start)),
            Err(error) => {
                return Err(self
                    .string_error(error, start)
                    .unwrap_or_else(|| self.expected("a string key", start)))
            }
        };
        let key = self.string(token)?.into_owned();
        let raw_key = self.text.get(token.start..token.end).unwrap_or_default();
        let Some(Frame::Object {
            seen,
            key: pending,
            base,
            ..
        }) = self.stack.last_mut()
        else {
            return Err(internal());
        };
        let base = *base;
        pointer::push_token(&mut self.pointer, &key);
        if let Some(&previous) = seen.get(&key) {
            self.duplicates.push(Duplicate {
                pointer: self.pointer.clone(),
                key: key.clone(),
                offset: token.start,
                previous,
            });
        }
        seen.insert(key.clone(), token.start);
        *pending = Some((key, raw_key));
        self.positions.record_key(&self.pointer, token.start);
        let colon = self.lexer.next_token();
        if is(colon, TokenKind::Colon) {
            return Ok(());
        }
        let at = match colon {
            Ok(token) => token.start,
            Err(_) => self.lexer.pos(),
        };
        self.pointer.truncate(base);
        Err(self.expected("':' after the key", at))
    }

    /// Closes the innermost container.
    fn close(&mut self) -> Result<T, Failure> {
        match self.stack.pop() {
            Some(Frame::Array { items, base }) => {
                self.pointer.truncate(base);
                Ok(T::array(items))
            }
            Some(Frame::Object { members, base, .. }) => {
                self.pointer.truncate(base);
                Ok(T::object(members))
            }
            None => Err(internal()),
        }
    }

    /// Adds a completed value to the innermost container.
    fn add(&mut self, value: T) -> Result<(), Failure> {
        match self.stack.last_mut() {
            Some(Frame::Array { items, base }) => {
                items.push(value);
                self.pointer.truncate(*base);
            }
            Some(Frame::Object {
                members, key, base, ..
            }) => {
                let (key, raw_key) = key.take().ok_or_else(internal)?;
                T::insert(members, key, raw_key, value);
                self.pointer.truncate(*base);
            }
            None => return Err(internal()),
        }
        Ok(())
    }

    fn string(&self, token: Token) -> Result<std::borrow::Cow<'t, str>, Failure> {
        decode_str(self.text, token).map_err(|_| {
            self.fail(
                token.start,
                format!("invalid string: {}", refusal(self.text, token)),
            )
        })
    }

    /// A string the lexer refused.
    fn string_error(&self, error: LexError, start: usize) -> Option<Failure> {
        match error.kind {
            LexErrorKind::UnterminatedString => Some(self.fail(start, "unterminated string")),
            LexErrorKind::ControlCharacter => {
                Some(self.fail(error.offset, "control character in a string (escape it)"))
            }
            _ => None,
        }
    }

    /// A number the lexer refused: where its grammar fails, and why.
    fn number_error(&self, error: LexError, start: usize) -> Option<Failure> {
        if error.kind != LexErrorKind::InvalidNumber {
            return None;
        }
        let bad = number::scan(self.text.as_bytes(), start).err()?;
        Some(self.fail(bad.at, bad.message))
    }

    fn expected(&self, wanted: &str, offset: usize) -> Failure {
        let found = match self.text.get(offset..).and_then(|rest| rest.chars().next()) {
            Some(c) => format!("{c:?}"),
            None => "the end of the text".to_owned(),
        };
        self.fail(offset, format!("expected {wanted}, found {found}"))
    }

    fn fail(&self, offset: usize, message: impl Into<String>) -> Failure {
        Failure {
            pointer: self.pointer.clone(),
            offset,
            message: message.into(),
        }
    }
}

fn is(next: Result<Token, LexError>, kind: TokenKind) -> bool {
    matches!(next, Ok(token) if token.kind == kind)
}

fn internal() -> Failure {
    Failure {
        pointer: String::new(),
        offset: 0,
        message: "internal error reading the JSON text".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::arbitrary::{insert_at, json_like};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn value_at(text: &str, pointer: &str) -> Option<(usize, usize)> {
        let document = read::<Value>(text).ok()?;
        let offset = document.positions.value(pointer)?;
        Some(document.positions.line_col(offset))
    }

    #[test]
    fn reads_like_serde_json() {
        let text = r#"{"a": [1, -2.5e3, true, false, null, "x\u00e9\n"], "b": {"c": {}}, "d": [], "e": 18446744073709551615, "f": -0}"#;
        let read = read::<Value>(text).ok().map(|document| document.value);
        assert_eq!(read, serde_json::from_str::<Value>(text).ok());
    }

    #[test]
    fn records_value_and_key_positions() {
        let text = "{\n  \"tools\": {\n    \"x\": {\"limits\": [ 5 ]}\n  }\n}";
        assert_eq!(value_at(text, ""), Some((1, 1)));
        assert_eq!(value_at(text, "/tools"), Some((2, 12)));
        assert_eq!(value_at(text, "/tools/x/limits/0"), Some((3, 23)));
        // Missing pointers fall back to the nearest ancestor.
        assert_eq!(value_at(text, "/tools/x/limits/0/counter"), Some((3, 23)));
        let document = read::<Value>(text).ok();
        let key = document.as_ref().and_then(|d| {
            let offset = d.positions.key("/tools/x")?;
            Some(d.positions.line_col(offset))
        });
        assert_eq!(key, Some((3, 5)));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "{\"héllo wörld\": 1, \"b\": 2}";
        assert_eq!(value_at(text, "/b"), Some((1, 25)));
    }

    #[test]
    fn escaped_keys_use_pointer_escapes() {
        let text = r#"{"methods": {"resources/read": "deny", "a~b": 1}}"#;
        assert_eq!(value_at(text, "/methods/resources~1read"), Some((1, 32)));
        assert_eq!(value_at(text, "/methods/a~0b"), Some((1, 47)));
    }

    #[test]
    fn reports_duplicate_keys_at_the_repetition() {
        let text = "{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2},\n \"a\": 3, \"a\": 4}";
        let document = read::<Value>(text).ok();
        let found: Vec<(String, usize, usize)> = document
            .as_ref()
            .map(|d| {
                d.duplicates
                    .iter()
                    .map(|dup| (dup.pointer.clone(), dup.offset, dup.previous))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            found,
            [
                ("/b/c".to_owned(), 24, 16),
                ("/a".to_owned(), 34, 1),
                ("/a".to_owned(), 42, 34)
            ]
        );
        // The last value wins, as with serde_json.
        assert_eq!(
            document.map(|d| d.value),
            Some(json!({"a": 4, "b": {"c": 2}}))
        );
    }

    #[test]
    fn syntax_errors_have_positions_and_messages() {
        let cases = [
            (
                "{\"a\": 1,}",
                (1, 9),
                "",
                "expected a string key, found '}'",
            ),
            (
                "{\"a\" 1}",
                (1, 6),
                "",
                "expected ':' after the key, found '1'",
            ),
            (
                "{\"a\": tru}",
                (1, 7),
                "/a",
                "expected a JSON value, found 't'",
            ),
            ("{\"a\": 01}", (1, 8), "", "expected ',' or '}', found '1'"),
            (
                "{\"a\": 1.}",
                (1, 9),
                "/a",
                "invalid number: expected digits after '.'",
            ),
            (
                "[1e+]",
                (1, 5),
                "/0",
                "invalid number: expected digits in the exponent",
            ),
            ("[-]", (1, 3), "/0", "invalid number"),
            ("{\"a\": \"x}", (1, 7), "/a", "unterminated string"),
            (
                "{\"a\": \"\\q\"}",
                (1, 7),
                "/a",
                "invalid string: invalid escape",
            ),
            (
                "{\"a\": \"\\ud800\"}",
                (1, 7),
                "/a",
                "invalid string: unexpected end of hex escape",
            ),
            (
                "{}\n  x",
                (2, 3),
                "",
                "unexpected characters after the JSON document",
            ),
            (
                "",
                (1, 1),
                "",
                "expected a JSON value, found the end of the text",
            ),
            (
                "{\"a\": [1 2]}",
                (1, 10),
                "/a",
                "expected ',' or ']', found '2'",
            ),
            (
                "{\"a\": \"tab\there\"}",
                (1, 11),
                "/a",
                "control character in a string (escape it)",
            ),
            (
                "{\"a\": 1e999}",
                (1, 7),
                "/a",
                "invalid number: number out of range",
            ),
            (
                "{\"é\": [}",
                (1, 8),
                "/é/0",
                "expected a JSON value, found '}'",
            ),
            ("{1: 2}", (1, 2), "", "expected a string key, found '1'"),
        ];
        for (text, (line, column), pointer, message) in cases {
            let error = read::<Value>(text).err();
            assert_eq!(
                error,
                Some(SyntaxError {
                    pointer: pointer.to_owned(),
                    line,
                    column,
                    message: message.to_owned()
                }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            "{",
            "[1,",
            "{\"a\" 1}",
            "tru",
            "\"abc",
            "{1:2}",
            "[] x",
            "\"\\",
        ] {
            assert!(read::<Value>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            read::<Value>(&text).err().map(|e| (e.column, e.message)),
            Some((129, format!("nested more than {MAX_DEPTH} levels deep")))
        );
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(read::<Value>(&ok).is_ok());
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert!(read::<Value>("\u{feff}{}").is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn reads_what_serde_json_reads(
            text in json_like(),
            cut in 0..64usize,
            insert in prop::sample::select(vec!["", ",", "}", "]", "\"", "\\", "-", ".", "x", "\u{1}", " ", "\n"]),
        ) {
            for text in [text.clone(), insert_at(&text, cut, insert)] {

                let read = read::<Value>(&text).ok().map(|document| document.value);
                prop_assert_eq!(read, serde_json::from_str::<Value>(&text).ok(), "{:?}", text);
            }
        }
    }
}
