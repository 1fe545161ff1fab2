//! Approval by a named approver (`by: approver`), through the fake host:
//! the pending reply, the approval API, single use, denial, expiry, the
//! 2026-07-28 URL elicitation, and the page.

use std::rc::Rc;

use serde_json::{json, Value};

use super::{field, post_headers, reply_json, send, ALICE, BOB, SESSION_KEY};
use crate::approval::exchange::INPUT_KEY;
use crate::config::{hash_token, to_hex, Config};
use crate::filter::HttpFilter;
use crate::host::fake::FakeHost;
use crate::host::Action;
use crate::store::MemoryStore;

const CAROL: &str = "demo-token-carol";

fn config() -> Rc<Config> {
    let grant = |name: &str, token: &str| json!({"name": name, "token_sha256": [to_hex(&hash_token(token))]});
    let wrapper = json!({
        "policy": {"version": "1", "default": "deny", "tools": {
            "create_credit_note": {"action": "require_approval",
                "approval": {"by": "approver", "approvers": ["carol", "alice"], "ttl_seconds": 60},
                "limits": [{"counter": "notes", "window": "hour", "max": 10}]}
        }},
        "session_keys": [SESSION_KEY],
        "approvals": {"enabled": true},
        "grants": [grant("alice", ALICE), grant("bob", BOB), grant("carol", CAROL)]
    });
    match Config::from_json_text(&wrapper.to_string()) {
        Ok(config) => Rc::new(config),
        Err(error) => panic!("{error}"),
    }
}

fn note(id: u64, amount: u64, meta: Value) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "create_credit_note", "arguments": {"amount_total": amount, "memo": "<script>alert(1)</script>"}, "_meta": meta}})
    .to_string()
    .into_bytes()
}

struct Run {
    action: Action,
    host: FakeHost,
}

fn run(
    store: &MemoryStore,
    config: &Rc<Config>,
    headers: Vec<(String, String)>,
    body: &[u8],
    at: u64,
) -> Run {
    let host = FakeHost::with_store(store.clone());
    host.now_millis.set(at);
    let mut filter = HttpFilter::new(Rc::clone(config));
    let action = send(&mut filter, &host, headers, body);
    Run { action, host }
}

fn mcp(token: &str, version: &str) -> Vec<(String, String)> {
    let mut headers = post_headers(Some(token));
    headers.push(("mcp-protocol-version".into(), version.into()));
    headers.push((":authority".into(), "gw.example".into()));
    if version == "2026-07-28" {
        headers.push(("mcp-method".into(), "tools/call".into()));
        headers.push(("mcp-name".into(), "create_credit_note".into()));
    }
    headers
}

fn api(token: Option<&str>, method: &str, path: &str) -> Vec<(String, String)> {
    let mut headers = vec![
        (":method".to_string(), method.to_string()),
        (":path".to_string(), path.to_string()),
        ("accept".to_string(), "application/json".to_string()),
        ("content-type".to_string(), "application/json".to_string()),
    ];
    if let Some(token) = token {
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    headers
}

/// Alice's create_credit_note call at 2025-06-18.
fn call_2025(store: &MemoryStore, config: &Rc<Config>, id: u64, amount: u64, at: u64) -> Run {
    run(
        store,
        config,
        mcp(ALICE, "2025-06-18"),
        &note(id, amount, json!({})),
        at,
    )
}

/// The pending reply: the approval's id.
fn pending_id(run: &Run) -> String {
    assert_eq!(run.action, Action::Pause);
    let (status, body) = reply_json(&run.host);
    assert_eq!(status, 200);
    let result = &body["result"];
    assert_eq!(result["isError"], true, "{body}");
    let approval = &result["_meta"]["mcp-policy/approval"];
    let id = approval["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(approval["status"], "pending");
    assert_eq!(
        approval["url"],
        format!("http://gw.example/mcp-policy/approvals?id={id}")
    );
    assert!(approval["expiresAt"].as_str().unwrap_or("").ends_with('Z'));
    let text = result["content"][0]["text"].as_str().unwrap_or("");
    assert_eq!(
        text,
        format!("[POLICY DENIED] Approval required: request {id} is waiting for an approver at http://gw.example/mcp-policy/approvals?id={id}. Retry the same call once it is approved.")
    );
    id
}

fn decide(
    store: &MemoryStore,
    config: &Rc<Config>,
    token: &str,
    id: &str,
    decision: &str,
) -> (u32, Value) {
    let body = json!({"decision": decision}).to_string();
    let run = run(
        store,
        config,
        api(Some(token), "POST", &format!("/mcp-policy/approvals/{id}")),
        body.as_bytes(),
        1_010_000,
    );
    reply_json(&run.host)
}

#[test]
fn an_approved_call_passes_once_and_its_retry_waits_again() {
    let store = MemoryStore::new();
    let config = config();
    let first = call_2025(&store, &config, 1, 500, 1_000_000);
    let id = pending_id(&first);
    assert_eq!(
        field(&first.host, "decision").as_deref(),
        Some("approval_required")
    );
    assert_eq!(
        first.host.last_reply().map(|reply| reply.details),
        Some("mcp_policy_approval_pending")
    );
    // Retried before anyone decided: the same request.
    assert_eq!(
        pending_id(&call_2025(&store, &config, 2, 500, 1_005_000)),
        id
    );

    // Carol sees it, with its arguments as data.
    let listed = run(
        &store,
        &config,
        api(Some(CAROL), "GET", "/mcp-policy/approvals"),
        b"",
        1_006_000,
    );
    let (status, list) = reply_json(&listed.host);
    assert_eq!(status, 200);
    assert_eq!(list["approver"], "carol");
    assert_eq!(list["approvals"][0]["id"], id.as_str());
    assert_eq!(list["approvals"][0]["grant"], "alice");
    assert_eq!(
        list["approvals"][0]["arguments"]["memo"],
        "<script>alert(1)</script>"
    );
    assert_eq!(
        list["approvals"][0]["rule"],
        "/tools/create_credit_note/action"
    );
    // Bob is no approver; Alice is one, but not of her own request.
    assert_eq!(decide(&store, &config, BOB, &id, "approve").0, 403);
    let (status, own) = decide(&store, &config, ALICE, &id, "approve");
    assert_eq!(
        (status, own["error"].as_str()),
        (403, Some("an approver cannot decide their own request"))
    );
    let own_list = run(
        &store,
        &config,
        api(Some(ALICE), "GET", "/mcp-policy/approvals"),
        b"",
        1_006_000,
    );
    assert_eq!(reply_json(&own_list.host).1["approvals"], json!([]));
    assert_eq!(decide(&store, &config, "nobody", &id, "approve").0, 401);
    let (status, approved) = decide(&store, &config, CAROL, &id, "approve");
    assert_eq!(status, 200);
    assert_eq!(
        approved,
        json!({"id": id, "status": "approved", "decidedBy": "carol"})
    );
    let (status, late) = decide(&store, &config, CAROL, &id, "deny");
    assert_eq!(
        (status, late["error"].as_str()),
        (
            409,
            Some(format!("request {id} was already approved by carol").as_str())
        )
    );

    let passed = call_2025(&store, &config, 3, 500, 1_020_000);
    assert_eq!(passed.action, Action::Continue);
    assert!(passed.host.replies.borrow().is_empty());
    assert_eq!(field(&passed.host, "decision").as_deref(), Some("approved"));
    assert_eq!(field(&passed.host, "approver").as_deref(), Some("carol"));
    // Once: the identical call asks again.
    let again = call_2025(&store, &config, 4, 500, 1_030_000);
    assert_ne!(pending_id(&again), id);
}

#[test]
fn a_denied_call_is_refused_naming_the_approver() {
    let store = MemoryStore::new();
    let config = config();
    let id = pending_id(&call_2025(&store, &config, 1, 700, 1_000_000));
    let (status, denied) = decide(&store, &config, CAROL, &id, "deny");
    assert_eq!((status, denied["status"].as_str()), (200, Some("denied")));
    let refused = call_2025(&store, &config, 2, 700, 1_020_000);
    let (_, body) = reply_json(&refused.host);
    assert_eq!(
        body["result"]["content"][0]["text"],
        format!("[POLICY DENIED] Approval request {id} was denied by carol.")
    );
    assert_eq!(
        field(&refused.host, "decision").as_deref(),
        Some("approval_denied")
    );
    assert_eq!(field(&refused.host, "approver").as_deref(), Some("carol"));
    // Other arguments are another call: asked anew.
    let other = call_2025(&store, &config, 3, 701, 1_020_000);
    assert_ne!(pending_id(&other), id);
}

#[test]
fn an_expired_request_is_asked_again() {
    let store = MemoryStore::new();
    let config = config();
    let id = pending_id(&call_2025(&store, &config, 1, 900, 1_000_000));
    assert_eq!(decide(&store, &config, CAROL, &id, "approve").0, 200);
    let late = call_2025(&store, &config, 2, 900, 1_061_000);
    assert_eq!(late.action, Action::Pause);
    let (_, body) = reply_json(&late.host);
    let text = body["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(text.contains("earlier approval request expired"), "{text}");
    assert_eq!(
        field(&late.host, "decision").as_deref(),
        Some("approval_expired")
    );
}

#[test]
fn a_modern_client_is_sent_to_the_page_once() {
    let store = MemoryStore::new();
    let config = config();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}}});
    let first = run(
        &store,
        &config,
        mcp(ALICE, "2026-07-28"),
        &note(1, 500, meta.clone()),
        1_000_000,
    );
    let (_, body) = reply_json(&first.host);
    assert_eq!(body["result"]["resultType"], "input_required", "{body}");
    let question = &body["result"]["inputRequests"][INPUT_KEY]["params"];
    assert_eq!(question["mode"], "url");
    let id = question["elicitationId"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        question["url"],
        format!("http://gw.example/mcp-policy/approvals?id={id}")
    );
    let state = body["result"]["requestState"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    // The client opened the page and retried: the terminal pending result.
    let mut retry_meta = meta;
    retry_meta["x"] = json!(1);
    let retry = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "create_credit_note", "arguments": {"amount_total": 500, "memo": "<script>alert(1)</script>"},
        "_meta": retry_meta, "requestState": state,
        "inputResponses": {INPUT_KEY: {"action": "accept"}}}});
    let waiting = run(
        &store,
        &config,
        mcp(ALICE, "2026-07-28"),
        retry.to_string().as_bytes(),
        1_005_000,
    );
    assert_eq!(pending_id(&waiting), id);
    assert_eq!(
        reply_json(&waiting.host).1["result"]["resultType"],
        "complete"
    );
    assert_eq!(decide(&store, &config, CAROL, &id, "approve").0, 200);
    let passed = run(
        &store,
        &config,
        mcp(ALICE, "2026-07-28"),
        retry.to_string().as_bytes(),
        1_020_000,
    );
    assert_eq!(passed.action, Action::Continue);
    let forwarded: Value =
        serde_json::from_slice(&passed.host.request_body.borrow()).unwrap_or(Value::Null);
    assert!(
        forwarded["params"].get("requestState").is_none()
            && forwarded["params"].get("inputResponses").is_none()
    );
}

#[test]
fn the_page_is_served_with_a_strict_policy_and_posts_must_be_json() {
    let store = MemoryStore::new();
    let config = config();
    let mut headers = api(None, "GET", "/mcp-policy/approvals?id=ab");
    headers.retain(|(name, _)| name != "accept");
    headers.push(("accept".into(), "text/html".into()));
    let page = run(&store, &config, headers, b"", 1_000_000);
    let reply = page.host.last_reply().unwrap_or_else(|| panic!("no page"));
    assert_eq!(reply.status, 200);
    let csp = reply
        .headers
        .iter()
        .find(|(name, _)| name == "content-security-policy")
        .map(|(_, v)| v.clone());
    assert!(csp
        .unwrap_or_default()
        .starts_with("default-src 'none'; script-src 'sha256-"));
    assert!(String::from_utf8_lossy(&reply.body).contains("<title>MCP approvals</title>"));
    let mut form = api(Some(CAROL), "POST", "/mcp-policy/approvals/abcd");
    form.retain(|(name, _)| name != "content-type");
    form.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let refused = run(&store, &config, form, b"decision=approve", 1_000_000);
    assert_eq!(reply_json(&refused.host).0, 415);
    // Nothing under the prefix is forwarded.
    let other = run(
        &store,
        &config,
        api(Some(CAROL), "GET", "/mcp-policy/secrets"),
        b"",
        1_000_000,
    );
    assert_eq!(
        (other.action, reply_json(&other.host).0),
        (Action::Pause, 404)
    );
}
