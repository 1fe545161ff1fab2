//! Removing hidden tools from `tools/list` results in `text/event-stream`
//! bodies, event by event, holding only the incomplete event.
//!
//! Each complete event is classified by its data:
//! - no `data:` field, or data not starting (after JSON whitespace) with `{`
//!   or `[` (e.g. a legacy `endpoint` URL): forwarded byte-for-byte;
//! - strict JSON with a response to one of `ids` whose tools need removing:
//!   re-emitted with one `data:` line holding the rewritten JSON (line breaks,
//!   which are only whitespace in JSON, become spaces), in the place of the
//!   first `data:` line; every other line (`event:`, `id:`, `retry:`,
//!   comments, unknown fields) and the terminators are kept;
//! - other strict JSON: forwarded byte-for-byte;
//! - JSON-looking data that is not strict JSON (duplicate keys, too deep,
//!   lone surrogates...): never forwarded, since a lenient client might read
//!   a hidden tool out of it. If its id (best effort) answers one of `ids`
//!   it becomes a -32603 error response for that id; otherwise its data
//!   lines are replaced by a comment line, so it dispatches nothing.
//!
//! At the end of the stream the unterminated tail (which a conforming
//! client discards) is treated the same way, without adding a terminator.

use super::reply::error_response;
use super::request_id::{response_id_matches, RequestId};
use super::sniff::sniff_id;
use super::sse::{field, Block, SseSplitter};
use super::tools_list::filter_tools_list_json;
use super::INTERNAL_ERROR;
use crate::json::lexer::is_json_ws;

/// The comment line that replaces the data of an unreadable JSON event with
/// no matching id (the event then dispatches nothing).
const DROPPED_EVENT: &[u8] = b": mcp-policy-filter removed an unreadable JSON event";

pub struct ToolsListStreamFilter {
    ids: Vec<RequestId>,
    splitter: SseSplitter,
}

impl ToolsListStreamFilter {
    pub fn new(ids: Vec<RequestId>) -> Self {
        ToolsListStreamFilter {
            ids,
            splitter: SseSplitter::new(),
        }
    }

    /// Bytes to emit now for this chunk.
    pub fn push(&mut self, chunk: &[u8], keep: &dyn Fn(&str) -> bool) -> Vec<u8> {
        let mut out = Vec::new();
        for block in self.splitter.push_blocks(chunk) {
            out.extend(self.process(&block, keep));
        }
        out
    }

    /// Flushes the tail at the end of the stream.
    pub fn finish(&mut self, keep: &dyn Fn(&str) -> bool) -> Vec<u8> {
        let tail = self.splitter.take_tail();
        if tail.raw.is_empty() {
            return Vec::new();
        }
        self.process(&tail, keep)
    }

    /// Bytes held back so far (the incomplete event).
    pub fn pending_len(&self) -> usize {
        self.splitter.pending().len()
    }

    fn process(&self, block: &Block, keep: &dyn Fn(&str) -> bool) -> Vec<u8> {
        let fields = block.fields();
        let data = fields.data.as_bytes();
        let json_like = matches!(
            data.iter().find(|byte| !is_json_ws(**byte)),
            Some(b'{' | b'[')
        );
        if !fields.has_data || !json_like {
            return block.raw.clone();
        }
        let replacement = match filter_tools_list_json(data, &self.ids, keep) {
            Ok(None) => return block.raw.clone(),
            Ok(Some(json)) => json,
            Err(error) => {
                log::warn!("event stream carries JSON the filter cannot read: {error}");
                self.unreadable(data)
            }
        };
        let line = if replacement.is_empty() {
            DROPPED_EVENT.to_vec()
        } else {
            let mut line = b"data: ".to_vec();
            line.extend(replacement.iter().map(|&byte| {
                if byte == b'\n' || byte == b'\r' {
                    b' '
                } else {
                    byte
                }
            }));
            line
        };
        replace_data(block, &line)
    }

    /// An error response for unreadable data answering one of our ids, or
    /// nothing (drop the event).
    fn unreadable(&self, data: &[u8]) -> Vec<u8> {
        match sniff_id(data) {
            Some(id) if self.answers(&id) => error_response(
                Some(&id),
                INTERNAL_ERROR,
                "tools/list response could not be read by the policy filter",
            ),
            _ => Vec::new(),
        }
    }

    fn answers(&self, id: &RequestId) -> bool {
        let value = match (id.as_integer(), id.as_string()) {
            (Some(number), _) => serde_json::Value::from(number),
            (None, Some(text)) => serde_json::Value::String(text),
            (None, None) => return false,
        };
        response_id_matches(&self.ids, &value)
    }
}

/// The block with its first `data:` line replaced by `line` (same
/// terminator) and its other `data:` lines removed; every other line, the
/// terminators and the bytes before the first line are kept, so the output
/// does not depend on how the stream was cut into chunks.
fn replace_data(block: &Block, line: &[u8]) -> Vec<u8> {
    let raw = &block.raw;
    let mut out = raw.get(..block.prefix_len).unwrap_or_default().to_vec();
    let mut written = false;
    for current in block.lines() {
        let content = raw
            .get(current.start..current.content_end)
            .unwrap_or_default();
        if !matches!(field(content), Some((b"data", _))) {
            out.extend_from_slice(raw.get(current.start..current.end).unwrap_or_default());
        } else if !written {
            written = true;
            out.extend_from_slice(line);
            out.extend_from_slice(
                raw.get(current.content_end..current.end)
                    .unwrap_or_default(),
            );
        } else {
            // A later data line becomes an empty comment with its own line
            // ending: dropping the ending could fuse a bare CR before it with
            // the blank line's LF and erase the event boundary.
            out.push(b':');
            out.extend_from_slice(
                raw.get(current.content_end..current.end)
                    .unwrap_or_default(),
            );
        }
    }
    out
}
