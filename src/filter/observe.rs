//! What the filter tells operators about each decision: Envoy counter
//! metrics, and filter state (`wasm.mcp_policy_*`) that access logs and later
//! filters read. Argument values and tokens never appear; only the top-level
//! argument keys do.

use crate::config::FilterStateFields;
use crate::host::Host;

// Every metric name starts with `mcp_policy.`; Envoy exports them as
// `wasmcustom.mcp_policy.*` (`wasmcustom_mcp_policy_*` in Prometheus).
/// The tool bucket for tools the policy does not name.
pub const OTHER_TOOL: &str = "other";

/// Counter metrics outside the per-decision ones.
pub const BODY_BYTES_INSPECTED: &str = "mcp_policy.body_bytes_inspected";
pub const COUNTER_CAS_RETRIES: &str = "mcp_policy.counter_cas_retries";
pub const FAIL_CLOSED: &str = "mcp_policy.fail_closed";
pub const REFUNDS: &str = "mcp_policy.refunds";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    Hidden,
    RateLimited,
    InvalidRequest,
    Unauthenticated,
    DryRunWouldDeny,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Hidden => "hidden",
            Outcome::RateLimited => "rate_limited",
            Outcome::InvalidRequest => "invalid_request",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::DryRunWouldDeny => "dry_run_would_deny",
        }
    }

    /// `mcp_policy.decisions.outcome.<outcome>`.
    fn metric(self) -> &'static str {
        match self {
            Outcome::Allowed => "mcp_policy.decisions.outcome.allowed",
            Outcome::Denied => "mcp_policy.decisions.outcome.denied",
            Outcome::Hidden => "mcp_policy.decisions.outcome.hidden",
            Outcome::RateLimited => "mcp_policy.decisions.outcome.rate_limited",
            Outcome::InvalidRequest => "mcp_policy.decisions.outcome.invalid_request",
            Outcome::Unauthenticated => "mcp_policy.decisions.outcome.unauthenticated",
            Outcome::DryRunWouldDeny => "mcp_policy.decisions.outcome.dry_run_would_deny",
        }
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
    pub session: Option<String>,
    pub protocol_version: Option<String>,
    pub method: Option<String>,
    pub target: Option<String>,
    pub rule: Option<String>,
    /// `count/max, resets at <unix seconds>` where a limit was involved.
    pub limit: Option<String>,
    pub arg_keys: Vec<String>,
    pub decide_micros: u64,
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

/// Counts the decision, and publishes the audit fields `published` names.
pub fn publish(
    host: &dyn Host,
    outcome: Outcome,
    audit: &Audit,
    tool: Option<&str>,
    published: FilterStateFields,
) {
    count(host, outcome.metric(), 1);
    if let Some(tool) = tool {
        count(host, &tool_metric(tool, outcome), 1);
    }
    if published == FilterStateFields::NONE {
        return;
    }
    let decide_micros = audit.decide_micros.to_string();
    let arg_keys = audit.arg_keys.join(",");
    let fields: [(&str, &str, Option<&str>); 10] = [
        ("decision", "mcp_policy_decision", Some(outcome.as_str())),
        ("rule", "mcp_policy_rule", audit.rule.as_deref()),
        ("grant", "mcp_policy_grant", audit.grant.as_deref()),
        ("session", "mcp_policy_session", audit.session.as_deref()),
        (
            "protocol",
            "mcp_policy_protocol",
            audit.protocol_version.as_deref(),
        ),
        ("method", "mcp_policy_method", audit.method.as_deref()),
        ("tool", "mcp_policy_tool", audit.target.as_deref()),
        ("limit", "mcp_policy_limit", audit.limit.as_deref()),
        (
            "arg_keys",
            "mcp_policy_arg_keys",
            (!arg_keys.is_empty()).then_some(arg_keys.as_str()),
        ),
        (
            "decide_us",
            "mcp_policy_decide_us",
            Some(decide_micros.as_str()),
        ),
    ];
    for (field, name, value) in fields {
        let Some(value) = value.filter(|_| published.includes(field)) else {
            continue;
        };
        if let Err(error) = host.set_filter_state(name, value) {
            log::warn!("filter state {name} not set: {error}");
        }
    }
}
