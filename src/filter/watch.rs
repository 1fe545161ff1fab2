//! Watching forwarded responses: binding issued sessions and created tasks
//! to the grant, and refunding quota when the call did not run.

use super::observe;
use super::refund;
use super::sessions::{self, Binding};
use super::{Auth, HttpFilter};
use crate::counter::release;
use crate::host::{HeaderMap, Host};

impl HttpFilter {
    /// A session id issued by the server (initialize response) belongs to the
    /// grant that asked for it.
    pub(super) fn bind_issued_session(&self, host: &dyn Host, headers: &HeaderMap) {
        let Auth::Granted(grant) = &self.auth else {
            return;
        };
        // Servers issue session ids on the initialize reply only.
        if self.audit.method.as_deref() != Some("initialize") {
            return;
        }
        let Some(session) = headers.get("mcp-session-id") else {
            return;
        };
        let now_secs = host.now_millis().map_or(0, |millis| millis / 1000);
        match sessions::bind(host, session, &grant.name, now_secs) {
            Ok(Binding::Mine) => {}
            Ok(outcome) => log::error!(
                "session issued to grant {} could not be bound: {outcome:?}",
                grant.name
            ),
            Err(error) => log::error!(
                "session issued to grant {} could not be bound: {error}",
                grant.name
            ),
        }
    }

    pub(super) fn settle_refund(&mut self, host: &dyn Host, verdict: refund::Verdict) {
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
                Ok(outcome) => log::error!(
                    "task created for grant {} could not be bound: {outcome:?}",
                    grant.name
                ),
                Err(error) => log::error!(
                    "task created for grant {} could not be bound: {error}",
                    grant.name
                ),
            }
        }
        if verdict == refund::Verdict::Refund {
            if let Some(reservation) = watch.take_reservation() {
                log::info!("the upstream did not run the call; its quota is refunded");
                observe::count(host, observe::REFUNDS, 1);
                release(host, &reservation);
            }
        }
    }

    pub(super) fn watch_response_headers(&mut self, host: &dyn Host, headers: &HeaderMap) {
        let Some(watch) = self.refund.as_mut() else {
            return;
        };
        let status = headers
            .get(":status")
            .and_then(|status| status.trim().parse().ok());
        let verdict = watch.on_headers(status, headers.get("content-type").unwrap_or(""));
        self.settle_refund(host, verdict);
    }

    pub(super) fn watch_response_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) {
        let Some(watch) = self.refund.as_mut() else {
            return;
        };
        let chunk = host.response_body(0, body_size).unwrap_or_default();
        let verdict = watch.on_body(&chunk, end_of_stream);
        self.settle_refund(host, verdict);
    }
}
