//! What the filter tells operators about each decision: Envoy counter
//! metrics, and filter state that access logs and later filters read: one
//! object `wasm.mcp_policy` with every field, and, where configured, each
//! field as its own string `wasm.mcp_policy_<field>`. Argument values and
//! tokens never appear; only the top-level argument keys do.

use super::refusal::Outcome;
use crate::config::{FilterStateFields, FILTER_STATE_FIELDS};
use crate::host::{Host, StateValue};

/// The filter-state object holding the decision (`wasm.mcp_policy`).
pub const STATE_OBJECT: &str = "mcp_policy";

// Every metric name starts with `mcp_policy.`; Envoy exports them as
// `wasmcustom.mcp_policy.*` (`wasmcustom_mcp_policy_*` in Prometheus).
/// The tool bucket for tools the policy does not name.
pub const OTHER_TOOL: &str = "other";

/// Counter metrics outside the per-decision ones.
pub const BODY_BYTES_INSPECTED: &str = "mcp_policy.body_bytes_inspected";
pub const COUNTER_CAS_RETRIES: &str = "mcp_policy.counter_cas_retries";
pub const FAIL_CLOSED: &str = "mcp_policy.fail_closed";
pub const REFUNDS: &str = "mcp_policy.refunds";
pub const UPSTREAM_FAILURES: &str = "mcp_policy.upstream_failures";
/// Calls admitted uncounted by a failed rate-limit service (`"failure_mode": "allow"`).
pub const RLS_FAILED_OPEN: &str = "mcp_policy.rls_failed_open";
/// Refunds sent to the rate-limit service, and those it did not take.
pub const RLS_REFUNDS: &str = "mcp_policy.rls_refunds";
pub const RLS_REFUND_FAILURES: &str = "mcp_policy.rls_refund_failures";

/// `mcp_policy.rls_calls.result.<result>`: each charge sent to the
/// rate-limit service, by result (`ok`, `over_limit`, `unavailable`,
/// `timeout`, `error`).
pub fn rls_call_metric(result: &str) -> &'static str {
    match result {
        "ok" => "mcp_policy.rls_calls.result.ok",
        "over_limit" => "mcp_policy.rls_calls.result.over_limit",
        "unavailable" => "mcp_policy.rls_calls.result.unavailable",
        "timeout" => "mcp_policy.rls_calls.result.timeout",
        _ => "mcp_policy.rls_calls.result.error",
    }
}

/// `mcp_policy.decisions.outcome.<outcome>`.
fn decision_metric(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allowed => "mcp_policy.decisions.outcome.allowed",
        Outcome::Denied => "mcp_policy.decisions.outcome.denied",
        Outcome::Hidden => "mcp_policy.decisions.outcome.hidden",
        Outcome::RateLimited => "mcp_policy.decisions.outcome.rate_limited",
        Outcome::InvalidRequest => "mcp_policy.decisions.outcome.invalid_request",
        Outcome::Unauthenticated => "mcp_policy.decisions.outcome.unauthenticated",
        Outcome::DryRunWouldDeny => "mcp_policy.decisions.outcome.dry_run_would_deny",
        Outcome::ApprovalRequired => "mcp_policy.decisions.outcome.approval_required",
        Outcome::Approved => "mcp_policy.decisions.outcome.approved",
        Outcome::ApprovalDenied => "mcp_policy.decisions.outcome.approval_denied",
        Outcome::ApprovalExpired => "mcp_policy.decisions.outcome.approval_expired",
        Outcome::RateLimitUnavailable => "mcp_policy.decisions.outcome.rate_limit_unavailable",
        Outcome::ApprovalGiven => "mcp_policy.decisions.outcome.approval_given",
        Outcome::ApprovalRefused => "mcp_policy.decisions.outcome.approval_refused",
    }
}

/// `mcp_policy.tool_decisions.tool.<tool>.outcome.<outcome>`.
fn tool_metric(tool: &str, outcome: Outcome) -> String {
    const HEAD: &str = "mcp_policy.tool_decisions.tool.";
    const MIDDLE: &str = ".outcome.";
    let outcome = outcome.as_str();
    let mut name = String::with_capacity(HEAD.len() + tool.len() + MIDDLE.len() + outcome.len());
    name.push_str(HEAD);
    name.push_str(tool);
    name.push_str(MIDDLE);
    name.push_str(outcome);
    name
}

/// The facts of one decision, published as filter state.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    pub grant: Option<String>,
    /// How the grant matched: `token`, `jwt`, `mtls` (or several, `+`).
    pub identity: Option<&'static str>,
    pub session: Option<String>,
    pub protocol_version: Option<String>,
    /// What the decision found in the body.
    pub facts: Facts,
    pub decide_micros: u64,
}

/// What a decision found out about a request, for the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The method; `batch[N]:<first method>` for a batch.
    pub method: Option<String>,
    pub target: Option<String>,
    /// The tool a single `tools/call` calls, for per-tool metrics.
    pub tool: Option<String>,
    pub rule: Option<String>,
    /// `count/max resets_at=<unix seconds>` where a limit refused.
    pub limit: Option<String>,
    /// Top-level argument keys of the first message, never their values.
    pub arg_keys: Vec<String>,
    /// The approver who decided the call's approval.
    pub approver: Option<String>,
}

/// Tool names in metric names: the policy's own names, anything else as
/// `other`, so that clients cannot grow the metric set.
pub fn tool_bucket<'a>(tool: &'a str, named: &std::collections::HashSet<String>) -> &'a str {
    if named.contains(tool)
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        tool
    } else {
        OTHER_TOOL
    }
}

/// Adds `delta` to the counter `metric` (a full name, `mcp_policy.*`).
pub fn count(host: &dyn Host, metric: &str, delta: u64) {
    if delta == 0 {
        return;
    }
    if let Err(error) = host.increment_counter(metric, delta) {
        log::warn!("metric {metric} not recorded: {error}");
    }
}

/// Filter-state keys, in the order of `config::FILTER_STATE_FIELDS`: Envoy
/// keeps them as `wasm.<key>`.
const FILTER_STATE_KEYS: [&str; 12] = [
    "mcp_policy_decision",
    "mcp_policy_rule",
    "mcp_policy_grant",
    "mcp_policy_identity",
    "mcp_policy_session",
    "mcp_policy_protocol",
    "mcp_policy_method",
    "mcp_policy_tool",
    "mcp_policy_limit",
    "mcp_policy_arg_keys",
    "mcp_policy_decide_us",
    "mcp_policy_approver",
];

/// Counts the decision, and publishes the audit fields `in_object` names as
/// the `wasm.mcp_policy` object and those `as_keys` names as their own keys.
pub fn publish(
    host: &dyn Host,
    outcome: Outcome,
    audit: &Audit,
    tool: Option<&str>,
    in_object: FilterStateFields,
    as_keys: FilterStateFields,
) {
    count(host, decision_metric(outcome), 1);
    if let Some(tool) = tool {
        count(host, &tool_metric(tool, outcome), 1);
    }
    if in_object == FilterStateFields::NONE && as_keys == FilterStateFields::NONE {
        return;
    }
    let arg_keys = (in_object.includes("arg_keys") || as_keys.includes("arg_keys"))
        .then(|| audit.facts.arg_keys.join(","))
        .filter(|keys| !keys.is_empty());
    // In the order of FILTER_STATE_FIELDS (and FILTER_STATE_KEYS).
    let values: [Option<StateValue>; 12] = [
        Some(StateValue::Text(outcome.as_str())),
        audit.facts.rule.as_deref().map(StateValue::Text),
        audit.grant.as_deref().map(StateValue::Text),
        audit.identity.map(StateValue::Text),
        audit.session.as_deref().map(StateValue::Text),
        audit.protocol_version.as_deref().map(StateValue::Text),
        audit.facts.method.as_deref().map(StateValue::Text),
        audit.facts.target.as_deref().map(StateValue::Text),
        audit.facts.limit.as_deref().map(StateValue::Text),
        arg_keys.as_deref().map(StateValue::Text),
        Some(StateValue::Number(audit.decide_micros as f64)),
        audit.facts.approver.as_deref().map(StateValue::Text),
    ];
    if in_object != FilterStateFields::NONE {
        let fields: Vec<(&str, StateValue)> = FILTER_STATE_FIELDS
            .iter()
            .zip(values)
            .enumerate()
            .filter(|(index, _)| in_object.includes_index(*index))
            .filter_map(|(_, (name, value))| Some((*name, value?)))
            .collect();
        if let Err(error) = host.set_filter_state_struct(STATE_OBJECT, &fields) {
            log::warn!("filter state {STATE_OBJECT} not set: {error}");
        }
    }
    for (index, (key, value)) in FILTER_STATE_KEYS.iter().zip(values).enumerate() {
        if !as_keys.includes_index(index) {
            continue;
        }
        let result = match value {
            Some(StateValue::Text(text)) => host.set_filter_state(key, text),
            // The one number is decide_us, whole microseconds (exact in an
            // f64 below 2^53), so it prints as the integer it is; this keeps
            // f64's Display, and its float formatting code, out of the module.
            Some(StateValue::Number(number)) => {
                host.set_filter_state(key, &(number as u64).to_string())
            }
            None => continue,
        };
        if let Err(error) = result {
            log::warn!("filter state {key} not set: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FILTER_STATE_KEYS;
    use crate::config::FILTER_STATE_FIELDS;

    #[test]
    fn filter_state_keys_follow_the_field_names() {
        for (key, field) in FILTER_STATE_KEYS.iter().zip(FILTER_STATE_FIELDS) {
            assert_eq!(*key, format!("mcp_policy_{field}"));
        }
    }
}
