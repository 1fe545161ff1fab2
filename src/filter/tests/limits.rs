//! Rate limits: charging, dry run, refunds and scopes.

use serde_json::{json, Value};

use super::*;

#[test]
fn rate_limit_is_per_grant_and_shared_across_workers() {
    let store = MemoryStore::new();
    let workers = [
        FakeHost::with_store(store.clone()),
        FakeHost::with_store(store.clone()),
    ];
    for worker in &workers {
        worker.now_millis.set(1_795_505_460_000);
    }
    let config = config(seed_policy(), json!({}));
    for i in 0..30u64 {
        let host = &workers[(i % 2) as usize];
        let mut filter = HttpFilter::new(Rc::clone(&config));
        assert_eq!(
            send(
                &mut filter,
                host,
                post_headers(Some(ALICE)),
                &call("logout_instance", i)
            ),
            Action::Continue
        );
    }
    let host = &workers[0];
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            host,
            post_headers(Some(ALICE)),
            &call("logout_instance", 31)
        ),
        Action::Pause
    );
    let Some(reply) = host.last_reply() else {
        panic!("no reply")
    };
    assert!(reply
        .headers
        .contains(&("retry-after".to_string(), "60".to_string())));
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    assert_eq!(
        body["result"]["content"][0]["text"],
        json!("[POLICY DENIED] Rate limit of 30 per minute reached. Try again later.")
    );
    assert_eq!(
        body["result"]["_meta"]["mcp-policy/retryAfterSeconds"],
        json!(60)
    );
    assert_eq!(
        body["result"]["_meta"]["mcp-policy/rule"],
        json!("/tools/logout_instance/limits/logout_instance_rate")
    );

    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &workers[1],
            post_headers(Some(BOB)),
            &call("logout_instance", 1)
        ),
        Action::Continue
    );

    // the next window admits again
    workers[0].now_millis.set(1_795_505_520_000);
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &workers[0],
            post_headers(Some(ALICE)),
            &call("logout_instance", 32)
        ),
        Action::Continue
    );
}

#[test]
fn rate_limited_decisions_record_the_limit_state() {
    let host = FakeHost::default();
    host.now_millis.set(1_795_505_460_000);
    let config = config(seed_policy(), json!({}));
    for i in 0..31 {
        let mut filter = HttpFilter::new(Rc::clone(&config));
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("logout_instance", i),
        );
    }
    assert_eq!(host.counter("mcp_policy.decisions.outcome.rate_limited"), 1);
    assert_eq!(host.counter("mcp_policy.decisions.outcome.allowed"), 30);
    assert_eq!(
        field(&host, "limit").as_deref(),
        Some("30/30 resets_at=1795505520")
    );
    assert_eq!(
        field(&host, "rule").as_deref(),
        Some("/tools/logout_instance/limits/logout_instance_rate")
    );
}

#[test]
fn dry_run_forwards_what_enforcement_would_refuse() {
    let host = FakeHost::default();
    let mut policy = seed_policy();
    policy["mode"] = json!("dry_run");
    let mut filter = HttpFilter::new(config(policy, json!({})));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("create_invoice", 1)
        ),
        Action::Continue
    );
    assert_eq!(
        host.counter("mcp_policy.decisions.outcome.dry_run_would_deny"),
        1
    );
    assert_eq!(
        field(&host, "decision").as_deref(),
        Some("dry_run_would_deny")
    );
    assert_eq!(field(&host, "rule").as_deref(), Some("(default deny)"));
}

#[test]
fn dry_run_limits_count_in_shadow_and_never_refuse() {
    let host = FakeHost::default();
    let policy = json!({"version":"1","default":"allow","tools":{
        "send_text":{"limits":[{"counter":"texts","window":"minute","max":2,"mode":"dry_run"}]}}});
    let config = config(policy, json!({}));
    for i in 0..3 {
        let mut filter = HttpFilter::new(Rc::clone(&config));
        assert_eq!(
            send(
                &mut filter,
                &host,
                post_headers(Some(ALICE)),
                &call("send_text", i)
            ),
            Action::Continue
        );
    }
    assert_eq!(host.counter("mcp_policy.decisions.outcome.allowed"), 2);
    assert_eq!(
        host.counter("mcp_policy.decisions.outcome.dry_run_would_deny"),
        1
    );
    assert_eq!(
        field(&host, "rule").as_deref(),
        Some("/tools/send_text/limits/texts")
    );
}

#[test]
fn quota_comes_back_only_when_the_call_did_not_run() {
    let refunded = [
        ("500", "application/json", r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"x"}}"#),
        ("503", "text/plain", "upstream connect error"),
        ("400", "application/json", r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request"},"id":null}"#),
        ("200", "application/json", r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"x"}}"#),
        ("200", "text/event-stream", "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-1,\"message\":\"m\"}}\n\n"),
    ];
    for (status, content_type, body) in refunded {
        let host = FakeHost::default();
        let config = config(limited_policy(), json!({}));
        assert_eq!(
            limited_call_with_response(&host, &config, status, content_type, body),
            Action::Continue
        );
        assert_eq!(
            limited_call_with_response(&host, &config, "200", "application/json", ""),
            Action::Continue,
            "not refunded after {status} {body}"
        );
    }
    let kept = [
        (
            "200",
            "application/json",
            r#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":true}}"#,
        ),
        ("200", "text/event-stream", ": no reply before the end\n\n"),
        ("202", "", ""),
    ];
    for (status, content_type, body) in kept {
        let host = FakeHost::default();
        let config = config(limited_policy(), json!({}));
        assert_eq!(
            limited_call_with_response(&host, &config, status, content_type, body),
            Action::Continue
        );
        assert_eq!(
            limited_call_with_response(&host, &config, "200", "application/json", ""),
            Action::Pause,
            "refunded after {status} {body}"
        );
    }
}

#[test]
fn a_client_that_disconnects_keeps_its_charge() {
    let host = FakeHost::default();
    let config = config(limited_policy(), json!({}));
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("send_text", 1)
        ),
        Action::Continue
    );
    drop(filter);
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("send_text", 2)
        ),
        Action::Pause
    );
}

#[test]
fn claim_scopes_count_per_jwt_claim_from_jwt_authn_metadata() {
    let host = FakeHost::default();
    let policy = json!({"version":"1","default":"deny","tools":{
        "send_text":{"limits":[{"counter":"per-user","window":"hour","max":1,"scope":"claim:sub"}]}}});
    let config = config(policy, json!({}));
    let as_user = |user: Option<&str>, id| {
        let key =
            "metadata/filter_metadata/envoy.filters.http.jwt_authn/jwt_payload/sub".to_string();
        match user {
            Some(user) => host
                .properties
                .borrow_mut()
                .insert(key, user.as_bytes().to_vec()),
            None => host.properties.borrow_mut().remove(&key),
        };
        let mut filter = HttpFilter::new(Rc::clone(&config));
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("send_text", id),
        )
    };
    assert_eq!(as_user(Some("user-1"), 1), Action::Continue);
    assert_eq!(as_user(Some("user-1"), 2), Action::Pause);
    assert_eq!(as_user(Some("user-2"), 3), Action::Continue);
    assert_eq!(as_user(None, 4), Action::Continue);
    assert_eq!(
        as_user(None, 5),
        Action::Pause,
        "requests without the claim share one budget"
    );
}
