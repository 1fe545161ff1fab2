//! An order-preserving JSON tree that remembers where every value and member
//! key starts, for the CLI: it places wrapper errors (which carry only a JSON
//! pointer) at a line and column, and re-prints documents without reordering
//! their keys (`serde_json::Value` sorts them).
//!
//! Texts are checked with `serde_json` before they get here, so this parser
//! only has to find token boundaries; it still reports, rather than panics
//! on, anything it does not understand.

use std::fmt::Write as _;

use crate::json::pointer;

/// Deeper nesting is refused (the same limit as `serde_json`).
const MAX_DEPTH: usize = 128;

/// Preferred width of printed lines.
pub const WIDTH: usize = 100;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Byte offset of the value in its text (0 for built nodes).
    pub start: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A string, number, `true`, `false` or `null`, exactly as written.
    Scalar(String),
    Array(Vec<Node>),
    Object(Vec<Member>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The decoded key.
    pub key: String,
    /// The key as written, with its quotes.
    pub raw_key: String,
    /// Byte offset of the key.
    pub key_start: usize,
    pub value: Node,
}

impl Node {
    /// A string scalar.
    pub fn string(text: &str) -> Node {
        Node::scalar(serde_json::Value::from(text).to_string())
    }

    /// A scalar written as `raw` (a number, `true`, `false` or `null`).
    pub fn scalar(raw: impl Into<String>) -> Node {
        Node {
            start: 0,
            kind: Kind::Scalar(raw.into()),
        }
    }

    pub fn array(items: Vec<Node>) -> Node {
        Node {
            start: 0,
            kind: Kind::Array(items),
        }
    }

    /// An object from `(key, value)` pairs, in order.
    pub fn object(members: Vec<(&str, Node)>) -> Node {
        Node {
            start: 0,
            kind: Kind::Object(
                members
                    .into_iter()
                    .map(|(key, value)| Member {
                        key: key.to_owned(),
                        raw_key: serde_json::Value::from(key).to_string(),
                        key_start: 0,
                        value,
                    })
                    .collect(),
            ),
        }
    }

    /// The value of member `key` (the last one, as `serde_json` reads duplicates).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    /// Sets member `key`, replacing its value if present, appending otherwise.
    pub fn set(&mut self, key: &str, value: Node) {
        if let Kind::Object(members) = &mut self.kind {
            match members.iter_mut().rev().find(|m| m.key == key) {
                Some(member) => member.value = value,
                None => members.push(Member {
                    key: key.to_owned(),
                    raw_key: serde_json::Value::from(key).to_string(),
                    key_start: 0,
                    value,
                }),
            }
        }
    }

    /// Where the value at `pointer` (or the key of the member it names)
    /// starts; for a pointer that does not resolve, its nearest ancestor.
    pub fn locate(&self, pointer: &str) -> usize {
        let mut node = self;
        let mut offset = self.start;
        for token in pointer_tokens(pointer) {
            let next = match &node.kind {
                Kind::Object(members) => members
                    .iter()
                    .rev()
                    .find(|m| m.key == token)
                    .map(|m| (m.key_start, &m.value)),
                Kind::Array(items) => token
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .map(|item| (item.start, item)),
                Kind::Scalar(_) => None,
            };
            match next {
                Some((at, child)) => {
                    offset = at;
                    node = child;
                }
                None => break,
            }
        }
        offset
    }

    /// Keys repeated within one object, as `(pointer of the repetition, key offset)`.
    pub fn duplicate_keys(&self) -> Vec<(String, usize)> {
        let mut found = Vec::new();
        let mut stack: Vec<(&Node, String)> = vec![(self, String::new())];
        while let Some((node, at)) = stack.pop() {
            match &node.kind {
                Kind::Scalar(_) => {}
                Kind::Array(items) => {
                    for (index, item) in items.iter().enumerate() {
                        stack.push((item, format!("{at}/{index}")));
                    }
                }
                Kind::Object(members) => {
                    for (index, member) in members.iter().enumerate() {
                        let path = format!("{at}/{}", pointer::escape_token(&member.key));
                        if members.iter().take(index).any(|m| m.key == member.key) {
                            found.push((path.clone(), member.key_start));
                        }
                        stack.push((&member.value, path));
                    }
                }
            }
        }
        found.sort_by_key(|(_, offset)| *offset);
        found
    }

    /// Compact text: `{"a": 1, "b": [true, null]}`.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }

    fn write_compact(&self, out: &mut String) {
        match &self.kind {
            Kind::Scalar(raw) => out.push_str(raw),
            Kind::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Kind::Object(members) => {
                out.push('{');
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&member.raw_key);
                    out.push_str(": ");
                    member.value.write_compact(out);
                }
                out.push('}');
            }
        }
    }

    /// Indented text (two spaces a level); containers that fit on one line
    /// stay on one line. Ends without a newline.
    pub fn pretty(&self) -> String {
        self.pretty_width(WIDTH)
    }

    /// As [`Node::pretty`], with lines up to `width` characters.
    pub fn pretty_width(&self, width: usize) -> String {
        let mut out = String::new();
        self.write_pretty(&mut out, width, 0, 0, true);
        out
    }

    /// `prefix` is the width already used on the current line (indent and key).
    fn write_pretty(
        &self,
        out: &mut String,
        width: usize,
        indent: usize,
        prefix: usize,
        top: bool,
    ) {
        let compact = self.compact();
        let fits = prefix + compact.chars().count() < width;
        let pad = |n: usize| " ".repeat(n);
        match &self.kind {
            Kind::Scalar(_) => out.push_str(&compact),
            Kind::Array(items) if items.is_empty() || (fits && !top) => out.push_str(&compact),
            Kind::Object(members) if members.is_empty() || (fits && !top) => out.push_str(&compact),
            Kind::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 2));
                    item.write_pretty(out, width, indent + 2, indent + 2, false);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            Kind::Object(members) => {
                out.push_str("{\n");
                for (i, member) in members.iter().enumerate() {
                    let line = format!("{}{}: ", pad(indent + 2), member.raw_key);
                    let used = line.chars().count();
                    out.push_str(&line);
                    member
                        .value
                        .write_pretty(out, width, indent + 2, used, false);
                    out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
        }
    }
}

/// The reference tokens of a JSON pointer, unescaped (`~1` is `/`, `~0` is `~`).
fn pointer_tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// JSON text with every non-ASCII character written as a `\u` escape (the
/// same JSON value; safe to embed in any YAML or shell context). Outside of
/// strings JSON has no non-ASCII characters, so this never changes meaning.
pub fn ascii_only(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// A parse failure: byte offset and message.
#[derive(Debug, PartialEq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// Parses JSON text into a tree with positions.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
    };
    parser.skip_whitespace();
    let node = parser.value(0)?;
    parser.skip_whitespace();
    if parser.at < parser.bytes.len() {
        return Err(parser.error("trailing characters after the JSON value"));
    }
    Ok(node)
}

struct Parser<'t> {
    bytes: &'t [u8],
    text: &'t str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            offset: self.at,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect_byte(&mut self, byte: u8, what: &str) -> Result<(), ParseError> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {what}")))
        }
    }

    fn slice(&self, start: usize) -> Result<String, ParseError> {
        self.text
            .get(start..self.at)
            .map(str::to_owned)
            .ok_or_else(|| self.error("invalid UTF-8 boundary"))
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.skip_whitespace();
        let start = self.at;
        let kind = match self.peek() {
            Some(b'{') => Kind::Object(self.object(depth)?),
            Some(b'[') => Kind::Array(self.array(depth)?),
            Some(b'"') => {
                self.string()?;
                Kind::Scalar(self.slice(start)?)
            }
            Some(b'-' | b'0'..=b'9') => {
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.at += 1;
                }
                Kind::Scalar(self.slice(start)?)
            }
            Some(b't' | b'f' | b'n') => {
                while matches!(self.peek(), Some(b'a'..=b'z')) {
                    self.at += 1;
                }
                let word = self.slice(start)?;
                if !matches!(word.as_str(), "true" | "false" | "null") {
                    return Err(ParseError {
                        offset: start,
                        message: format!("unexpected {word:?}"),
                    });
                }
                Kind::Scalar(word)
            }
            _ => return Err(self.error("expected a JSON value")),
        };
        Ok(Node { start, kind })
    }

    /// Skips a string, the opening quote included.
    fn string(&mut self) -> Result<(), ParseError> {
        self.at += 1;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => self.at += 2,
                Some(_) => self.at += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Vec<Node>, ParseError> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("expected , or ]")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Vec<Member>, ParseError> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(members);
        }
        loop {
            self.skip_whitespace();
            let key_start = self.at;
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            self.string()?;
            let raw_key = self.slice(key_start)?;
            let key: String = serde_json::from_str(&raw_key).map_err(|e| ParseError {
                offset: key_start,
                message: format!("invalid member name: {e}"),
            })?;
            self.expect_byte(b':', ":")?;
            let value = self.value(depth + 1)?;
            members.push(Member {
                key,
                raw_key,
                key_start,
                value,
            });
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(members);
                }
                _ => return Err(self.error("expected , or }")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_positions() {
        let text = "{\n  \"b\": 1,\n  \"a\": [true, {\"x/y\": null}]\n}";
        let node = parse(text).unwrap();
        assert_eq!(node.compact(), "{\"b\": 1, \"a\": [true, {\"x/y\": null}]}");
        assert_eq!(line_col(text, node.locate("/a")), (3, 3));
        assert_eq!(line_col(text, node.locate("/a/1/x~1y")), (3, 16));
        // Unresolved: nearest ancestor.
        assert_eq!(line_col(text, node.locate("/a/1/missing")), (3, 15));
        assert_eq!(line_col(text, node.locate("")), (1, 1));
    }

    #[test]
    fn pretty_inlines_small_containers() {
        let node = parse(r#"{"version":"1","tools":{"a":{},"b":{"limits":[{"max":1}]}}}"#).unwrap();
        assert_eq!(
            node.pretty(),
            "{\n  \"version\": \"1\",\n  \"tools\": {\"a\": {}, \"b\": {\"limits\": [{\"max\": 1}]}}\n}"
        );
        let reparsed: serde_json::Value = serde_json::from_str(&node.pretty()).unwrap();
        assert_eq!(reparsed["tools"]["b"]["limits"][0]["max"], 1);
    }

    #[test]
    fn finds_duplicate_keys() {
        let node = parse(r#"{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}"#).unwrap();
        let paths: Vec<String> = node.duplicate_keys().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["/b/c", "/a"]);
        assert_eq!(
            node.get("a"),
            Some(&Node {
                start: 37,
                kind: Kind::Scalar("3".into())
            })
        );
    }

    #[test]
    fn escapes_non_ascii() {
        assert_eq!(
            ascii_only("{\"a\":\"é😀\"}"),
            "{\"a\":\"\\u00e9\\ud83d\\ude00\"}"
        );
        let v: serde_json::Value = serde_json::from_str(&ascii_only("\"é😀\"")).unwrap();
        assert_eq!(v, "é😀");
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in ["", "{", "[1,", "{\"a\" 1}", "tru", "\"abc", "{1:2}", "[] x"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
