//! The wrapper's `rate_limit_service`, and what limits it counts require.

use serde_json::json;

use super::super::rate_limit_service::FailureMode;
use super::{problems, ALICE_HASH};
use crate::config::Config;

const KEY: &str = "c2Vzc2lvbi1rZXktZm9yLXRlc3RzLW9ubHktMzJieXQ=";

fn wrapper(policy: serde_json::Value, extra: serde_json::Value) -> String {
    let mut wrapper = json!({
        "policy": policy,
        "session_keys": [KEY],
        "grants": [{"name": "alice", "token_sha256": [ALICE_HASH]}]
    });
    if let (Some(target), Some(extra)) = (wrapper.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    wrapper.to_string()
}

fn counted() -> serde_json::Value {
    json!({"version": "1", "default": "deny", "tools": {"a": {"limits": [
        {"counter": "a", "window": "minute", "max": 1, "counted_by": "rate_limit_service"}]}}})
}

#[test]
fn a_limit_the_service_counts_needs_the_service_and_the_counter_key() {
    let text = problems(&wrapper(counted(), json!({})));
    assert!(
        text.contains(
            "/rate_limit_service: a rate-limit service is required: limit /tools/a/limits/a"
        ),
        "{text}"
    );
    assert!(text.contains("/counter_key: a counter key is required: limit /tools/a/limits/a is counted by the rate-limit service"), "{text}");
    let config = Config::from_json_text(&wrapper(
        counted(),
        json!({"rate_limit_service": {"cluster": "rls", "failure_mode": "allow"}, "counter_key": KEY}),
    ))
    .unwrap_or_else(|error| panic!("{error}"));
    let service = config
        .settings
        .rate_limit_service
        .unwrap_or_else(|| panic!("no service"));
    assert_eq!(
        (service.cluster.as_str(), service.failure_mode),
        ("rls", FailureMode::Allow)
    );
}

#[test]
fn the_services_own_errors_name_their_pointers_and_a_bare_policy_cannot_use_it() {
    let text = problems(&wrapper(
        counted(),
        json!({"rate_limit_service": {"cluster": "rls", "retries": 3}, "counter_key": KEY}),
    ));
    assert!(
        text.contains("/rate_limit_service/retries: unknown field"),
        "{text}"
    );
    let text = problems(&counted().to_string());
    assert!(
        text.contains(
            "limit /tools/a/limits/a is counted by the rate-limit service, which only the wrapper"
        ),
        "{text}"
    );
}
