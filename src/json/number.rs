//! JSON numbers: the RFC 8259 grammar, and a checked number's value.

use serde_json::Number;

use super::lexer::Token;

/// Where a number's grammar fails, and why (a message for people).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadNumber {
    pub at: usize,
    pub message: &'static str,
}

/// The end of the run of digits at `at`; at least one is required.
fn digits(bytes: &[u8], at: usize, message: &'static str) -> Result<usize, BadNumber> {
    let mut end = at;
    while matches!(bytes.get(end), Some(b'0'..=b'9')) {
        end += 1;
    }
    if end == at {
        Err(BadNumber { at, message })
    } else {
        Ok(end)
    }
}

/// The end of the number starting at `start`:
/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
#[inline]
pub(crate) fn scan(bytes: &[u8], start: usize) -> Result<usize, BadNumber> {
    let mut index = start + usize::from(bytes.get(start) == Some(&b'-'));
    index = match bytes.get(index) {
        Some(b'0') => index + 1,
        _ => digits(bytes, index, "invalid number")?,
    };
    if bytes.get(index) == Some(&b'.') {
        index = digits(
            bytes,
            index + 1,
            "invalid number: expected digits after '.'",
        )?;
    }
    if matches!(bytes.get(index), Some(b'e' | b'E')) {
        index += 1;
        if matches!(bytes.get(index), Some(b'+' | b'-')) {
            index += 1;
        }
        index = digits(
            bytes,
            index,
            "invalid number: expected digits in the exponent",
        )?;
    }
    Ok(index)
}

/// Converts a number token (grammar already checked) to a `serde_json::Number`,
/// as `serde_json` reads it. Integers that fit i64/u64 stay exact; others
/// become the correctly rounded f64. A value outside the f64 range is an
/// error (never silently infinite).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_the_grammar() {
        for (text, end) in [("0", 1), ("-12.5e+3,", 8), ("01", 1), ("1E9]", 3)] {
            assert_eq!(scan(text.as_bytes(), 0), Ok(end), "{text}");
        }
        for (text, at) in [
            ("-", 1),
            ("-x", 1),
            ("1.", 2),
            ("1.e3", 2),
            ("1e", 2),
            ("1e+", 3),
        ] {
            assert_eq!(
                scan(text.as_bytes(), 0).map_err(|bad| bad.at),
                Err(at),
                "{text}"
            );
        }
    }

    #[test]
    fn values_are_serde_json_numbers() {
        for text in [
            "0",
            "-0",
            "1.5",
            "-9223372036854775809",
            "18446744073709551616",
            "1e-400",
        ] {
            let token = Token {
                kind: super::super::lexer::TokenKind::Number,
                start: 0,
                end: text.len(),
            };
            let expected = serde_json::from_str::<serde_json::Value>(text).ok();
            let read = number_value(text.as_bytes(), token).ok();
            assert_eq!(read.map(serde_json::Value::Number), expected, "{text}");
        }
        let token = Token {
            kind: super::super::lexer::TokenKind::Number,
            start: 0,
            end: 5,
        };
        assert_eq!(number_value(b"1e999", token), Err("number out of range"));
    }
}
