//! A strict RFC 8259 JSON tokenizer over bytes.
//!
//! It finds token boundaries and checks the grammar of numbers (see
//! [`number`](mod@super::number)) and literals. String tokens are only delimited
//! here (closing quote found, no raw control characters); their escapes are
//! checked and decoded by [`string`](super::string). Nothing here recurses or
//! panics.

use super::number;

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

/// Why the tokenizer stopped, at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub offset: usize,
    pub kind: LexErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LexErrorKind {
    EndOfInput,
    UnexpectedCharacter,
    InvalidLiteral,
    /// At the opening quote.
    UnterminatedString,
    /// At the control character.
    ControlCharacter,
    /// At the number's first character (see [`number::scan`] for the detail).
    InvalidNumber,
}

impl LexError {
    pub(crate) fn message(&self) -> &'static str {
        match self.kind {
            LexErrorKind::EndOfInput => "unexpected end of input",
            LexErrorKind::UnexpectedCharacter => "unexpected character",
            LexErrorKind::InvalidLiteral => "invalid literal",
            LexErrorKind::UnterminatedString => "unterminated string",
            LexErrorKind::ControlCharacter => "unescaped control character in string",
            LexErrorKind::InvalidNumber => "invalid number",
        }
    }
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

    fn error(&self, offset: usize, kind: LexErrorKind) -> LexError {
        LexError { offset, kind }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token, LexError> {
        self.skip_ws();
        let start = self.pos;
        let Some(&byte) = self.bytes.get(start) else {
            return Err(self.error(start, LexErrorKind::EndOfInput));
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
            _ => return Err(self.error(start, LexErrorKind::UnexpectedCharacter)),
        };
        self.pos = end;
        Ok(Token { kind, start, end })
    }

    fn scan_literal(&self, start: usize, word: &'static [u8]) -> Result<usize, LexError> {
        let end = start + word.len();
        if self.bytes.get(start..end) == Some(word) {
            Ok(end)
        } else {
            Err(self.error(start, LexErrorKind::InvalidLiteral))
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
                    return Err(self.error(index, LexErrorKind::ControlCharacter))
                }
                Some(_) => index += 1,
                None => return Err(self.error(start, LexErrorKind::UnterminatedString)),
            }
        }
    }

    fn scan_number(&self, start: usize) -> Result<usize, LexError> {
        number::scan(self.bytes, start).map_err(|_| self.error(start, LexErrorKind::InvalidNumber))
    }
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
