//! The HTTP filter state machine. It talks to the proxy only through `Host`,
//! so native tests drive it with `host::fake::FakeHost`.
//!
//! Requests: headers are held until the whole body has been read and decided.
//! Nothing is forwarded before a decision, and every path and method is
//! inspected the same way.

mod admission;
mod bytes;
mod charging;
mod decision;
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
mod watch;

#[cfg(test)]
mod tests;

use std::rc::Rc;

use crate::config::{Config, Grant};
use crate::counter::release;
use crate::host::{Action, HeaderMap, Host, HostError, LocalReply};
use crate::mcp::{RequestId, ToolsListStreamFilter};

use observe::{Audit, Outcome};
use request_head::RequestHead;
use response::{rewrite_json, BodyRewrite, ResponsePlan};

pub use observe::STATE_OBJECT;
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
        self.audit.protocol_version = self.head.protocol_version().map(str::to_string);
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
        let needs_headers = self.refund.is_some()
            || self.audit.method.as_deref() == Some("initialize")
            || !matches!(self.plan, ResponsePlan::Untouched);
        if !needs_headers {
            return Action::Continue;
        }
        let headers = host.response_headers().unwrap_or_else(|error| {
            log::error!("cannot read response headers: {error}");
            HeaderMap::default()
        });
        self.bind_issued_session(host, &headers);
        self.watch_response_headers(host, &headers);
        let content_type = headers
            .get("content-type")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let plan = std::mem::replace(&mut self.plan, ResponsePlan::Untouched);
        if let ResponsePlan::Stream(rewriter) = plan {
            if !end_of_stream && content_type.starts_with("text/event-stream") {
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
        let encoded = headers
            .get("content-encoding")
            .is_some_and(|encoding| !encoding.trim().eq_ignore_ascii_case("identity"));
        if encoded {
            log::warn!(
                "tools/list response is content-encoded; the filter cannot read it and refuses it"
            );
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

    pub fn on_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
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
                        log::error!(
                            "tools/list response not filtered ({detail}); replaced with an error"
                        );
                        reply::unreadable_tools_list(ids.first())
                    }
                };
                if let Err(error) = host.replace_response_body(0, body_size, &replacement) {
                    log::error!("cannot rewrite tools/list response: {error}");
                }
                Action::Continue
            }
            ResponsePlan::ToolsListStream {
                filter,
                learner,
                visibility,
            } => {
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

    /// The clock a request is decided by: the instant its body was complete,
    /// read once; body-less requests read the host clock when they need it.
    fn request_now_secs(&self, host: &dyn Host) -> Result<u64, HostError> {
        if self.decide_started_nanos > 0 {
            return Ok(self.decide_started_nanos / 1_000_000_000);
        }
        host.now_millis().map(|millis| millis / 1000)
    }

    fn reply(&mut self, host: &dyn Host, reply: &LocalReply, outcome: Outcome) -> Action {
        self.stage = Stage::Replied;
        let tool = self
            .audit
            .method
            .as_deref()
            .filter(|method| *method == "tools/call")
            .and(self.audit.target.clone());
        self.publish(host, outcome, tool.as_deref());
        if let Some(reservation) = self
            .refund
            .take()
            .and_then(|mut watch| watch.take_reservation())
        {
            release(host, &reservation);
        }
        if let Err(error) = host.send_reply(reply) {
            log::error!("cannot send local reply: {error}");
        }
        Action::Pause
    }

    /// A host failure while deciding: refuse, never forward undecided.
    fn fail_closed(
        &mut self,
        host: &dyn Host,
        id: Option<&RequestId>,
        error: &HostError,
    ) -> Action {
        log::error!("refusing request: {error}");
        observe::count(host, observe::FAIL_CLOSED, 1);
        let reply = reply::protocol_error(
            500,
            id,
            reply::INTERNAL_ERROR,
            "The policy filter could not inspect the request",
        );
        self.reply(host, &reply, Outcome::Denied)
    }
}
