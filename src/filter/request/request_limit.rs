//! A grant's limit on every request it sends, refused ones included, charged
//! at the headers, before the body is read: refusals cost CPU too, and this
//! bounds what one grant can make the filter do. Optional (`request_limit`,
//! for every grant or per grant); never refunded.

use crate::config::{Grant, RequestLimit, Settings};
use crate::counter::{reserve_in, CounterSpec, LimitError, Region, Table};
use crate::filter::refusal::{json_reply, Outcome, Refusal, ReplyKind};
use crate::host::HostError;
use crate::mcp::{error_response, POLICY_DENIED};
use crate::store::SharedStore;

/// Charges one request to `grant`'s request limit, if it has one.
pub fn charge(
    store: &dyn SharedStore,
    settings: &Settings,
    grant: &Grant,
    now_secs: u64,
) -> Option<Refusal> {
    let limit: &RequestLimit = grant
        .request_limit
        .as_ref()
        .or(settings.request_limit.as_ref())?;
    let spec = CounterSpec {
        key: format!("mcp-policy/v1/requests\u{1f}grant:{}", grant.name),
        window: limit.window,
        max: limit.max,
    };
    let table = Table::dedicated(Region::Enforced, &spec.key);
    match reserve_in(store, table, now_secs, std::slice::from_ref(&spec)) {
        Ok(_) => None,
        Err(LimitError::StoreUnavailable(detail)) => Some(Refusal::failure(
            None,
            &HostError::new("request limit", detail),
        )),
        Err(LimitError::Exhausted(refusals)) => {
            let retry_after = refusals
                .iter()
                .map(|refusal| refusal.retry_after_secs)
                .max()
                .unwrap_or(0);
            let message = format!(
                "[POLICY DENIED] Request limit of {} per {} reached for this grant. Try again later.",
                limit.max, limit.window
            );
            let mut reply = json_reply(
                429,
                error_response(None, POLICY_DENIED, &message),
                ReplyKind::RateLimited,
            );
            reply
                .headers
                .push(("retry-after".into(), retry_after.to_string()));
            Some(Refusal::new(Outcome::RateLimited, reply))
        }
    }
}
