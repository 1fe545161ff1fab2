//! The one refusal type: every check that stops a request returns a
//! `Refusal`, which carries how the decision counts (`Outcome`), the exact
//! reply, and whether a host or store failure caused it. Metrics, the audit
//! log and the reply are all derived from this one value.

use crate::host::{HostError, LocalReply};
use crate::mcp::{error_response, RequestId, INTERNAL_ERROR};
use crate::rate_limit_service::CallFailure;

/// How a decision counts in metrics and the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    Hidden,
    RateLimited,
    InvalidRequest,
    Unauthenticated,
    DryRunWouldDeny,
    /// A call that needs approval it does not have: asked for, or denied
    /// because it cannot be asked.
    ApprovalRequired,
    /// An approved call, forwarded.
    Approved,
    /// The approval presented does not hold: declined, used, or not for
    /// this call.
    ApprovalDenied,
    ApprovalExpired,
    /// The rate-limit service could not count the call's limits: refused
    /// (fail closed).
    RateLimitUnavailable,
    /// An approver approved a pending call (the approval API).
    ApprovalGiven,
    /// An approver denied a pending call (the approval API).
    ApprovalRefused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Hidden => "hidden",
            Outcome::RateLimited => "rate_limited",
            Outcome::InvalidRequest => "invalid_request",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::DryRunWouldDeny => "dry_run_would_deny",
            Outcome::ApprovalRequired => "approval_required",
            Outcome::Approved => "approved",
            Outcome::ApprovalDenied => "approval_denied",
            Outcome::ApprovalExpired => "approval_expired",
            Outcome::RateLimitUnavailable => "rate_limit_unavailable",
            Outcome::ApprovalGiven => "approval_given",
            Outcome::ApprovalRefused => "approval_refused",
        }
    }
}

/// Why the filter answered a request itself: Envoy's response code details,
/// so that `%RESPONSE_CODE_DETAILS%` in access logs says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// A policy denial (a rule, `deny_if`, `require`, approval, default deny).
    Denied,
    /// A hidden tool, answered as unknown.
    Hidden,
    /// The caller's user is asked to confirm the call (`input_required`).
    ApprovalAsked,
    /// The call needs approval and none can be asked for here.
    ApprovalRequired,
    /// The call waits for a named approver.
    ApprovalPending,
    /// The approval page.
    ApprovalPage,
    /// An answer of the approval API.
    ApprovalApi,
    /// The approval presented does not hold.
    ApprovalDenied,
    ApprovalExpired,
    RateLimited,
    Unauthenticated,
    /// A valid identity that no grant matches.
    Forbidden,
    /// Malformed JSON, invalid UTF-8, duplicate keys, too deep.
    InvalidJson,
    /// Not JSON-RPC, a bad batch, bad params.
    InvalidRequest,
    /// Mirrored headers that disagree with the body.
    HeaderMismatch,
    /// A protocol version the filter does not know.
    UnsupportedVersion,
    BodyTooLarge,
    UnsupportedMediaType,
    SessionNotFound,
    TaskNotFound,
    /// A refused notification, or a legacy-transport message whose refusal
    /// travels on the GET stream: accepted, not forwarded.
    Accepted,
    /// A host or store failure: refused rather than passed uninspected.
    FailClosed,
    /// The stream's plugin has no configuration.
    NoConfiguration,
    /// The upstream answered a request without a JSON-RPC reply; the client
    /// gets a JSON-RPC error in its place.
    UpstreamFailure,
    /// The rate-limit service could not count the call's limits.
    RateLimitUnavailable,
}

impl ReplyKind {
    pub fn details(self) -> &'static str {
        match self {
            ReplyKind::Denied => "mcp_policy_denied",
            ReplyKind::Hidden => "mcp_policy_hidden",
            ReplyKind::ApprovalAsked => "mcp_policy_approval_asked",
            ReplyKind::ApprovalRequired => "mcp_policy_approval_required",
            ReplyKind::ApprovalPending => "mcp_policy_approval_pending",
            ReplyKind::ApprovalPage => "mcp_policy_approval_page",
            ReplyKind::ApprovalApi => "mcp_policy_approval_api",
            ReplyKind::ApprovalDenied => "mcp_policy_approval_denied",
            ReplyKind::ApprovalExpired => "mcp_policy_approval_expired",
            ReplyKind::RateLimited => "mcp_policy_rate_limited",
            ReplyKind::Unauthenticated => "mcp_policy_unauthenticated",
            ReplyKind::Forbidden => "mcp_policy_forbidden",
            ReplyKind::InvalidJson => "mcp_policy_invalid_json",
            ReplyKind::InvalidRequest => "mcp_policy_invalid_request",
            ReplyKind::HeaderMismatch => "mcp_policy_header_mismatch",
            ReplyKind::UnsupportedVersion => "mcp_policy_unsupported_protocol_version",
            ReplyKind::BodyTooLarge => "mcp_policy_body_too_large",
            ReplyKind::UnsupportedMediaType => "mcp_policy_unsupported_media_type",
            ReplyKind::SessionNotFound => "mcp_policy_session_not_found",
            ReplyKind::TaskNotFound => "mcp_policy_task_not_found",
            ReplyKind::Accepted => "mcp_policy_accepted_not_forwarded",
            ReplyKind::FailClosed => "mcp_policy_fail_closed",
            ReplyKind::NoConfiguration => "mcp_policy_no_configuration",
            ReplyKind::UpstreamFailure => "mcp_policy_upstream_failure",
            ReplyKind::RateLimitUnavailable => "mcp_policy_rate_limit_unavailable",
        }
    }
}

/// A request the filter answers itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub outcome: Outcome,
    pub reply: LocalReply,
    /// A host or store failure caused it (counted in `mcp_policy_fail_closed`).
    pub failure: bool,
}

pub fn json_reply(status: u32, body: Vec<u8>, kind: ReplyKind) -> LocalReply {
    LocalReply {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body,
        details: kind.details(),
    }
}

/// An empty reply with `status`, e.g. 202 for an accepted notification.
pub fn empty_reply(status: u32, kind: ReplyKind) -> LocalReply {
    LocalReply {
        status,
        headers: Vec::new(),
        body: Vec::new(),
        details: kind.details(),
    }
}

impl Refusal {
    pub fn new(outcome: Outcome, reply: LocalReply) -> Refusal {
        Refusal {
            outcome,
            reply,
            failure: false,
        }
    }

    /// A JSON-RPC error with an HTTP status.
    pub fn protocol(
        outcome: Outcome,
        kind: ReplyKind,
        status: u32,
        id: Option<&RequestId>,
        code: i64,
        message: &str,
    ) -> Refusal {
        Refusal::new(
            outcome,
            json_reply(status, error_response(id, code, message), kind),
        )
    }

    /// A host or store failure while deciding: 500/-32603, never forwarded.
    pub fn failure(id: Option<&RequestId>, error: &HostError) -> Refusal {
        log::error!("refusing request: {error}");
        Refusal {
            outcome: Outcome::Denied,
            reply: json_reply(
                500,
                error_response(
                    id,
                    INTERNAL_ERROR,
                    "The policy filter could not inspect the request",
                ),
                ReplyKind::FailClosed,
            ),
            failure: true,
        }
    }

    /// The rate-limit service could not count the call (unavailable, timed
    /// out, or an answer the filter cannot read): 500/-32603, never
    /// forwarded, counted in `mcp_policy_fail_closed` as well.
    pub fn rate_limit_unavailable(id: Option<&RequestId>, failure: &CallFailure) -> Refusal {
        log::error!("refusing request: the rate-limit service failed: {failure}");
        Refusal {
            outcome: Outcome::RateLimitUnavailable,
            reply: json_reply(
                500,
                error_response(
                    id,
                    INTERNAL_ERROR,
                    "Rate limits could not be checked: the rate-limit service is unavailable. Try again later.",
                ),
                ReplyKind::RateLimitUnavailable,
            ),
            failure: true,
        }
    }
}
