//! The wire form of refused messages. Policy denials are HTTP 200 so that
//! the agent reads the reason; a batch gets one response per request id.

use serde_json::{json, Value};

use super::verdict::{ApprovalStep, MessageRefusal, Reason};
use crate::filter::refusal::{empty_reply, json_reply, Outcome, Refusal, ReplyKind};
use crate::mcp::{denial_result, error_response, INVALID_PARAMS, INVALID_REQUEST, POLICY_DENIED};
use crate::policy::DenialKind;

pub const META_RULE: &str = "mcp-policy/rule";
pub const META_RETRY_AFTER: &str = "mcp-policy/retryAfterSeconds";
pub const META_APPROVAL: &str = "mcp-policy/approval";

const BATCH_NOT_FORWARDED: &str =
    "Batch not forwarded: an element was refused by policy; retry without batching";

/// The JSON-RPC response a refused message gets (None for a notification).
pub fn refusal_body(refusal: &MessageRefusal) -> Option<Vec<u8>> {
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
        Reason::RateLimited { message, .. } => error_response(
            Some(id),
            POLICY_DENIED,
            &format!("[POLICY DENIED] {message}"),
        ),
        Reason::Approval {
            step: ApprovalStep::Ask { reply },
            ..
        } => reply.clone(),
        Reason::Approval {
            step: ApprovalStep::Pending { approval, .. },
            message,
            rule,
            ..
        } if is_tool_call => denial_result(
            id,
            result_type,
            message,
            &[
                (META_RULE, Value::String(rule.clone())),
                (META_APPROVAL, approval.clone()),
            ],
        ),
        Reason::Approval { message, rule, .. } if is_tool_call => denial_result(
            id,
            result_type,
            message,
            &[(META_RULE, Value::String(rule.clone()))],
        ),
        Reason::Approval { message, .. } => error_response(
            Some(id),
            POLICY_DENIED,
            &format!("[POLICY DENIED] {message}"),
        ),
        Reason::BatchNotForwarded => error_response(Some(id), INVALID_REQUEST, BATCH_NOT_FORWARDED),
    };
    Some(body)
}

/// How refusals count: rate-limited if any limit refused, else by the
/// first approval refusal, hidden if every refusal was a hidden tool,
/// denied otherwise.
pub fn outcome_of<'r>(refusals: impl IntoIterator<Item = &'r MessageRefusal>) -> Outcome {
    let mut all_hidden = true;
    let mut any = false;
    let mut approval = None;
    for refusal in refusals {
        any = true;
        match &refusal.reason {
            Reason::RateLimited { .. } => return Outcome::RateLimited,
            Reason::BatchNotForwarded => {}
            Reason::Approval { step, .. } => {
                all_hidden = false;
                approval.get_or_insert(match step {
                    ApprovalStep::Ask { .. }
                    | ApprovalStep::Required
                    | ApprovalStep::Pending { expired: false, .. } => Outcome::ApprovalRequired,
                    ApprovalStep::Pending { expired: true, .. } => Outcome::ApprovalExpired,
                    ApprovalStep::Denied => Outcome::ApprovalDenied,
                    ApprovalStep::Expired => Outcome::ApprovalExpired,
                });
            }
            Reason::Policy(denial) => {
                all_hidden &= refusal.is_hidden();
                if denial.kind == DenialKind::ApprovalRequired {
                    approval.get_or_insert(Outcome::ApprovalRequired);
                }
            }
        }
    }
    match approval {
        Some(outcome) => outcome,
        None if any && all_hidden => Outcome::Hidden,
        None => Outcome::Denied,
    }
}

fn kind_of(outcome: Outcome) -> ReplyKind {
    match outcome {
        Outcome::RateLimited => ReplyKind::RateLimited,
        Outcome::Hidden => ReplyKind::Hidden,
        Outcome::ApprovalRequired => ReplyKind::ApprovalRequired,
        Outcome::ApprovalDenied => ReplyKind::ApprovalDenied,
        Outcome::ApprovalExpired => ReplyKind::ApprovalExpired,
        _ => ReplyKind::Denied,
    }
}

/// The reply to a single refused message.
pub fn single(refusal: &MessageRefusal) -> Refusal {
    let outcome = outcome_of([refusal]);
    let kind = match &refusal.reason {
        Reason::Approval {
            step: ApprovalStep::Ask { .. },
            ..
        } => ReplyKind::ApprovalAsked,
        Reason::Approval {
            step: ApprovalStep::Pending { .. },
            ..
        } => ReplyKind::ApprovalPending,
        _ => kind_of(outcome),
    };
    let reply = match refusal_body(refusal) {
        Some(body) => {
            let mut reply = json_reply(200, body, kind);
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
        None => empty_reply(202, ReplyKind::Accepted),
    };
    Refusal::new(outcome, reply)
}

/// The reply to a batch with at least one refused element: one response per
/// request id, in order; notifications are dropped.
pub fn batch(refusals: &[MessageRefusal]) -> Refusal {
    let outcome = outcome_of(
        refusals
            .iter()
            .filter(|refusal| refusal.reason != Reason::BatchNotForwarded),
    );
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
    let reply = if first {
        empty_reply(202, ReplyKind::Accepted)
    } else {
        json_reply(200, body, kind_of(outcome))
    };
    Refusal::new(outcome, reply)
}
