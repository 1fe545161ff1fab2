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
    // Envoy never sent it: its response flags say so (connection failure).
    let host = FakeHost::default();
    host.properties
        .borrow_mut()
        .insert("response/flags".into(), 0x20u64.to_le_bytes().to_vec());
    host.properties.borrow_mut().insert(
        "upstream/request_attempt_count".into(),
        1u64.to_le_bytes().to_vec(),
    );
    let limited = config(limited_policy(), json!({}));
    assert_eq!(
        limited_call_with_response(
            &host,
            &limited,
            "503",
            "text/plain",
            "upstream connect error"
        ),
        Action::Continue
    );
    assert_eq!(
        limited_call_with_response(&host, &limited, "200", "application/json", ""),
        Action::Continue,
        "not refunded after a connection failure"
    );
    // A timeout, a retried connection failure, a plain 503: the call may have run.
    for (flags, attempts) in [(0x4u64, 1u64), (0x20, 2), (0, 1)] {
        let host = FakeHost::default();
        host.properties
            .borrow_mut()
            .insert("response/flags".into(), flags.to_le_bytes().to_vec());
        host.properties.borrow_mut().insert(
            "upstream/request_attempt_count".into(),
            attempts.to_le_bytes().to_vec(),
        );
        let config = config(limited_policy(), json!({}));
        assert_eq!(
            limited_call_with_response(
                &host,
                &config,
                "504",
                "text/plain",
                "upstream request timeout"
            ),
            Action::Continue
        );
        assert_eq!(
            limited_call_with_response(&host, &config, "200", "application/json", ""),
            Action::Pause,
            "refunded after flags {flags:#x} and {attempts} attempts"
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
        let key = "metadata/filter_metadata/envoy.filters.http.jwt_authn/jwt_payload".to_string();
        let payload = match user {
            Some(user) => json!({"iss": "https://idp", "sub": user}),
            None => json!({"iss": "https://idp"}),
        };
        host.properties
            .borrow_mut()
            .insert(key, crate::identity::claims::encode_value(&payload));
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

#[test]
fn a_grant_filling_its_share_never_crowds_out_another_grants_limits() {
    let policy = json!({"version":"1","default":"deny","tools":{
        "send_text":{"limits":[
            {"counter":"per_user","window":"hour","max":1000,"scope":"header:x-user"},
            {"counter":"per_grant","window":"hour","max":3,"scope":"grant"},
            {"counter":"everyone","window":"hour","max":5,"scope":"global"}
        ]}
    }});
    let config = config(policy, json!({"counter_slots": 8}));
    let host = FakeHost::default();
    let call_as = |token: &str, user: &str, id: u64| {
        let mut filter = HttpFilter::new(Rc::clone(&config));
        let mut headers = post_headers(Some(token));
        headers.push(("x-user".into(), user.into()));
        send(&mut filter, &host, headers, &call("send_text", id))
    };
    // bob spends his grant budget on 3 users, then fills his own share.
    for user in 0..3 {
        assert_eq!(call_as(BOB, &format!("u{user}"), 1), Action::Continue);
    }
    for user in 3..200 {
        assert_eq!(call_as(BOB, &format!("u{user}"), 1), Action::Pause);
    }
    // alice's grant-scoped and global limits still admit exactly their max:
    // the global one has 2 units left after bob's 3.
    let admitted: usize = (0..10)
        .filter(|user| call_as(ALICE, &format!("a{user}"), 2) == Action::Continue)
        .count();
    assert_eq!(admitted, 2);
    let (_, reply) = reply_json(&host);
    assert_eq!(
        reply["result"]["_meta"]["mcp-policy/rule"],
        json!("/tools/send_text/limits/everyone")
    );
}

#[test]
fn a_refund_to_zero_frees_the_slot_for_another_counter() {
    let policy = json!({"version":"1","default":"deny","tools":{
        "send_text":{"limits":[{"counter":"per_user","window":"day","max":5,"scope":"header:x-user"}]}
    }});
    let limited = config(policy, json!({"counter_slots": 1}));
    let host = FakeHost::default();
    let call_as = |user: &str, status: &str| {
        let mut filter = HttpFilter::new(Rc::clone(&limited));
        let mut headers = post_headers(Some(ALICE));
        headers.push(("x-user".into(), user.into()));
        let action = send(&mut filter, &host, headers, &call("send_text", 1));
        if action == Action::Continue {
            *host.response_headers.borrow_mut() = vec![
                (":status".into(), status.into()),
                ("content-type".into(), "text/plain".into()),
            ];
            filter.on_response_headers(&host, true);
        }
        action
    };
    // One slot: a rejected call is refunded to zero and frees it at once...
    assert_eq!(call_as("first", "400"), Action::Continue);
    assert_eq!(
        call_as("second", "200"),
        Action::Continue,
        "the refunded slot was free"
    );
    // ...so the second user's live window now holds it.
    assert_eq!(call_as("first", "200"), Action::Pause);
}

#[test]
fn a_request_limit_counts_every_request_refused_ones_too() {
    let config = config(
        seed_policy(),
        json!({"request_limit": {"window": "minute", "max": 3}}),
    );
    let host = FakeHost::default();
    let mut statuses = Vec::new();
    for id in 0..5 {
        let mut filter = HttpFilter::new(Rc::clone(&config));
        // Denied calls count as much as allowed ones.
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("create_invoice", id),
        );
        statuses.push(host.last_reply().map(|reply| reply.status));
    }
    assert_eq!(
        statuses,
        [Some(200), Some(200), Some(200), Some(429), Some(429)]
    );
    let reply = host.last_reply().unwrap_or_else(|| panic!("no reply"));
    assert!(reply.headers.iter().any(|(name, _)| name == "retry-after"));
    assert_eq!(reply.details, "mcp_policy_rate_limited");
    // Another grant has its own.
    let mut filter = HttpFilter::new(Rc::clone(&config));
    send(
        &mut filter,
        &host,
        post_headers(Some(BOB)),
        &call("create_invoice", 9),
    );
    assert_eq!(host.last_reply().map(|reply| reply.status), Some(200));
}
