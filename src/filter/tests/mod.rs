//! The filter driven through the fake host, one file per step or theme;
//! this file holds what they share.

use std::rc::Rc;

use serde_json::{json, Value};

use super::HttpFilter;
use crate::config::Config;
use crate::host::fake::FakeHost;
use crate::host::Action;
use crate::store::MemoryStore;

mod approval;
mod approver;
mod fail_closed;
mod limits;
mod oauth;
mod observe;
mod request;
mod responses;
mod service;
mod tools_list;

pub(super) const ALICE: &str = "demo-token-alice";
/// Test-only secrets (32 bytes each, base64).
pub(super) const SESSION_KEY: &str = "c2Vzc2lvbi1rZXktZm9yLXRlc3RzLW9ubHktMzJieXQ=";
pub(super) const COUNTER_KEY: &str = "Y291bnRlci1rZXktZm9yLXRlc3RzLW9ubHktMzJieXQ=";

pub(super) const BOB: &str = "demo-token-bob";

pub(super) fn config(policy: Value, extra: Value) -> Rc<Config> {
    let mut wrapper = json!({
        "policy": policy,
        "session_keys": [SESSION_KEY],
        "counter_key": COUNTER_KEY,
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

pub(super) fn seed_policy() -> Value {
    json!({"version":"1","default":"deny","hide":["delete_instance"],"tools":{
        "get_server_status":{},
        "logout_instance":{"limits":[{"counter":"logout_instance_rate","window":"minute","max":30,"scope":"grant"}]}
    }})
}

pub(super) fn post_headers(token: Option<&str>) -> Vec<(String, String)> {
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
pub(super) fn send(
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

pub(super) fn call(tool: &str, id: u64) -> Vec<u8> {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":{"instance":"x"}}})
        .to_string()
        .into_bytes()
}

pub(super) fn reply_json(host: &FakeHost) -> (u32, Value) {
    let Some(reply) = host.last_reply() else {
        panic!("no local reply")
    };
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

pub(super) fn tools_list_response(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"result":{"tools":[
        {"name":"get_server_status","inputSchema":{"type":"object"}},
        {"name":"delete_instance","inputSchema":{"type":"object"}},
        {"name":"create_invoice","inputSchema":{"type":"object"}}
    ],"nextCursor":"abc"}})
}

pub(super) fn listed_names(body: &Value) -> Vec<String> {
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

pub(super) fn forward_tools_list(filter: &mut HttpFilter, host: &FakeHost, id: u64) {
    let request = json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}).to_string();
    assert_eq!(
        send(filter, host, post_headers(Some(ALICE)), request.as_bytes()),
        Action::Continue
    );
}

/// A field of the `wasm.mcp_policy` object, as text.
pub(super) fn field(host: &FakeHost, name: &str) -> Option<String> {
    match host.state_field(crate::filter::STATE_OBJECT, name)? {
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

pub(super) fn limited_policy() -> Value {
    json!({"version":"1","default":"deny","tools":{
        "send_text":{"limits":[{"counter":"texts","window":"hour","max":1}]}}})
}

/// Sends one limited call and feeds the given upstream response through.
pub(super) fn limited_call_with_response(
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

pub(super) fn get_stream(filter: &mut HttpFilter, host: &FakeHost) {
    let get = vec![
        (":method".to_string(), "GET".to_string()),
        (":path".to_string(), "/mcp".to_string()),
        ("authorization".to_string(), format!("Bearer {ALICE}")),
    ];
    assert_eq!(send(filter, host, get, b""), Action::Continue);
    *host.response_headers.borrow_mut() = vec![("content-type".into(), "text/event-stream".into())];
    assert_eq!(filter.on_response_headers(host, false), Action::Continue);
}
