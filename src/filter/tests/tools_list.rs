//! `tools/list` responses: read only when a tool may go or its header
//! schemas are learned, and never passed on unread when one may go.

use serde_json::{json, Value};

use super::*;
use crate::filter::param_maps::learned_params;

const LISTED: &str = r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"get_server_status","inputSchema":{"type":"object","properties":{"n":{"type":"string","x-mcp-header":"N"}}}},{"name":"delete_instance"}]}}"#;

/// Forwards a `tools/list` (with `extra` request headers) and feeds `body`
/// back as its JSON response; the response-side action of its last chunk.
fn list(filter: &mut HttpFilter, host: &FakeHost, extra: &[(&str, &str)], body: &[u8]) -> Action {
    let mut headers = post_headers(Some(ALICE));
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    let request = json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}).to_string();
    assert_eq!(
        send(filter, host, headers, request.as_bytes()),
        Action::Continue
    );
    *host.response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), body.len().to_string()),
    ];
    assert_eq!(filter.on_response_headers(host, false), Action::Continue);
    *host.response_body.borrow_mut() = body.to_vec();
    filter.on_response_body(host, body.len(), true)
}

fn hides_nothing() -> Value {
    json!({"version":"1","default":"deny","tools":{"get_server_status":{}}})
}

#[test]
fn hidden_tools_are_cut_out_of_the_body() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
    assert_eq!(
        list(&mut filter, &host, &[], LISTED.as_bytes()),
        Action::Continue
    );
    let body = String::from_utf8(host.response_body.borrow().clone()).unwrap_or_default();
    assert_eq!(body, LISTED.replace(r#",{"name":"delete_instance"}"#, ""));
}

#[test]
fn a_list_nothing_is_hidden_from_passes_unread_and_byte_identical() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(hides_nothing(), json!({})));
    // Not strict JSON: read, it would be refused. Unread, it passes.
    let body = b"{\"id\":5, \"id\":5,\n \"result\":{\"tools\":[{\"name\":\"delete_instance\"}]}} ";
    assert_eq!(list(&mut filter, &host, &[], body), Action::Continue);
    assert_eq!(host.response_body.borrow().as_slice(), body.as_slice());
    assert_eq!(
        host.response_header("content-length"),
        Some(body.len().to_string())
    );
    assert_eq!(
        host.request_header("accept-encoding").as_deref(),
        Some("gzip")
    );
}

#[test]
fn hide_denied_tools_makes_a_policy_hide() {
    let host = FakeHost::default();
    let mut filter = HttpFilter::new(config(hides_nothing(), json!({"hide_denied_tools": true})));
    assert_eq!(
        list(&mut filter, &host, &[], LISTED.as_bytes()),
        Action::Continue
    );
    let body: Value = serde_json::from_slice(&host.response_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(listed_names(&body), ["get_server_status"]);
}

#[test]
fn an_unreadable_list_fails_closed() {
    for body in [
        &b"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"delete_instance\"}]"[..],
        b"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"a\",\"name\":\"delete_instance\"}]}}",
        b"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"delete_instance\"}]}}x",
        b"{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"\\ud800\"}]}}",
    ] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(seed_policy(), json!({})));
        assert_eq!(list(&mut filter, &host, &[], body), Action::Continue);
        let reply: Value =
            serde_json::from_slice(&host.response_body.borrow()).unwrap_or(Value::Null);
        assert_eq!(
            (reply["id"].clone(), reply["error"]["code"].clone()),
            (json!(5), json!(-32603)),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn header_schemas_are_learned_only_in_versions_that_mirror_headers() {
    let modern = [
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/list"),
    ];
    for (policy, extra, learned) in [
        (
            seed_policy(),
            &[("MCP-Protocol-Version", "2025-11-25")][..],
            false,
        ),
        (seed_policy(), &[][..], false),
        (seed_policy(), &modern[..], true),
        (hides_nothing(), &modern[..], true),
    ] {
        let host = FakeHost::default();
        let mut filter = HttpFilter::new(config(policy, json!({})));
        assert_eq!(
            list(&mut filter, &host, extra, LISTED.as_bytes()),
            Action::Continue
        );
        let now_secs = host.now_millis.get() / 1000;
        let params = learned_params(&host, "get_server_status", now_secs);
        assert_eq!(params.is_some(), learned, "{extra:?}");
    }
}
