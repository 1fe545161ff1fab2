//! Admission: who is calling, whether the request's headers and session are
//! acceptable, and the checks that need no policy.

use std::rc::Rc;

use super::event_stream::StreamRewriter;
use super::legacy;
use super::observe::Outcome;
use super::request_head::Bearer;
use super::response::{ResponsePlan, Visibility};
use super::sessions::{self, Binding};
use super::{mirrored, reply, Auth, HttpFilter, Stage};
use crate::config::Grant;
use crate::host::{Action, Host, HostError, LocalReply};
use crate::mcp::{Message, RequestId};

impl HttpFilter {
    pub(super) fn authenticate(&self) -> Auth {
        let grants = &self.config.grants;
        if grants.is_empty() {
            let why = if grants.is_bare_policy() {
                "Unauthorized: the filter was given a bare policy with no grants, so no bearer token is accepted; configure grants in the wrapper configuration"
            } else {
                "Unauthorized: no grants are configured, so no bearer token is accepted"
            };
            return Auth::Refused(why.to_string());
        }
        match &self.head.bearer {
            Bearer::Missing => Auth::Refused(
                "Unauthorized: a bearer token is required (Authorization: Bearer <token>)".into(),
            ),
            Bearer::Malformed => Auth::Refused(
                "Unauthorized: the Authorization header must be a single \"Bearer <token>\"".into(),
            ),
            Bearer::Token(token) => match grants.lookup(token) {
                Some(grant) => Auth::Granted(Rc::clone(grant)),
                None => Auth::Refused("Unauthorized: unknown bearer token".into()),
            },
        }
    }

    /// The token and cookies never go upstream.
    pub(super) fn scrub_request_headers(&self, host: &dyn Host) -> Result<(), HostError> {
        let headers = &self.head.headers;
        for name in ["authorization", "cookie"] {
            if headers.get(name).is_some() {
                host.set_request_header(name, None)?;
            }
        }
        Ok(())
    }

    /// A response the filter will read (a tools/list, an event stream, a call
    /// whose quota may be refunded or that may create a task) must come back
    /// unencoded. Other responses keep the client's `Accept-Encoding`.
    pub(super) fn request_readable_response(&self, host: &dyn Host) -> Result<(), HostError> {
        if self.refund.is_none() && matches!(self.plan, ResponsePlan::Untouched) {
            return Ok(());
        }
        let mut encodings = self.head.headers.get_all("accept-encoding");
        if encodings.next() == Some("identity") && encodings.next().is_none() {
            return Ok(());
        }
        host.set_request_header("accept-encoding", Some("identity"))
    }

    pub(super) fn decide_bodyless(&mut self, host: &dyn Host) -> Action {
        self.audit.method = Some(self.head.method().to_string());
        if let Auth::Refused(message) = &self.auth {
            let reply = reply::unauthenticated(None, message);
            return self.reply(host, &reply, Outcome::Unauthenticated);
        }
        if self.head.expects_body() {
            let reply = reply::protocol_error(
                400,
                None,
                crate::mcp::PARSE_ERROR,
                "Parse error: the request has no body; a JSON-RPC message is required",
            );
            return self.reply(host, &reply, Outcome::InvalidRequest);
        }
        if let Some(reply) = self.check_session(host, None) {
            return self.reply(host, &reply, Outcome::Denied);
        }
        if let Auth::Granted(grant) = &self.auth {
            if self.head.method() == "GET" {
                self.plan = ResponsePlan::Stream(Box::new(StreamRewriter::new(
                    grant.name.clone(),
                    self.visibility(grant),
                )));
            }
        }
        if let Err(error) = self.request_readable_response(host) {
            return self.fail_closed(host, None, &error);
        }
        self.stage = Stage::Forwarded;
        self.publish(host, Outcome::Allowed, None);
        Action::Continue
    }

    /// 2026-07-28 requests: the mirrored headers must agree with the body.
    pub(super) fn check_mirrored_headers(
        &self,
        host: &dyn Host,
        messages: &[Message],
    ) -> Option<LocalReply> {
        let version = self.head.protocol_version();
        for message in messages {
            if !crate::mcp::uses_mirrored_headers(version, message) {
                continue;
            }
            let params = match (message.method(), message.target()) {
                (Some("tools/call"), Some(tool)) => {
                    let now_secs = self.request_now_secs(host).unwrap_or(0);
                    mirrored::learned_params(host, tool, now_secs)
                }
                _ => None,
            };
            if let Err(mismatch) = crate::mcp::check_mirrored_headers(
                &self.head.headers,
                version,
                message,
                params.as_deref(),
            ) {
                log::info!("refused a request whose headers disagree with its body: {mismatch}");
                return Some(reply::protocol_error(
                    400,
                    message.id.as_ref(),
                    crate::mcp::HEADER_MISMATCH,
                    &format!("Header mismatch: {mismatch}"),
                ));
            }
        }
        None
    }

    pub(super) fn visibility(&self, grant: &Rc<Grant>) -> Visibility {
        Visibility {
            policy: Rc::clone(&grant.policy),
            hide_denied_tools: self.config.settings.hide_denied_tools,
        }
    }

    /// The session this request names: `Mcp-Session-Id`, or the legacy
    /// transport's `sessionId`/`session_id` query parameter.
    pub(super) fn session(&self) -> Option<String> {
        self.head
            .session_id()
            .map(str::to_string)
            .or_else(|| legacy::session_of_path(self.head.path()))
    }

    /// A session obtained by another grant is answered as an unknown one.
    pub(super) fn check_session(
        &self,
        host: &dyn Host,
        id: Option<&RequestId>,
    ) -> Option<LocalReply> {
        let Auth::Granted(grant) = &self.auth else {
            return None;
        };
        let session = self.session()?;
        let now_secs = match self.request_now_secs(host) {
            Ok(now_secs) => now_secs,
            Err(error) => {
                log::error!("refusing request: {error}");
                return Some(reply::protocol_error(
                    500,
                    id,
                    reply::INTERNAL_ERROR,
                    "The policy filter could not inspect the request",
                ));
            }
        };
        match sessions::bind(host, &session, &grant.name, now_secs) {
            Ok(Binding::Mine) => None,
            Ok(Binding::Foreign) => {
                log::warn!(
                    "grant {} presented a session bound to another grant",
                    grant.name
                );
                Some(reply::protocol_error(
                    404,
                    id,
                    reply::SESSION_NOT_FOUND,
                    "Session not found",
                ))
            }
            Ok(Binding::TableFull) => {
                log::error!(
                    "session binding table is full; refusing session for grant {}",
                    grant.name
                );
                Some(reply::protocol_error(
                    404,
                    id,
                    reply::SESSION_NOT_FOUND,
                    "Session not found: the gateway cannot track more sessions now",
                ))
            }
            Err(error) => {
                log::error!("session bindings unavailable, refusing: {error}");
                Some(reply::protocol_error(
                    500,
                    id,
                    reply::INTERNAL_ERROR,
                    "The policy filter could not check the session",
                ))
            }
        }
    }

    /// A task obtained by another grant is answered as an unknown one.
    pub(super) fn check_tasks(&self, host: &dyn Host, messages: &[Message]) -> Option<LocalReply> {
        let Auth::Granted(grant) = &self.auth else {
            return None;
        };
        for message in messages {
            let Some(task) = message
                .method()
                .filter(|method| method.starts_with("tasks/"))
                .and(message.target())
            else {
                continue;
            };
            let now_secs = self.request_now_secs(host).unwrap_or(0);
            match sessions::bind_task(host, task, &grant.name, now_secs) {
                Ok(Binding::Mine) => {}
                Ok(Binding::Foreign) => {
                    log::warn!(
                        "grant {} presented a task bound to another grant",
                        grant.name
                    );
                    return Some(reply::protocol_error(
                        404,
                        message.id.as_ref(),
                        crate::mcp::INVALID_PARAMS,
                        "Task not found",
                    ));
                }
                Ok(Binding::TableFull) | Err(_) => {
                    return Some(reply::protocol_error(
                        404,
                        message.id.as_ref(),
                        crate::mcp::INVALID_PARAMS,
                        "Task not found: the gateway cannot track more tasks now",
                    ));
                }
            }
        }
        None
    }

    pub(super) fn body_declared_too_large(&self) -> bool {
        self.head
            .content_length()
            .is_some_and(|length| length > self.config.settings.max_body_bytes as u64)
    }

    pub(super) fn too_large_reply(&self) -> LocalReply {
        reply::protocol_error(
            413,
            None,
            reply::INVALID_REQUEST,
            &format!(
                "Request body is larger than the policy filter's limit of {} bytes",
                self.config.settings.max_body_bytes
            ),
        )
    }

    /// Refusals that the headers alone decide, for authenticated requests.
    pub(super) fn check_body_headers(&self) -> Option<LocalReply> {
        if self.body_declared_too_large() {
            return Some(self.too_large_reply());
        }
        if self.head.body_is_encoded() {
            return Some(reply::protocol_error(
                415,
                None,
                reply::INVALID_REQUEST,
                "Request bodies must not be content-encoded: the policy filter only reads identity bodies",
            ));
        }
        if !self.head.body_is_json() {
            return Some(reply::protocol_error(
                415,
                None,
                reply::INVALID_REQUEST,
                "Request bodies must have Content-Type: application/json",
            ));
        }
        None
    }
}
