//! Human approval through the caller's client (MCP 2026-07-28's
//! `input_required`), driven through the fake host: asking, the retry's
//! checks, single use, and the upstream's own rounds.

use std::rc::Rc;

use serde_json::{json, Value};

use super::{config, field, post_headers, reply_json, send, ALICE, BOB};
use crate::approval::exchange::INPUT_KEY;
use crate::config::Config;
use crate::filter::HttpFilter;
use crate::host::fake::FakeHost;
use crate::host::Action;
use crate::store::MemoryStore;

const MODERN: &str = "2026-07-28";

fn policy() -> Value {
    json!({"version": "1", "default": "deny", "tools": {
        "create_invoice": {
            "action": "require_approval",
            "approval": {"ttl_seconds": 60},
            "deny_if": [{"conditions": [{"path": "args.amount_total", "op": "gt", "value": 100000}], "on_deny": "Too large"}],
            "limits": [{"counter": "invoices", "window": "hour", "max": 5}]
        }
    }})
}

fn approving() -> Rc<Config> {
    config(policy(), json!({"approvals": {"enabled": true}}))
}

fn headers(token: &str, version: &str) -> Vec<(String, String)> {
    let mut headers = post_headers(Some(token));
    headers.push(("mcp-protocol-version".into(), version.into()));
    headers.push(("mcp-method".into(), "tools/call".into()));
    headers.push(("mcp-name".into(), "create_invoice".into()));
    headers
}

/// A `tools/call` of create_invoice; `extra` goes into params.
fn invoice(id: u64, amount: u64, extra: Value) -> Vec<u8> {
    let mut params = json!({
        "name": "create_invoice",
        "arguments": {"amount_total": amount, "currency": "PES"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}
        }
    });
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            params.insert(key.clone(), value.clone());
        }
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
        .to_string()
        .into_bytes()
}

fn answer(state: &str, action: &str) -> Value {
    json!({"requestState": state, "inputResponses": {INPUT_KEY: {"action": action}}})
}

struct Run {
    action: Action,
    host: FakeHost,
    filter: HttpFilter,
}

fn run(
    store: &MemoryStore,
    config: &Rc<Config>,
    token: &str,
    version: &str,
    body: &[u8],
    at_millis: u64,
) -> Run {
    let host = FakeHost::with_store(store.clone());
    host.now_millis.set(at_millis);
    let mut filter = HttpFilter::new(Rc::clone(config));
    let action = send(&mut filter, &host, headers(token, version), body);
    Run {
        action,
        host,
        filter,
    }
}

/// Asks for approval; returns the sealed request state.
fn ask(store: &MemoryStore, config: &Rc<Config>, at_millis: u64) -> String {
    let asked = run(
        store,
        config,
        ALICE,
        MODERN,
        &invoice(1, 5000, json!({})),
        at_millis,
    );
    assert_eq!(asked.action, Action::Pause, "not forwarded");
    let (status, body) = reply_json(&asked.host);
    assert_eq!(status, 200);
    assert_eq!(body["id"], 1);
    assert_eq!(body["result"]["resultType"], "input_required");
    let question = &body["result"]["inputRequests"][INPUT_KEY];
    assert_eq!(question["method"], "elicitation/create");
    assert_eq!(question["params"]["mode"], "form");
    let text = question["params"]["message"].as_str().unwrap_or("");
    assert!(
        text.contains("create_invoice") && text.contains("\"amount_total\": 5000"),
        "{text}"
    );
    assert_eq!(
        field(&asked.host, "decision").as_deref(),
        Some("approval_required")
    );
    assert_eq!(
        asked.host.last_reply().map(|reply| reply.details),
        Some("mcp_policy_approval_asked")
    );
    body["result"]["requestState"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn refusal_text(host: &FakeHost) -> String {
    let (status, body) = reply_json(host);
    assert_eq!(status, 200);
    assert_eq!(body["result"]["isError"], true, "{body}");
    body["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn an_accepted_approval_forwards_the_call_once_without_the_filters_fields() {
    let store = MemoryStore::new();
    let config = approving();
    let state = ask(&store, &config, 1_000_000);
    let retry = invoice(2, 5000, answer(&state, "accept"));
    let approved = run(&store, &config, ALICE, MODERN, &retry, 1_010_000);
    assert_eq!(approved.action, Action::Continue);
    assert!(approved.host.replies.borrow().is_empty());
    let forwarded: Value =
        serde_json::from_slice(&approved.host.request_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(forwarded["id"], 2);
    assert_eq!(
        forwarded["params"]["arguments"],
        json!({"amount_total": 5000, "currency": "PES"})
    );
    assert!(forwarded["params"].get("requestState").is_none());
    assert!(forwarded["params"].get("inputResponses").is_none());
    let length = approved.host.request_body.borrow().len().to_string();
    assert_eq!(approved.host.request_header("content-length"), Some(length));
    assert_eq!(
        field(&approved.host, "decision").as_deref(),
        Some("approved")
    );
    assert_eq!(
        approved
            .host
            .counter("mcp_policy.decisions.outcome.approved"),
        1
    );

    // The same approval again: used up.
    let replay = run(&store, &config, ALICE, MODERN, &retry, 1_020_000);
    assert_eq!(replay.action, Action::Pause);
    assert!(refusal_text(&replay.host).contains("already used"));
    assert_eq!(
        field(&replay.host, "decision").as_deref(),
        Some("approval_denied")
    );
    assert_eq!(
        replay.host.last_reply().map(|reply| reply.details),
        Some("mcp_policy_approval_denied")
    );
}

#[test]
fn an_approval_holds_only_for_its_call_its_grant_and_its_time() {
    let store = MemoryStore::new();
    let config = approving();
    let state = ask(&store, &config, 1_000_000);
    type Case<'a> = (&'a str, &'a str, Vec<u8>, u64, &'a str, &'a str);
    let cases: [Case<'_>; 6] = [
        (
            "declined",
            ALICE,
            invoice(2, 5000, answer(&state, "decline")),
            1_010_000,
            "declined",
            "approval_denied",
        ),
        (
            "cancelled",
            ALICE,
            invoice(2, 5000, answer(&state, "cancel")),
            1_010_000,
            "cancelled",
            "approval_denied",
        ),
        (
            "changed arguments",
            ALICE,
            invoice(2, 6000, answer(&state, "accept")),
            1_010_000,
            "another call",
            "approval_denied",
        ),
        (
            "another grant",
            BOB,
            invoice(2, 5000, answer(&state, "accept")),
            1_010_000,
            "not valid",
            "approval_denied",
        ),
        (
            "expired",
            ALICE,
            invoice(2, 5000, answer(&state, "accept")),
            1_061_000,
            "expired",
            "approval_expired",
        ),
        (
            "no answer",
            ALICE,
            invoice(2, 5000, json!({"requestState": state})),
            1_010_000,
            "does not answer",
            "approval_denied",
        ),
    ];
    for (case, token, body, at, says, decision) in cases {
        let refused = run(&store, &config, token, MODERN, &body, at);
        assert_eq!(refused.action, Action::Pause, "{case}");
        let text = refusal_text(&refused.host);
        assert!(text.contains(says), "{case}: {text}");
        assert_eq!(
            field(&refused.host, "decision").as_deref(),
            Some(decision),
            "{case}"
        );
    }
    let mut tampered = state.clone().into_bytes();
    tampered[4] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    let refused = run(
        &store,
        &config,
        ALICE,
        MODERN,
        &invoice(2, 5000, answer(&tampered, "accept")),
        1_010_000,
    );
    assert!(refusal_text(&refused.host).contains("not valid"));
    // None of those used the approval up.
    let approved = run(
        &store,
        &config,
        ALICE,
        MODERN,
        &invoice(3, 5000, answer(&state, "accept")),
        1_010_000,
    );
    assert_eq!(approved.action, Action::Continue);
}

#[test]
fn the_policy_still_applies_to_an_approved_call() {
    let store = MemoryStore::new();
    let config = approving();
    // Too large: denied outright, nobody is asked.
    let large = run(
        &store,
        &config,
        ALICE,
        MODERN,
        &invoice(1, 200_000, json!({})),
        1_000_000,
    );
    assert_eq!(refusal_text(&large.host), "[POLICY DENIED] Too large");
    assert_eq!(field(&large.host, "decision").as_deref(), Some("denied"));
    // A reload that changes the rule voids pending approvals.
    let state = ask(&store, &config, 1_000_000);
    let mut changed = policy();
    changed["tools"]["create_invoice"]["limits"][0]["max"] = json!(6);
    let reloaded = config_with(changed);
    let refused = run(
        &store,
        &reloaded,
        ALICE,
        MODERN,
        &invoice(2, 5000, answer(&state, "accept")),
        1_010_000,
    );
    assert!(refusal_text(&refused.host).contains("rule that asked for this approval has changed"));
    // A reload that leaves the rule alone keeps it valid.
    let mut other = policy();
    other["tools"]["get_status"] = json!({});
    let reloaded = config_with(other);
    let approved = run(
        &store,
        &reloaded,
        ALICE,
        MODERN,
        &invoice(2, 5000, answer(&state, "accept")),
        1_010_000,
    );
    assert_eq!(approved.action, Action::Continue);
}

fn config_with(policy: Value) -> Rc<Config> {
    config(policy, json!({"approvals": {"enabled": true}}))
}

#[test]
fn a_client_that_cannot_ask_is_told_why() {
    let store = MemoryStore::new();
    let approving = approving();
    let older = run(
        &store,
        &approving,
        ALICE,
        "2025-11-25",
        &invoice(1, 5000, json!({"_meta": {}})),
        1_000_000,
    );
    assert!(refusal_text(&older.host).contains("cannot ask its user"));
    assert_eq!(
        field(&older.host, "decision").as_deref(),
        Some("approval_required")
    );
    assert_eq!(
        older.host.last_reply().map(|reply| reply.details),
        Some("mcp_policy_approval_required")
    );
    let no_form = run(
        &store,
        &approving,
        ALICE,
        MODERN,
        &invoice(
            1,
            5000,
            json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {}}}),
        ),
        1_000_000,
    );
    assert!(refusal_text(&no_form.host).contains("cannot ask its user"));
    // Without approvals enabled, require_approval denies as it always did.
    let off = config(policy(), json!({}));
    let denied = run(
        &store,
        &off,
        ALICE,
        MODERN,
        &invoice(1, 5000, json!({})),
        1_000_000,
    );
    assert_eq!(
        refusal_text(&denied.host),
        "[POLICY DENIED] Requires human approval."
    );
    assert_eq!(
        field(&denied.host, "decision").as_deref(),
        Some("approval_required")
    );
}

#[test]
fn the_upstreams_own_rounds_are_carried_without_asking_again() {
    let store = MemoryStore::new();
    let config = approving();
    let state = ask(&store, &config, 1_000_000);
    let mut approved = run(
        &store,
        &config,
        ALICE,
        MODERN,
        &invoice(2, 5000, answer(&state, "accept")),
        1_010_000,
    );
    assert_eq!(approved.action, Action::Continue);
    // The upstream asks a question of its own.
    let theirs = json!({"jsonrpc": "2.0", "id": 2, "result": {"resultType": "input_required",
        "inputRequests": {"point_of_sale": {"method": "elicitation/create", "params": {"mode": "form", "message": "Which point of sale?",
            "requestedSchema": {"type": "object", "properties": {"pos": {"type": "integer"}}}}}},
        "requestState": "upstream-state-1"}});
    let body = theirs.to_string();
    *approved.host.response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    approved.filter.on_response_headers(&approved.host, false);
    *approved.host.response_body.borrow_mut() = body.clone().into_bytes();
    assert_eq!(
        approved
            .filter
            .on_response_body(&approved.host, body.len(), true),
        Action::Continue
    );
    let relayed: Value =
        serde_json::from_slice(&approved.host.response_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(
        relayed["result"]["inputRequests"],
        theirs["result"]["inputRequests"]
    );
    let carried = relayed["result"]["requestState"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert_ne!(carried, "upstream-state-1");

    // The client answers the upstream; the filter forwards with the upstream's state.
    let retry = invoice(
        3,
        5000,
        json!({"requestState": carried,
        "inputResponses": {"point_of_sale": {"action": "accept", "content": {"pos": 3}}}}),
    );
    let round = run(&store, &config, ALICE, MODERN, &retry, 1_020_000);
    assert_eq!(round.action, Action::Continue);
    let forwarded: Value =
        serde_json::from_slice(&round.host.request_body.borrow()).unwrap_or(Value::Null);
    assert_eq!(forwarded["params"]["requestState"], "upstream-state-1");
    assert_eq!(
        forwarded["params"]["inputResponses"],
        json!({"point_of_sale": {"action": "accept", "content": {"pos": 3}}})
    );
    // Once.
    let replay = run(&store, &config, ALICE, MODERN, &retry, 1_030_000);
    assert!(refusal_text(&replay.host).contains("already used"));
    // The upstream's raw state is not an approval.
    let raw = invoice(4, 5000, json!({"requestState": "upstream-state-1"}));
    let refused = run(&store, &config, ALICE, MODERN, &raw, 1_030_000);
    assert!(refusal_text(&refused.host).contains("not valid"));
}
