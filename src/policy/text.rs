//! A small JSON parser for policy text that remembers where every value and
//! every member key starts (by JSON pointer) and reports duplicate keys,
//! which `serde_json` would silently resolve to the last one.
//!
//! The scanner only finds token boundaries; strings and numbers are decoded
//! by `serde_json` itself, so the resulting `Value` is exactly what
//! `serde_json::from_str` would give (minus the silent duplicate handling).
//! Columns count characters (Unicode scalar values), not bytes.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::{At, Issue, PolicyError};
use crate::json::pointer;

/// Deeper nesting is a syntax error (the same limit as `serde_json`).
const MAX_DEPTH: usize = 128;

/// A parsed policy text.
pub(crate) struct Parsed<'t> {
    pub value: Value,
    pub positions: Positions<'t>,
    /// One issue per repeated key (at the repetition).
    pub duplicates: Vec<Issue>,
}

/// Where values and member keys start in the text.
pub(crate) struct Positions<'t> {
    text: &'t str,
    line_starts: Vec<usize>,
    values: HashMap<String, usize>,
    keys: HashMap<String, usize>,
}

impl Positions<'_> {
    fn new(text: &str) -> Positions<'_> {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Positions {
            text,
            line_starts,
            values: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = match self.text.get(start..offset) {
            Some(prefix) => prefix.chars().count(),
            None => offset.saturating_sub(start),
        };
        (line, column + 1)
    }

    /// Where an issue is: its own value or key, else its nearest ancestor.
    pub fn locate(&self, path: &str, at: At) -> Option<(usize, usize)> {
        let offset = match at {
            At::Offset(offset) => Some(offset),
            At::Key => self
                .keys
                .get(path)
                .copied()
                .or_else(|| self.value_offset(path)),
            At::Value => self.value_offset(path),
        };
        offset.map(|offset| self.line_col(offset))
    }

    fn value_offset(&self, path: &str) -> Option<usize> {
        let mut current = Some(path);
        while let Some(p) = current {
            if let Some(&offset) = self.values.get(p) {
                return Some(offset);
            }
            current = pointer::parent(p);
        }
        None
    }
}

/// Parses `text`, or returns the syntax error (with its position).
pub(crate) fn parse(text: &str) -> Result<Parsed<'_>, PolicyError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        positions: Positions::new(text),
        duplicates: Vec::new(),
    };
    if text.starts_with('\u{feff}') {
        parser.pos = '\u{feff}'.len_utf8();
    }
    let result = parser.value("", 0).and_then(|value| {
        parser.skip_ws();
        if parser.pos < parser.bytes.len() {
            Err(parser.error("", "unexpected characters after the JSON document"))
        } else {
            Ok(value)
        }
    });
    match result {
        Ok(value) => Ok(Parsed {
            value,
            positions: parser.positions,
            duplicates: parser.duplicates,
        }),
        Err(syntax) => {
            let (line, column) = parser.positions.line_col(syntax.offset);
            Err(PolicyError {
                path: syntax.path,
                line: Some(line),
                column: Some(column),
                message: syntax.message,
            })
        }
    }
}

struct SyntaxError {
    path: String,
    offset: usize,
    message: String,
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    positions: Positions<'t>,
    duplicates: Vec<Issue>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn error(&self, path: &str, message: impl Into<String>) -> SyntaxError {
        self.error_at(path, self.pos, message)
    }

    fn error_at(&self, path: &str, offset: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            path: path.to_owned(),
            offset,
            message: message.into(),
        }
    }

    /// What is at the current position, for error messages.
    fn found(&self) -> String {
        match self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            Some(c) => format!("{c:?}"),
            None => "the end of the text".to_owned(),
        }
    }

    fn value(&mut self, path: &str, depth: usize) -> Result<Value, SyntaxError> {
        self.skip_ws();
        if depth >= MAX_DEPTH {
            return Err(self.error(path, format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.positions.values.insert(path.to_owned(), self.pos);
        match self.peek() {
            Some(b'{') => self.object(path, depth),
            Some(b'[') => self.array(path, depth),
            Some(b'"') => self.string(path).map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(path),
            Some(b't') => self.literal(path, "true", Value::Bool(true)),
            Some(b'f') => self.literal(path, "false", Value::Bool(false)),
            Some(b'n') => self.literal(path, "null", Value::Null),
            _ => Err(self.error(
                path,
                format!("expected a JSON value, found {}", self.found()),
            )),
        }
    }

    fn object(&mut self, path: &str, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1; // '{'
        let mut map = Map::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            if self.peek() != Some(b'"') {
                return Err(self.error(
                    path,
                    format!("expected a string key, found {}", self.found()),
                ));
            }
            let key = self.string(path)?;
            let member = pointer::join(path, &key);
            if let Some(&first) = seen.get(&key) {
                let (line, column) = self.positions.line_col(first);
                self.duplicates.push(Issue {
                    path: member.clone(),
                    at: At::Offset(key_start),
                    message: format!(
                        "duplicate key {key:?} (first at line {line}, column {column}); a key may appear only once"
                    ),
                });
            }
            seen.insert(key.clone(), key_start);
            self.positions.keys.insert(member.clone(), key_start);
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(
                    path,
                    format!("expected ':' after the key, found {}", self.found()),
                ));
            }
            self.pos += 1;
            let value = self.value(&member, depth + 1)?;
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => {
                    return Err(self.error(
                        path,
                        format!("expected ',' or '}}', found {}", self.found()),
                    ))
                }
            }
        }
    }

    fn array(&mut self, path: &str, depth: usize) -> Result<Value, SyntaxError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            let item = pointer::join_index(path, items.len());
            items.push(self.value(&item, depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => {
                    return Err(
                        self.error(path, format!("expected ',' or ']', found {}", self.found()))
                    )
                }
            }
        }
    }

    fn string(&mut self, path: &str) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.pos += 1; // '"'
        loop {
            match self.peek() {
                None => return Err(self.error_at(path, start, "unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => self.pos += 2,
                Some(c) if c < 0x20 => {
                    return Err(self.error(path, "control character in a string (escape it)"));
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.error_at(path, start, "invalid string"))?;
        serde_json::from_str::<String>(raw).map_err(|e| {
            self.error_at(
                path,
                start,
                format!("invalid string: {}", strip_position(&e)),
            )
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self, path: &str) -> Result<Value, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(path, "invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error(path, "invalid number: expected digits after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(path, "invalid number: expected digits in the exponent"));
            }
        }
        let raw = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.error_at(path, start, "invalid number"))?;
        match serde_json::from_str::<Value>(raw) {
            Ok(number @ Value::Number(_)) => Ok(number),
            Ok(_) => Err(self.error_at(path, start, "invalid number")),
            Err(e) => Err(self.error_at(
                path,
                start,
                format!("invalid number: {}", strip_position(&e)),
            )),
        }
    }

    fn literal(&mut self, path: &str, word: &str, value: Value) -> Result<Value, SyntaxError> {
        let matches = self
            .text
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word));
        if !matches {
            return Err(self.error(
                path,
                format!("expected a JSON value, found {}", self.found()),
            ));
        }
        self.pos += word.len();
        Ok(value)
    }
}

/// `serde_json` error text without its own " at line L column C" suffix
/// (it refers to the token, not the document).
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(at) => text.get(..at).unwrap_or(&text).to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn positions_of(text: &str, path: &str) -> Option<(usize, usize)> {
        let parsed = parse(text).ok()?;
        parsed.positions.locate(path, At::Value)
    }

    #[test]
    fn parses_like_serde_json() {
        let text = r#"{"a": [1, -2.5e3, true, false, null, "x\u00e9\n"], "b": {"c": {}}, "d": [], "e": 18446744073709551615}"#;
        let parsed = parse(text).ok().map(|p| p.value);
        assert_eq!(parsed, serde_json::from_str::<Value>(text).ok());
    }

    #[test]
    fn records_value_and_key_positions() {
        let text = "{\n  \"tools\": {\n    \"x\": {\"limits\": [ 5 ]}\n  }\n}";
        assert_eq!(positions_of(text, ""), Some((1, 1)));
        assert_eq!(positions_of(text, "/tools"), Some((2, 12)));
        assert_eq!(positions_of(text, "/tools/x/limits/0"), Some((3, 23)));
        // Missing pointers fall back to the nearest ancestor.
        assert_eq!(
            positions_of(text, "/tools/x/limits/0/counter"),
            Some((3, 23))
        );
        let parsed = parse(text).ok();
        let key = parsed
            .as_ref()
            .and_then(|p| p.positions.locate("/tools/x", At::Key));
        assert_eq!(key, Some((3, 5)));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "{\"héllo wörld\": 1, \"b\": 2}";
        assert_eq!(positions_of(text, "/b"), Some((1, 25)));
    }

    #[test]
    fn escaped_keys_use_pointer_escapes() {
        let text = r#"{"methods": {"resources/read": "deny", "a~b": 1}}"#;
        assert_eq!(
            positions_of(text, "/methods/resources~1read"),
            Some((1, 32))
        );
        assert_eq!(positions_of(text, "/methods/a~0b"), Some((1, 47)));
    }

    #[test]
    fn reports_duplicate_keys_at_the_repetition() {
        let text = "{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2},\n \"a\": 3}";
        let parsed = parse(text).ok();
        let dups: Vec<(String, Option<(usize, usize)>)> = parsed
            .as_ref()
            .map(|p| {
                p.duplicates
                    .iter()
                    .map(|d| (d.path.clone(), p.positions.locate(&d.path, d.at)))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            dups,
            vec![
                ("/b/c".to_owned(), Some((2, 16))),
                ("/a".to_owned(), Some((3, 2)))
            ]
        );
        assert!(parsed.as_ref().is_some_and(|p| p.duplicates[1]
            .message
            .contains("first at line 1, column 2")));
        // The last value wins, as with serde_json.
        assert_eq!(
            parsed.map(|p| p.value),
            Some(json!({"a": 3, "b": {"c": 2}}))
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let cases = [
            ("{\"a\": 1,}", (1, 9)),
            ("{\"a\" 1}", (1, 6)),
            ("{\"a\": tru}", (1, 7)),
            ("{\"a\": 01}", (1, 8)),
            ("{\"a\": 1.}", (1, 9)),
            ("{\"a\": \"x}", (1, 7)),
            ("{\"a\": \"\\q\"}", (1, 7)),
            ("{\"a\": \"\\ud800\"}", (1, 7)),
            ("{}\n  x", (2, 3)),
            ("", (1, 1)),
            ("{\"a\": [1 2]}", (1, 10)),
            ("{\"a\": \"tab\there\"}", (1, 11)),
            ("{\"a\": 1e999}", (1, 7)),
        ];
        for (text, expected) in cases {
            match parse(text) {
                Ok(_) => panic!("{text:?} parsed"),
                Err(e) => assert_eq!(
                    (e.line, e.column),
                    (Some(expected.0), Some(expected.1)),
                    "{text:?}: {e}"
                ),
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&text).is_err());
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert!(parse("\u{feff}{}").is_ok());
    }
}
