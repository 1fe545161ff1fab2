//! The filter state machine driven through the fake host.

use std::rc::Rc;

use serde_json::{json, Value};

use super::HttpFilter;
use crate::config::Config;
use crate::counter::MemoryStore;
use crate::host::fake::FakeHost;
use crate::host::Action;

const ALICE: &str = "demo-token-alice";
const BOB: &str = "demo-token-bob";

fn config(policy: Value, extra: Value) -> Rc<Config> {
    let mut wrapper = json!({
        "policy": policy,
        "grants": [
            {"name": "alice", "token_sha256": ["1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40"]},
            {"name": "bob", "token_sha256": ["dafd3cb82dc96934e400d5d835cd9b3ddb0233dc7aa4850ad64390e16ce31a74"]}
        ]
    });
    if let (Some(target), Some(extra)) = (wrapper.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
    match Config::from_json_text(&wrapper.to_string()) {
        Ok(config) => Rc::new(config),
        Err(error) => panic!("test config invalid: {error}"),
    }
}

fn seed_policy() -> Value {
    json!({"version":"1","default":"deny","hide":["delete_instance"],"tools":{
        "get_server_status":{},
        "logout_instance":{"limits":[{"counter":"logout_instance_rate","window":"minute","max":30,"scope":"grant"}]}
    }})
}

fn post_headers(token: Option<&str>) -> Vec<(String, String)> {
    let mut headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), "/mcp".to_string()),
        ("content-type".to_string(), "application/json".to_string()),
        ("cookie".to_string(), "sid=1".to_string()),
        ("accept-encoding".to_string(), "gzip".to_string()),
    ];
    if let Some(token) = token {
        headers.push(("authorization".to_string(), format!("Bearer {token}")));
    }
    headers
}

/// Runs one request through a filter; returns the request-side action.
fn send(
    filter: &mut HttpFilter,
    host: &FakeHost,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Action {
    *host.request_headers.borrow_mut() = headers;
    host.replies.borrow_mut().clear();
    if body.is_empty() {
        return filter.on_request_headers(host, true);
    }
    let action = filter.on_request_headers(host, false);
    if action == Action::Continue || !host.replies.borrow().is_empty() {
        return action;
    }
    *host.request_body.borrow_mut() = body.to_vec();
    filter.on_request_body(host, body.len(), true)
}

fn call(tool: &str, id: u64) -> Vec<u8> {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"instance":"x"}}})
        .to_string()
        .into_bytes()
}

fn reply_json(host: &FakeHost) -> (u32, Value) {
    let Some(reply) = host.last_reply() else {
        panic!("no local reply")
    };
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

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
fn missing_or_unknown_token_is_401_with_the_request_id() {
    for token in [None, Some("wrong")] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        assert_eq!(
            send(
                &mut filter,
                &host,
                post_headers(token),
                &call("get_server_status", 77)
            ),
            Action::Pause
        );
        let Some(reply) = host.last_reply() else {
            panic!("no reply")
        };
        assert_eq!(reply.status, 401);
        assert!(reply
            .headers
            .iter()
            .any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer")));
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        assert_eq!(body["id"], json!(77));
        assert_eq!(body["error"]["code"], json!(super::UNAUTHENTICATED));
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
fn counter_store_failure_fails_closed() {
    let host = FakeHost::default();
    host.store.fail_next_sets(100);
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("logout_instance", 1)
        ),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(reply["result"]["isError"], json!(true));
}

#[test]
fn host_failure_fails_closed() {
    let host = FakeHost::default();
    host.broken_headers.set(true);
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(filter.on_request_headers(&host, false), Action::Pause);
    assert_eq!(host.last_reply().map(|r| r.status), Some(500));
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

fn tools_list_response(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"result":{"tools":[
        {"name":"get_server_status","inputSchema":{"type":"object"}},
        {"name":"delete_instance","inputSchema":{"type":"object"}},
        {"name":"create_invoice","inputSchema":{"type":"object"}}
    ],"nextCursor":"abc"}})
}

fn listed_names(body: &Value) -> Vec<String> {
    body["result"]["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn forward_tools_list(filter: &mut HttpFilter, host: &FakeHost, id: u64) {
    let request = json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}).to_string();
    assert_eq!(
        send(filter, host, post_headers(Some(ALICE)), request.as_bytes()),
        Action::Continue
    );
}

#[test]
fn tools_list_json_response_loses_hidden_tools() {
    for (hide_denied, expected) in [
        (false, vec!["get_server_status", "create_invoice"]),
        (true, vec!["get_server_status"]),
    ] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(
            seed_policy(),
            json!({"hide_denied_tools": hide_denied}),
        ));
        forward_tools_list(&mut filter, &host, 5);
        let body = tools_list_response(5).to_string().into_bytes();
        *host.response_headers.borrow_mut() = vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), body.len().to_string()),
        ];
        assert_eq!(filter.on_response_headers(&host, false), Action::Continue);
        assert_eq!(host.response_header("content-length"), None);
        *host.response_body.borrow_mut() = body.clone();
        assert_eq!(
            filter.on_response_body(&host, body.len(), false),
            Action::Pause
        );
        assert_eq!(
            filter.on_response_body(&host, body.len(), true),
            Action::Continue
        );
        let rewritten: Value =
            serde_json::from_slice(&host.response_body.borrow()).unwrap_or(Value::Null);
        assert_eq!(listed_names(&rewritten), expected);
        assert_eq!(rewritten["result"]["nextCursor"], json!("abc"));
    }
}

#[test]
fn tools_list_event_stream_is_rewritten_as_it_streams() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    forward_tools_list(&mut filter, &host, 8);
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    assert_eq!(filter.on_response_headers(&host, false), Action::Continue);
    let progress = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n";
    let response = format!("event: message\ndata: {}\n\n", tools_list_response(8));
    let stream = format!("{progress}{response}");
    let mut emitted = Vec::new();
    let bytes = stream.as_bytes();
    let cut = progress.len() + 20;
    for (index, chunk) in [&bytes[..cut], &bytes[cut..]].iter().enumerate() {
        *host.response_body.borrow_mut() = chunk.to_vec();
        assert_eq!(
            filter.on_response_body(&host, chunk.len(), index == 1),
            Action::Continue
        );
        emitted.extend(host.response_body.borrow().iter());
    }
    let text = String::from_utf8(emitted).unwrap_or_default();
    assert!(
        text.starts_with(progress),
        "other events pass unchanged: {text}"
    );
    let data = text[progress.len()..]
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .collect::<Vec<_>>()
        .join("\n");
    let rewritten: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
    assert_eq!(
        listed_names(&rewritten),
        vec!["get_server_status", "create_invoice"]
    );
}

#[test]
fn local_replies_pass_the_response_path_untouched() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("create_invoice", 1),
    );
    *host.response_headers.borrow_mut() = vec![("content-type".into(), "application/json".into())];
    assert_eq!(filter.on_response_headers(&host, false), Action::Continue);
    *host.response_body.borrow_mut() = b"{}".to_vec();
    assert_eq!(filter.on_response_body(&host, 2, true), Action::Continue);
    assert_eq!(&*host.response_body.borrow(), b"{}");
}

#[test]
fn legacy_transport_forwards_a_ping_and_rewrites_its_reply_on_the_stream() {
    let store = MemoryStore::new();
    let post_host = FakeHost::with_store(store.clone());
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let mut headers = post_headers(Some(ALICE));
    headers.retain(|(n, _)| n != ":path");
    headers.push((":path".into(), "/messages/?session_id=abc123".into()));
    assert_eq!(
        send(
            &mut filter,
            &post_host,
            headers,
            &call("create_invoice", 21)
        ),
        Action::Continue
    );
    assert!(
        post_host.replies.borrow().is_empty(),
        "no local reply on the legacy transport"
    );
    let forwarded: Value =
        serde_json::from_slice(&post_host.request_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(forwarded, json!({"jsonrpc":"2.0","id":21,"method":"ping"}));
    let length = post_host.request_body.borrow().len().to_string();
    assert_eq!(post_host.request_header("content-length"), Some(length));

    // The client's GET stream, on another worker sharing the store.
    let get_host = FakeHost::with_store(store);
    let mut stream = HttpFilter::new(config(seed_policy(), json!({})));
    let get = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), "/sse".to_string()),
        ("authorization".to_string(), format!("Bearer {ALICE}")),
    ];
    assert_eq!(send(&mut stream, &get_host, get, b""), Action::Continue);
    *get_host.response_headers.borrow_mut() =
        vec![("content-type".into(), "text/event-stream".into())];
    assert_eq!(
        stream.on_response_headers(&get_host, false),
        Action::Continue
    );
    let events = concat!(
        "event: endpoint\ndata: /messages/?session_id=abc123\n\n",
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":21,\"result\":{}}\n\n",
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":22,\"result\":{}}\n\n"
    );
    *get_host.response_body.borrow_mut() = events.as_bytes().to_vec();
    assert_eq!(
        stream.on_response_body(&get_host, events.len(), false),
        Action::Continue
    );
    let out = String::from_utf8(get_host.response_body.borrow().clone()).unwrap_or_default();
    let messages: Vec<Value> = out
        .split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .filter_map(|data| serde_json::from_str(data).ok())
        .collect();
    assert_eq!(messages.len(), 2, "{out}");
    assert_eq!(messages[0]["id"], json!(21));
    assert_eq!(messages[0]["result"]["isError"], json!(true));
    assert_eq!(messages[1], json!({"jsonrpc":"2.0","id":22,"result":{}}));
}

#[test]
fn a_session_presented_by_another_grant_is_not_found() {
    let store = MemoryStore::new();
    let host = FakeHost::with_store(store);
    let config = config(seed_policy(), json!({}));
    // alice's initialize is answered with a session id
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

    let with_session = |token| {
        let mut headers = post_headers(Some(token));
        headers.push(("Mcp-Session-Id".into(), "s-1".into()));
        headers
    };
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &host,
            with_session(ALICE),
            &call("get_server_status", 1)
        ),
        Action::Continue
    );
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &host,
            with_session(BOB),
            &call("get_server_status", 2)
        ),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 404);
    assert_eq!(reply["id"], json!(2));
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
fn tools_list_replayed_on_a_get_stream_is_filtered() {
    let host = FakeHost::default();
    let mut stream = HttpFilter::new(config(seed_policy(), json!({})));
    let get = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), "/mcp".to_string()),
        ("authorization".to_string(), format!("Bearer {ALICE}")),
        ("last-event-id".to_string(), "5".to_string()),
    ];
    assert_eq!(send(&mut stream, &host, get, b""), Action::Continue);
    *host.response_headers.borrow_mut() = vec![("content-type".into(), "text/event-stream".into())];
    stream.on_response_headers(&host, false);
    let event = format!(
        "id: 6\nevent: message\ndata: {}\n\n",
        tools_list_response(3)
    );
    *host.response_body.borrow_mut() = event.as_bytes().to_vec();
    stream.on_response_body(&host, event.len(), true);
    let out = String::from_utf8(host.response_body.borrow().clone()).unwrap_or_default();
    assert!(out.starts_with("event: message\nid: 6\n"), "{out}");
    let data = out
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap_or("");
    let rewritten: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    assert_eq!(
        listed_names(&rewritten),
        vec!["get_server_status", "create_invoice"]
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

/// A field of the `wasm.mcp_policy` object, as text.
fn field(host: &FakeHost, name: &str) -> Option<String> {
    match host.state_field(super::STATE_OBJECT, name)? {
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

#[test]
fn filter_state_publishes_only_the_configured_fields() {
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_server_status","arguments":{"a":1}}});
    let everything = [
        "arg_keys",
        "decide_us",
        "decision",
        "grant",
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
            .get(super::STATE_OBJECT)
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

fn limited_policy() -> Value {
    json!({"version":"1","default":"deny","tools":{
        "send_text":{"limits":[{"counter":"texts","window":"hour","max":1}]}}})
}

/// Sends one limited call and feeds the given upstream response through.
fn limited_call_with_response(
    host: &FakeHost,
    config: &Rc<Config>,
    status: &str,
    content_type: &str,
    body: &str,
) -> Action {
    let mut filter = HttpFilter::new(Rc::clone(config));
    let action = send(
        &mut filter,
        host,
        post_headers(Some(ALICE)),
        &call("send_text", 7),
    );
    if action != Action::Continue {
        return action;
    }
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), status.into()),
        ("content-type".into(), content_type.into()),
    ];
    filter.on_response_headers(host, body.is_empty());
    if !body.is_empty() {
        *host.response_body.borrow_mut() = body.as_bytes().to_vec();
        filter.on_response_body(host, body.len(), true);
    }
    action
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

#[test]
fn a_task_belongs_to_the_grant_whose_call_created_it() {
    let host = FakeHost::default();
    let config = config(seed_policy(), json!({}));
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_server_status","task":{"ttl":60000}}}).to_string().as_bytes()
        ),
        Action::Continue
    );
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    filter.on_response_headers(&host, false);
    let created =
        br#"{"jsonrpc":"2.0","id":3,"result":{"task":{"taskId":"task-9","status":"working"}}}"#;
    *host.response_body.borrow_mut() = created.to_vec();
    filter.on_response_body(&host, created.len(), true);

    let get = json!({"jsonrpc":"2.0","id":4,"method":"tasks/get","params":{"taskId":"task-9"}})
        .to_string()
        .into_bytes();
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(&mut filter, &host, post_headers(Some(BOB)), &get),
        Action::Pause
    );
    assert_eq!(host.last_reply().map(|r| r.status), Some(404));
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(&mut filter, &host, post_headers(Some(ALICE)), &get),
        Action::Continue
    );
}

#[test]
fn an_encoded_tools_list_response_is_refused_not_passed_unfiltered() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    forward_tools_list(&mut filter, &host, 5);
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-encoding".into(), "gzip".into()),
    ];
    assert_eq!(filter.on_response_headers(&host, false), Action::Continue);
    assert_eq!(host.response_header("content-encoding"), None);
    let gzipped = vec![0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02];
    *host.response_body.borrow_mut() = gzipped.clone();
    assert_eq!(
        filter.on_response_body(&host, gzipped.len(), true),
        Action::Continue
    );
    let reply: Value = serde_json::from_slice(&host.response_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(reply["id"], json!(5));
    assert_eq!(reply["error"]["code"], json!(-32603));
}
