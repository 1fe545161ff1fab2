//! MCP JSON-RPC wire handling: the strict request reader, the event-stream
//! reader, `tools/list` response filtering and the replies the gateway
//! writes. Pure Rust, no panics outside tests, no recursion on input.
//!
//! - [`read_payload`]: one message or a batch, refusing anything two peers
//!   could read differently: duplicate keys at any depth (-32700), nesting
//!   deeper than [`ReadLimits::max_depth`] (-32700, found while parsing),
//!   a byte-order mark, invalid UTF-8 or trailing data (-32700), malformed
//!   JSON-RPC (-32600), and missing or mistyped params of the methods the
//!   policy reads (-32602). Members match case-sensitively (see `message`).
//! - [`sniff_id`]: best-effort id for error replies.
//! - [`SseSplitter`]: incremental `text/event-stream` reader.
//! - [`filter_tools_list_json`], [`ToolsListStreamFilter`]: hide tools.
//! - [`error_response`], [`error_response_with_data`], [`denial_result`].

mod case_fold;
mod codes;
mod js_number;
mod message;
mod mirrored;
mod reply;
mod request_id;
mod sniff;
mod sse;
mod strict_json;
mod strict_validate;
mod tools_list;
mod tools_list_stream;
pub mod versions;

#[cfg(test)]
mod tests;

pub use case_fold::case_variant_key_conflict;
pub use codes::{
    FORBIDDEN, HEADER_MISMATCH, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
    PARSE_ERROR, POLICY_DENIED, SESSION_NOT_FOUND, UNAUTHENTICATED,
};
pub use message::{
    read_payload, Message, MessageKind, Payload, ReadError, ReadLimits, DEFAULT_MAX_DEPTH,
};
pub use mirrored::{
    check as check_mirrored_headers, decode_header_value, param_headers, uses_mirrored_headers,
    version_mirrors, ParamHeader, MIRRORING_VERSION,
};
pub use reply::{denial_result, error_response, error_response_with_data};
pub use request_id::{RequestId, MAX_SAFE_INTEGER};
pub use sniff::sniff_id;
pub use sse::{SseEvent, SseSplitter};
pub use strict_json::DEPTH_CEILING;
pub use tools_list::{filter_tools_list_json, RewriteError, RESPONSE_MAX_DEPTH};
pub use tools_list_stream::ToolsListStreamFilter;
