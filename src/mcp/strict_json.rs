//! Strict JSON parsing into `serde_json::Value`.
//!
//! Stricter than `serde_json::from_slice::<Value>` where a gateway needs it:
//! - a duplicate object key at any depth is an error (serde_json keeps the
//!   last one silently, other parsers keep the first); keys are compared
//!   after decoding, so `"n\u0061me"` duplicates `"name"`;
//! - nesting deeper than `max_depth` is an error, found while parsing (the
//!   parser is iterative: no native recursion whatever the input);
//! - a UTF-8 byte-order mark, invalid UTF-8, and anything but JSON whitespace
//!   after the value are errors;
//! - numbers outside the f64 range (`1e400`) are errors; lone surrogate
//!   escapes are errors.
//!
//! Depth counts containers: `{}` is depth 1, `{"a":[]}` depth 2.

use serde_json::{Map, Value};

use crate::json::expect::Expect;
use crate::json::lexer::{LexError, Lexer, Token, TokenKind};
use crate::json::number::number_value;
use crate::json::pointer;
use crate::json::string::{decode_string, json_string_cut};

pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest key or path shown in an error message.
const SHOWN_CHARS: usize = 80;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub message: String,
}

impl JsonError {
    fn new(message: String) -> Self {
        JsonError { message }
    }
}

enum Frame {
    Array(Vec<Value>),
    Object(Map<String, Value>, Option<String>),
}

/// Hard ceiling on `max_depth`, whatever is configured: parsing is
/// iterative, but dropping a `serde_json::Value` recurses once per level, and
/// a wasm VM's stack is small.
pub const DEPTH_CEILING: usize = 512;

/// Parses exactly one JSON value (surrounded by optional JSON whitespace).
/// Nesting deeper than `max_depth` (at most [`DEPTH_CEILING`]) is an error.
pub(crate) fn parse_strict(body: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let max_depth = max_depth.min(DEPTH_CEILING);
    if body.starts_with(UTF8_BOM) {
        return Err(JsonError::new(
            "a UTF-8 byte-order mark is not allowed before JSON".into(),
        ));
    }
    if let Err(error) = std::str::from_utf8(body) {
        return Err(JsonError::new(format!(
            "invalid UTF-8 at byte {}",
            error.valid_up_to()
        )));
    }
    let mut lexer = Lexer::new(body, 0);
    if lexer.at_end() {
        return Err(JsonError::new(
            "empty body: a JSON value is required".into(),
        ));
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut expect = Expect::Value;
    let root = loop {
        let token = lexer.next_token().map_err(refused)?;
        let completed = match expect {
            Expect::Value | Expect::FirstElementOrEnd => {
                if expect == Expect::FirstElementOrEnd && token.kind == TokenKind::EndArray {
                    match stack.pop() {
                        Some(Frame::Array(items)) => Value::Array(items),
                        _ => return Err(internal()),
                    }
                } else {
                    match token.kind {
                        TokenKind::BeginObject | TokenKind::BeginArray => {
                            if stack.len() >= max_depth {
                                return Err(JsonError::new(format!(
                                    "nesting deeper than {max_depth} levels at {}",
                                    show_path(pointer(&stack))
                                )));
                            }
                            if token.kind == TokenKind::BeginObject {
                                stack.push(Frame::Object(Map::new(), None));
                                expect = Expect::FirstKeyOrEnd;
                            } else {
                                stack.push(Frame::Array(Vec::new()));
                                expect = Expect::FirstElementOrEnd;
                            }
                            continue;
                        }
                        _ => scalar(body, token)?,
                    }
                }
            }
            Expect::FirstKeyOrEnd | Expect::Key => {
                if expect == Expect::FirstKeyOrEnd && token.kind == TokenKind::EndObject {
                    match stack.pop() {
                        Some(Frame::Object(map, _)) => Value::Object(map),
                        _ => return Err(internal()),
                    }
                } else if token.kind == TokenKind::String {
                    let key = decode_string(body, token).map_err(|message| at(token, message))?;
                    let Some((top, outer)) = stack.split_last_mut() else {
                        return Err(internal());
                    };
                    let Frame::Object(map, slot) = top else {
                        return Err(internal());
                    };
                    if map.contains_key(&key) {
                        return Err(JsonError::new(format!(
                            "duplicate key {} at {}",
                            show_key(&key),
                            show_path(pointer(outer))
                        )));
                    }
                    *slot = Some(key);
                    let colon = lexer.next_token().map_err(refused)?;
                    if colon.kind != TokenKind::Colon {
                        return Err(unexpected(colon, "':'"));
                    }
                    expect = Expect::Value;
                    continue;
                } else {
                    return Err(unexpected(token, "a string key"));
                }
            }
            Expect::CommaOrEnd => match (stack.last(), token.kind) {
                (Some(Frame::Array(_)), TokenKind::Comma) => {
                    expect = Expect::Value;
                    continue;
                }
                (Some(Frame::Object(..)), TokenKind::Comma) => {
                    expect = Expect::Key;
                    continue;
                }
                (Some(Frame::Array(_)), TokenKind::EndArray) => match stack.pop() {
                    Some(Frame::Array(items)) => Value::Array(items),
                    _ => return Err(internal()),
                },
                (Some(Frame::Object(..)), TokenKind::EndObject) => match stack.pop() {
                    Some(Frame::Object(map, _)) => Value::Object(map),
                    _ => return Err(internal()),
                },
                (Some(Frame::Array(_)), _) => return Err(unexpected(token, "',' or ']'")),
                (Some(Frame::Object(..)), _) => return Err(unexpected(token, "',' or '}'")),
                (None, _) => return Err(internal()),
            },
        };
        match stack.last_mut() {
            None => break completed,
            Some(Frame::Array(items)) => items.push(completed),
            Some(Frame::Object(map, slot)) => match slot.take() {
                Some(key) => {
                    map.insert(key, completed);
                }
                None => return Err(internal()),
            },
        }
        expect = Expect::CommaOrEnd;
    };
    if !lexer.at_end() {
        return Err(JsonError::new(format!(
            "unexpected data after the JSON value at byte {}",
            lexer.pos()
        )));
    }
    Ok(root)
}

fn scalar(body: &[u8], token: Token) -> Result<Value, JsonError> {
    match token.kind {
        TokenKind::String => decode_string(body, token)
            .map(Value::String)
            .map_err(|message| at(token, message)),
        TokenKind::Number => number_value(body, token)
            .map(Value::Number)
            .map_err(|message| at(token, message)),
        TokenKind::True => Ok(Value::Bool(true)),
        TokenKind::False => Ok(Value::Bool(false)),
        TokenKind::Null => Ok(Value::Null),
        _ => Err(unexpected(token, "a value")),
    }
}

fn at(token: Token, message: &str) -> JsonError {
    JsonError::new(format!("invalid JSON at byte {}: {message}", token.start))
}

/// What the lexer refused.
fn refused(error: LexError) -> JsonError {
    JsonError::new(format!(
        "invalid JSON at byte {}: {}",
        error.offset,
        error.message()
    ))
}

fn unexpected(token: Token, wanted: &str) -> JsonError {
    JsonError::new(format!(
        "invalid JSON at byte {}: expected {wanted}, found {}",
        token.start,
        token.kind.describe()
    ))
}

fn internal() -> JsonError {
    JsonError::new("internal parser error".into())
}

/// JSON pointer (RFC 6901) of the position the innermost frame is filling.
fn pointer(frames: &[Frame]) -> String {
    let mut path = String::new();
    for frame in frames {
        match frame {
            Frame::Array(items) => pointer::push_index(&mut path, items.len()),
            Frame::Object(_, key) => pointer::push_token(&mut path, key.as_deref().unwrap_or("")),
        }
    }
    path
}

fn show_path(path: String) -> String {
    if path.is_empty() {
        "the top level".into()
    } else {
        truncate(&path)
    }
}

/// A key for an error message: JSON-quoted, shortened if long.
pub(crate) fn show_key(key: &str) -> String {
    json_string_cut(key, SHOWN_CHARS)
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= SHOWN_CHARS {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(SHOWN_CHARS).collect();
        short.push('…');
        short
    }
}
