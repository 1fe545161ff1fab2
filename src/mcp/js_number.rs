//! JavaScript's `Number(string)` (ECMAScript StringToNumber).
//!
//! The TypeScript MCP SDK looks up the request a response answers with
//! `Number(response.id)`, so a response id `"1"`, `" 0x1 "` or `1.0` answers
//! request `1` there. The gateway uses this to match responses at least as
//! loosely as such a client does (see `request_id::response_id_matches`).

/// `Some(value)`, or `None` where JavaScript gives `NaN`.
pub(crate) fn js_string_to_number(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(is_js_whitespace);
    if trimmed.is_empty() {
        return Some(0.0);
    }
    for (prefixes, radix) in [(["0x", "0X"], 16), (["0o", "0O"], 8), (["0b", "0B"], 2)] {
        for prefix in prefixes {
            if let Some(digits) = trimmed.strip_prefix(prefix) {
                return radix_value(digits, radix);
            }
        }
    }
    let (negative, unsigned) = if let Some(rest) = trimmed.strip_prefix('-') {
        (true, rest)
    } else {
        (false, trimmed.strip_prefix('+').unwrap_or(trimmed))
    };
    let magnitude = if unsigned == "Infinity" {
        f64::INFINITY
    } else {
        decimal_value(unsigned)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `digits [. digits] [e [+-] digits]` with at least one mantissa digit;
/// either side of the point may be empty (`1.`, `.5`).
fn decimal_value(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (text.get(..at)?, Some(text.get(at + 1..)?)),
        None => (text, None),
    };
    let (integer, fraction) = match mantissa.find('.') {
        Some(at) => (mantissa.get(..at)?, mantissa.get(at + 1..)?),
        None => (mantissa, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if (integer.is_empty() && fraction.is_empty()) || !all_digits(integer) || !all_digits(fraction)
    {
        return None;
    }
    let mut normal = format!(
        "{}.{}",
        if integer.is_empty() { "0" } else { integer },
        if fraction.is_empty() { "0" } else { fraction }
    );
    if let Some(exponent) = exponent {
        let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if digits.is_empty() || !all_digits(digits) {
            return None;
        }
        normal.push('e');
        normal.push_str(exponent);
    }
    normal.parse::<f64>().ok()
}

fn radix_value(digits: &str, radix: u32) -> Option<f64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: f64 = 0.0;
    for ch in digits.chars() {
        let digit = ch.to_digit(radix)?;
        value = value * f64::from(radix) + f64::from(digit);
    }
    Some(value)
}

/// ECMAScript WhiteSpace and LineTerminator code points.
fn is_js_whitespace(ch: char) -> bool {
    matches!(
        ch,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}
