//! Step 1 and 2: requests admitted, decided, forwarded or refused.

use serde_json::{json, Value};

use super::*;

#[test]
fn allowed_call_is_forwarded_without_credentials() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("get_server_status", 1)
        ),
        Action::Continue
    );
    assert!(host.replies.borrow().is_empty());
    assert_eq!(host.request_header("authorization"), None);
    assert_eq!(host.request_header("cookie"), None);
    // Its reply is not read, so it may come back compressed.
    assert_eq!(
        host.request_header("accept-encoding").as_deref(),
        Some("gzip")
    );
}

#[test]
fn responses_the_filter_reads_are_asked_for_unencoded() {
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}).to_string();
    let limited = call("logout_instance", 3);
    for body in [list.as_bytes(), &limited[..]] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        assert_eq!(
            send(&mut filter, &host, post_headers(Some(ALICE)), body),
            Action::Continue
        );
        assert_eq!(
            host.request_header("accept-encoding").as_deref(),
            Some("identity"),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn headers_are_held_until_the_body_is_decided() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    *host.request_headers.borrow_mut() = post_headers(Some(ALICE));
    assert_eq!(filter.on_request_headers(&host, false), Action::Pause);
    let body = call("get_server_status", 1);
    let (first, _) = body.split_at(10);
    *host.request_body.borrow_mut() = first.to_vec();
    assert_eq!(
        filter.on_request_body(&host, first.len(), false),
        Action::Pause
    );
    *host.request_body.borrow_mut() = body.clone();
    assert_eq!(
        filter.on_request_body(&host, body.len(), true),
        Action::Continue
    );
}

#[test]
fn trailers_end_the_body() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    *host.request_headers.borrow_mut() = post_headers(Some(ALICE));
    assert_eq!(filter.on_request_headers(&host, false), Action::Pause);
    let body = call("create_invoice", 4);
    *host.request_body.borrow_mut() = body.clone();
    assert_eq!(
        filter.on_request_body(&host, body.len(), false),
        Action::Pause
    );
    assert_eq!(filter.on_request_trailers(&host), Action::Pause);
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["isError"], json!(true));
}

#[test]
fn denied_call_gets_policylayer_denial() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("create_invoice", 9)
        ),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(reply["id"], json!(9));
    assert_eq!(reply["result"]["isError"], json!(true));
    let text = reply["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(text.starts_with("[POLICY DENIED] "), "{text}");
    assert_eq!(
        reply["result"]["_meta"]["mcp-policy/rule"],
        json!("(default deny)")
    );
}

#[test]
fn hidden_tool_is_an_unknown_tool() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("delete_instance", 3),
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(
        reply,
        json!({"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Unknown tool: delete_instance"}})
    );
}

#[test]
fn missing_or_unknown_token_is_401_at_the_headers() {
    for token in [None, Some("wrong")] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        *host.request_headers.borrow_mut() = post_headers(token);
        // Answered before any body byte is read: the body never matters.
        assert_eq!(filter.on_request_headers(&host, false), Action::Pause);
        assert_eq!(filter.on_request_body(&host, 10, false), Action::Continue);
        assert_eq!(host.counter("mcp_policy.body_bytes_inspected"), 0);
        let Some(reply) = host.last_reply() else {
            panic!("no reply")
        };
        assert_eq!(reply.status, 401);
        assert!(reply
            .headers
            .iter()
            .any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer")));
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        assert_eq!(body["id"], Value::Null);
        assert_eq!(body["error"]["code"], json!(crate::mcp::UNAUTHENTICATED));
    }
}

#[test]
fn bodyless_requests_need_a_token_too() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let get = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), "/mcp".to_string()),
    ];
    assert_eq!(send(&mut filter, &host, get.clone(), b""), Action::Pause);
    assert_eq!(host.last_reply().map(|r| r.status), Some(401));

    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let mut authorized = get;
    authorized.push(("authorization".into(), format!("Bearer {ALICE}")));
    assert_eq!(send(&mut filter, &host, authorized, b""), Action::Continue);
    assert!(host.replies.borrow().is_empty());
}

#[test]
fn post_without_body_is_a_parse_error() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        send(&mut filter, &host, post_headers(Some(ALICE)), b""),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (400, json!(-32700))
    );
}

#[test]
fn bare_policy_config_refuses_everyone_and_says_why() {
    let policy = r#"{"version":"1","default":"allow"}"#;
    let config = match Config::from_json_text(policy) {
        Ok(config) => Rc::new(config),
        Err(error) => panic!("{error}"),
    };
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config);
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("get_server_status", 1),
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 401);
    let message = reply["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("bare policy") && message.contains("grants"),
        "{message}"
    );
}

#[test]
fn malformed_bodies_are_400_and_keep_the_id() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        br#"{"jsonrpc":"2.0","id":12,"method":"#,
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (400, json!(-32700))
    );

    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        br#"{"jsonrpc":"2.0","id":13,"method":7}"#,
    );
    let (status, reply) = reply_json(&host);
    assert_eq!((status, reply["id"].clone()), (400, json!(13)));
}

#[test]
fn content_type_and_encoding_are_checked() {
    let cases = [
        (("content-type", "text/plain"), 415),
        (("content-encoding", "gzip"), 415),
        (("content-length", "99999999"), 413),
    ];
    for ((name, value), expected) in cases {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        let mut headers = post_headers(Some(ALICE));
        headers.retain(|(n, _)| n != name);
        headers.push((name.to_string(), value.to_string()));
        assert_eq!(
            send(&mut filter, &host, headers, &call("get_server_status", 1)),
            Action::Pause
        );
        assert_eq!(
            host.last_reply().map(|r| r.status),
            Some(expected),
            "{name}: {value}"
        );
    }
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let mut headers = post_headers(Some(ALICE));
    headers.retain(|(n, _)| n != "content-type");
    headers.push((
        "Content-Type".into(),
        "Application/JSON; charset=utf-8".into(),
    ));
    assert_eq!(
        send(&mut filter, &host, headers, &call("get_server_status", 1)),
        Action::Continue
    );
}

#[test]
fn body_over_the_limit_is_413_as_it_streams() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({"max_body_bytes": 100})));
    *host.request_headers.borrow_mut() = post_headers(Some(ALICE));
    assert_eq!(filter.on_request_headers(&host, false), Action::Pause);
    *host.request_body.borrow_mut() = vec![b' '; 101];
    assert_eq!(filter.on_request_body(&host, 101, false), Action::Pause);
    assert_eq!(host.last_reply().map(|r| r.status), Some(413));
}

#[test]
fn batch_with_a_refused_element_forwards_nothing() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status"}},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_invoice","arguments":{}}}
    ]);
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            batch.to_string().as_bytes()
        ),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 200);
    let Some(replies) = reply.as_array() else {
        panic!("not an array: {reply}")
    };
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0]["id"], json!(1));
    assert_eq!(replies[0]["error"]["code"], json!(-32600));
    assert_eq!(replies[1]["id"], json!(2));
    assert_eq!(replies[1]["result"]["isError"], json!(true));

    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let allowed = json!([
        {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status"}},
        {"jsonrpc":"2.0","id":2,"method":"tools/list"}
    ]);
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            allowed.to_string().as_bytes()
        ),
        Action::Continue
    );
}

#[test]
fn sessions_are_sealed_for_the_grant_the_upstream_issued_them_to() {
    let host = FakeHost::default();
    let config = config(seed_policy(), json!({}));
    // alice's initialize is answered with a session id: she receives it sealed.
    let mut filter = HttpFilter::new(Rc::clone(&config));
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}).to_string();
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            init.as_bytes()
        ),
        Action::Continue
    );
    *host.response_headers.borrow_mut() = vec![("mcp-session-id".into(), "s-1".into())];
    filter.on_response_headers(&host, true);
    let sealed = host.response_header("mcp-session-id").unwrap_or_default();
    assert!(sealed.starts_with("s-1.") && sealed.len() > 10, "{sealed}");
    assert!(sealed.bytes().all(|b| (0x21..=0x7e).contains(&b)));

    let with_session = |token, session: &str| {
        let mut headers = post_headers(Some(token));
        headers.push(("Mcp-Session-Id".into(), session.to_string()));
        headers
    };
    // alice's sealed id reaches the upstream as its own id.
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &host,
            with_session(ALICE, &sealed),
            &call("get_server_status", 1)
        ),
        Action::Continue
    );
    assert_eq!(
        host.request_header("mcp-session-id").as_deref(),
        Some("s-1")
    );
    // bob with alice's id, alice with the raw id, and a forged seal: unknown.
    for (token, session) in [
        (BOB, sealed.clone()),
        (ALICE, "s-1".to_string()),
        (ALICE, format!("s-2{}", &sealed[3..])),
        (ALICE, "made-up".to_string()),
    ] {
        let mut filter = HttpFilter::new(Rc::clone(&config));
        assert_eq!(
            send(
                &mut filter,
                &host,
                with_session(token, &session),
                &call("get_server_status", 2)
            ),
            Action::Pause,
            "{session}"
        );
        let (status, reply) = reply_json(&host);
        assert_eq!(status, 404);
        assert_eq!(reply["error"]["code"], json!(-32001));
        assert_eq!(
            host.last_reply().map(|r| r.details),
            Some("mcp_policy_session_not_found")
        );
    }
    // No state was kept: nothing in the shared store.
    assert!(host.store.is_empty(), "{:?}", host.store.keys());
}

#[test]
fn batches_are_refused_from_protocol_2025_06_18_on() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let mut headers = post_headers(Some(ALICE));
    headers.push(("MCP-Protocol-Version".into(), "2025-06-18".into()));
    let batch = json!([{"jsonrpc":"2.0","id":1,"method":"ping"}]).to_string();
    assert_eq!(
        send(&mut filter, &host, headers, batch.as_bytes()),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(
        (status, reply["error"]["code"].clone()),
        (400, json!(-32600))
    );
}

#[test]
fn mirrored_headers_must_agree_with_the_body_in_2026() {
    let host = FakeHost::default();
    let config = config(seed_policy(), json!({}));
    let modern = |extra: &[(&str, &str)]| {
        let mut headers = post_headers(Some(ALICE));
        headers.push(("MCP-Protocol-Version".into(), "2026-07-28".into()));
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        headers
    };
    let mut filter = HttpFilter::new(Rc::clone(&config));
    let headers = modern(&[
        ("Mcp-Method", "tools/list"),
        ("Mcp-Name", "get_server_status"),
    ]);
    assert_eq!(
        send(&mut filter, &host, headers, &call("get_server_status", 5)),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(
        (status, reply["error"]["code"].clone(), reply["id"].clone()),
        (400, json!(-32020), json!(5))
    );

    let mut filter = HttpFilter::new(Rc::clone(&config));
    let headers = modern(&[
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "get_server_status"),
    ]);
    assert_eq!(
        send(&mut filter, &host, headers, &call("get_server_status", 6)),
        Action::Continue
    );
}

#[test]
fn an_unknown_protocol_version_is_refused_never_guessed() {
    let refused = |version: &str, body: Value| {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        let mut headers = post_headers(Some(ALICE));
        headers.push(("MCP-Protocol-Version".into(), version.into()));
        let action = send(&mut filter, &host, headers, body.to_string().as_bytes());
        let reply = host
            .last_reply()
            .map(|_| reply_json(&host))
            .unwrap_or((0, Value::Null));
        (action, reply)
    };
    let call =
        json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_server_status"}});
    for version in ["2099-01-01", "garbage", "2025-06-19"] {
        let (action, (status, reply)) = refused(version, call.clone());
        assert_eq!((action, status), (Action::Pause, 400), "{version}");
        assert_eq!(reply["error"]["code"], json!(-32000), "{version}");
        assert_eq!(reply["id"], json!(4));
        let message = reply["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains("Unsupported protocol version") && message.contains("2025-11-25"),
            "{message}"
        );
    }
    // Under the 2026-07-28 envelope: -32022 with the versions to negotiate from.
    let mut modern = call.clone();
    modern["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2099-01-01"});
    let (_, (status, reply)) = refused("2099-01-01", modern);
    assert_eq!(status, 400);
    assert_eq!(reply["error"]["code"], json!(-32022));
    assert_eq!(
        reply["error"]["data"],
        json!({"supported": ["2026-07-28"], "requested": "2099-01-01"})
    );
    // initialize negotiates its version itself; known versions pass.
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2099-01-01"}});
    assert_eq!(refused("2099-01-01", init).0, Action::Continue);
    let (action, reply) = refused("2025-11-25", call);
    assert_eq!(action, Action::Continue, "{reply:?}");
}
