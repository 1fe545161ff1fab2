//! The checks a request body must pass before any policy applies: a protocol
//! version the filter knows, batches only where that version allows them, tasks only for the grant the
//! upstream created them for, and 2026-07-28's mirrored headers in agreement
//! with the body.

use super::Context;
use crate::filter::param_maps;
use crate::filter::refusal::json_reply;
use crate::filter::refusal::{Outcome, Refusal, ReplyKind};
use crate::filter::tasks;
use crate::host::HostError;
use crate::mcp::versions;
use crate::mcp::{
    error_response_with_data, Message, RequestId, HEADER_MISMATCH, INVALID_PARAMS, INVALID_REQUEST,
};
use serde_json::json;

/// A version the filter does not know is refused, as the official servers
/// refuse it: under the 2026-07-28 envelope with `-32022` and `data:
/// {supported, requested}` (clients negotiate from `supported`), otherwise
/// with the handshake era's `-32000 Unsupported protocol version`. A message
/// is never decided under a guessed version. `initialize` negotiates its
/// version itself and is not checked here.
pub fn check_protocol_version(ctx: &Context<'_>, messages: &[Message]) -> Option<Refusal> {
    let header = ctx.head.protocol_version();
    for message in messages {
        let envelope = versions::envelope_version(message);
        let unknown_envelope = envelope.filter(|version| !versions::is_known(version));
        let unknown_header = header
            .filter(|version| !versions::is_known(version))
            .filter(|_| message.method() != Some("initialize"));
        let id = message.id.as_ref();
        if let Some(requested) = unknown_envelope.or(unknown_header.filter(|_| envelope.is_some()))
        {
            let data = json!({"supported": versions::MODERN_VERSIONS, "requested": requested});
            return Some(unsupported(
                id,
                versions::UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
                &data,
            ));
        }
        if let Some(requested) = unknown_header {
            return Some(unsupported_header(id, requested));
        }
    }
    None
}

/// The handshake era's refusal of an unknown `MCP-Protocol-Version` header.
pub fn unsupported_header(id: Option<&RequestId>, requested: &str) -> Refusal {
    let message = format!(
        "Bad Request: Unsupported protocol version: {requested} (supported versions: {})",
        versions::KNOWN_VERSIONS.join(", ")
    );
    let data = json!({"supported": versions::KNOWN_VERSIONS, "requested": requested});
    unsupported(id, versions::HANDSHAKE_UNSUPPORTED_VERSION, &message, &data)
}

fn unsupported(
    id: Option<&RequestId>,
    code: i64,
    message: &str,
    data: &serde_json::Value,
) -> Refusal {
    Refusal::new(
        Outcome::InvalidRequest,
        json_reply(
            400,
            error_response_with_data(id, code, message, data),
            ReplyKind::UnsupportedVersion,
        ),
    )
}

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
