//! Deciding a request body: reading the JSON-RPC payload, asking the policy
//! about every message, charging limits, and forwarding or refusing.

use std::rc::Rc;

use super::observe::{self, Outcome};
use super::refund;
use super::response::{ResponsePlan, Visibility};
use super::verdict::{decide_all, Reason, Refusal, Verdict};
use super::{legacy, reply, Auth, HttpFilter, Stage};
use crate::config::Grant;
use crate::host::{Action, Host, HostError, LocalReply};
use crate::mcp::{read_payload, sniff_id, Message, Payload, ReadLimits, RequestId};

impl HttpFilter {
    pub(super) fn decide_body(&mut self, host: &dyn Host, body_size: usize) -> Action {
        self.decide_started_nanos = host.now_nanos().unwrap_or(0);
        let body = match host.request_body(0, body_size) {
            Ok(body) => body,
            Err(error) => return self.fail_closed(host, None, &error),
        };
        observe::count(host, observe::BODY_BYTES_INSPECTED, body.len() as u64);
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
                let reply =
                    reply::protocol_error(400, error.id.as_ref(), error.code, &error.message);
                return self.reply(host, &reply, Outcome::InvalidRequest);
            }
        };
        let (messages, is_batch) = match payload {
            Payload::Single(message) => (vec![message], false),
            Payload::Batch(messages) => (messages, true),
        };
        self.note_messages(&messages, is_batch);
        if is_batch {
            if let Some(version) = self.head.protocol_version().filter(|v| *v >= "2025-06-18") {
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

    pub(super) fn decide_messages(
        &mut self,
        host: &dyn Host,
        grant: &Rc<Grant>,
        messages: &[Message],
        is_batch: bool,
    ) -> Action {
        let policy = Rc::clone(&grant.policy);
        let session = self.head.session_id().map(str::to_string);
        let (verdicts, mut refusals) =
            decide_all(&policy, messages, &grant.name, session.as_deref());

        if refusals.iter().all(Option::is_none) {
            match self.charge_limits(host, &grant.name, messages, &verdicts) {
                Ok(reservation) => {
                    let id = if is_batch {
                        None
                    } else {
                        messages.first().and_then(|m| m.id.clone())
                    };
                    // A reply is read only when it can matter: quota to give
                    // back, or a task the call may create (a task-augmented
                    // request, or any 2026-07-28 call).
                    let may_create_task = !is_batch
                        && messages.first().is_some_and(|message| {
                            message.method() == Some("tools/call")
                                && (message.params().is_some_and(|p| p.get("task").is_some())
                                    || crate::mcp::uses_mirrored_headers(
                                        self.head.protocol_version(),
                                        message,
                                    ))
                        });
                    let reservation = (!reservation.taken.is_empty()).then_some(reservation);
                    if reservation.is_some() || may_create_task {
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
            if let Verdict::Allow {
                rule, would_deny, ..
            } = verdict
            {
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
                    None => log::debug!(
                        "allowed {method} {target} for grant {}: rule {rule}",
                        grant.name
                    ),
                }
            }
        }

        if refusals.iter().all(Option::is_none) {
            self.plan_response(grant, messages);
            if let Err(error) = self.request_readable_response(host) {
                return self.fail_closed(host, None, &error);
            }
            self.stage = Stage::Forwarded;
            match would_deny_rule.or_else(|| self.shadow_refusal.take()) {
                Some(rule) => {
                    self.audit.rule = Some(rule);
                    self.publish(host, Outcome::DryRunWouldDeny, called_tool(messages));
                }
                None => self.publish(host, Outcome::Allowed, called_tool(messages)),
            }
            return Action::Continue;
        }
        let outcome = self.note_refusals(&refusals);

        if let Some(session) =
            legacy::session_of_path(self.head.path()).filter(|_| self.head.session_id().is_none())
        {
            return self
                .refuse_on_legacy_stream(host, grant, &session, messages, refusals, outcome);
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
                None => {
                    return self.fail_closed(
                        host,
                        None,
                        &HostError::new("decide", "no refusal to send"),
                    )
                }
            }
        };
        self.reply(host, &reply, outcome)
    }

    /// Audit facts of the message(s): the first message stands for a batch.
    pub(super) fn note_messages(&mut self, messages: &[Message], is_batch: bool) {
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
    pub(super) fn note_refusals(&mut self, refusals: &[Option<Refusal>]) -> Outcome {
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
        if refused
            .iter()
            .any(|refusal| matches!(refusal.reason, Reason::CountersUnavailable { .. }))
        {
            return Outcome::Denied;
        }
        if refused.iter().all(|refusal| refusal.is_hidden()) {
            return Outcome::Hidden;
        }
        Outcome::Denied
    }

    /// Publishes the decision: metrics (by tool when `tool` is the called
    /// tool) and the audit's filter state, with the time spent deciding.
    pub(super) fn publish(&mut self, host: &dyn Host, outcome: Outcome, tool: Option<&str>) {
        if self.decide_started_nanos > 0 {
            let now = host.now_nanos().unwrap_or(self.decide_started_nanos);
            self.audit.decide_micros = now.saturating_sub(self.decide_started_nanos) / 1000;
        }
        let bucket = tool.map(|tool| observe::tool_bucket(tool, &self.config.metric_tools));
        observe::publish(
            host,
            outcome,
            &self.audit,
            bucket,
            self.config.settings.filter_state,
            self.config.settings.filter_state_keys,
        );
    }

    /// Legacy transport: forward pings in place of the refused requests and
    /// leave their refusals for the GET stream (see `legacy`).
    pub(super) fn refuse_on_legacy_stream(
        &mut self,
        host: &dyn Host,
        grant: &Rc<Grant>,
        session: &str,
        messages: &[Message],
        refusals: Vec<Option<Refusal>>,
        outcome: Outcome,
    ) -> Action {
        let now_secs = match self.request_now_secs(host) {
            Ok(now_secs) => now_secs,
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
                    return self.fail_closed(
                        host,
                        Some(&id),
                        &HostError::new("legacy refusals", "table full"),
                    )
                }
                Err(error) => {
                    return self.fail_closed(
                        host,
                        Some(&id),
                        &HostError::new("legacy refusals", error.to_string()),
                    )
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
            .and_then(|()| {
                host.set_request_header("content-length", Some(&pings.len().to_string()))
            });
        if let Err(error) = replaced {
            return self.fail_closed(host, None, &error);
        }
        self.stage = Stage::Forwarded;
        self.publish(host, outcome, called_tool(messages));
        Action::Continue
    }

    pub(super) fn plan_response(&mut self, grant: &Rc<Grant>, messages: &[Message]) {
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
}

/// The tool the first message calls, if it is a `tools/call`.
fn called_tool(messages: &[Message]) -> Option<&str> {
    messages
        .first()
        .filter(|message| message.method() == Some("tools/call"))
        .and_then(Message::target)
}

fn not_forwarded(message: &Message) -> Refusal {
    Refusal::of(message, Reason::BatchNotForwarded)
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
