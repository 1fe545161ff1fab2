//! Byte spans inside a JSON text, so a rewrite can cut elements out of the
//! original bytes instead of re-serialising (key order, number spelling and
//! everything else outside the removed elements stay byte-for-byte).
//!
//! Meant for text `strict_json` has accepted; on anything else it returns
//! `None`. Iterative, no recursion.

use super::lexer::{decode_string, skip_value, Lexer, Token, TokenKind};

/// One step of a path: an array index or an (exact, decoded) object key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Index(usize),
    Key(&'a str),
}

/// An array's span (brackets included) and its elements' spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArraySpans {
    pub start: usize,
    pub end: usize,
    pub elements: Vec<(usize, usize)>,
}

/// Finds the array at `path`.
pub(crate) fn locate_array(bytes: &[u8], path: &[Seg<'_>]) -> Option<ArraySpans> {
    let mut lexer = Lexer::new(bytes, 0);
    let mut token = lexer.next_token().ok()?;
    for seg in path {
        token = match *seg {
            Seg::Index(wanted) => child_at_index(&mut lexer, token, wanted)?,
            Seg::Key(wanted) => child_at_key(bytes, &mut lexer, token, wanted)?,
        };
    }
    if token.kind != TokenKind::BeginArray {
        return None;
    }
    let mut elements = Vec::new();
    loop {
        let first = lexer.next_token().ok()?;
        if first.kind == TokenKind::EndArray && elements.is_empty() {
            return Some(ArraySpans {
                start: token.start,
                end: first.end,
                elements,
            });
        }
        let end = skip_value(&mut lexer, first)?;
        elements.push((first.start, end));
        let separator = lexer.next_token().ok()?;
        match separator.kind {
            TokenKind::Comma => {}
            TokenKind::EndArray => {
                return Some(ArraySpans {
                    start: token.start,
                    end: separator.end,
                    elements,
                })
            }
            _ => return None,
        }
    }
}

fn child_at_index(lexer: &mut Lexer<'_>, container: Token, wanted: usize) -> Option<Token> {
    if container.kind != TokenKind::BeginArray {
        return None;
    }
    let mut index = 0;
    loop {
        let first = lexer.next_token().ok()?;
        if first.kind == TokenKind::EndArray {
            return None;
        }
        if index == wanted {
            return Some(first);
        }
        skip_value(lexer, first)?;
        if lexer.next_token().ok()?.kind != TokenKind::Comma {
            return None;
        }
        index += 1;
    }
}

fn child_at_key(
    bytes: &[u8],
    lexer: &mut Lexer<'_>,
    container: Token,
    wanted: &str,
) -> Option<Token> {
    if container.kind != TokenKind::BeginObject {
        return None;
    }
    loop {
        let key = lexer.next_token().ok()?;
        if key.kind != TokenKind::String {
            return None;
        }
        let matches = decode_string(bytes, key).ok()? == wanted;
        if lexer.next_token().ok()?.kind != TokenKind::Colon {
            return None;
        }
        let first = lexer.next_token().ok()?;
        if matches {
            return Some(first);
        }
        skip_value(lexer, first)?;
        if lexer.next_token().ok()?.kind != TokenKind::Comma {
            return None;
        }
    }
}
