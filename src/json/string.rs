//! JSON strings: decoding a string token (escapes, surrogate pairs, UTF-8;
//! escaped strings are decoded by `serde_json`), and writing a string
//! literal.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::lexer::Token;

/// Decodes a string token (quotes included). Lone surrogates and invalid
/// escapes are errors.
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

/// A JSON string literal for `text` (quotes, backslashes and control
/// characters escaped; everything else as UTF-8).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            ch if u32::from(ch) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(ch));
            }
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// As [`json_string`], for at most `max_chars` characters of `text`: a
/// longer text is cut, and `…` marks the cut before the closing quote.
pub(crate) fn json_string_cut(text: &str, max_chars: usize) -> String {
    let Some((end, _)) = text.char_indices().nth(max_chars) else {
        return json_string(text);
    };
    let mut out = json_string(text.get(..end).unwrap_or_default());
    out.pop();
    out.push_str("…\"");
    out
}

/// Why a string token of `text` does not decode, in `serde_json`'s words
/// (without its position, which is the token's own).
pub(crate) fn refusal(text: &str, token: Token) -> String {
    let raw = text.get(token.start..token.end).unwrap_or_default();
    match serde_json::from_str::<String>(raw) {
        Ok(_) => "invalid string".to_owned(),
        Err(error) => super::serde_reason(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::lexer::TokenKind;

    fn token(text: &str) -> Token {
        Token {
            kind: TokenKind::String,
            start: 0,
            end: text.len(),
        }
    }

    #[test]
    fn borrows_unless_escaped() {
        let plain = r#""abc""#;
        assert!(matches!(
            decode_str(plain, token(plain)),
            Ok(Cow::Borrowed("abc"))
        ));
        let escaped = r#""a\u00e9\n""#;
        let decoded = decode_str(escaped, token(escaped));
        assert!(matches!(decoded, Ok(Cow::Owned(ref s)) if s == "aé\n"));
        assert_eq!(
            decode_string(escaped.as_bytes(), token(escaped)).as_deref(),
            Ok("aé\n")
        );
    }

    #[test]
    fn writes_literals_as_serde_json_does() {
        for text in [
            "",
            "plain é😀",
            "q\"b\\s/",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}\u{2028}",
        ] {
            assert_eq!(json_string(text), serde_json::Value::from(text).to_string());
        }
    }

    #[test]
    fn cuts_long_literals() {
        assert_eq!(json_string_cut("abc", 3), r#""abc""#);
        assert_eq!(json_string_cut("abcd", 3), r#""abc…""#);
        assert_eq!(json_string_cut("é\"é\"", 2), r#""é\"…""#);
    }

    #[test]
    fn refuses_bad_escapes_with_serde_json_reasons() {
        for text in [r#""\q""#, r#""\ud800""#] {
            assert!(decode_str(text, token(text)).is_err(), "{text}");
            let reason = refusal(text, token(text));
            assert!(
                !reason.is_empty() && !reason.contains(" at line "),
                "{reason}"
            );
        }
        assert_eq!(refusal(r#""\q""#, token(r#""\q""#)), "invalid escape");
    }
}
