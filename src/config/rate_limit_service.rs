//! The wrapper's `rate_limit_service`: the service that counts the limits
//! marked `"counted_by": "rate_limit_service"`, shared by every replica.
//!
//! ```json
//! "rate_limit_service": {
//!   "cluster": "mcp_policy_rls",
//!   "domain": "mcp_policy",
//!   "timeout_ms": 200,
//!   "failure_mode": "deny",
//!   "refunds": false
//! }
//! ```

use serde_json::Value;

use crate::rate_limit_service::grpc_service;

pub const DEFAULT_DOMAIN: &str = "mcp_policy";
pub const DEFAULT_TIMEOUT_MS: u32 = 200;
const MAX_TIMEOUT_MS: u64 = 10_000;
const FIELDS: [&str; 5] = ["cluster", "domain", "timeout_ms", "failure_mode", "refunds"];

/// What the filter does when the service cannot answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureMode {
    /// Refuse the call (500), counted in `mcp_policy_fail_closed`.
    Deny,
    /// Admit it, counted in shared data only (its local limits), and count
    /// it in `mcp_policy_rls_failed_open`.
    Allow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitService {
    /// The Envoy cluster (HTTP/2) that reaches the service.
    pub cluster: String,
    /// The `domain` of every request: envoyproxy/ratelimit's configuration
    /// domain, Limitador's namespace.
    pub domain: String,
    pub timeout_ms: u32,
    pub failure_mode: FailureMode,
    /// The service gives units back on `is_negative_hits` (mcp-policy-rls
    /// does; envoyproxy/ratelimit and Limitador would count them as more
    /// hits): only then does the filter send refunds.
    pub refunds: bool,
    /// The serialized `GrpcService` naming `cluster`, as dispatched.
    pub grpc_service: Vec<u8>,
}

/// `(JSON pointer, message)` of each problem.
pub type Problems = Vec<(String, String)>;

pub fn parse(value: &Value) -> Result<RateLimitService, Problems> {
    const AT: &str = "/rate_limit_service";
    let mut problems = Problems::new();
    let Some(object) = value.as_object() else {
        return Err(vec![(
            AT.to_owned(),
            "must be an object: {\"cluster\": \"<Envoy cluster>\", \"domain\", \"timeout_ms\", \"failure_mode\", \"refunds\"}".to_owned(),
        )]);
    };
    for key in object.keys().filter(|key| !FIELDS.contains(&key.as_str())) {
        problems.push((
            format!("{AT}/{}", key.replace('~', "~0").replace('/', "~1")),
            format!(
                "unknown field \"{key}\"; expected one of {}",
                FIELDS.join(", ")
            ),
        ));
    }
    let mut text = |field: &str, default: Option<&str>| match (object.get(field), default) {
        (Some(Value::String(text)), _) if !text.is_empty() => Some(text.clone()),
        (None, Some(default)) => Some(default.to_owned()),
        (None, None) => {
            problems.push((
                format!("{AT}/{field}"),
                "required: the Envoy cluster (HTTP/2) that reaches the rate-limit service"
                    .to_owned(),
            ));
            None
        }
        (Some(_), _) => {
            problems.push((
                format!("{AT}/{field}"),
                "must be a non-empty string".to_owned(),
            ));
            None
        }
    };
    let cluster = text("cluster", None);
    let domain = text("domain", Some(DEFAULT_DOMAIN));
    let timeout_ms = match object.get("timeout_ms") {
        None => Some(DEFAULT_TIMEOUT_MS),
        Some(value) => match value
            .as_u64()
            .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
        {
            Some(ms) => u32::try_from(ms).ok(),
            None => {
                problems.push((
                    format!("{AT}/timeout_ms"),
                    format!("must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}"),
                ));
                None
            }
        },
    };
    let failure_mode = match object.get("failure_mode") {
        None => Some(FailureMode::Deny),
        Some(Value::String(mode)) if mode == "deny" => Some(FailureMode::Deny),
        Some(Value::String(mode)) if mode == "allow" => Some(FailureMode::Allow),
        Some(_) => {
            problems.push((
                format!("{AT}/failure_mode"),
                "must be \"deny\" (refuse calls while the service cannot answer) or \"allow\" (admit them, uncounted by the service)".to_owned(),
            ));
            None
        }
    };
    let refunds = match object.get("refunds") {
        None => Some(false),
        Some(Value::Bool(refunds)) => Some(*refunds),
        Some(_) => {
            problems.push((format!("{AT}/refunds"), "must be true or false".to_owned()));
            None
        }
    };
    match (cluster, domain, timeout_ms, failure_mode, refunds) {
        (Some(cluster), Some(domain), Some(timeout_ms), Some(failure_mode), Some(refunds))
            if problems.is_empty() =>
        {
            Ok(RateLimitService {
                grpc_service: grpc_service(&cluster),
                cluster,
                domain,
                timeout_ms,
                failure_mode,
                refunds,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_apply_to_all_but_the_cluster() {
        let service = parse(&json!({"cluster": "rls"})).unwrap();
        assert_eq!(
            (
                service.domain.as_str(),
                service.timeout_ms,
                service.failure_mode,
                service.refunds
            ),
            (DEFAULT_DOMAIN, DEFAULT_TIMEOUT_MS, FailureMode::Deny, false)
        );
        assert_eq!(service.grpc_service, grpc_service("rls"));
        let service = parse(&json!({"cluster": "rls", "domain": "d", "timeout_ms": 50,
                                    "failure_mode": "allow", "refunds": true}))
        .unwrap();
        assert_eq!(
            (
                service.domain.as_str(),
                service.timeout_ms,
                service.failure_mode,
                service.refunds
            ),
            ("d", 50, FailureMode::Allow, true)
        );
    }

    #[test]
    fn every_problem_names_its_pointer() {
        let problems = parse(
            &json!({"domain": "", "timeout_ms": 0, "failure_mode": "open",
                                     "refunds": "yes", "clusters": "x"}),
        )
        .unwrap_err();
        let pointers: Vec<&str> = problems
            .iter()
            .map(|(pointer, _)| pointer.as_str())
            .collect();
        assert_eq!(
            pointers,
            [
                "/rate_limit_service/clusters",
                "/rate_limit_service/cluster",
                "/rate_limit_service/domain",
                "/rate_limit_service/timeout_ms",
                "/rate_limit_service/failure_mode",
                "/rate_limit_service/refunds",
            ]
        );
        assert!(parse(&json!("rls")).is_err());
        assert!(parse(&json!({"cluster": "rls", "timeout_ms": 10_001})).is_err());
    }
}
