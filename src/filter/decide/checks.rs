//! The checks a request body must pass before any policy applies: batches
//! only where the protocol version allows them, tasks only for the grant the
//! upstream created them for, and 2026-07-28's mirrored headers in agreement
//! with the body.

use super::Context;
use crate::filter::param_maps;
use crate::filter::refusal::{Outcome, Refusal, ReplyKind};
use crate::filter::tasks;
use crate::host::HostError;
use crate::mcp::{Message, HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST};

/// Batches were removed from the protocol in 2025-06-18.
pub fn check_batch_version(ctx: &Context<'_>) -> Option<Refusal> {
    let version = ctx.head.protocol_version().filter(|v| *v >= "2025-06-18")?;
    Some(Refusal::protocol(
        Outcome::InvalidRequest,
        ReplyKind::InvalidRequest,
        400,
        None,
        INVALID_REQUEST,
        &format!("JSON-RPC batches are not supported in protocol version {version}"),
    ))
}

/// A task the upstream did not create for this grant is answered as an
/// unknown one.
pub fn check_tasks(ctx: &Context<'_>, messages: &[Message]) -> Option<Refusal> {
    let grant = &ctx.grant.name;
    for message in messages {
        let Some(task) = message
            .method()
            .filter(|method| method.starts_with("tasks/"))
            .and(message.target())
        else {
            continue;
        };
        match tasks::holds(ctx.store, grant, task, ctx.now_secs) {
            Ok(true) => {}
            Ok(false) => {
                log::warn!("grant {grant} named a task it does not hold");
                return Some(Refusal::protocol(
                    Outcome::Denied,
                    ReplyKind::TaskNotFound,
                    404,
                    message.id.as_ref(),
                    INVALID_PARAMS,
                    "Task not found",
                ));
            }
            Err(error) => {
                return Some(Refusal::failure(
                    message.id.as_ref(),
                    &HostError::new("task bindings", error.to_string()),
                ))
            }
        }
    }
    None
}

/// 2026-07-28 requests: the mirrored headers must agree with the body.
pub fn check_mirrored_headers(ctx: &Context<'_>, messages: &[Message]) -> Option<Refusal> {
    let version = ctx.head.protocol_version();
    for message in messages {
        if !crate::mcp::uses_mirrored_headers(version, message) {
            continue;
        }
        let params = match (message.method(), message.target()) {
            (Some("tools/call"), Some(tool)) => {
                param_maps::learned_params(ctx.store, tool, ctx.now_secs)
            }
            _ => None,
        };
        if let Err(mismatch) = crate::mcp::check_mirrored_headers(
            &ctx.head.headers,
            version,
            message,
            params.as_deref(),
        ) {
            log::info!("refused a request whose headers disagree with its body: {mismatch}");
            return Some(Refusal::protocol(
                Outcome::InvalidRequest,
                ReplyKind::HeaderMismatch,
                400,
                message.id.as_ref(),
                HEADER_MISMATCH,
                &format!("Header mismatch: {mismatch}"),
            ));
        }
    }
    None
}
