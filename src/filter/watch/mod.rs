//! Step 4, watching forwarded responses as they pass, never holding them:
//! the session an `initialize` reply issues and the task a call creates are
//! bound to the grant, and quota is given back when the call did not run
//! (`refund`).

mod refund;

pub use refund::{RefundWatch, Settlement};

use super::clock;
use super::observe;
use super::sessions::{self, Binding};
use crate::counter::{release, Reservation};
use crate::host::{HeaderMap, Host};

/// What the filter learns from one forwarded request's response.
pub struct Watch {
    grant: String,
    /// The request was an `initialize`: its reply issues the session.
    binds_session: bool,
    reply: Option<RefundWatch>,
}

impl Watch {
    pub fn new(grant: String, binds_session: bool, reply: Option<RefundWatch>) -> Watch {
        Watch {
            grant,
            binds_session,
            reply,
        }
    }

    pub fn needs_headers(&self) -> bool {
        self.binds_session || self.reply.is_some()
    }

    pub fn needs_body(&self) -> bool {
        self.reply.is_some()
    }

    /// Quota still held, for a request refused after it was charged.
    pub fn take_reservation(&mut self) -> Option<Reservation> {
        self.reply.as_mut().and_then(RefundWatch::take_reservation)
    }

    pub fn on_headers(&mut self, host: &dyn Host, headers: &HeaderMap) {
        if self.binds_session {
            if let Some(session) = headers.get("mcp-session-id") {
                self.bind(host, "session", session, sessions::bind);
            }
        }
        let Some(reply) = self.reply.as_mut() else {
            return;
        };
        let status = headers
            .get(":status")
            .and_then(|status| status.trim().parse().ok());
        let settlement = reply.on_headers(status, headers.get("content-type").unwrap_or(""));
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
            self.bind(host, "task", &task, sessions::bind_task);
        }
        if settlement == Settlement::Refund {
            if let Some(reservation) = reply.take_reservation() {
                log::info!("the upstream did not run the call; its quota is refunded");
                observe::count(host, observe::REFUNDS, 1);
                release(host, &reservation);
            }
        }
    }

    /// Binds an id the upstream issued to the grant.
    fn bind(
        &self,
        host: &dyn Host,
        what: &str,
        id: &str,
        bind: fn(
            &dyn crate::store::SharedStore,
            &str,
            &str,
            u64,
        ) -> Result<Binding, crate::store::StoreError>,
    ) {
        let grant = &self.grant;
        let now_secs = match clock::now_secs(host) {
            Ok(now_secs) => now_secs,
            Err(error) => {
                log::error!("{what} issued to grant {grant} not bound: {error}");
                return;
            }
        };
        match bind(host, id, grant, now_secs) {
            Ok(Binding::Mine) => {}
            Ok(outcome) => {
                log::error!("{what} issued to grant {grant} could not be bound: {outcome:?}")
            }
            Err(error) => log::error!("{what} issued to grant {grant} could not be bound: {error}"),
        }
    }
}
