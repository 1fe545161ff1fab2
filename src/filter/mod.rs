//! The HTTP filter state machine. It talks to the proxy only through `Host`,
//! so native tests drive it with `host::fake::FakeHost`.
//!
//! Requests: headers are held until the whole body has been read and decided.
//! Nothing is forwarded before a decision, and every path and method is
//! inspected the same way.

mod event_stream;
mod legacy;
mod limits;
mod mirrored;
mod observe;
mod refund;
pub mod reply;
mod request_head;
mod response;
mod sessions;
pub mod verdict;

#[cfg(test)]
mod tests;

use std::rc::Rc;

use crate::config::{Config, Grant};
use crate::counter::{release, Reservation};
use crate::host::{Action, Host, HostError, LocalReply};
use crate::mcp::{read_payload, sniff_id, Message, MessageKind, Payload, ReadLimits, RequestId, ToolsListStreamFilter};

use limits::{charge, Charge, Subject};
use request_head::{Bearer, RequestHead};
use event_stream::StreamRewriter;
use observe::{Audit, Outcome};
use response::{rewrite_json, BodyRewrite, ResponsePlan, Visibility};
use sessions::Binding;
use verdict::{decide_all, rate_limit_message, Reason, Refusal, Verdict};

pub use reply::{POLICY_DENIED, UNAUTHENTICATED, UNAVAILABLE};
pub use request_head::is_json_media_type;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for request headers.
    Start,
    /// Headers held; the body is being buffered.
    Buffering,
    /// Decided and forwarded.
    Forwarded,
    /// Answered locally; every later callback passes through.
    Replied,
}

enum Auth {
    Granted(Rc<Grant>),
    Refused(String),
}

pub struct HttpFilter {
    config: Rc<Config>,
    stage: Stage,
    head: RequestHead,
    auth: Auth,
    plan: ResponsePlan,
    /// Quota taken for the forwarded call, until the response shows it ran.
    refund: Option<refund::RefundWatch>,
    /// Request body bytes buffered so far.
    body_size: usize,
    audit: Audit,
    /// The rule of a dry-run limit that would have refused this request.
    shadow_refusal: Option<String>,
    /// When the whole body was in hand, for the time spent deciding.
    decide_started_nanos: u64,
}

impl HttpFilter {
    pub fn new(config: Rc<Config>) -> HttpFilter {
        HttpFilter {
            config,
            stage: Stage::Start,
            head: RequestHead::default(),
            auth: Auth::Refused(String::new()),
            plan: ResponsePlan::Untouched,
            refund: None,
            body_size: 0,
            audit: Audit::default(),
            shadow_refusal: None,
            decide_started_nanos: 0,
        }
    }

    pub fn on_request_headers(&mut self, host: &dyn Host, end_of_stream: bool) -> Action {
        let headers = match host.request_headers() {
            Ok(headers) => headers,
            Err(error) => return self.fail_closed(host, None, &error),
        };
        self.head = RequestHead::from_headers(headers);
        self.auth = self.authenticate();
        self.audit.session = self.session();
        self.audit.protocol_version = self.head.protocol_version.clone();
        if let Auth::Granted(grant) = &self.auth {
            self.audit.grant = Some(grant.name.clone());
        }
        if let Err(error) = self.scrub_request_headers(host) {
            return self.fail_closed(host, None, &error);
        }

        if end_of_stream {
            return self.decide_bodyless(host);
        }
        if let Auth::Refused(message) = &self.auth {
            if self.head.body_is_encoded() || self.body_declared_too_large() {
                let reply = reply::unauthenticated(None, message);
                return self.reply(host, &reply, Outcome::Unauthenticated);
            }
        } else if let Some(reply) = self.check_body_headers() {
            return self.reply(host, &reply, Outcome::InvalidRequest);
        }
        self.stage = Stage::Buffering;
        Action::Pause
    }

    pub fn on_request_body(&mut self, host: &dyn Host, body_size: usize, end_of_stream: bool) -> Action {
        if self.stage != Stage::Buffering {
            return Action::Continue;
        }
        self.body_size = body_size;
        if body_size > self.config.settings.max_body_bytes {
            let reply = self.too_large_reply();
            return self.reply(host, &reply, Outcome::InvalidRequest);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.decide_body(host, body_size)
    }

    /// Trailers end the request: the body seen so far is all there is.
    pub fn on_request_trailers(&mut self, host: &dyn Host) -> Action {
        if self.stage != Stage::Buffering {
            return Action::Continue;
        }
        self.decide_body(host, self.body_size)
    }

    pub fn on_response_headers(&mut self, host: &dyn Host, end_of_stream: bool) -> Action {
        if self.stage != Stage::Forwarded {
            return Action::Continue;
        }
        self.bind_issued_session(host);
        self.watch_response_headers(host);
        let plan = std::mem::replace(&mut self.plan, ResponsePlan::Untouched);
        if let ResponsePlan::Stream(rewriter) = plan {
            if !end_of_stream && self.response_is_event_stream(host) {
                self.plan = ResponsePlan::Stream(rewriter);
                if let Err(error) = host.set_response_header("content-length", None) {
                    log::error!("cannot drop content-length of an event stream: {error}");
                }
            }
            return Action::Continue;
        }
        let ResponsePlan::ToolsList { ids, visibility } = plan else {
            self.plan = plan;
            return Action::Continue;
        };
        if end_of_stream {
            return Action::Continue;
        }
        let headers = match host.response_headers() {
            Ok(headers) => headers,
            Err(error) => {
                log::error!("cannot read tools/list response headers: {error}");
                return Action::Continue;
            }
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.to_ascii_lowercase())
        };
        let content_type = header("content-type").unwrap_or_default();
        let encoded = header("content-encoding").is_some_and(|encoding| encoding.trim() != "identity");
        if encoded {
            log::warn!("tools/list response is content-encoded; the filter cannot read it and refuses it");
            self.plan = ResponsePlan::ToolsListJson { ids, visibility };
            let _ = host.set_response_header("content-encoding", None);
        } else if is_json_media_type(&content_type) {
            self.plan = ResponsePlan::ToolsListJson { ids, visibility };
        } else if content_type.starts_with("text/event-stream") {
            self.plan = ResponsePlan::ToolsListStream {
                filter: ToolsListStreamFilter::new(ids),
                learner: crate::mcp::SseSplitter::new(),
                visibility,
            };
        } else {
            return Action::Continue;
        }
        if let Err(error) = host.set_response_header("content-length", None) {
            log::error!("cannot drop content-length of a tools/list response: {error}");
        }
        if encoded {
            let _ = host.set_response_header("content-type", Some("application/json"));
        }
        Action::Continue
    }

    pub fn on_response_body(&mut self, host: &dyn Host, body_size: usize, end_of_stream: bool) -> Action {
        if self.stage == Stage::Forwarded {
            self.watch_response_body(host, body_size, end_of_stream);
        }
        match &mut self.plan {
            ResponsePlan::Untouched | ResponsePlan::ToolsList { .. } => Action::Continue,
            ResponsePlan::Stream(rewriter) => {
                let chunk = match host.response_body(0, body_size) {
                    Ok(chunk) => chunk,
                    Err(error) => {
                        log::error!("cannot read an event stream: {error}");
                        Vec::new()
                    }
                };
                let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
                let mut out = rewriter.push(host, &chunk, now_secs);
                if end_of_stream {
                    out.extend(rewriter.finish());
                }
                if out != chunk {
                    if let Err(error) = host.replace_response_body(0, body_size, &out) {
                        log::error!("cannot rewrite an event stream: {error}");
                    }
                }
                Action::Continue
            }
            ResponsePlan::ToolsListJson { ids, visibility } => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let rewrite = match host.response_body(0, body_size) {
                    Ok(body) => {
                        let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
                        mirrored::learn(host, &body, now_secs);
                        rewrite_json(&body, ids, visibility)
                    }
                    Err(error) => BodyRewrite::Unreadable(error.to_string()),
                };
                let replacement = match rewrite {
                    BodyRewrite::Unchanged => return Action::Continue,
                    BodyRewrite::Replace(bytes) => bytes,
                    BodyRewrite::Unreadable(detail) => {
                        log::error!("tools/list response not filtered ({detail}); replaced with an error");
                        crate::mcp::error_response(
                            ids.first(),
                            reply::INTERNAL_ERROR,
                            "tools/list response could not be read by the policy filter",
                        )
                    }
                };
                if let Err(error) = host.replace_response_body(0, body_size, &replacement) {
                    log::error!("cannot rewrite tools/list response: {error}");
                }
                Action::Continue
            }
            ResponsePlan::ToolsListStream { filter, learner, visibility } => {
                let chunk = match host.response_body(0, body_size) {
                    Ok(chunk) => chunk,
                    Err(error) => {
                        log::error!("cannot read tools/list event stream: {error}");
                        Vec::new()
                    }
                };
                let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
                for event in learner.push(&chunk) {
                    mirrored::learn(host, event.data.as_bytes(), now_secs);
                }
                let keep = |name: &str| visibility.keeps(name);
                let mut out = filter.push(&chunk, &keep);
                if end_of_stream {
                    out.extend(filter.finish(&keep));
                }
                if out != chunk {
                    if let Err(error) = host.replace_response_body(0, body_size, &out) {
                        log::error!("cannot rewrite tools/list event stream: {error}");
                    }
                }
                Action::Continue
            }
        }
    }

    fn authenticate(&self) -> Auth {
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
            Bearer::Missing => Auth::Refused("Unauthorized: a bearer token is required (Authorization: Bearer <token>)".into()),
            Bearer::Malformed => Auth::Refused("Unauthorized: the Authorization header must be a single \"Bearer <token>\"".into()),
            Bearer::Token(token) => match grants.lookup(token) {
                Some(grant) => Auth::Granted(Rc::clone(grant)),
                None => Auth::Refused("Unauthorized: unknown bearer token".into()),
            },
        }
    }

    /// The token and cookies never go upstream, and responses must come back
    /// in a form the filter can read.
    fn scrub_request_headers(&self, host: &dyn Host) -> Result<(), HostError> {
        host.set_request_header("authorization", None)?;
        host.set_request_header("cookie", None)?;
        host.set_request_header("accept-encoding", Some("identity"))
    }

    fn decide_bodyless(&mut self, host: &dyn Host) -> Action {
        self.audit.method = Some(self.head.method.clone());
        if let Auth::Refused(message) = &self.auth {
            let reply = reply::unauthenticated(None, message);
            return self.reply(host, &reply, Outcome::Unauthenticated);
        }
        if self.head.expects_body() {
            let reply = reply::protocol_error(400, None, crate::mcp::PARSE_ERROR, "Parse error: the request has no body; a JSON-RPC message is required");
            return self.reply(host, &reply, Outcome::InvalidRequest);
        }
        if let Some(reply) = self.check_session(host, None) {
            return self.reply(host, &reply, Outcome::Denied);
        }
        if let Auth::Granted(grant) = &self.auth {
            if self.head.method == "GET" {
                self.plan = ResponsePlan::Stream(Box::new(StreamRewriter::new(
                    grant.name.clone(),
                    self.visibility(grant),
                )));
            }
        }
        self.stage = Stage::Forwarded;
        self.publish(host, Outcome::Allowed, None);
        Action::Continue
    }

    /// 2026-07-28 requests: the mirrored headers must agree with the body.
    fn check_mirrored_headers(&self, host: &dyn Host, messages: &[Message]) -> Option<LocalReply> {
        let version = self.head.protocol_version.as_deref();
        for message in messages {
            if !crate::mcp::uses_mirrored_headers(version, message) {
                continue;
            }
            let params = match (message.method(), message.target()) {
                (Some("tools/call"), Some(tool)) => {
                    let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
                    mirrored::learned_params(host, tool, now_secs)
                }
                _ => None,
            };
            if let Err(mismatch) = crate::mcp::check_mirrored_headers(&self.head.headers, version, message, params.as_deref()) {
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

    fn visibility(&self, grant: &Rc<Grant>) -> Visibility {
        Visibility {
            policy: Rc::clone(&grant.policy),
            hide_denied_tools: self.config.settings.hide_denied_tools,
        }
    }

    /// The session this request names: `Mcp-Session-Id`, or the legacy
    /// transport's `sessionId`/`session_id` query parameter.
    fn session(&self) -> Option<String> {
        self.head
            .session_id
            .clone()
            .or_else(|| legacy::session_of_path(&self.head.path))
    }

    /// A session obtained by another grant is answered as an unknown one.
    fn check_session(&self, host: &dyn Host, id: Option<&RequestId>) -> Option<LocalReply> {
        let Auth::Granted(grant) = &self.auth else {
            return None;
        };
        let session = self.session()?;
        let now_secs = match host.now_millis() {
            Ok(millis) => millis / 1000,
            Err(error) => {
                log::error!("refusing request: {error}");
                return Some(reply::protocol_error(500, id, reply::INTERNAL_ERROR, "The policy filter could not inspect the request"));
            }
        };
        match sessions::bind(host, &session, &grant.name, now_secs) {
            Ok(Binding::Mine) => None,
            Ok(Binding::Foreign) => {
                log::warn!("grant {} presented a session bound to another grant", grant.name);
                Some(reply::protocol_error(404, id, reply::SESSION_NOT_FOUND, "Session not found"))
            }
            Ok(Binding::TableFull) => {
                log::error!("session binding table is full; refusing session for grant {}", grant.name);
                Some(reply::protocol_error(404, id, reply::SESSION_NOT_FOUND, "Session not found: the gateway cannot track more sessions now"))
            }
            Err(error) => {
                log::error!("session bindings unavailable, refusing: {error}");
                Some(reply::protocol_error(500, id, reply::INTERNAL_ERROR, "The policy filter could not check the session"))
            }
        }
    }

    /// A task obtained by another grant is answered as an unknown one.
    fn check_tasks(&self, host: &dyn Host, messages: &[Message]) -> Option<LocalReply> {
        let Auth::Granted(grant) = &self.auth else {
            return None;
        };
        for message in messages {
            let Some(task) = message.method().filter(|method| method.starts_with("tasks/")).and(message.target()) else {
                continue;
            };
            let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
            match sessions::bind_task(host, task, &grant.name, now_secs) {
                Ok(Binding::Mine) => {}
                Ok(Binding::Foreign) => {
                    log::warn!("grant {} presented a task bound to another grant", grant.name);
                    return Some(reply::protocol_error(404, message.id.as_ref(), crate::mcp::INVALID_PARAMS, "Task not found"));
                }
                Ok(Binding::TableFull) | Err(_) => {
                    return Some(reply::protocol_error(404, message.id.as_ref(), crate::mcp::INVALID_PARAMS, "Task not found: the gateway cannot track more tasks now"));
                }
            }
        }
        None
    }

    /// A session id issued by the server (initialize response) belongs to the
    /// grant that asked for it.
    fn bind_issued_session(&self, host: &dyn Host) {
        let Auth::Granted(grant) = &self.auth else {
            return;
        };
        let Ok(headers) = host.response_headers() else {
            return;
        };
        let Some((_, session)) = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("mcp-session-id")) else {
            return;
        };
        let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
        match sessions::bind(host, session, &grant.name, now_secs) {
            Ok(Binding::Mine) => {}
            Ok(outcome) => log::error!("session issued to grant {} could not be bound: {outcome:?}", grant.name),
            Err(error) => log::error!("session issued to grant {} could not be bound: {error}", grant.name),
        }
    }

    /// The JWT claims that `claim:<name>` scopes need, from the metadata
    /// Envoy's jwt_authn filter wrote for this request.
    fn claims(&self, host: &dyn Host, limits: &[&crate::policy::Limit]) -> Vec<(String, Option<String>)> {
        let mut claims: Vec<(String, Option<String>)> = Vec::new();
        for limit in limits {
            let crate::policy::Scope::Claim(name) = &limit.scope else {
                continue;
            };
            if claims.iter().any(|(known, _)| known == name) {
                continue;
            }
            let path = [
                "metadata",
                "filter_metadata",
                "envoy.filters.http.jwt_authn",
                self.config.settings.jwt_payload_metadata_key.as_str(),
                name.as_str(),
            ];
            let value = match host.property(&path) {
                Ok(value) => value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
                Err(error) => {
                    log::warn!("cannot read claim {name}: {error}");
                    None
                }
            };
            claims.push((name.clone(), value));
        }
        claims
    }

    fn settle_refund(&mut self, host: &dyn Host, verdict: refund::Verdict) {
        if verdict == refund::Verdict::Pending {
            return;
        }
        let Some(mut watch) = self.refund.take() else {
            return;
        };
        if let (Some(task), Auth::Granted(grant)) = (watch.take_task_id(), &self.auth) {
            let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
            match sessions::bind_task(host, &task, &grant.name, now_secs) {
                Ok(Binding::Mine) => {}
                Ok(outcome) => log::error!("task created for grant {} could not be bound: {outcome:?}", grant.name),
                Err(error) => log::error!("task created for grant {} could not be bound: {error}", grant.name),
            }
        }
        if verdict == refund::Verdict::Refund {
            if let Some(reservation) = watch.take_reservation() {
                log::info!("the upstream did not run the call; its quota is refunded");
                observe::count(host, "refunds", 1);
                release(host, &reservation);
            }
        }
    }

    fn watch_response_headers(&mut self, host: &dyn Host) {
        let Some(watch) = self.refund.as_mut() else {
            return;
        };
        let headers = host.response_headers().unwrap_or_default();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        let status = header(":status").and_then(|status| status.trim().parse().ok());
        let verdict = watch.on_headers(status, header("content-type").unwrap_or(""));
        self.settle_refund(host, verdict);
    }

    fn watch_response_body(&mut self, host: &dyn Host, body_size: usize, end_of_stream: bool) {
        let Some(watch) = self.refund.as_mut() else {
            return;
        };
        let chunk = host.response_body(0, body_size).unwrap_or_default();
        let verdict = watch.on_body(&chunk, end_of_stream);
        self.settle_refund(host, verdict);
    }

    fn response_is_event_stream(&self, host: &dyn Host) -> bool {
        host.response_headers().is_ok_and(|headers| {
            headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("content-type") && value.trim().to_ascii_lowercase().starts_with("text/event-stream")
            })
        })
    }

    fn body_declared_too_large(&self) -> bool {
        self.head
            .content_length
            .is_some_and(|length| length > self.config.settings.max_body_bytes as u64)
    }

    fn too_large_reply(&self) -> LocalReply {
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
    fn check_body_headers(&self) -> Option<LocalReply> {
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

    fn decide_body(&mut self, host: &dyn Host, body_size: usize) -> Action {
        self.decide_started_nanos = host.now_nanos().unwrap_or(0);
        let body = match host.request_body(0, body_size) {
            Ok(body) => body,
            Err(error) => return self.fail_closed(host, None, &error),
        };
        observe::count(host, "body_bytes_inspected", body.len() as u64);
        let grant = match &self.auth {
            Auth::Granted(grant) => Rc::clone(grant),
            Auth::Refused(message) => {
                let reply = reply::unauthenticated(sniff_id(&body).as_ref(), message);
                return self.reply(host, &reply, Outcome::Unauthenticated);
            }
        };
        let limits = ReadLimits {
            max_depth: self.config.settings.max_json_depth,
        };
        let payload = match read_payload(&body, &limits) {
            Ok(payload) => payload,
            Err(error) => {
                let reply = reply::protocol_error(400, error.id.as_ref(), error.code, &error.message);
                return self.reply(host, &reply, Outcome::InvalidRequest);
            }
        };
        let (messages, is_batch) = match payload {
            Payload::Single(message) => (vec![message], false),
            Payload::Batch(messages) => (messages, true),
        };
        self.note_messages(&messages, is_batch);
        if is_batch {
            if let Some(version) = self.head.protocol_version.as_deref().filter(|v| *v >= "2025-06-18") {
                let reply = reply::protocol_error(
                    400,
                    None,
                    reply::INVALID_REQUEST,
                    &format!("JSON-RPC batches are not supported in protocol version {version}"),
                );
                return self.reply(host, &reply, Outcome::InvalidRequest);
            }
        }
        let first_id = messages.first().and_then(|message| message.id.clone());
        if let Some(reply) = self.check_session(host, first_id.as_ref()) {
            return self.reply(host, &reply, Outcome::Denied);
        }
        if let Some(reply) = self.check_tasks(host, &messages) {
            return self.reply(host, &reply, Outcome::Denied);
        }
        if let Some(reply) = self.check_mirrored_headers(host, &messages) {
            return self.reply(host, &reply, Outcome::InvalidRequest);
        }
        self.decide_messages(host, &grant, &messages, is_batch)
    }

    fn decide_messages(&mut self, host: &dyn Host, grant: &Rc<Grant>, messages: &[Message], is_batch: bool) -> Action {
        let policy = Rc::clone(&grant.policy);
        let session = self.head.session_id.clone();
        let (verdicts, mut refusals) = decide_all(&policy, messages, &grant.name, session.as_deref());

        if refusals.iter().all(Option::is_none) {
            match self.charge_limits(host, &grant.name, messages, &verdicts) {
                Ok(reservation) => {
                    let id = if is_batch { None } else { messages.first().and_then(|m| m.id.clone()) };
                    let is_call = !is_batch && messages.first().and_then(Message::method) == Some("tools/call");
                    let reservation = (!reservation.taken.is_empty()).then_some(reservation);
                    if reservation.is_some() || is_call {
                        self.refund = Some(refund::RefundWatch::new(id, reservation));
                    }
                }
                Err(limit_refusals) => {
                    for (index, refusal) in limit_refusals {
                        if let Some(slot) = refusals.get_mut(index) {
                            *slot = Some(refusal);
                        }
                    }
                }
            }
        }

        let mut would_deny_rule = None;
        for (message, verdict) in messages.iter().zip(&verdicts) {
            if let Verdict::Allow { rule, would_deny, .. } = verdict {
                if self.audit.rule.is_none() {
                    self.audit.rule = Some(rule.clone());
                }
                if let (Some(denial), None) = (would_deny, &would_deny_rule) {
                    would_deny_rule = Some(denial.rule.clone());
                }
                let method = message.method().unwrap_or("");
                let target = message.target().unwrap_or("");
                match would_deny {
                    Some(denial) => log::info!(
                        "dry run: would deny {method} {target} for grant {}: rule {}",
                        grant.name,
                        denial.rule
                    ),
                    None => log::debug!("allowed {method} {target} for grant {}: rule {rule}", grant.name),
                }
            }
        }

        if refusals.iter().all(Option::is_none) {
            self.plan_response(grant, messages);
            self.stage = Stage::Forwarded;
            match would_deny_rule.or_else(|| self.shadow_refusal.take()) {
                Some(rule) => {
                    self.audit.rule = Some(rule);
                    self.publish(host, Outcome::DryRunWouldDeny, messages.first());
                }
                None => self.publish(host, Outcome::Allowed, messages.first()),
            }
            return Action::Continue;
        }
        let outcome = self.note_refusals(&refusals);

        if let Some(session) = legacy::session_of_path(&self.head.path).filter(|_| self.head.session_id.is_none()) {
            return self.refuse_on_legacy_stream(host, grant, &session, messages, refusals, outcome);
        }

        let reply = if is_batch {
            let all: Vec<Refusal> = messages
                .iter()
                .zip(refusals)
                .map(|(message, refusal)| refusal.unwrap_or_else(|| not_forwarded(message)))
                .collect();
            for refusal in all.iter().filter(|r| r.reason != Reason::BatchNotForwarded) {
                log_refusal(&grant.name, refusal);
            }
            reply::batch(&all)
        } else {
            match refusals.into_iter().flatten().next() {
                Some(refusal) => {
                    log_refusal(&grant.name, &refusal);
                    reply::single(&refusal)
                }
                None => return self.fail_closed(host, None, &HostError::new("decide", "no refusal to send")),
            }
        };
        self.reply(host, &reply, outcome)
    }

    /// Audit facts of the message(s): the first message stands for a batch.
    fn note_messages(&mut self, messages: &[Message], is_batch: bool) {
        let Some(first) = messages.first() else {
            return;
        };
        self.audit.method = first.method().map(|method| {
            if is_batch {
                format!("batch[{}]:{method}", messages.len())
            } else {
                method.to_string()
            }
        });
        self.audit.target = first.target().map(str::to_string);
        self.audit.arg_keys = first
            .arguments()
            .and_then(serde_json::Value::as_object)
            .map(|arguments| arguments.keys().cloned().collect())
            .unwrap_or_default();
    }

    /// Audit facts of a refusal; returns the outcome it counts as.
    fn note_refusals(&mut self, refusals: &[Option<Refusal>]) -> Outcome {
        let refused: Vec<&Refusal> = refusals
            .iter()
            .flatten()
            .filter(|refusal| refusal.reason != Reason::BatchNotForwarded)
            .collect();
        let Some(first) = refused.first() else {
            return Outcome::Denied;
        };
        self.audit.rule = Some(first.rule().to_string());
        if let Some(target) = &first.target {
            self.audit.target = Some(target.clone());
        }
        let limited = refused.iter().find_map(|refusal| match &refusal.reason {
            Reason::RateLimited { limit_state, .. } => Some(limit_state.clone()),
            _ => None,
        });
        if let Some(state) = limited {
            self.audit.limit = Some(state);
            return Outcome::RateLimited;
        }
        if refused.iter().any(|refusal| matches!(refusal.reason, Reason::CountersUnavailable { .. })) {
            return Outcome::Denied;
        }
        if refused.iter().all(|refusal| refusal.is_hidden()) {
            return Outcome::Hidden;
        }
        Outcome::Denied
    }

    fn publish(&mut self, host: &dyn Host, outcome: Outcome, message: Option<&Message>) {
        if self.decide_started_nanos > 0 {
            let now = host.now_nanos().unwrap_or(self.decide_started_nanos);
            self.audit.decide_micros = now.saturating_sub(self.decide_started_nanos) / 1000;
        }
        let tool = message
            .filter(|message| message.method() == Some("tools/call"))
            .and_then(Message::target)
            .map(|tool| observe::tool_bucket(tool, &self.config.metric_tools).to_string());
        observe::publish(host, outcome, &self.audit, tool.as_deref());
    }

    /// Charges every limit of every allowed message, all or nothing. On
    /// refusal, returns the refusal for each message index that had one.
    fn charge_limits(
        &mut self,
        host: &dyn Host,
        grant: &str,
        messages: &[Message],
        verdicts: &[Verdict<'_>],
    ) -> Result<Reservation, Vec<(usize, Refusal)>> {
        let mut all_limits = Vec::new();
        let mut owner = Vec::new();
        for (index, verdict) in verdicts.iter().enumerate() {
            if let Verdict::Allow { limits, .. } = verdict {
                for limit in limits {
                    all_limits.push(*limit);
                    owner.push(index);
                }
            }
        }
        if all_limits.is_empty() {
            return Ok(Reservation::default());
        }
        let now_secs = match host.now_millis() {
            Ok(millis) => millis / 1000,
            Err(error) => {
                return Err(unavailable_for_all(messages, verdicts, &error.to_string()));
            }
        };
        let claims = self.claims(host, &all_limits);
        let subject = Subject {
            grant,
            head: &self.head,
            claims,
        };
        let (charge, shadow_refused) = charge(host, now_secs, &all_limits, &subject);
        for index in shadow_refused {
            if let Some(limit) = all_limits.get(index) {
                log::info!("dry run: limit {} would refuse a call for grant {grant}", limit.rule);
                self.shadow_refusal.get_or_insert_with(|| limit.rule.clone());
            }
        }
        match charge {
            Charge::Admitted(reservation) => {
                observe::count(host, "counter_cas_retries", u64::from(reservation.retries));
                Ok(reservation)
            }
            Charge::Unavailable(detail) => {
                log::error!("counter store unavailable, refusing: {detail}");
                observe::count(host, "fail_closed", 1);
                Err(unavailable_for_all(messages, verdicts, &detail))
            }
            Charge::Refused(limit_refusals) => {
                let mut refusals: Vec<(usize, Refusal)> = Vec::new();
                for limit_refusal in limit_refusals {
                    let (Some(limit), Some(&message_index)) =
                        (all_limits.get(limit_refusal.index), owner.get(limit_refusal.index))
                    else {
                        continue;
                    };
                    let Some(message) = messages.get(message_index) else {
                        continue;
                    };
                    match refusals.iter_mut().find(|(index, _)| *index == message_index) {
                        Some((_, existing)) => {
                            if let Reason::RateLimited { retry_after_secs, message, rule, limit_state } = &mut existing.reason {
                                if limit_refusal.retry_after_secs > *retry_after_secs {
                                    *retry_after_secs = limit_refusal.retry_after_secs;
                                    *message = rate_limit_message(limit);
                                    *rule = limit.rule.clone();
                                    *limit_state = limit_state_of(limit, &limit_refusal, now_secs);
                                }
                            }
                        }
                        None => refusals.push((
                            message_index,
                            Refusal::rate_limited(
                                message,
                                limit,
                                limit_refusal.retry_after_secs,
                                limit_state_of(limit, &limit_refusal, now_secs),
                            ),
                        )),
                    }
                }
                Err(refusals)
            }
        }
    }

    /// Legacy transport: forward pings in place of the refused requests and
    /// leave their refusals for the GET stream (see `legacy`).
    fn refuse_on_legacy_stream(
        &mut self,
        host: &dyn Host,
        grant: &Rc<Grant>,
        session: &str,
        messages: &[Message],
        refusals: Vec<Option<Refusal>>,
        outcome: Outcome,
    ) -> Action {
        let now_secs = match host.now_millis() {
            Ok(millis) => millis / 1000,
            Err(error) => return self.fail_closed(host, None, &error),
        };
        let mut ids = Vec::new();
        for (message, refusal) in messages.iter().zip(refusals) {
            let refusal = refusal.unwrap_or_else(|| not_forwarded(message));
            if refusal.reason != Reason::BatchNotForwarded {
                log_refusal(&grant.name, &refusal);
            }
            let (Some(id), Some(body)) = (refusal.id.clone(), reply::refusal_body(&refusal)) else {
                continue;
            };
            match legacy::remember(host, session, &id, &body, now_secs) {
                Ok(crate::shared_map::PutOutcome::Stored) => ids.push(id),
                Ok(crate::shared_map::PutOutcome::Full) => {
                    return self.fail_closed(host, Some(&id), &HostError::new("legacy refusals", "table full"))
                }
                Err(error) => {
                    return self.fail_closed(host, Some(&id), &HostError::new("legacy refusals", error.to_string()))
                }
            }
        }
        if ids.is_empty() {
            let accepted = LocalReply {
                status: 202,
                headers: Vec::new(),
                body: Vec::new(),
            };
            return self.reply(host, &accepted, outcome);
        }
        let pings = legacy::pings(&ids);
        let replaced = host
            .replace_request_body(0, self.body_size, &pings)
            .and_then(|()| host.set_request_header("content-length", Some(&pings.len().to_string())));
        if let Err(error) = replaced {
            return self.fail_closed(host, None, &error);
        }
        self.stage = Stage::Forwarded;
        self.publish(host, outcome, messages.first());
        Action::Continue
    }

    fn plan_response(&mut self, grant: &Rc<Grant>, messages: &[Message]) {
        let ids: Vec<RequestId> = messages
            .iter()
            .filter(|message| message.method() == Some("tools/list"))
            .filter_map(|message| message.id.clone())
            .collect();
        if !ids.is_empty() {
            self.plan = ResponsePlan::ToolsList {
                ids,
                visibility: Visibility {
                    policy: Rc::clone(&grant.policy),
                    hide_denied_tools: self.config.settings.hide_denied_tools,
                },
            };
        }
    }

    fn reply(&mut self, host: &dyn Host, reply: &LocalReply, outcome: Outcome) -> Action {
        self.stage = Stage::Replied;
        let tool = self.audit.method.as_deref().filter(|method| *method == "tools/call").and(self.audit.target.clone());
        let bucket = tool.map(|tool| observe::tool_bucket(&tool, &self.config.metric_tools).to_string());
        if self.decide_started_nanos > 0 {
            let now = host.now_nanos().unwrap_or(self.decide_started_nanos);
            self.audit.decide_micros = now.saturating_sub(self.decide_started_nanos) / 1000;
        }
        observe::publish(host, outcome, &self.audit, bucket.as_deref());
        if let Some(reservation) = self.refund.take().and_then(|mut watch| watch.take_reservation()) {
            release(host, &reservation);
        }
        if let Err(error) = host.send_reply(reply) {
            log::error!("cannot send local reply: {error}");
        }
        Action::Pause
    }

    /// A host failure while deciding: refuse, never forward undecided.
    fn fail_closed(&mut self, host: &dyn Host, id: Option<&RequestId>, error: &HostError) -> Action {
        log::error!("refusing request: {error}");
        observe::count(host, "fail_closed", 1);
        let reply = reply::protocol_error(500, id, reply::INTERNAL_ERROR, "The policy filter could not inspect the request");
        self.reply(host, &reply, Outcome::Denied)
    }
}

/// `count/max, resets at <unix seconds>`, for the audit log.
fn limit_state_of(limit: &crate::policy::Limit, refusal: &limits::LimitRefusal, now_secs: u64) -> String {
    format!(
        "{}/{} resets_at={}",
        refusal.count,
        limit.max,
        now_secs.saturating_add(refusal.retry_after_secs)
    )
}

fn not_forwarded(message: &Message) -> Refusal {
    Refusal {
        id: match &message.kind {
            MessageKind::Request { .. } => message.id.clone(),
            _ => None,
        },
        method: message.method().unwrap_or("").to_string(),
        target: message.target().map(str::to_string),
        reason: Reason::BatchNotForwarded,
    }
}

fn unavailable_for_all(messages: &[Message], verdicts: &[Verdict<'_>], detail: &str) -> Vec<(usize, Refusal)> {
    verdicts
        .iter()
        .enumerate()
        .filter(|(_, verdict)| matches!(verdict, Verdict::Allow { limits, .. } if !limits.is_empty()))
        .filter_map(|(index, _)| {
            messages.get(index).map(|message| {
                (
                    index,
                    Refusal {
                        id: message.id.clone(),
                        method: message.method().unwrap_or("").to_string(),
                        target: message.target().map(str::to_string),
                        reason: Reason::CountersUnavailable {
                            detail: detail.to_string(),
                        },
                    },
                )
            })
        })
        .collect()
}

fn log_refusal(grant: &str, refusal: &Refusal) {
    log::info!(
        "refused {} {} for grant {}: rule {}",
        refusal.method,
        refusal.target.as_deref().unwrap_or(""),
        grant,
        refusal.rule()
    );
}
