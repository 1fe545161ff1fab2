//! Step 4, watching forwarded responses as they pass, never holding them:
//! the task a call creates is bound to the grant, and quota is given back
//! when the call did not run (`refund`).

mod refund;

pub use refund::{RefundWatch, Settlement};

use super::clock;
use super::observe;
use super::tasks;
use crate::counter::{release, Reservation};
use crate::host::{HeaderMap, Host};
use crate::rate_limit_service::Counter;

// Envoy's response flags (`response.flags`, the legacy bit set).
const NO_HEALTHY_UPSTREAM: u64 = 0x2;
const UPSTREAM_REQUEST_TIMEOUT: u64 = 0x4;
const UPSTREAM_REMOTE_RESET: u64 = 0x10;
const UPSTREAM_CONNECTION_FAILURE: u64 = 0x20;
const UPSTREAM_CONNECTION_TERMINATION: u64 = 0x40;
const UPSTREAM_OVERFLOW: u64 = 0x80;
const NO_ROUTE_FOUND: u64 = 0x100;
const UPSTREAM_RETRY_LIMIT_EXCEEDED: u64 = 0x8000;
/// Flags that mean a request did not leave Envoy...
const NEVER_SENT: u64 =
    NO_HEALTHY_UPSTREAM | UPSTREAM_CONNECTION_FAILURE | UPSTREAM_OVERFLOW | NO_ROUTE_FOUND;
/// ...and flags that mean an attempt may have reached the upstream.
const MAY_HAVE_RUN: u64 = UPSTREAM_REQUEST_TIMEOUT
    | UPSTREAM_REMOTE_RESET
    | UPSTREAM_CONNECTION_TERMINATION
    | UPSTREAM_RETRY_LIMIT_EXCEEDED;

/// Whether Envoy says no attempt of this request reached the upstream: a
/// never-sent flag, no flag of a sent attempt, and at most one attempt (with
/// retries, an earlier attempt may have run). Anything unreadable counts as
/// "may have run": the quota is kept.
fn never_sent(host: &dyn Host) -> bool {
    let number = |path: &[&str]| -> Option<u64> {
        let bytes = host.property(path).ok()??;
        Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
    };
    let Some(flags) = number(&["response", "flags"]) else {
        return false;
    };
    let attempts = number(&["upstream", "request_attempt_count"]).unwrap_or(0);
    flags & NEVER_SENT != 0 && flags & MAY_HAVE_RUN == 0 && attempts <= 1
}

/// What the filter learns from one forwarded request's response.
pub struct Watch {
    grant: String,
    reply: Option<RefundWatch>,
    /// Units the rate-limit service took, given back with the local ones.
    service_units: Vec<Counter>,
    /// Service units to give back now that the call did not run.
    due: Vec<Counter>,
}

impl Watch {
    pub fn new(grant: String, reply: RefundWatch, service_units: Vec<Counter>) -> Watch {
        Watch {
            grant,
            reply: Some(reply),
            service_units,
            due: Vec::new(),
        }
    }

    /// The service units to refund, once the response showed the call did
    /// not run (the filter sends them).
    pub fn take_due_refund(&mut self) -> Vec<Counter> {
        std::mem::take(&mut self.due)
    }

    /// Service units still held, for a request refused after it was charged.
    pub fn take_service_units(&mut self) -> Vec<Counter> {
        std::mem::take(&mut self.service_units)
    }

    pub fn needs_body(&self) -> bool {
        self.reply.is_some()
    }

    /// Quota still held, for a request refused after it was charged.
    pub fn take_reservation(&mut self) -> Option<Reservation> {
        self.reply.as_mut().and_then(RefundWatch::take_reservation)
    }

    pub fn on_headers(&mut self, host: &dyn Host, headers: &HeaderMap) {
        let Some(reply) = self.reply.as_mut() else {
            return;
        };
        let status: Option<u32> = headers
            .get(":status")
            .and_then(|status| status.trim().parse().ok());
        let never_sent =
            status.is_some_and(|status| (500..600).contains(&status)) && never_sent(host);
        let settlement = reply.on_headers(
            status,
            headers.get("content-type").unwrap_or(""),
            never_sent,
        );
        self.settle(host, settlement);
    }

    pub fn on_body(&mut self, host: &dyn Host, body_size: usize, end_of_stream: bool) {
        let Some(reply) = self.reply.as_mut() else {
            return;
        };
        let chunk = host.response_body(0, body_size).unwrap_or_default();
        let settlement = reply.on_body(&chunk, end_of_stream);
        self.settle(host, settlement);
    }

    fn settle(&mut self, host: &dyn Host, settlement: Settlement) {
        if settlement == Settlement::Pending {
            return;
        }
        let Some(mut reply) = self.reply.take() else {
            return;
        };
        if let Some(task) = reply.take_task_id() {
            self.bind_task(host, &task);
        }
        let service_units = std::mem::take(&mut self.service_units);
        if settlement == Settlement::Refund {
            let reservation = reply.take_reservation();
            if reservation.is_some() || !service_units.is_empty() {
                log::info!("the upstream did not run the call; its quota is refunded");
                observe::count(host, observe::REFUNDS, 1);
            }
            if let Some(reservation) = reservation {
                release(host, &reservation);
            }
            self.due = service_units;
        }
    }

    /// Binds a task the upstream created to the grant.
    fn bind_task(&self, host: &dyn Host, task: &str) {
        let grant = &self.grant;
        let bound = clock::now_secs(host)
            .map_err(|error| error.to_string())
            .and_then(|now_secs| {
                tasks::bind(host, grant, task, now_secs).map_err(|error| error.to_string())
            });
        if let Err(error) = bound {
            log::error!("task created for grant {grant} not bound: {error}");
        }
    }
}
