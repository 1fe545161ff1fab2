//! What the request headers alone decide: refusals that need no body, the
//! headers that never go upstream, and the encoding the response must have.

use super::head::RequestHead;
use crate::config::{OAuth, Settings};
use crate::filter::refusal::{json_reply, Outcome, Refusal, ReplyKind};
use crate::host::{Host, HostError};
use crate::mcp::{error_response, RequestId, INVALID_REQUEST, UNAUTHENTICATED};

/// No usable credential: 401, with the challenge OAuth clients follow to the
/// resource's metadata, and `invalid_token` when a token was presented.
pub fn unauthenticated(
    id: Option<&RequestId>,
    message: &str,
    oauth: Option<&OAuth>,
    token_presented: bool,
) -> Refusal {
    let mut reply = json_reply(
        401,
        error_response(id, UNAUTHENTICATED, message),
        ReplyKind::Unauthenticated,
    );
    let error = if token_presented {
        ", error=\"invalid_token\""
    } else {
        ""
    };
    let metadata = super::oauth::resource_metadata(oauth);
    reply.headers.push((
        "www-authenticate".into(),
        format!("Bearer realm=\"mcp\"{error}{metadata}"),
    ));
    Refusal::new(Outcome::Unauthenticated, reply)
}

pub fn body_too_large(settings: &Settings) -> Refusal {
    Refusal::protocol(
        Outcome::InvalidRequest,
        ReplyKind::BodyTooLarge,
        413,
        None,
        INVALID_REQUEST,
        &format!(
            "Request body is larger than the policy filter's limit of {} bytes",
            settings.max_body_bytes
        ),
    )
}

pub fn body_declared_too_large(head: &RequestHead, settings: &Settings) -> bool {
    head.content_length()
        .is_some_and(|length| length > settings.max_body_bytes as u64)
}

/// Refusals that the headers alone decide, for a request with a body.
pub fn check_body_headers(head: &RequestHead, settings: &Settings) -> Option<Refusal> {
    if body_declared_too_large(head, settings) {
        return Some(body_too_large(settings));
    }
    let unsupported = |message: &str| {
        Refusal::protocol(
            Outcome::InvalidRequest,
            ReplyKind::UnsupportedMediaType,
            415,
            None,
            INVALID_REQUEST,
            message,
        )
    };
    if head.body_is_encoded() {
        return Some(unsupported(
            "Request bodies must not be content-encoded: the policy filter only reads identity bodies",
        ));
    }
    if !head.body_is_json() {
        return Some(unsupported(
            "Request bodies must have Content-Type: application/json",
        ));
    }
    None
}

/// Cookies never go upstream, and `Authorization` only when `keep_token`
/// (see `oauth::keeps_token`).
pub fn scrub(host: &dyn Host, head: &RequestHead, keep_token: bool) -> Result<(), HostError> {
    let names: &[&str] = if keep_token {
        &["cookie"]
    } else {
        &["authorization", "cookie"]
    };
    for name in names {
        if head.headers.get(name).is_some() {
            host.set_request_header(name, None)?;
        }
    }
    Ok(())
}

/// A response the filter will read must come back unencoded; other
/// responses keep the client's `Accept-Encoding`.
pub fn ask_for_readable_response(host: &dyn Host, head: &RequestHead) -> Result<(), HostError> {
    let mut encodings = head.headers.get_all("accept-encoding");
    if encodings.next() == Some("identity") && encodings.next().is_none() {
        return Ok(());
    }
    host.set_request_header("accept-encoding", Some("identity"))
}
