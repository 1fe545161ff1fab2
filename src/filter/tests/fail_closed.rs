//! Host and store failures: refused or reset, never passed unfiltered.

use serde_json::{json, Value};

use super::*;

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
    assert_eq!(status, 500);
    assert_eq!(reply["error"]["code"], json!(-32603));
    assert_eq!(reply["id"], json!(1));
    assert_eq!(host.counter("mcp_policy.fail_closed"), 1);
    assert_eq!(
        host.last_reply().map(|r| r.details),
        Some("mcp_policy_fail_closed")
    );
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
fn an_unreadable_stream_chunk_resets_the_stream_and_is_never_passed_on() {
    let host = FakeHost::default();
    let mut stream = HttpFilter::new(config(seed_policy(), json!({})));
    get_stream(&mut stream, &host);
    let event = format!("event: message\ndata: {}\n\n", tools_list_response(3));
    *host.response_body.borrow_mut() = event.as_bytes().to_vec();
    host.broken_response_body.set(true);
    assert_eq!(
        stream.on_response_body(&host, event.len(), false),
        Action::Pause
    );
    assert_eq!(host.resets.get(), 1);
    assert_eq!(host.counter("mcp_policy.fail_closed"), 1);
}

#[test]
fn a_stream_chunk_that_cannot_be_rewritten_resets_the_stream() {
    let host = FakeHost::default();
    let mut stream = HttpFilter::new(config(seed_policy(), json!({})));
    get_stream(&mut stream, &host);
    let event = format!("event: message\ndata: {}\n\n", tools_list_response(3));
    *host.response_body.borrow_mut() = event.as_bytes().to_vec();
    host.broken_response_replace.set(true);
    assert_eq!(
        stream.on_response_body(&host, event.len(), false),
        Action::Pause
    );
    assert_eq!(host.resets.get(), 1);
    // A chunk that needs no rewrite passes even when rewriting would fail.
    let ping =
        "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
    *host.response_body.borrow_mut() = ping.as_bytes().to_vec();
    assert_eq!(
        stream.on_response_body(&host, ping.len(), false),
        Action::Continue
    );
    assert_eq!(host.resets.get(), 1);
}

#[test]
fn a_stream_without_a_clock_resets() {
    let host = FakeHost::default();
    let mut stream = HttpFilter::new(config(seed_policy(), json!({})));
    get_stream(&mut stream, &host);
    host.broken_clock.set(true);
    let event = "event: message\ndata: {}\n\n";
    *host.response_body.borrow_mut() = event.as_bytes().to_vec();
    assert_eq!(
        stream.on_response_body(&host, event.len(), false),
        Action::Pause
    );
    assert_eq!(host.resets.get(), 1);
}

#[test]
fn tools_list_responses_that_cannot_be_read_or_rewritten_never_pass() {
    for (unreadable, unreplaceable) in [(true, false), (false, true)] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        forward_tools_list(&mut filter, &host, 5);
        *host.response_headers.borrow_mut() = vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "application/json".into()),
        ];
        assert_eq!(filter.on_response_headers(&host, false), Action::Continue);
        let body = tools_list_response(5).to_string().into_bytes();
        *host.response_body.borrow_mut() = body.clone();
        host.broken_response_body.set(unreadable);
        host.broken_response_replace.set(unreplaceable);
        let action = filter.on_response_body(&host, body.len(), true);
        if unreadable {
            assert_eq!(action, Action::Continue);
            let replaced: Value =
                serde_json::from_slice(&host.response_body.borrow()).unwrap_or(Value::Null);
            assert_eq!(replaced["error"]["code"], json!(-32603));
            assert_eq!(replaced["id"], json!(5));
        } else {
            assert_eq!(action, Action::Pause);
            assert_eq!(host.resets.get(), 1);
        }
        assert_eq!(host.counter("mcp_policy.fail_closed"), 1);
    }

    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    forward_tools_list(&mut filter, &host, 8);
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    assert_eq!(filter.on_response_headers(&host, false), Action::Continue);
    let chunk = format!("event: message\ndata: {}\n\n", tools_list_response(8));
    *host.response_body.borrow_mut() = chunk.as_bytes().to_vec();
    host.broken_response_body.set(true);
    assert_eq!(
        filter.on_response_body(&host, chunk.len(), false),
        Action::Pause
    );
    assert_eq!(host.resets.get(), 1);
}

#[test]
fn a_failed_clock_refuses_the_request_instead_of_reading_epoch_zero() {
    let host = FakeHost::default();
    host.broken_clock.set(true);
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        send(
            &mut filter,
            &host,
            post_headers(Some(ALICE)),
            &call("logout_instance", 4)
        ),
        Action::Pause
    );
    let (status, reply) = reply_json(&host);
    assert_eq!(status, 500);
    assert_eq!(reply["error"]["code"], json!(-32603));
    assert_eq!(host.counter("mcp_policy.fail_closed"), 1);
}
