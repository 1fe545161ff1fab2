//! Best-effort id of a body that is otherwise unreadable or not yet
//! authorised, for error replies.

use crate::json::lexer::{skip_value, Lexer, Token, TokenKind};
use crate::json::string::decode_string;

use super::request_id::RequestId;
use super::strict_json::UTF8_BOM;

/// Scans the members of a top-level object for `"id"` (key compared after
/// decoding escapes) and returns it if it is a valid id. Nested objects are
/// skipped without recursion. `None` for a batch, for a top-level `"id"`
/// appearing more than once (ambiguous), and when the body breaks down
/// before an id was seen. Never fails, never panics.
pub fn sniff_id(body: &[u8]) -> Option<RequestId> {
    let start = if body.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let mut lexer = Lexer::new(body, start);
    let first = lexer.next_token().ok()?;
    if first.kind != TokenKind::BeginObject {
        return None;
    }
    let mut found: Option<Option<RequestId>> = None;
    let mut scan = || -> Option<()> {
        loop {
            let key = lexer.next_token().ok()?;
            if key.kind != TokenKind::String {
                return None;
            }
            let is_id = decode_string(body, key).ok()? == "id";
            if lexer.next_token().ok()?.kind != TokenKind::Colon {
                return None;
            }
            let value = lexer.next_token().ok()?;
            if is_id {
                if found.is_some() {
                    // Repeated: peers disagree on which one counts.
                    found = Some(None);
                    return None;
                }
                found = Some(id_from_token(body, value));
            }
            skip_value(&mut lexer, value)?;
            match lexer.next_token().ok()?.kind {
                TokenKind::Comma => continue,
                _ => return None,
            }
        }
    };
    let _ = scan();
    found.flatten()
}

fn id_from_token(body: &[u8], token: Token) -> Option<RequestId> {
    match token.kind {
        TokenKind::String => Some(RequestId::from_string(&decode_string(body, token).ok()?)),
        TokenKind::Number => {
            let text = std::str::from_utf8(body.get(token.start..token.end)?).ok()?;
            RequestId::from_integer(text.parse::<i64>().ok()?)
        }
        _ => None,
    }
}
