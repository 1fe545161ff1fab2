//! Sessions, sealed. The session id a client presents (`Mcp-Session-Id`, or
//! the 2024-11-05 transport's `sessionId` query parameter) must be one the
//! filter sealed for this very grant when the upstream issued it; the filter
//! then forwards the upstream's own id. Anything else (another grant's
//! session, a forged seal, a made-up id) gets the reply an unknown session
//! gets, and is never forwarded. Nothing is remembered, so nothing can be
//! exhausted, and sessions survive restarts and hold across replicas that
//! share the keys.

use super::head::RequestHead;
use crate::config::Config;
use crate::filter::legacy;
use crate::filter::refusal::{Outcome, Refusal, ReplyKind};
use crate::mcp::{RequestId, SESSION_NOT_FOUND};
use crate::seal::Purpose;

/// Where the client presented its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    Header,
    /// The 2024-11-05 transport's `sessionId`/`session_id` query parameter.
    Query,
}

/// The session a request belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The upstream's own id, forwarded in place of the sealed one.
    pub upstream: String,
    pub carrier: Carrier,
    /// The id was unsealed, so the request must be rewritten before it goes.
    pub unsealed: bool,
}

impl Session {
    /// The request path with the legacy query parameter set to the
    /// upstream's id.
    pub fn rewritten_path(&self, path: &str) -> Option<String> {
        (self.carrier == Carrier::Query && self.unsealed)
            .then(|| legacy::with_session(path, &self.upstream))
            .flatten()
    }
}

pub fn not_found(id: Option<&RequestId>) -> Refusal {
    Refusal::protocol(
        Outcome::Denied,
        ReplyKind::SessionNotFound,
        404,
        id,
        SESSION_NOT_FOUND,
        "Session not found",
    )
}

/// The session `head` presents, opened for `grant`: `Ok(None)` without one,
/// `Err` (404) for one that was not sealed for this grant.
pub fn open(config: &Config, head: &RequestHead, grant: &str) -> Result<Option<Session>, Refusal> {
    let presented = match head.session_id() {
        Some(id) => Some((id.to_string(), Carrier::Header)),
        None => legacy::session_of_path(head.path()).map(|id| (id, Carrier::Query)),
    };
    let Some((presented, carrier)) = presented else {
        return Ok(None);
    };
    let Some(sealer) = &config.settings.sealer else {
        return Ok(Some(Session {
            upstream: presented,
            carrier,
            unsealed: false,
        }));
    };
    match sealer.open(Purpose::Session, grant, &presented) {
        Some(upstream) => Ok(Some(Session {
            upstream: upstream.to_string(),
            carrier,
            unsealed: true,
        })),
        None => {
            log::warn!("grant {grant} presented a session that was not sealed for it");
            Err(not_found(None))
        }
    }
}

/// The id a client receives for a session the upstream issued to `grant`.
pub fn seal(config: &Config, grant: &str, upstream: &str) -> Option<String> {
    config
        .settings
        .sealer
        .as_ref()
        .map(|sealer| sealer.seal(Purpose::Session, grant, upstream))
}

/// A short digest of a session id for the audit log, which never holds the id.
pub fn digest(upstream: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(upstream.as_bytes());
    hash.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
