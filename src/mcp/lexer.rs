//! A strict RFC 8259 JSON tokenizer over bytes.
//!
//! It finds token boundaries and checks the grammar of numbers and literals.
//! String tokens are only delimited here (closing quote found, no raw control
//! characters); their escapes are checked and decoded by [`decode_string`].
//! Nothing here recurses or panics.

use std::borrow::Cow;

use serde_json::Number;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    BeginObject,
    EndObject,
    BeginArray,
    EndArray,
    Colon,
    Comma,
    String,
    Number,
    True,
    False,
    Null,
}

impl TokenKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            TokenKind::BeginObject => "'{'",
            TokenKind::EndObject => "'}'",
            TokenKind::BeginArray => "'['",
            TokenKind::EndArray => "']'",
            TokenKind::Colon => "':'",
            TokenKind::Comma => "','",
            TokenKind::String => "a string",
            TokenKind::Number => "a number",
            TokenKind::True | TokenKind::False => "a boolean",
            TokenKind::Null => "null",
        }
    }
}

/// A token and its byte span `start..end` in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub offset: usize,
    pub message: &'static str,
}

pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Whether the last string token held a backslash.
    escaped: bool,
}

/// JSON whitespace: exactly space, tab, LF and CR.
pub(crate) fn is_json_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

fn word_at(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_le_bytes)
}

/// Whether one of 8 string bytes ends the plain run: a quote, a backslash
/// or a control character (the zero-byte test of each, 8 bytes at a time).
fn needs_look(word: u64) -> bool {
    let below = |limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGH_BITS;
    let zero = |other: u64| other.wrapping_sub(ONES) & !other & HIGH_BITS;
    (below(0x20) | zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

fn is_digit(byte: Option<&u8>) -> bool {
    matches!(byte, Some(b'0'..=b'9'))
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(bytes: &'a [u8], pos: usize) -> Self {
        Lexer {
            bytes,
            pos,
            escaped: false,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether the last string token read held an escape (so its text is
    /// not its value, and its escapes are still to be checked).
    pub(crate) fn escaped(&self) -> bool {
        self.escaped
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(&byte) = self.bytes.get(self.pos) {
            if !is_json_ws(byte) {
                break;
            }
            self.pos += 1;
        }
    }

    /// True when only whitespace remains.
    pub(crate) fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos >= self.bytes.len()
    }

    fn error(&self, offset: usize, message: &'static str) -> LexError {
        LexError { offset, message }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token, LexError> {
        self.skip_ws();
        let start = self.pos;
        let Some(&byte) = self.bytes.get(start) else {
            return Err(self.error(start, "unexpected end of input"));
        };
        let (kind, end) = match byte {
            b'{' => (TokenKind::BeginObject, start + 1),
            b'}' => (TokenKind::EndObject, start + 1),
            b'[' => (TokenKind::BeginArray, start + 1),
            b']' => (TokenKind::EndArray, start + 1),
            b':' => (TokenKind::Colon, start + 1),
            b',' => (TokenKind::Comma, start + 1),
            b'"' => (TokenKind::String, self.scan_string(start)?),
            b'-' | b'0'..=b'9' => (TokenKind::Number, self.scan_number(start)?),
            b't' => (TokenKind::True, self.scan_literal(start, b"true")?),
            b'f' => (TokenKind::False, self.scan_literal(start, b"false")?),
            b'n' => (TokenKind::Null, self.scan_literal(start, b"null")?),
            _ => return Err(self.error(start, "unexpected character")),
        };
        self.pos = end;
        Ok(Token { kind, start, end })
    }

    fn scan_literal(&self, start: usize, word: &'static [u8]) -> Result<usize, LexError> {
        let end = start + word.len();
        if self.bytes.get(start..end) == Some(word) {
            Ok(end)
        } else {
            Err(self.error(start, "invalid literal"))
        }
    }

    fn scan_string(&mut self, start: usize) -> Result<usize, LexError> {
        let mut index = start + 1;
        self.escaped = false;
        loop {
            while let Some(word) = self.bytes.get(index..index + 8).and_then(word_at) {
                if needs_look(word) {
                    break;
                }
                index += 8;
            }
            match self.bytes.get(index) {
                Some(b'"') => return Ok(index + 1),
                Some(b'\\') => {
                    self.escaped = true;
                    index += 2;
                }
                Some(&byte) if byte < 0x20 => {
                    return Err(self.error(index, "unescaped control character in string"))
                }
                Some(_) => index += 1,
                None => return Err(self.error(start, "unterminated string")),
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn scan_number(&self, start: usize) -> Result<usize, LexError> {
        let bytes = self.bytes;
        let mut index = start;
        if bytes.get(index) == Some(&b'-') {
            index += 1;
        }
        match bytes.get(index) {
            Some(b'0') => index += 1,
            Some(b'1'..=b'9') => {
                while is_digit(bytes.get(index)) {
                    index += 1;
                }
            }
            _ => return Err(self.error(start, "invalid number")),
        }
        if bytes.get(index) == Some(&b'.') {
            index += 1;
            if !is_digit(bytes.get(index)) {
                return Err(self.error(start, "invalid number"));
            }
            while is_digit(bytes.get(index)) {
                index += 1;
            }
        }
        if matches!(bytes.get(index), Some(b'e' | b'E')) {
            index += 1;
            if matches!(bytes.get(index), Some(b'+' | b'-')) {
                index += 1;
            }
            if !is_digit(bytes.get(index)) {
                return Err(self.error(start, "invalid number"));
            }
            while is_digit(bytes.get(index)) {
                index += 1;
            }
        }
        Ok(index)
    }
}

/// Decodes a string token (quotes included): escapes, surrogate pairs, UTF-8.
/// Lone surrogates and invalid escapes are errors.
pub(crate) fn decode_string(bytes: &[u8], token: Token) -> Result<String, &'static str> {
    let text = bytes
        .get(token.start..token.end)
        .ok_or("string out of range")?;
    // The lexer has checked the quotes and control characters: without
    // escapes, the text between the quotes is the string.
    let inner = text
        .strip_prefix(b"\"")
        .and_then(|rest| rest.strip_suffix(b"\""));
    if let Some(inner) = inner.filter(|inner| !inner.contains(&b'\\')) {
        return std::str::from_utf8(inner)
            .map(str::to_owned)
            .map_err(|_| "invalid string (invalid UTF-8)");
    }
    serde_json::from_slice::<String>(text)
        .map_err(|_| "invalid string (bad escape, lone surrogate or invalid UTF-8)")
}

/// A string token of `text` (already valid UTF-8) decoded: borrowed from
/// the text when it has no escapes, otherwise as [`decode_string`] decodes it.
pub(crate) fn decode_str(text: &str, token: Token) -> Result<Cow<'_, str>, &'static str> {
    let raw = text
        .as_bytes()
        .get(token.start..token.end)
        .ok_or("string out of range")?;
    if raw.contains(&b'\\') {
        return decode_string(text.as_bytes(), token).map(Cow::Owned);
    }
    text.get(token.start + 1..token.end.saturating_sub(1))
        .map(Cow::Borrowed)
        .ok_or("string out of range")
}

/// Converts a number token (grammar already checked) to a `serde_json::Number`.
/// Integers that fit i64/u64 stay exact; others become the correctly rounded
/// f64. A value outside the f64 range is an error (never silently infinite).
pub(crate) fn number_value(bytes: &[u8], token: Token) -> Result<Number, &'static str> {
    let raw = bytes
        .get(token.start..token.end)
        .ok_or("number out of range")?;
    let text = std::str::from_utf8(raw).map_err(|_| "invalid number")?;
    // `-0` is not the integer 0: serde_json and JavaScript read it as -0.0.
    if !text.contains(['.', 'e', 'E']) && text != "-0" {
        if let Ok(value) = text.parse::<u64>() {
            return Ok(Number::from(value));
        }
        if let Ok(value) = text.parse::<i64>() {
            return Ok(Number::from(value));
        }
    }
    let value = text.parse::<f64>().map_err(|_| "invalid number")?;
    Number::from_f64(value).ok_or("number out of range")
}

/// Skips one value whose first token is `first`; returns the end offset of the
/// value. Iterative: nesting depth costs no stack. Used on input that was
/// already validated, or best effort (then `None` on a malformed value).
pub(crate) fn skip_value(lexer: &mut Lexer<'_>, first: Token) -> Option<usize> {
    match first.kind {
        TokenKind::BeginObject | TokenKind::BeginArray => {}
        TokenKind::String
        | TokenKind::Number
        | TokenKind::True
        | TokenKind::False
        | TokenKind::Null => return Some(first.end),
        _ => return None,
    }
    let mut depth: usize = 1;
    loop {
        let token = lexer.next_token().ok()?;
        match token.kind {
            TokenKind::BeginObject | TokenKind::BeginArray => depth += 1,
            TokenKind::EndObject | TokenKind::EndArray => {
                depth -= 1;
                if depth == 0 {
                    return Some(token.end);
                }
            }
            _ => {}
        }
    }
}
