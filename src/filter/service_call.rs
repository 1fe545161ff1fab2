//! The request held while the rate-limit service charges its limits: the
//! call is dispatched with the host's gRPC client, the request stays paused,
//! and the answer (or the call's failure) finishes the decision in
//! `decide::service::settle`; the request is then resumed or refused.
//! Refunds go out the same way, without waiting for their answer. The glue
//! routes each answer back by the token `take_dispatched` hands it.

use std::rc::Rc;

use super::decide::charge::{ClaimSource, NoClaims};
use super::decide::service::{self, Awaiting, Settled};
use super::decide::{Context, Disposition};
use super::observe;
use super::refusal::Refusal;
use super::{HttpFilter, Stage};
use crate::config::Grant;
use crate::counter::release;
use crate::host::{Action, GrpcCall, Host, HostError};
use crate::mcp::Message;
use crate::rate_limit_service::{self as rls, CallFailure, Counter};

/// A gRPC call the filter started: the glue routes its answer by token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatched {
    pub token: u32,
    pub kind: CallKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    /// The charge a paused request waits for (`HttpFilter::on_service_reply`).
    Charge,
    /// A refund: nobody waits (`refund_settled`).
    Refund,
}

/// How a gRPC call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceReply {
    /// The answer's bytes.
    Message(Vec<u8>),
    /// A gRPC status without an answer (a timeout is `DEADLINE_EXCEEDED`).
    Closed { status: u32, message: String },
    /// The answer could not be read from the host.
    Unreadable(String),
}

/// The call a paused request waits for, and what finishing it needs.
pub(super) struct AwaitingCall {
    token: u32,
    awaiting: Box<Awaiting>,
    grant: Rc<Grant>,
    messages: Vec<Message>,
    is_batch: bool,
}

/// Counts a refund's outcome. A refund is never retried: a unit it fails to
/// give back stays spent (conservative).
pub fn refund_settled(host: &dyn Host, reply: &ServiceReply) {
    if let ServiceReply::Message(bytes) = reply {
        if rls::read(bytes, 0).is_ok() {
            return;
        }
    }
    log::warn!("the rate-limit service did not take a refund: {reply:?}");
    observe::count(host, observe::RLS_REFUND_FAILURES, 1);
}

impl HttpFilter {
    /// The gRPC calls started since the last time, for the glue.
    pub fn take_dispatched(&mut self) -> Vec<Dispatched> {
        std::mem::take(&mut self.dispatched)
    }

    /// The token of the charge this request waits for.
    pub fn awaited_call(&self) -> Option<u32> {
        self.awaiting.as_ref().map(|call| call.token)
    }

    /// Sends the charge and holds the request until it is answered.
    pub(super) fn ask_service(
        &mut self,
        host: &dyn Host,
        grant: Rc<Grant>,
        awaiting: Box<Awaiting>,
        messages: Vec<Message>,
        is_batch: bool,
    ) -> Action {
        let config = Rc::clone(&self.config);
        let dispatched = match config.settings.rate_limit_service.as_ref() {
            Some(service) => host.grpc_call(&GrpcCall {
                service: &service.grpc_service,
                service_name: rls::SERVICE,
                method: rls::METHOD,
                message: &awaiting.request(service),
                timeout_ms: service.timeout_ms,
            }),
            None => Err(HostError::new("rate-limit service", "none is configured")),
        };
        match dispatched {
            Ok(token) => {
                self.dispatched.push(Dispatched {
                    token,
                    kind: CallKind::Charge,
                });
                self.awaiting = Some(Box::new(AwaitingCall {
                    token,
                    awaiting,
                    grant,
                    messages,
                    is_batch,
                }));
                self.stage = Stage::AwaitingService;
                Action::Pause
            }
            Err(error) => {
                let failure = CallFailure::Error(error.to_string());
                let call = AwaitingCall {
                    token: 0,
                    awaiting,
                    grant,
                    messages,
                    is_batch,
                };
                self.finish(host, call, Err(failure))
            }
        }
    }

    /// The answer to the charge this request waits for: the request is
    /// resumed or refused here.
    pub fn on_service_reply(&mut self, host: &dyn Host, reply: ServiceReply) {
        let Some(call) = self.awaiting.take() else {
            return;
        };
        let descriptors = call.awaiting.charge.counters.len();
        let answer = match reply {
            ServiceReply::Message(bytes) => rls::read(&bytes, descriptors),
            ServiceReply::Closed { status, message } => {
                Err(CallFailure::from_grpc(status, &message))
            }
            ServiceReply::Unreadable(detail) => Err(CallFailure::Error(detail)),
        };
        if self.finish(host, *call, answer) == Action::Continue {
            if let Err(error) = host.resume_request() {
                self.refuse(host, Refusal::failure(None, &error));
            }
        }
    }

    /// Finishes the decision with the service's answer and carries it out.
    fn finish(
        &mut self,
        host: &dyn Host,
        call: AwaitingCall,
        answer: Result<rls::Answer, CallFailure>,
    ) -> Action {
        let label = match &answer {
            Ok(rls::Answer::Ok) => "ok",
            Ok(rls::Answer::OverLimit(_)) => "over_limit",
            Err(failure) => failure.label(),
        };
        observe::count(host, observe::rls_call_metric(label), 1);
        let AwaitingCall {
            awaiting,
            grant,
            messages,
            is_batch,
            ..
        } = call;
        let now_nanos = match host.now_nanos() {
            Ok(nanos) => nanos,
            Err(error) => {
                if let Some(reservation) = &awaiting.forward.reservation {
                    release(host, reservation);
                }
                return self.refuse(host, Refusal::failure(None, &error));
            }
        };
        let context = decide_context!(self, &grant, host, now_nanos);
        let Settled {
            disposition,
            refund,
            failed_open,
        } = service::settle(
            &context,
            *awaiting,
            &messages,
            is_batch,
            &mut self.audit.facts,
            answer,
        );
        if failed_open {
            observe::count(host, observe::RLS_FAILED_OPEN, 1);
        }
        self.send_refund(host, refund);
        match disposition {
            Disposition::Forward(forward) => self.forward(host, &grant, forward),
            Disposition::Refuse(refusal) => self.refuse(host, refusal),
            Disposition::AwaitService(_) => self.refuse(
                host,
                Refusal::failure(None, &HostError::new("rate-limit service", "asked twice")),
            ),
        }
    }

    /// Gives `counters` back at the service, when it takes refunds.
    pub(super) fn send_refund(&mut self, host: &dyn Host, counters: Vec<Counter>) {
        if counters.is_empty() {
            return;
        }
        let config = Rc::clone(&self.config);
        let Some(service) = config
            .settings
            .rate_limit_service
            .as_ref()
            .filter(|service| service.refunds)
        else {
            return;
        };
        let sent = host.grpc_call(&GrpcCall {
            service: &service.grpc_service,
            service_name: rls::SERVICE,
            method: rls::METHOD,
            message: &service::refund(service, &counters),
            timeout_ms: service.timeout_ms,
        });
        match sent {
            Ok(token) => {
                observe::count(host, observe::RLS_REFUNDS, 1);
                self.dispatched.push(Dispatched {
                    token,
                    kind: CallKind::Refund,
                });
            }
            Err(error) => {
                log::warn!("cannot send a refund to the rate-limit service: {error}");
                observe::count(host, observe::RLS_REFUND_FAILURES, 1);
            }
        }
    }

    /// Sends the service units a settled response showed were not used.
    pub(super) fn send_due_refund(&mut self, host: &dyn Host) {
        let due = self
            .watch
            .as_mut()
            .map(super::Watch::take_due_refund)
            .unwrap_or_default();
        self.send_refund(host, due);
    }
}
