//! The wire form of every refusal. Policy denials are HTTP 200 so that the
//! agent reads the reason; protocol errors use HTTP statuses.

use serde_json::{json, Value};

use super::verdict::{Reason, Refusal};
use crate::host::LocalReply;
use crate::mcp::{denial_result, error_response, RequestId};

/// JSON-RPC code for a method refused by policy.
pub const POLICY_DENIED: i64 = -32001;
/// JSON-RPC code for a missing or unknown bearer token.
pub const UNAUTHENTICATED: i64 = -32011;
/// JSON-RPC code for a refusal made to fail closed (counter store down).
pub const UNAVAILABLE: i64 = -32012;
/// JSON-RPC code the official SDKs use for an unknown session (HTTP 404).
pub const SESSION_NOT_FOUND: i64 = -32001;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

pub const META_RULE: &str = "mcp-policy/rule";
pub const META_RETRY_AFTER: &str = "mcp-policy/retryAfterSeconds";

const BATCH_NOT_FORWARDED: &str =
    "Batch not forwarded: an element was refused by policy; retry without batching";

fn json_reply(status: u32, body: Vec<u8>) -> LocalReply {
    LocalReply {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body,
    }
}

pub fn protocol_error(status: u32, id: Option<&RequestId>, code: i64, message: &str) -> LocalReply {
    json_reply(status, error_response(id, code, message))
}

/// What replaces a `tools/list` response the filter could not read: it is
/// never passed on unfiltered.
pub fn unreadable_tools_list(id: Option<&RequestId>) -> Vec<u8> {
    error_response(
        id,
        INTERNAL_ERROR,
        "tools/list response could not be read by the policy filter",
    )
}

pub fn unauthenticated(id: Option<&RequestId>, message: &str) -> LocalReply {
    let mut reply = json_reply(401, error_response(id, UNAUTHENTICATED, message));
    reply
        .headers
        .push(("www-authenticate".into(), "Bearer realm=\"mcp\"".into()));
    reply
}

/// The JSON-RPC response a refused request gets (None for a notification).
pub fn refusal_body(refusal: &Refusal) -> Option<Vec<u8>> {
    let id = refusal.id.as_ref()?;
    let is_tool_call = refusal.method == "tools/call";
    // 2026-07-28 results name their type; a denial is a complete result.
    let result_type = refusal.modern.then_some("complete");
    let body = match &refusal.reason {
        Reason::Policy(_) if refusal.is_hidden() && is_tool_call => error_response(
            Some(id),
            INVALID_PARAMS,
            &format!("Unknown tool: {}", refusal.target.as_deref().unwrap_or("")),
        ),
        Reason::Policy(denial) if is_tool_call => denial_result(
            id,
            result_type,
            &denial.message,
            &[(META_RULE, Value::String(denial.rule.clone()))],
        ),
        Reason::Policy(denial) => error_response(
            Some(id),
            POLICY_DENIED,
            &format!("[POLICY DENIED] {}", denial.message),
        ),
        Reason::RateLimited {
            message,
            rule,
            retry_after_secs,
            ..
        } if is_tool_call => denial_result(
            id,
            result_type,
            message,
            &[
                (META_RULE, Value::String(rule.clone())),
                (META_RETRY_AFTER, json!(retry_after_secs)),
            ],
        ),
        Reason::RateLimited { message, .. } => {
            error_response(Some(id), POLICY_DENIED, &format!("[POLICY DENIED] {message}"))
        }
        Reason::CountersUnavailable { .. } if is_tool_call => denial_result(
            id,
            result_type,
            "Rate limit state is unavailable, so the call was refused. Try again later.",
            &[(META_RULE, Value::String(refusal.rule().to_string()))],
        ),
        Reason::CountersUnavailable { .. } => error_response(
            Some(id),
            UNAVAILABLE,
            "[POLICY DENIED] Rate limit state is unavailable, so the call was refused. Try again later.",
        ),
        Reason::BatchNotForwarded => error_response(Some(id), INVALID_REQUEST, BATCH_NOT_FORWARDED),
    };
    Some(body)
}

/// The reply to a single refused message.
pub fn single(refusal: &Refusal) -> LocalReply {
    match refusal_body(refusal) {
        Some(body) => {
            let mut reply = json_reply(200, body);
            if let Reason::RateLimited {
                retry_after_secs, ..
            } = &refusal.reason
            {
                reply
                    .headers
                    .push(("retry-after".into(), retry_after_secs.to_string()));
            }
            reply
        }
        // A refused notification: accepted and dropped, as a server may.
        None => LocalReply {
            status: 202,
            headers: Vec::new(),
            body: Vec::new(),
        },
    }
}

/// The reply to a batch with at least one refused element: one response per
/// request id, in order; notifications are dropped.
pub fn batch(refusals: &[Refusal]) -> LocalReply {
    let mut body = Vec::from(&b"["[..]);
    let mut first = true;
    for response in refusals.iter().filter_map(refusal_body) {
        if !first {
            body.push(b',');
        }
        first = false;
        body.extend_from_slice(&response);
    }
    body.push(b']');
    if first {
        return LocalReply {
            status: 202,
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    json_reply(200, body)
}
