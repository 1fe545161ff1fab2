//! Removing hidden tools from `tools/list` results (JSON bodies).
//!
//! The body is first read strictly (`strict_json`, depth
//! [`RESPONSE_MAX_DEPTH`]): a body with duplicate keys or other ambiguity is
//! an error and the caller fails closed. Hidden tools are then cut out of the
//! original bytes, so everything else (pagination fields, `_meta`, key
//! order, number spelling, the kept tools) is forwarded byte-for-byte.
//!
//! Which responses and tools are concerned is decided loosely, so that no
//! client can see a hidden tool:
//! - a response matches when its `id` equals one of the forwarded
//!   `tools/list` ids, also under JavaScript's `Number()` (the TypeScript
//!   SDK matches `"1"` and `1.0` to request `1`);
//! - members are also found by Go-style case folding (`"ID"`, `"Result"`,
//!   `"Tools"`), as a Go client would read them;
//! - a tool is kept only if it is an object with a string `name` that
//!   `keep` accepts, and every case variant of `name` (`"Name"`) is also a
//!   string `keep` accepts. Anything else (no name, a non-string name,
//!   not an object) is dropped: fail closed.

use std::fmt;

use std::borrow::Cow;

use super::case_fold::folds_to;
use crate::json::lexer::{skip_value, Lexer, Token, TokenKind};
use crate::json::string::decode_str;

use super::request_id::{response_id_matches, RequestId};
use super::strict_json::parse_strict;
use super::strict_validate::validate_strict;

/// Deepest nesting accepted in a `tools/list` response (tool schemas nest).
pub const RESPONSE_MAX_DEPTH: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteError {
    pub message: String,
}

impl fmt::Display for RewriteError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for RewriteError {}

/// JSON body (single response or batch array). Rewrites `result.tools` of
/// every response whose id is in `ids`, keeping tools for which `keep(name)`
/// is true. `Ok(None)`: nothing needed changing, forward untouched.
/// `Ok(Some(bytes))`: the rewritten body. `Err`: not readable, fail closed.
pub fn filter_tools_list_json(
    body: &[u8],
    ids: &[RequestId],
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<Vec<u8>>, RewriteError> {
    validate_strict(body, RESPONSE_MAX_DEPTH).map_err(|error| RewriteError {
        message: format!(
            "tools/list response is not readable JSON: {}",
            error.message
        ),
    })?;
    rewrite(body, ids, keep)
}

/// A `tools` array to replace: its span and the new text.
type Replacement = (usize, usize, Vec<u8>);

/// `body` has passed `validate_strict`. It is walked token by token: only
/// ids and tool names are decoded, and the kept tools are copied as bytes.
pub(crate) fn rewrite(
    body: &[u8],
    ids: &[RequestId],
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<Vec<u8>>, RewriteError> {
    let text = std::str::from_utf8(body).map_err(|_| internal("the response is not UTF-8"))?;
    let walk = Walk {
        body,
        text,
        ids,
        keep,
    };
    let mut lexer = Lexer::new(body, 0);
    let first = next(&mut lexer)?;
    let mut replacements: Vec<Replacement> = Vec::new();
    match first.kind {
        TokenKind::BeginArray => walk.elements(&mut lexer, &mut |lexer, item| {
            if item.kind == TokenKind::BeginObject {
                walk.response(lexer, &mut replacements)
            } else {
                skip(lexer, item)
            }
        })?,
        TokenKind::BeginObject => walk.response(&mut lexer, &mut replacements)?,
        _ => {}
    }
    if replacements.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    for (start, end, text) in replacements {
        let before = body
            .get(copied..start)
            .ok_or_else(|| internal("overlapping tools arrays"))?;
        out.extend_from_slice(before);
        out.extend_from_slice(&text);
        copied = end;
    }
    out.extend_from_slice(body.get(copied..).unwrap_or_default());
    Ok(Some(out))
}

struct Walk<'b, 'k> {
    body: &'b [u8],
    text: &'b str,
    ids: &'k [RequestId],
    keep: &'k dyn Fn(&str) -> bool,
}

impl<'b> Walk<'b, '_> {
    /// A response object, its `{` read. Its tools arrays are rewritten only
    /// if one of its id members answers one of `ids`, wherever it stands.
    fn response(
        &self,
        lexer: &mut Lexer<'b>,
        out: &mut Vec<Replacement>,
    ) -> Result<(), RewriteError> {
        let mut answers = false;
        let mut edits = Vec::new();
        self.members(lexer, &mut |lexer, key, first| {
            if folds_to(key, "id") {
                let end = skip_end(lexer, first)?;
                let id = self
                    .body
                    .get(first.start..end)
                    .and_then(|raw| parse_strict(raw, RESPONSE_MAX_DEPTH).ok())
                    .ok_or_else(|| internal("unreadable id"))?;
                answers |= response_id_matches(self.ids, &id);
                Ok(())
            } else if first.kind == TokenKind::BeginObject && folds_to(key, "result") {
                self.members(lexer, &mut |lexer, key, first| {
                    if first.kind == TokenKind::BeginArray && folds_to(key, "tools") {
                        if let Some(edit) = self.tools(lexer, first)? {
                            edits.push(edit);
                        }
                        Ok(())
                    } else {
                        skip(lexer, first)
                    }
                })
            } else {
                skip(lexer, first)
            }
        })?;
        if answers {
            out.extend(edits);
        }
        Ok(())
    }

    /// A tools array, its `[` read: the replacement when a tool goes.
    fn tools(
        &self,
        lexer: &mut Lexer<'b>,
        open: Token,
    ) -> Result<Option<Replacement>, RewriteError> {
        let mut elements: Vec<(usize, usize, bool)> = Vec::new();
        self.elements(lexer, &mut |lexer, first| {
            let kept = if first.kind == TokenKind::BeginObject {
                self.tool_is_kept(lexer)?
            } else {
                skip(lexer, first)?;
                false
            };
            elements.push((first.start, lexer.pos(), kept));
            Ok(())
        })?;
        if elements.iter().all(|&(_, _, kept)| kept) {
            return Ok(None);
        }
        let mut text = vec![b'['];
        for (start, end, _) in elements.iter().filter(|&&(_, _, kept)| kept) {
            if text.len() > 1 {
                text.push(b',');
            }
            let element = self
                .body
                .get(*start..*end)
                .ok_or_else(|| internal("tool element out of range"))?;
            text.extend_from_slice(element);
        }
        text.push(b']');
        Ok(Some((open.start, lexer.pos(), text)))
    }

    /// A tool object, its `{` read. Kept only with a string `name` that
    /// `keep` accepts, and every case variant of `name` (`"Name"`) a string
    /// `keep` accepts too.
    fn tool_is_kept(&self, lexer: &mut Lexer<'b>) -> Result<bool, RewriteError> {
        let mut name_kept = false;
        let mut variants_kept = true;
        self.members(lexer, &mut |lexer, key, first| {
            let exact = key == "name";
            if !exact && !folds_to(key, "name") {
                return skip(lexer, first);
            }
            let kept = match first.kind {
                TokenKind::String => (self.keep)(&self.string(first)?),
                _ => {
                    skip(lexer, first)?;
                    false
                }
            };
            if exact {
                name_kept = kept;
            } else {
                variants_kept &= kept;
            }
            Ok(())
        })?;
        Ok(name_kept && variants_kept)
    }

    /// The members of an object, its `{` read; `visit` consumes each value.
    fn members(
        &self,
        lexer: &mut Lexer<'b>,
        visit: &mut dyn FnMut(&mut Lexer<'b>, &str, Token) -> Result<(), RewriteError>,
    ) -> Result<(), RewriteError> {
        let mut token = next(lexer)?;
        if token.kind == TokenKind::EndObject {
            return Ok(());
        }
        loop {
            if token.kind != TokenKind::String {
                return Err(internal("object key expected"));
            }
            let key = self.string(token)?;
            if next(lexer)?.kind != TokenKind::Colon {
                return Err(internal("':' expected"));
            }
            let first = next(lexer)?;
            visit(lexer, &key, first)?;
            match next(lexer)?.kind {
                TokenKind::Comma => token = next(lexer)?,
                TokenKind::EndObject => return Ok(()),
                _ => return Err(internal("',' or '}' expected")),
            }
        }
    }

    /// The elements of an array, its `[` read; `visit` consumes each one.
    fn elements(
        &self,
        lexer: &mut Lexer<'b>,
        visit: &mut dyn FnMut(&mut Lexer<'b>, Token) -> Result<(), RewriteError>,
    ) -> Result<(), RewriteError> {
        let mut token = next(lexer)?;
        if token.kind == TokenKind::EndArray {
            return Ok(());
        }
        loop {
            visit(lexer, token)?;
            match next(lexer)?.kind {
                TokenKind::Comma => token = next(lexer)?,
                TokenKind::EndArray => return Ok(()),
                _ => return Err(internal("',' or ']' expected")),
            }
        }
    }

    /// A string token's value: borrowed from the text unless it has escapes.
    fn string(&self, token: Token) -> Result<Cow<'b, str>, RewriteError> {
        decode_str(self.text, token).map_err(internal)
    }
}

fn next(lexer: &mut Lexer<'_>) -> Result<Token, RewriteError> {
    lexer
        .next_token()
        .map_err(|error| internal(error.message()))
}

fn skip(lexer: &mut Lexer<'_>, first: Token) -> Result<(), RewriteError> {
    skip_end(lexer, first).map(|_| ())
}

fn skip_end(lexer: &mut Lexer<'_>, first: Token) -> Result<usize, RewriteError> {
    skip_value(lexer, first).ok_or_else(|| internal("malformed value"))
}

fn internal(what: &str) -> RewriteError {
    RewriteError {
        message: format!("internal error reading the tools/list response: {what}"),
    }
}
