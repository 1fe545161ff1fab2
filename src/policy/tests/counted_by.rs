//! `counted_by`: which limits the rate-limit service counts, and what such
//! a limit must be.

use super::*;

#[test]
fn a_limit_or_the_whole_policy_may_be_counted_by_the_service() {
    let policy = load(json!({"version": "1", "default": "deny", "tools": {
        "a": {"limits": [{"counter": "a", "window": "minute", "max": 1, "counted_by": "rate_limit_service"}]},
        "b": {"limits": [{"counter": "b", "window": "minute", "max": 1}]}}}));
    let by_service = |policy: &Policy, counter: &str| {
        policy
            .limits()
            .into_iter()
            .find(|limit| limit.counter == counter)
            .map(Limit::counted_by_service)
    };
    assert_eq!(by_service(&policy, "a"), Some(true));
    assert_eq!(by_service(&policy, "b"), Some(false));

    let policy = load(
        json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
        "all_tools": {"limits": [{"counter": "all", "window": 86400, "max": 9}]},
        "tools": {
            "a": {"limits": [{"counter": "a", "window": 3600, "max": 1}]},
            "b": {"limits": [{"counter": "b", "window": 90, "max": 1, "counted_by": "envoy"}]},
            "c": {"limits": [{"counter": "c", "window": "hour", "max": 1, "mode": "dry_run"}]}}}),
    );
    assert_eq!(by_service(&policy, "all"), Some(true));
    assert_eq!(by_service(&policy, "a"), Some(true));
    assert_eq!(
        by_service(&policy, "b"),
        Some(false),
        "a limit's own counted_by wins"
    );
    assert_eq!(
        by_service(&policy, "c"),
        Some(false),
        "dry-run limits stay in shared data"
    );
}

#[test]
fn a_limit_the_service_counts_needs_a_unit_for_its_window_and_a_uint32_max() {
    let errors = value_errors(
        json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
        "tools": {
            "a": {"limits": [{"counter": "a", "window": 90, "max": 1}]},
            "b": {"limits": [{"counter": "b", "window": "minute", "max": 4_294_967_296_u64}]},
            "c": {"limits": [{"counter": "c", "window": 7, "max": 1, "mode": "dry_run"}]}}}),
    );
    let paths: Vec<&str> = errors.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/tools/a/limits/0/window",
            "/tools/b/limits/0/max",
            "/tools/c/limits/0/window"
        ]
    );
    assert!(errors[0].1.contains("90 seconds"), "{}", errors[0].1);
    assert!(
        errors[0].1.contains("\"counted_by\": \"envoy\""),
        "{}",
        errors[0].1
    );
}

#[test]
fn counted_by_takes_two_values() {
    let errors = value_errors(
        json!({"version": "1", "default": "deny", "counted_by": "redis",
        "tools": {"a": {"limits": [{"counter": "a", "window": "minute", "max": 1, "counted_by": true}]}}}),
    );
    let paths: Vec<&str> = errors.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(paths, ["/counted_by", "/tools/a/limits/0/counted_by"]);
}
