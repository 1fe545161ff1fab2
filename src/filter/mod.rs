//! The HTTP filter, one `HttpFilter` per stream. It talks to the proxy only
//! through `Host`, so native tests drive it with `host::fake::FakeHost`.
//!
//! A request lives through four steps, one module each, in this order:
//! 1. `request`: the headers are read, the caller identified, cookies (and
//!    the token, unless it is an OAuth token to forward) removed, and what
//!    the headers alone decide is decided. The headers are then held:
//!    nothing is forwarded before a decision. Only OAuth's public paths
//!    pass without a credential, and without inspection.
//! 2. `decide`: the whole body is read and decided (host-free, shared with
//!    `mcp-policy explain`): forwarded, or refused with its exact reply.
//! 3. `response`: the response is filtered as planned when forwarding.
//! 4. `watch`: the response is watched for issued sessions, created tasks
//!    and calls that did not run (refunds).
//!
//! Every refusal is one `refusal::Refusal`; `observe` turns decisions into
//! metrics and filter state. Shared state used by several steps lives in
//! `tasks`, `legacy` and `param_maps`.

/// The decision's view of the request a filter holds, at `now_nanos`. A
/// macro, so that it borrows the filter's fields one by one and the caller
/// may still write the others (the audit's facts) while it lives.
macro_rules! decide_context {
    ($filter:ident, $grant:expr, $host:expr, $now_nanos:expr) => {
        Context {
            config: &$filter.config,
            head: &$filter.head,
            grant: $grant,
            session: $filter.session.as_ref(),
            store: $host,
            claims: match &$filter.claims {
                Some(claims) => claims as &dyn ClaimSource,
                None => &NoClaims,
            },
            now_secs: $now_nanos / 1_000_000_000,
            now_nanos: $now_nanos,
        }
    };
}

mod approvals;
mod bytes;
mod clock;
pub mod decide;
mod legacy;
mod observe;
mod param_maps;
pub mod refusal;
pub mod request;
mod response;
mod service_call;
mod tasks;
mod watch;

#[cfg(test)]
mod tests;

use std::rc::Rc;

use crate::config::{Config, Grant};
use crate::counter::release;
use crate::host::{Action, Host, HostError};

use crate::identity::{Claims, Selection};
use decide::charge::{ClaimSource, NoClaims};
use decide::{Context, Decision, Disposition, Forward};
use observe::Audit;
use refusal::{Outcome, Refusal};
use request::admission;
use request::session::{self, Carrier, Session};
use request::RequestHead;
use response::{Expected, ResponsePlan, StreamRewriter, Visibility};
use watch::{RefundWatch, Watch};

pub use observe::STATE_OBJECT;
pub use request::is_json_media_type;
pub use service_call::{refund_settled, CallKind, Dispatched, ServiceReply};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Waiting for request headers.
    Start,
    /// Headers held; the body is being buffered.
    Buffering,
    /// Decided but for the limits the rate-limit service counts: held until
    /// it answers.
    AwaitingService,
    /// Decided and forwarded.
    Forwarded,
    /// Answered locally; every later callback passes through.
    Replied,
    /// Needs no credential (OAuth's public paths): passed uninspected.
    Passed,
}

pub struct HttpFilter {
    config: Rc<Config>,
    stage: Stage,
    head: RequestHead,
    /// The grant the credentials selected.
    grant: Option<Rc<Grant>>,
    /// The verified JWT's claims, where a grant uses them.
    claims: Option<Claims>,
    /// The session the request presented, opened for its grant.
    session: Option<Session>,
    /// The response may carry a session id the upstream issued: it is sealed
    /// for the grant before the client sees it.
    seals_session: bool,
    /// The forwarded requests whose replies the response must carry.
    expected: Expected,
    /// Request body bytes buffered so far.
    body_size: usize,
    plan: ResponsePlan,
    watch: Option<Watch>,
    audit: Audit,
    /// When the whole body was in hand, for the time spent deciding.
    decide_started_nanos: Option<u64>,
    /// The rate-limit service call the request is held for.
    awaiting: Option<Box<service_call::AwaitingCall>>,
    /// gRPC calls started and not yet handed to the glue, which routes
    /// their answers.
    dispatched: Vec<Dispatched>,
    /// An approver's decision on this approval id, whose body is buffered.
    approval_post: Option<String>,
}

impl HttpFilter {
    pub fn new(config: Rc<Config>) -> HttpFilter {
        HttpFilter {
            config,
            stage: Stage::Start,
            head: RequestHead::default(),
            grant: None,
            claims: None,
            session: None,
            seals_session: false,
            expected: Expected::default(),
            body_size: 0,
            plan: ResponsePlan::Untouched,
            watch: None,
            audit: Audit::default(),
            decide_started_nanos: None,
            awaiting: None,
            dispatched: Vec::new(),
            approval_post: None,
        }
    }

    // ---- step 1: request headers ------------------------------------------

    pub fn on_request_headers(&mut self, host: &dyn Host, end_of_stream: bool) -> Action {
        let headers = match host.request_headers() {
            Ok(headers) => headers,
            Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
        };
        self.head = RequestHead::from_headers(headers);
        self.audit.protocol_version = self.head.protocol_version().map(str::to_string);
        if let Some(public) = request::oauth::public(&self.config, &self.head) {
            return self.admit_public(host, public);
        }
        if let Some(route) = approvals::route(&self.config, &self.head) {
            return self.serve_approvals(host, route, end_of_stream);
        }
        let presented = match request::presented(&self.config, host) {
            Ok(presented) => presented,
            Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
        };
        let oauth = self.config.settings.oauth.as_deref();
        let grant = match request::identify(&self.config, &self.head, &presented) {
            Selection::Granted { grant, matched_by } => {
                self.audit.identity = Some(matched_by.as_str());
                let scrubbed = request::oauth::keeps_token(&self.config, &self.head, matched_by)
                    .and_then(|keep| admission::scrub(host, &self.head, keep));
                if let Err(error) = scrubbed {
                    return self.refuse(host, Refusal::failure(None, &error));
                }
                grant
            }
            // Answered at once: an unauthenticated body is never read.
            Selection::Unauthenticated(message) => {
                self.audit.facts.method = Some(self.head.method().to_string());
                let presented_token = matches!(self.head.bearer, request::Bearer::Token(_));
                let refusal = admission::unauthenticated(None, message, oauth, presented_token);
                return self.refuse(host, refusal);
            }
            Selection::Forbidden { scopes } => {
                self.audit.facts.method = Some(self.head.method().to_string());
                return self.refuse(host, request::identity::forbidden(&scopes, oauth));
            }
        };
        self.claims = presented.claims;
        self.grant = Some(Rc::clone(&grant));
        self.audit.grant = Some(grant.name.clone());
        if grant.request_limit.is_some() || self.config.settings.request_limit.is_some() {
            let now_secs = match clock::now_secs(host) {
                Ok(now_secs) => now_secs,
                Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
            };
            if let Some(refusal) =
                request::request_limit::charge(host, &self.config.settings, &grant, now_secs)
            {
                return self.refuse(host, refusal);
            }
        }
        match session::open(&self.config, &self.head, &grant.name) {
            Ok(opened) => self.session = opened,
            Err(refusal) => return self.refuse(host, refusal),
        }
        if let Some(session) = &self.session {
            self.audit.session = Some(session::digest(&session.upstream));
            if let Err(error) = self.forward_unsealed_session(host) {
                return self.refuse(host, Refusal::failure(None, &error));
            }
        }
        if end_of_stream {
            return self.decide(host, None);
        }
        if let Some(refusal) = admission::check_body_headers(&self.head, &self.config.settings) {
            return self.refuse(host, refusal);
        }
        self.stage = Stage::Buffering;
        Action::Pause
    }

    /// Answers the metadata, or passes a public path on uninspected.
    fn admit_public(&mut self, host: &dyn Host, public: request::oauth::Public) -> Action {
        match public {
            request::oauth::Public::Metadata(reply) => {
                self.stage = Stage::Replied;
                if let Err(error) = host.send_reply(&reply) {
                    log::error!("cannot send local reply: {error}");
                }
                Action::Pause
            }
            request::oauth::Public::Pass => {
                match request::oauth::scrub_public(host, &self.config, &self.head) {
                    Ok(()) => {
                        self.stage = Stage::Passed;
                        Action::Continue
                    }
                    Err(error) => self.refuse(host, Refusal::failure(None, &error)),
                }
            }
        }
    }

    /// The upstream gets its own session id, never the sealed one.
    fn forward_unsealed_session(&self, host: &dyn Host) -> Result<(), HostError> {
        let Some(session) = self.session.as_ref().filter(|session| session.unsealed) else {
            return Ok(());
        };
        match session.carrier {
            Carrier::Header => host.set_request_header("mcp-session-id", Some(&session.upstream)),
            Carrier::Query => match session.rewritten_path(self.head.path()) {
                Some(path) => host.set_request_header(":path", Some(&path)),
                None => Err(HostError::new("session", "the session parameter is gone")),
            },
        }
    }

    pub fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        if self.stage != Stage::Buffering {
            return Action::Continue;
        }
        self.body_size = body_size;
        if let Some(id) = self.approval_post.take() {
            return self.decide_approval(host, &id, body_size, end_of_stream);
        }
        if body_size > self.config.settings.max_body_bytes {
            return self.refuse(host, admission::body_too_large(&self.config.settings));
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.read_body_and_decide(host)
    }

    /// Trailers end the request: the body seen so far is all there is.
    pub fn on_request_trailers(&mut self, host: &dyn Host) -> Action {
        if self.stage != Stage::Buffering {
            return Action::Continue;
        }
        if let Some(id) = self.approval_post.take() {
            return self.decide_approval(host, &id, self.body_size, true);
        }
        self.read_body_and_decide(host)
    }

    // ---- the approval page and API ------------------------------------------

    /// A request under the approvals prefix: answered here, never forwarded.
    fn serve_approvals(
        &mut self,
        host: &dyn Host,
        route: approvals::Route,
        end_of_stream: bool,
    ) -> Action {
        use approvals::{api, page, Route};
        self.stage = Stage::Replied;
        let approver = match &route {
            Route::Page => return self.reply(host, &page::reply()),
            Route::Refused { status, message } => {
                return self.reply(host, &api::error(*status, message))
            }
            Route::List | Route::Decide { .. } => {
                let presented = match request::presented(&self.config, host) {
                    Ok(presented) => presented,
                    Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
                };
                match request::identify(&self.config, &self.head, &presented) {
                    Selection::Granted { grant, .. } => grant,
                    Selection::Unauthenticated(message) => {
                        return self.reply(host, &api::error(401, message))
                    }
                    Selection::Forbidden { .. } => {
                        return self.reply(host, &api::error(403, "no grant matches this identity"))
                    }
                }
            }
        };
        self.audit.grant = Some(approver.name.clone());
        let now_secs = match clock::now_secs(host) {
            Ok(now_secs) => now_secs,
            Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
        };
        match route {
            Route::List => {
                let reply = api::list(&self.config, host, &approver, now_secs);
                self.reply(host, &reply)
            }
            Route::Decide { id } => {
                let json = self
                    .head
                    .headers
                    .get("content-type")
                    .is_some_and(|media| is_json_media_type(&media.to_ascii_lowercase()));
                if !json {
                    return self.reply(
                        host,
                        &api::error(415, "send the decision as application/json"),
                    );
                }
                if end_of_stream {
                    return self.reply(host, &api::error(400, "the decision is missing"));
                }
                self.grant = Some(approver);
                self.approval_post = Some(id);
                self.stage = Stage::Buffering;
                Action::Pause
            }
            Route::Page | Route::Refused { .. } => Action::Continue,
        }
    }

    /// The body of an approver's decision, once it is all here.
    fn decide_approval(
        &mut self,
        host: &dyn Host,
        id: &str,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        use approvals::api;
        if body_size > api::MAX_DECISION_BYTES {
            self.stage = Stage::Replied;
            return self.reply(host, &api::error(413, "the decision is too large"));
        }
        if !end_of_stream {
            self.approval_post = Some(id.to_owned());
            return Action::Pause;
        }
        self.stage = Stage::Replied;
        let (Some(approver), Ok(body), Ok(now_secs)) = (
            self.grant.clone(),
            host.request_body(0, body_size),
            clock::now_secs(host),
        ) else {
            let error = HostError::new("approval decision", "body, clock or grant unavailable");
            return self.refuse(host, Refusal::failure(None, &error));
        };
        let (reply, decided) = api::decide(&self.config, host, &approver, id, &body, now_secs);
        if let Some(decided) = decided {
            self.audit.facts.method = Some("approvals/decide".to_owned());
            self.audit.facts.target = Some(decided.tool.clone());
            self.audit.facts.tool = Some(decided.tool);
            self.audit.facts.rule = Some(decided.rule);
            self.audit.facts.approver = Some(approver.name.clone());
            let outcome = if decided.approved {
                Outcome::ApprovalGiven
            } else {
                Outcome::ApprovalRefused
            };
            self.publish(host, outcome);
        }
        self.reply(host, &reply)
    }

    fn reply(&self, host: &dyn Host, reply: &crate::host::LocalReply) -> Action {
        if let Err(error) = host.send_reply(reply) {
            log::error!("cannot send local reply: {error}");
        }
        Action::Pause
    }

    // ---- step 2: the decision ---------------------------------------------

    fn read_body_and_decide(&mut self, host: &dyn Host) -> Action {
        let body = match host.request_body(0, self.body_size) {
            Ok(body) => body,
            Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
        };
        observe::count(host, observe::BODY_BYTES_INSPECTED, body.len() as u64);
        self.decide(host, Some(&body))
    }

    /// Decides the request (with its body, or without one) and carries the
    /// decision out.
    fn decide(&mut self, host: &dyn Host, body: Option<&[u8]>) -> Action {
        let Some(grant) = self.grant.clone() else {
            return self.refuse(
                host,
                Refusal::failure(None, &HostError::new("decide", "no grant")),
            );
        };
        let now_nanos = match host.now_nanos() {
            Ok(nanos) => nanos,
            Err(error) => return self.refuse(host, Refusal::failure(None, &error)),
        };
        self.decide_started_nanos = Some(now_nanos);
        let context = decide_context!(self, &grant, host, now_nanos);
        let decision: Decision<'_> = match body {
            Some(body) => decide::decide_body(&context, body),
            None => decide::decide_bodyless(&context),
        };
        let Decision {
            facts,
            disposition,
            messages,
            is_batch,
            ..
        } = decision;
        self.audit.facts = facts;
        match disposition {
            Disposition::Refuse(refusal) => self.refuse(host, refusal),
            Disposition::Forward(forward) => self.forward(host, &grant, forward),
            Disposition::AwaitService(awaiting) => {
                self.ask_service(host, grant, awaiting, messages, is_batch)
            }
        }
    }

    fn forward(&mut self, host: &dyn Host, grant: &Rc<Grant>, forward: Forward) -> Action {
        observe::count(
            host,
            observe::COUNTER_CAS_RETRIES,
            u64::from(forward.cas_retries),
        );
        let visibility = || Visibility {
            policy: Rc::clone(&grant.policy),
            hide_denied_tools: self.config.settings.hide_denied_tools,
            approvals: self.config.settings.approvals.is_some(),
        };
        self.plan = if forward.event_stream {
            ResponsePlan::Stream(Box::new(StreamRewriter::new(
                Rc::clone(&self.config),
                grant.name.clone(),
                self.session
                    .as_ref()
                    .map(|session| session.upstream.clone()),
                visibility(),
                self.head
                    .protocol_version()
                    .is_some_and(crate::mcp::version_mirrors),
            )))
        } else if !forward.tools_list_ids.is_empty() {
            ResponsePlan::tools_list(
                forward.tools_list_ids,
                visibility(),
                forward.tools_list_learns,
            )
        } else if let Some(rounds) = forward.approved {
            ResponsePlan::Approved(rounds)
        } else {
            ResponsePlan::Untouched
        };
        // A reply is read only when it can matter: quota to give back, or a
        // task the call may create.
        let reply = (forward.reservation.is_some()
            || forward.may_create_task
            || !forward.service_units.is_empty())
        .then(|| RefundWatch::new(forward.call_id, forward.reservation));
        if let Some(reply) = reply {
            self.watch = Some(Watch::new(grant.name.clone(), reply, forward.service_units));
        }
        self.expected = forward.expected;
        self.seals_session = self.config.settings.sealer.is_some()
            && (self.session.is_some()
                || !self.head.expects_body()
                || self
                    .audit
                    .facts
                    .method
                    .as_deref()
                    .is_some_and(|method| method.ends_with("initialize")));
        let reads_response = self.watch.as_ref().is_some_and(Watch::needs_body)
            || response::needs_headers(&self.plan);
        let mut prepared = Ok(());
        if reads_response {
            prepared = admission::ask_for_readable_response(host, &self.head);
        }
        if let (Ok(()), Some(body)) = (&prepared, &forward.replacement_body) {
            prepared = host
                .replace_request_body(0, self.body_size, body)
                .and_then(|()| {
                    host.set_request_header("content-length", Some(&body.len().to_string()))
                });
        }
        if let Err(error) = prepared {
            return self.refuse(host, Refusal::failure(None, &error));
        }
        self.stage = Stage::Forwarded;
        self.publish(host, forward.outcome);
        Action::Continue
    }

    fn refuse(&mut self, host: &dyn Host, refusal: Refusal) -> Action {
        self.stage = Stage::Replied;
        if refusal.failure {
            observe::count(host, observe::FAIL_CLOSED, 1);
        }
        self.publish(host, refusal.outcome);
        if let Some(reservation) = self.watch.as_mut().and_then(Watch::take_reservation) {
            release(host, &reservation);
        }
        let service_units = self
            .watch
            .as_mut()
            .map(Watch::take_service_units)
            .unwrap_or_default();
        self.send_refund(host, service_units);
        if let Err(error) = host.send_reply(&refusal.reply) {
            log::error!("cannot send local reply: {error}");
        }
        Action::Pause
    }

    /// Publishes the decision: metrics (by tool for a `tools/call`) and the
    /// audit's filter state, with the time spent deciding.
    fn publish(&mut self, host: &dyn Host, outcome: Outcome) {
        if let Some(started) = self.decide_started_nanos {
            let now = host.now_nanos().unwrap_or(started);
            self.audit.decide_micros = now.saturating_sub(started) / 1000;
        }
        let bucket = self
            .audit
            .facts
            .tool
            .as_deref()
            .map(|tool| observe::tool_bucket(tool, &self.config.metric_tools));
        observe::publish(
            host,
            outcome,
            &self.audit,
            bucket,
            self.config.settings.filter_state,
            self.config.settings.filter_state_keys,
        );
    }

    // ---- steps 3 and 4: the response ---------------------------------------

    pub fn on_response_headers(&mut self, host: &dyn Host, end_of_stream: bool) -> Action {
        if self.stage != Stage::Forwarded {
            return Action::Continue;
        }
        let watching = self.watch.is_some();
        if !watching
            && !self.seals_session
            && self.expected.ids.is_empty()
            && !response::needs_headers(&self.plan)
        {
            return Action::Continue;
        }
        let headers = match host.response_headers() {
            Ok(headers) => headers,
            Err(error) => {
                log::error!("cannot read response headers: {error}");
                observe::count(host, observe::FAIL_CLOSED, 1);
                if !matches!(self.plan, ResponsePlan::Untouched) {
                    if let Err(error) = host.reset_stream() {
                        log::error!("cannot reset the stream: {error}");
                    }
                    return Action::Pause;
                }
                return Action::Continue;
            }
        };
        if self.seals_session {
            if let Some(sealed) = headers
                .get("mcp-session-id")
                .zip(self.audit.grant.as_deref())
                .and_then(|(issued, grant)| session::seal(&self.config, grant, issued))
            {
                if let Err(error) = host.set_response_header("mcp-session-id", Some(&sealed)) {
                    log::error!("cannot seal the issued session: {error}");
                    observe::count(host, observe::FAIL_CLOSED, 1);
                    if let Err(error) = host.reset_stream() {
                        log::error!("cannot reset the stream: {error}");
                    }
                    return Action::Pause;
                }
            }
        }
        if let Some(watch) = self.watch.as_mut() {
            watch.on_headers(host, &headers);
        }
        self.send_due_refund(host);
        if let Some(reply) = response::upstream_error_reply(&self.expected, &headers) {
            log::info!(
                "the upstream answered without a JSON-RPC reply; the client gets a JSON-RPC error"
            );
            observe::count(host, observe::UPSTREAM_FAILURES, 1);
            self.stage = Stage::Replied;
            if let Err(error) = host.send_reply(&reply) {
                log::error!("cannot send local reply: {error}");
            }
            return Action::Pause;
        }
        response::on_headers(&mut self.plan, host, &headers, end_of_stream);
        Action::Continue
    }

    pub fn on_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        if self.stage != Stage::Forwarded {
            return Action::Continue;
        }
        if let Some(watch) = self.watch.as_mut() {
            watch.on_body(host, body_size, end_of_stream);
        }
        self.send_due_refund(host);
        response::on_body(&mut self.plan, host, body_size, end_of_stream)
    }
}
