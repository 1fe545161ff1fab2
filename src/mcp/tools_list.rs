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

use serde_json::Value;

use super::case_fold::folds_to;
use super::json_spans::{locate_array, Seg};
use super::request_id::{response_id_matches, RequestId};
use super::strict_json::parse_strict;

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
    let value = parse_strict(body, RESPONSE_MAX_DEPTH).map_err(|error| RewriteError {
        message: format!(
            "tools/list response is not readable JSON: {}",
            error.message
        ),
    })?;
    rewrite(body, &value, ids, keep)
}

/// One `tools` array to shorten: where it is, and which elements stay.
struct Edit<'v> {
    path: Vec<Seg<'v>>,
    kept: Vec<usize>,
    total: usize,
}

/// `value` is `body` parsed strictly.
pub(crate) fn rewrite(
    body: &[u8],
    value: &Value,
    ids: &[RequestId],
    keep: &dyn Fn(&str) -> bool,
) -> Result<Option<Vec<u8>>, RewriteError> {
    let mut edits = Vec::new();
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect(item, Some(index), ids, keep, &mut edits);
            }
        }
        other => collect(other, None, ids, keep, &mut edits),
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let mut replacements: Vec<(usize, usize, Vec<u8>)> = Vec::with_capacity(edits.len());
    for edit in &edits {
        let spans = locate_array(body, &edit.path)
            .filter(|spans| spans.elements.len() == edit.total)
            .ok_or_else(|| RewriteError {
                message: "internal error: tools array not found in the response text".into(),
            })?;
        let mut text = vec![b'['];
        for (position, index) in edit.kept.iter().enumerate() {
            let element = spans
                .elements
                .get(*index)
                .and_then(|&(start, end)| body.get(start..end))
                .ok_or_else(|| RewriteError {
                    message: "internal error: tool element out of range".into(),
                })?;
            if position > 0 {
                text.push(b',');
            }
            text.extend_from_slice(element);
        }
        text.push(b']');
        replacements.push((spans.start, spans.end, text));
    }
    replacements.sort_by_key(|&(start, _, _)| start);
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    for (start, end, text) in replacements {
        let before = body.get(copied..start).ok_or_else(|| RewriteError {
            message: "internal error: overlapping tools arrays".into(),
        })?;
        out.extend_from_slice(before);
        out.extend_from_slice(&text);
        copied = end;
    }
    out.extend_from_slice(body.get(copied..).unwrap_or_default());
    Ok(Some(out))
}

fn collect<'v>(
    item: &'v Value,
    index: Option<usize>,
    ids: &[RequestId],
    keep: &dyn Fn(&str) -> bool,
    edits: &mut Vec<Edit<'v>>,
) {
    let Some(response) = item.as_object() else {
        return;
    };
    let answers = response
        .iter()
        .any(|(key, id)| folds_to(key, "id") && response_id_matches(ids, id));
    if !answers {
        return;
    }
    for (result_key, result) in response {
        let Some(result) = result
            .as_object()
            .filter(|_| folds_to(result_key, "result"))
        else {
            continue;
        };
        for (tools_key, tools) in result {
            let Some(tools) = tools.as_array().filter(|_| folds_to(tools_key, "tools")) else {
                continue;
            };
            let kept: Vec<usize> = tools
                .iter()
                .enumerate()
                .filter(|(_, tool)| tool_is_kept(tool, keep))
                .map(|(position, _)| position)
                .collect();
            if kept.len() != tools.len() {
                let mut path = Vec::with_capacity(3);
                if let Some(index) = index {
                    path.push(Seg::Index(index));
                }
                path.push(Seg::Key(result_key));
                path.push(Seg::Key(tools_key));
                edits.push(Edit {
                    path,
                    kept,
                    total: tools.len(),
                });
            }
        }
    }
}

fn tool_is_kept(tool: &Value, keep: &dyn Fn(&str) -> bool) -> bool {
    let Some(tool) = tool.as_object() else {
        return false;
    };
    let Some(Value::String(name)) = tool.get("name") else {
        return false;
    };
    if !keep(name) {
        return false;
    }
    tool.iter()
        .filter(|(key, _)| key.as_str() != "name" && folds_to(key, "name"))
        .all(|(_, variant)| variant.as_str().is_some_and(keep))
}
