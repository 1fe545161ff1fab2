//! Steps 3 and 4: responses filtered and watched.

use serde_json::{json, Value};

use super::*;

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
    // The client's GET stream: the endpoint event's session id is sealed.
    let get_host = FakeHost::with_store(store.clone());
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
    let endpoint = "event: endpoint\ndata: /messages/?session_id=abc123\n\n";
    *get_host.response_body.borrow_mut() = endpoint.as_bytes().to_vec();
    assert_eq!(
        stream.on_response_body(&get_host, endpoint.len(), false),
        Action::Continue
    );
    let out = String::from_utf8(get_host.response_body.borrow().clone()).unwrap_or_default();
    let url = out
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap_or("")
        .to_string();
    assert!(url.starts_with("/messages/?session_id=abc123."), "{out}");
    assert_ne!(url, "/messages/?session_id=abc123");

    // A refused POST on another worker: a ping goes instead, to the
    // upstream's own session.
    let post_host = FakeHost::with_store(store.clone());
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    let mut headers = post_headers(Some(ALICE));
    headers.retain(|(n, _)| n != ":path");
    headers.push((":path".into(), url.clone()));
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
    assert_eq!(
        post_host.request_header(":path").as_deref(),
        Some("/messages/?session_id=abc123")
    );
    let forwarded: Value =
        serde_json::from_slice(&post_host.request_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(forwarded, json!({"jsonrpc":"2.0","id":21,"method":"ping"}));
    let length = post_host.request_body.borrow().len().to_string();
    assert_eq!(post_host.request_header("content-length"), Some(length));

    // The unsealed id, or the sealed one of another grant, is not a session.
    for (token, path) in [(ALICE, "/messages/?session_id=abc123"), (BOB, url.as_str())] {
        let host = FakeHost::with_store(store.clone());
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        let mut headers = post_headers(Some(token));
        headers.retain(|(n, _)| n != ":path");
        headers.push((":path".into(), path.to_string()));
        assert_eq!(
            send(&mut filter, &host, headers, &call("get_server_status", 5)),
            Action::Pause
        );
        assert_eq!(host.last_reply().map(|reply| reply.status), Some(404));
    }

    let events = concat!(
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

#[test]
fn an_upstream_failure_without_json_rpc_becomes_a_json_rpc_error() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("get_server_status", 12)
        ),
        Action::Continue
    );
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), "503".into()),
        ("content-type".into(), "text/plain".into()),
    ];
    assert_eq!(filter.on_response_headers(&host, false), Action::Pause);
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 503);
    assert_eq!(reply["id"], json!(12));
    assert_eq!(reply["error"]["code"], json!(-32603));
    assert_eq!(reply["error"]["data"]["status"], json!(503));
    assert_eq!(host.counter("mcp_policy.upstream_failures"), 1);
    // The original body never follows.
    *host.response_body.borrow_mut() = b"upstream connect error".to_vec();
    assert_eq!(filter.on_response_body(&host, 22, true), Action::Continue);
    assert_eq!(host.replies.borrow().len(), 1);
}
