//! Metrics, filter state and response code details.

use serde_json::{json, Value};

use super::*;

#[test]
fn filter_state_publishes_only_the_configured_fields() {
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status","arguments":{"a":1}}});
    let everything = [
        "arg_keys",
        "decide_us",
        "decision",
        "grant",
        "identity",
        "method",
        "rule",
        "tool",
    ];
    for (settings, in_object, as_keys) in [
        (json!({}), &everything[..], &[][..]),
        (
            json!({"filter_state": ["decision", "tool"], "filter_state_keys": ["tool", "grant"]}),
            &["decision", "tool"][..],
            &["mcp_policy_grant", "mcp_policy_tool"][..],
        ),
        (
            json!({"filter_state": "none", "filter_state_keys": "all"}),
            &[][..],
            &[
                "mcp_policy_arg_keys",
                "mcp_policy_decide_us",
                "mcp_policy_decision",
                "mcp_policy_grant",
                "mcp_policy_identity",
                "mcp_policy_method",
                "mcp_policy_rule",
                "mcp_policy_tool",
            ][..],
        ),
        (json!({"filter_state": "none"}), &[][..], &[][..]),
    ] {
        let host = FakeHost::default();
        let config = config(seed_policy(), settings.clone());
        let mut filter = HttpFilter::new(Rc::clone(&config));
        assert_eq!(
            send(
                &mut filter,
                &host,
                post_headers(Some(ALICE)),
                call.to_string().as_bytes()
            ),
            Action::Continue
        );
        let object: Vec<String> = host
            .state_objects
            .borrow()
            .get(crate::filter::STATE_OBJECT)
            .and_then(Value::as_object)
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(object, in_object, "object with {settings}");
        let keys: Vec<String> = host.filter_state.borrow().keys().cloned().collect();
        assert_eq!(keys, as_keys, "keys with {settings}");
        assert_eq!(host.counter("mcp_policy.decisions.outcome.allowed"), 1);
    }
}

#[test]
fn decisions_are_counted_and_published_as_filter_state() {
    let host = FakeHost::default();
    let config = config(seed_policy(), json!({}));
    let mut filter = HttpFilter::new(Rc::clone(&config));
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status","arguments":{"secret_arg":"s3cr3t-value"}}});
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            body.to_string().as_bytes()
        ),
        Action::Continue
    );
    assert_eq!(host.counter("mcp_policy.decisions.outcome.allowed"), 1);
    assert_eq!(
        host.counter("mcp_policy.tool_decisions.tool.get_server_status.outcome.allowed"),
        1
    );
    assert_eq!(field(&host, "decision").as_deref(), Some("allowed"));
    assert_eq!(field(&host, "grant").as_deref(), Some("alice"));
    assert_eq!(field(&host, "tool").as_deref(), Some("get_server_status"));
    assert_eq!(
        field(&host, "rule").as_deref(),
        Some("/tools/get_server_status")
    );
    assert_eq!(field(&host, "arg_keys").as_deref(), Some("secret_arg"));
    assert!(host.counter("mcp_policy.body_bytes_inspected") > 0);
    let everything = format!("{:?}", host.state_objects.borrow());
    assert!(
        !everything.contains("s3cr3t-value") && !everything.contains(ALICE),
        "{everything}"
    );

    // A tool the policy does not name counts under `other`.
    let mut filter = HttpFilter::new(Rc::clone(&config));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("made_up_tool", 2),
    );
    assert_eq!(host.counter("mcp_policy.decisions.outcome.denied"), 1);
    assert_eq!(
        host.counter("mcp_policy.tool_decisions.tool.other.outcome.denied"),
        1
    );
    assert_eq!(field(&host, "rule").as_deref(), Some("(default deny)"));

    let mut filter = HttpFilter::new(Rc::clone(&config));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("delete_instance", 3),
    );
    assert_eq!(host.counter("mcp_policy.decisions.outcome.hidden"), 1);

    let mut filter = HttpFilter::new(Rc::clone(&config));
    send(
        &mut filter,
        &host,
        post_headers(None),
        &call("get_server_status", 4),
    );
    assert_eq!(
        host.counter("mcp_policy.decisions.outcome.unauthenticated"),
        1
    );

    let mut filter = HttpFilter::new(Rc::clone(&config));
    send(&mut filter, &host, post_headers(Some(ALICE)), b"{");
    assert_eq!(
        host.counter("mcp_policy.decisions.outcome.invalid_request"),
        1
    );
}

#[test]
fn every_kind_of_local_reply_names_itself_in_the_response_code_details() {
    let details = |headers: Vec<(String, String)>, body: &[u8]| {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        send(&mut filter, &host, headers, body);
        host.last_reply().map(|reply| reply.details)
    };
    let alice = || post_headers(Some(ALICE));
    assert_eq!(
        details(alice(), &call("create_invoice", 1)),
        Some("mcp_policy_denied")
    );
    assert_eq!(
        details(alice(), &call("delete_instance", 1)),
        Some("mcp_policy_hidden")
    );
    assert_eq!(
        details(post_headers(None), &call("get_server_status", 1)),
        Some("mcp_policy_unauthenticated")
    );
    assert_eq!(details(alice(), b"{"), Some("mcp_policy_invalid_json"));
    assert_eq!(
        details(alice(), br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
        Some("mcp_policy_invalid_request")
    );
    let mut text = alice();
    text.retain(|(name, _)| name != "content-type");
    text.push(("content-type".into(), "text/plain".into()));
    assert_eq!(
        details(text, b"{}"),
        Some("mcp_policy_unsupported_media_type")
    );
    assert_eq!(details(alice(), &call("get_server_status", 1)), None);
}

#[test]
fn a_hidden_tool_is_counted_under_its_own_name() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("delete_instance", 3),
    );
    assert_eq!(
        host.counter("mcp_policy.tool_decisions.tool.delete_instance.outcome.hidden"),
        1
    );
    assert_eq!(
        host.counter("mcp_policy.tool_decisions.tool.other.outcome.hidden"),
        0
    );
}
