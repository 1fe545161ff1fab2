//! The checks a request body must pass before any policy applies: batches
//! only where the protocol version allows them, sessions and tasks only for
//! the grant that obtained them, and 2026-07-28's mirrored headers in
//! agreement with the body.

use super::Context;
use crate::filter::param_maps;
use crate::filter::refusal::{Outcome, Refusal, ReplyKind};
use crate::filter::sessions::{self, Binding};
use crate::host::HostError;
use crate::mcp::{Message, RequestId, HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST};

/// JSON-RPC code the official SDKs use for an unknown session (HTTP 404).
pub const SESSION_NOT_FOUND: i64 = -32001;

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

/// The session this request names: `Mcp-Session-Id`, or the legacy
/// transport's `sessionId`/`session_id` query parameter.
pub fn session_of(ctx: &Context<'_>) -> Option<String> {
    ctx.head
        .session_id()
        .map(str::to_string)
        .or_else(|| crate::filter::legacy::session_of_path(ctx.head.path()))
}

/// A session obtained by another grant is answered as an unknown one.
pub fn check_session(ctx: &Context<'_>, id: Option<&RequestId>) -> Option<Refusal> {
    let session = session_of(ctx)?;
    let not_found = |message: &str| {
        Refusal::protocol(
            Outcome::Denied,
            ReplyKind::SessionNotFound,
            404,
            id,
            SESSION_NOT_FOUND,
            message,
        )
    };
    let grant = &ctx.grant.name;
    match sessions::bind(ctx.store, &session, grant, ctx.now_secs) {
        Ok(Binding::Mine) => None,
        Ok(Binding::Foreign) => {
            log::warn!("grant {grant} presented a session bound to another grant");
            Some(not_found("Session not found"))
        }
        Ok(Binding::TableFull) => {
            log::error!("session binding table is full; refusing session for grant {grant}");
            Some(not_found(
                "Session not found: the gateway cannot track more sessions now",
            ))
        }
        Err(error) => Some(Refusal::failure(
            id,
            &HostError::new("session bindings", error.to_string()),
        )),
    }
}

/// A task obtained by another grant is answered as an unknown one.
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
        let not_found = |text: &str| {
            Refusal::protocol(
                Outcome::Denied,
                ReplyKind::TaskNotFound,
                404,
                message.id.as_ref(),
                INVALID_PARAMS,
                text,
            )
        };
        match sessions::bind_task(ctx.store, task, grant, ctx.now_secs) {
            Ok(Binding::Mine) => {}
            Ok(Binding::Foreign) => {
                log::warn!("grant {grant} presented a task bound to another grant");
                return Some(not_found("Task not found"));
            }
            Ok(Binding::TableFull) => {
                return Some(not_found(
                    "Task not found: the gateway cannot track more tasks now",
                ))
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
