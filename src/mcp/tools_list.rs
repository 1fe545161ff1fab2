//! Removing hidden tools from `tools/list` results (JSON bodies).
//!
//! The body is read once, strictly (`strict_validate`, depth
//! [`RESPONSE_MAX_DEPTH`]): a body with duplicate keys or other ambiguity is
//! an error and the caller fails closed. The same pass notes the byte spans
//! of the tools; hidden ones are then cut out of the original bytes, so
//! everything else (pagination fields, `_meta`, key order, number spelling,
//! the kept tools) is forwarded byte-for-byte.
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

use super::case_fold::folds_to;
use crate::json::lexer::TokenKind;
use crate::json::string::decode_str;

use super::request_id::{response_id_matches, RequestId};
use super::strict_json::parse_strict;
use super::strict_validate::{refusal, Event, NotStrict, StrictScan};

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
    let mut cut = Cut {
        ids,
        keep,
        frames: Vec::new(),
        slot: None,
        answers: false,
        pending: Vec::new(),
        edits: Vec::new(),
        elements: Vec::new(),
        name_kept: false,
        variants_kept: true,
    };
    match cut.read(body) {
        Ok(()) => splice(body, &cut.edits).ok_or_else(|| RewriteError {
            message: "internal error rewriting the tools/list response: overlapping edits".into(),
        }),
        Err(NotStrict) => Err(RewriteError {
            message: format!(
                "tools/list response is not readable JSON: {}",
                refusal(body, RESPONSE_MAX_DEPTH).message
            ),
        }),
    }
}

/// What an open container is to the filter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Other,
    /// The top-level array: its objects are responses.
    Batch,
    Response,
    /// A response's `result` object.
    Result,
    /// A result's `tools` array.
    Tools,
    /// An object in a tools array.
    Tool,
    /// Any other container in a tools array: dropped.
    NotATool,
    /// A response's id that is an array or object (answers nothing, but
    /// read as the tree reader would).
    Id,
}

/// What the value after a key is to the filter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Plain,
    Id,
    Result,
    Tools,
    /// A tool's `name` (exact) or one of its case variants.
    Name {
        exact: bool,
    },
}

#[derive(Clone, Copy)]
struct Frame {
    role: Role,
    start: usize,
}

/// A tools array to replace (`start..end`) by its kept elements.
struct Edit {
    start: usize,
    end: usize,
    kept: Vec<(usize, usize)>,
}

struct Cut<'k> {
    ids: &'k [RequestId],
    keep: &'k dyn Fn(&str) -> bool,
    frames: Vec<Frame>,
    /// Set by a key, taken by its value.
    slot: Option<Slot>,
    /// The current response answers one of `ids`.
    answers: bool,
    /// The current response's edits, kept if it answers.
    pending: Vec<Edit>,
    edits: Vec<Edit>,
    /// The current tools array's elements: span and whether kept.
    elements: Vec<(usize, usize, bool)>,
    name_kept: bool,
    variants_kept: bool,
}

impl Cut<'_> {
    fn read(&mut self, body: &[u8]) -> Result<(), NotStrict> {
        let mut scan = StrictScan::new(body, RESPONSE_MAX_DEPTH)?;
        while let Some(event) = scan.next()? {
            match event {
                Event::Key => self.slot = Some(self.slot_of(scan.key())),
                Event::Begin { object, start } => {
                    let role = self.role_of(object);
                    self.frames.push(Frame { role, start });
                }
                Event::End { end } => self.end(body, end)?,
                Event::Scalar(token) => {
                    let slot = self.slot.take();
                    match slot {
                        Some(Slot::Id) => self.id(body, token.start, token.end)?,
                        Some(Slot::Name { exact }) => {
                            let kept = token.kind == TokenKind::String
                                && (self.keep)(
                                    &decode_str(scan.text(), token).map_err(|_| NotStrict)?,
                                );
                            self.name(exact, kept);
                        }
                        Some(_) => {}
                        None => {
                            if self.parent() == Some(Role::Tools) {
                                self.elements.push((token.start, token.end, false));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn parent(&self) -> Option<Role> {
        self.frames.last().map(|frame| frame.role)
    }

    fn slot_of(&self, key: &str) -> Slot {
        match self.parent() {
            Some(Role::Response) if folds_to(key, "id") => Slot::Id,
            Some(Role::Response) if folds_to(key, "result") => Slot::Result,
            Some(Role::Result) if folds_to(key, "tools") => Slot::Tools,
            Some(Role::Tool) if key == "name" => Slot::Name { exact: true },
            Some(Role::Tool) if folds_to(key, "name") => Slot::Name { exact: false },
            _ => Slot::Plain,
        }
    }

    /// The role of a container that opens, and what its opening starts (a
    /// response, a tools array, a tool).
    fn role_of(&mut self, object: bool) -> Role {
        let role = match (self.slot.take(), self.parent(), object) {
            (Some(Slot::Id), _, _) => Role::Id,
            (Some(Slot::Result), _, true) => Role::Result,
            (Some(Slot::Tools), _, false) => Role::Tools,
            (Some(Slot::Name { exact }), _, _) => {
                self.name(exact, false);
                Role::Other
            }
            (Some(_), _, _) => Role::Other,
            (None, None, false) => Role::Batch,
            (None, None | Some(Role::Batch), true) => Role::Response,
            (None, Some(Role::Tools), true) => Role::Tool,
            (None, Some(Role::Tools), false) => Role::NotATool,
            (None, _, _) => Role::Other,
        };
        match role {
            Role::Response => {
                self.answers = false;
                self.pending.clear();
            }
            Role::Tools => self.elements.clear(),
            Role::Tool => {
                self.name_kept = false;
                self.variants_kept = true;
            }
            _ => {}
        }
        role
    }

    fn end(&mut self, body: &[u8], end: usize) -> Result<(), NotStrict> {
        let frame = self.frames.pop().ok_or(NotStrict)?;
        match frame.role {
            Role::Response => {
                if self.answers {
                    self.edits.append(&mut self.pending);
                }
            }
            Role::Tools => {
                if self.elements.iter().any(|&(_, _, kept)| !kept) {
                    let kept = self
                        .elements
                        .iter()
                        .filter(|&&(_, _, kept)| kept)
                        .map(|&(start, end, _)| (start, end))
                        .collect();
                    self.pending.push(Edit {
                        start: frame.start,
                        end,
                        kept,
                    });
                }
            }
            Role::Tool => {
                let kept = self.name_kept && self.variants_kept;
                self.elements.push((frame.start, end, kept));
            }
            Role::NotATool => self.elements.push((frame.start, end, false)),
            Role::Id => self.id(body, frame.start, end)?,
            Role::Other | Role::Batch | Role::Result => {}
        }
        Ok(())
    }

    /// An id member's value, `start..end`: the response answers when it
    /// matches one of `ids`, whichever of its id members does.
    fn id(&mut self, body: &[u8], start: usize, end: usize) -> Result<(), NotStrict> {
        let id = body
            .get(start..end)
            .and_then(|raw| parse_strict(raw, RESPONSE_MAX_DEPTH).ok())
            .ok_or(NotStrict)?;
        self.answers |= response_id_matches(self.ids, &id);
        Ok(())
    }

    fn name(&mut self, exact: bool, kept: bool) {
        if exact {
            self.name_kept = kept;
        } else {
            self.variants_kept &= kept;
        }
    }
}

/// The body with each edited tools array holding only its kept elements
/// (`Some(None)` when there is no edit); `None` if edits overlap.
fn splice(body: &[u8], edits: &[Edit]) -> Option<Option<Vec<u8>>> {
    if edits.is_empty() {
        return Some(None);
    }
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    for edit in edits {
        out.extend_from_slice(body.get(copied..edit.start)?);
        out.push(b'[');
        for (index, &(start, end)) in edit.kept.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(body.get(start..end).unwrap_or_default());
        }
        out.push(b']');
        copied = edit.end;
    }
    out.extend_from_slice(body.get(copied..)?);
    Some(Some(out))
}
