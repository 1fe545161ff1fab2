//! `explain` for limits the rate-limit service counts. The CLI cannot call
//! the service: it shows the `ShouldRateLimit` request the filter would
//! send, and settles the decision with the answer a service would give if
//! its counters held the `--used` units (none by default), through the
//! filter's own `decide::service::settle`.

use serde_json::{json, Value};

use crate::filter::decide::service::{settle, Awaiting, Settled};
use crate::filter::decide::{Context, Disposition, Facts};
use crate::mcp::Message;
use crate::rate_limit_service::{charge_request, Answer, Counter, Status};

/// The request the filter would send, and the answer assumed.
#[derive(Debug)]
pub struct ServiceReport {
    pub cluster: String,
    pub domain: String,
    pub counters: Vec<Counter>,
    /// Per counter, over its limit in the simulated answer.
    pub over: Vec<bool>,
}

/// Settles `awaiting` with the answer a service whose counters hold `used`
/// (by counter name) would give.
pub fn simulate(
    ctx: &Context<'_>,
    awaiting: Awaiting,
    messages: &[Message],
    is_batch: bool,
    facts: &mut Facts,
    used: &[(String, u64)],
) -> (Disposition, Option<ServiceReport>) {
    let counters = awaiting.charge.counters.clone();
    let statuses: Vec<Status> = counters
        .iter()
        .map(|counter| {
            let spent = used
                .iter()
                .find(|(name, _)| *name == counter.name)
                .map_or(0, |(_, count)| *count);
            let count = spent.saturating_add(counter.hits);
            let seconds = counter.unit.seconds();
            Status {
                over: count > u64::from(counter.max),
                remaining: u32::try_from(u64::from(counter.max).saturating_sub(count)).unwrap_or(0),
                reset_after: Some(seconds - ctx.now_secs % seconds),
            }
        })
        .collect();
    let over: Vec<bool> = statuses.iter().map(|status| status.over).collect();
    let answer = if over.contains(&true) {
        Answer::OverLimit(Some(statuses))
    } else {
        Answer::Ok
    };
    let Settled { disposition, .. } = settle(ctx, awaiting, messages, is_batch, facts, Ok(answer));
    let report = ctx
        .config
        .settings
        .rate_limit_service
        .as_ref()
        .map(|service| ServiceReport {
            cluster: service.cluster.clone(),
            domain: service.domain.clone(),
            counters,
            over,
        });
    (disposition, report)
}

pub fn render_text(report: &ServiceReport) -> String {
    let mut out = format!(
        "rate-limit service: ShouldRateLimit to cluster {}, domain {:?}, one descriptor per counter (simulated answer: {}):\n",
        report.cluster,
        report.domain,
        if report.over.contains(&true) { "OVER_LIMIT" } else { "OK" }
    );
    for (counter, over) in report.counters.iter().zip(&report.over) {
        out.push_str(&format!(
            "  - counter={} scope={} value=<keyed hash {}>, limit {} per {}, hits {}{}\n",
            counter.name,
            counter.scope,
            counter.value,
            counter.max,
            counter.unit.name(),
            counter.hits,
            if *over { ": over its limit" } else { "" }
        ));
    }
    out
}

pub fn render_json(report: &ServiceReport) -> Value {
    let request = charge_request(&report.domain, &report.counters);
    json!({
        "cluster": report.cluster,
        "domain": request.domain,
        "hits_addend": request.hits_addend,
        "descriptors": request.descriptors.iter().zip(&report.over).map(|(descriptor, over)| json!({
            "entries": descriptor.entries.iter().map(|entry| json!({"key": entry.key, "value": entry.value})).collect::<Vec<_>>(),
            "limit": descriptor.limit.as_ref().map(|limit| json!({
                "requests_per_unit": limit.requests_per_unit,
                "unit": limit.unit,
            })),
            "hits_addend": descriptor.hits_addend.as_ref().map(|hits| hits.value),
            "simulated_over_limit": over,
        })).collect::<Vec<_>>(),
    })
}
