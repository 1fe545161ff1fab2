//! Limits the rate-limit service counts: the request held for its answer,
//! the descriptors sent, and each answer (and failure) carried out.

use std::rc::Rc;

use prost::Message;
use serde_json::{json, Value};

use super::*;
use crate::approval::exchange::INPUT_KEY;
use crate::filter::{CallKind, ServiceReply};
use crate::rate_limit_service::proto::{
    DescriptorStatus, Duration, RateLimitRequest, RateLimitResponse, CODE_OK, CODE_OVER_LIMIT,
};
use crate::rate_limit_service::{grpc_service, keyed_value};

const NOW_MILLIS: u64 = 1_795_505_505_000;

fn service(extra: Value) -> Value {
    let mut service = json!({"cluster": "rls", "domain": "mcp", "timeout_ms": 150});
    if let (Some(target), Some(extra)) = (service.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
    service
}

/// `send_text` with a service limit of 2 per minute, and `logout_instance`
/// with the same plus a local one of 5 per hour.
fn policy() -> Value {
    json!({"version": "1", "default": "deny", "tools": {
        "send_text": {"limits": [{"counter": "texts", "window": "minute", "max": 2,
                                  "counted_by": "rate_limit_service"}]},
        "logout_instance": {"limits": [
            {"counter": "texts", "window": "minute", "max": 2, "counted_by": "rate_limit_service"},
            {"counter": "logouts", "window": "hour", "max": 5}]},
        "get_server_status": {"limits": [{"counter": "status", "window": "minute", "max": 1,
                                          "mode": "dry_run", "counted_by": "rate_limit_service"}]}
    }})
}

fn configured(extra: Value) -> Rc<Config> {
    config(policy(), json!({"rate_limit_service": service(extra)}))
}

struct Held {
    host: FakeHost,
    filter: HttpFilter,
    action: Action,
}

fn held(config: &Rc<Config>, store: &MemoryStore, body: &[u8]) -> Held {
    let host = FakeHost::with_store(store.clone());
    host.now_millis.set(NOW_MILLIS);
    let mut filter = HttpFilter::new(Rc::clone(config));
    let action = send(&mut filter, &host, post_headers(Some(ALICE)), body);
    Held {
        host,
        filter,
        action,
    }
}

fn sent(host: &FakeHost) -> RateLimitRequest {
    let calls = host.grpc_calls.borrow();
    let Some(call) = calls.last() else {
        panic!("no gRPC call")
    };
    match RateLimitRequest::decode(call.message.as_slice()) {
        Ok(request) => request,
        Err(error) => panic!("{error}"),
    }
}

fn answer(overall_code: i32, statuses: &[(i32, u32, i64)]) -> ServiceReply {
    ServiceReply::Message(
        RateLimitResponse {
            overall_code,
            statuses: statuses
                .iter()
                .map(|&(code, remaining, seconds)| DescriptorStatus {
                    code,
                    limit_remaining: remaining,
                    duration_until_reset: Some(Duration { seconds, nanos: 0 }),
                })
                .collect(),
        }
        .encode_to_vec(),
    )
}

fn local_count(store: &MemoryStore, config: &Config, counter: &str) -> u64 {
    use crate::counter::{current_count, CounterSpec, Window};
    use crate::filter::decide::charge::{counter_key, table_of, NoClaims, Subject};
    let grant = match config.grants.by_name("alice") {
        Some(grant) => grant,
        None => panic!("no grant alice"),
    };
    let head = crate::filter::request::RequestHead::default();
    let subject = Subject {
        grant: "alice",
        rule: &grant.rule,
        member: false,
        head: &head,
        session: None,
        claims: &NoClaims,
    };
    let limit = crate::policy::Limit {
        counter: counter.into(),
        window: Window::Hour,
        max: 5,
        scope: crate::policy::Scope::Grant,
        rule: String::new(),
        dry_run: false,
        service: false,
    };
    let key = counter_key(&limit, &subject);
    let table = table_of(&limit, &key, &subject, 4096, config.settings.counter_key);
    let spec = CounterSpec {
        key,
        window: Window::Hour,
        max: 5,
    };
    current_count(store, table, NOW_MILLIS / 1000, &spec).unwrap_or(u64::MAX)
}

#[test]
fn an_allowed_call_is_held_until_the_service_admits_it() {
    let config = configured(json!({}));
    let store = MemoryStore::new();
    let mut call_held = held(&config, &store, &call("send_text", 7));
    assert_eq!(call_held.action, Action::Pause, "held for the service");
    assert!(call_held.host.replies.borrow().is_empty());
    assert_eq!(call_held.host.resumed.get(), 0);
    {
        let calls = call_held.host.grpc_calls.borrow();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].service, grpc_service("rls"));
        assert_eq!(
            calls[0].service_name,
            "envoy.service.ratelimit.v3.RateLimitService"
        );
        assert_eq!(calls[0].method, "ShouldRateLimit");
        assert_eq!(calls[0].timeout_ms, 150);
    }
    let request = sent(&call_held.host);
    assert_eq!(request.domain, "mcp");
    assert_eq!(request.descriptors.len(), 1);
    let entries: Vec<(&str, &str)> = request.descriptors[0]
        .entries
        .iter()
        .map(|entry| (entry.key.as_str(), entry.value.as_str()))
        .collect();
    let secret = config.settings.counter_key.unwrap_or_default();
    let value = keyed_value(&secret, "mcp-policy/v1/c/texts\u{1f}grant:alice");
    assert_eq!(
        entries,
        [
            ("counter", "texts"),
            ("scope", "grant"),
            ("value", value.as_str())
        ]
    );
    let limit = request.descriptors[0].limit.clone().unwrap_or_default();
    assert_eq!((limit.requests_per_unit, limit.unit), (2, 2));
    assert_eq!(call_held.filter.take_dispatched().len(), 1);
    assert_eq!(call_held.filter.awaited_call(), Some(1));

    call_held
        .filter
        .on_service_reply(&call_held.host, answer(CODE_OK, &[(CODE_OK, 1, 55)]));
    assert_eq!(call_held.host.resumed.get(), 1, "resumed once admitted");
    assert!(call_held.host.replies.borrow().is_empty());
    assert_eq!(
        field(&call_held.host, "decision").as_deref(),
        Some("allowed")
    );
    assert_eq!(call_held.host.counter("mcp_policy.rls_calls.result.ok"), 1);
    assert_eq!(call_held.filter.awaited_call(), None);
    // A second answer for the same call changes nothing.
    call_held
        .filter
        .on_service_reply(&call_held.host, answer(CODE_OK, &[]));
    assert_eq!(call_held.host.resumed.get(), 1);
}

#[test]
fn over_limit_is_the_usual_rate_limit_denial_with_the_services_reset() {
    let config = configured(json!({}));
    let store = MemoryStore::new();
    let mut call_held = held(&config, &store, &call("logout_instance", 9));
    assert_eq!(call_held.action, Action::Pause);
    assert_eq!(
        local_count(&store, &config, "logouts"),
        1,
        "local limits first"
    );
    call_held.filter.on_service_reply(
        &call_held.host,
        answer(CODE_OVER_LIMIT, &[(CODE_OVER_LIMIT, 0, 37)]),
    );
    assert_eq!(call_held.host.resumed.get(), 0);
    let (status, body) = reply_json(&call_held.host);
    assert_eq!(status, 200);
    assert_eq!(body["id"], 9);
    assert_eq!(
        body["result"]["content"][0]["text"],
        "[POLICY DENIED] Rate limit of 2 per minute reached. Try again later."
    );
    assert_eq!(body["result"]["_meta"]["mcp-policy/retryAfterSeconds"], 37);
    assert_eq!(
        body["result"]["_meta"]["mcp-policy/rule"],
        "/tools/logout_instance/limits/texts"
    );
    let reply = call_held
        .host
        .last_reply()
        .unwrap_or_else(|| panic!("no reply"));
    assert!(reply
        .headers
        .contains(&("retry-after".to_string(), "37".to_string())));
    assert_eq!(reply.details, "mcp_policy_rate_limited");
    assert_eq!(
        field(&call_held.host, "decision").as_deref(),
        Some("rate_limited")
    );
    assert_eq!(
        field(&call_held.host, "limit").as_deref(),
        Some(format!("2/2 resets_at={}", NOW_MILLIS / 1000 + 37).as_str())
    );
    assert_eq!(
        call_held
            .host
            .counter("mcp_policy.rls_calls.result.over_limit"),
        1
    );
    assert_eq!(
        local_count(&store, &config, "logouts"),
        0,
        "local units given back"
    );
}

#[test]
fn without_statuses_the_refusal_names_the_limit_that_resets_last() {
    let config = config(
        json!({"version": "1", "default": "deny", "tools": {"send_text": {"limits": [
            {"counter": "a", "window": "minute", "max": 2},
            {"counter": "b", "window": "day", "max": 9}]}},
            "counted_by": "rate_limit_service"}),
        json!({"rate_limit_service": service(json!({}))}),
    );
    let store = MemoryStore::new();
    let mut call_held = held(&config, &store, &call("send_text", 3));
    assert_eq!(sent(&call_held.host).descriptors.len(), 2);
    call_held
        .filter
        .on_service_reply(&call_held.host, answer(CODE_OVER_LIMIT, &[]));
    let (_, body) = reply_json(&call_held.host);
    assert_eq!(
        body["result"]["_meta"]["mcp-policy/rule"],
        "/tools/send_text/limits/b"
    );
    let day_left = 86_400 - (NOW_MILLIS / 1000) % 86_400;
    assert_eq!(
        body["result"]["_meta"]["mcp-policy/retryAfterSeconds"],
        day_left
    );
}

#[test]
fn a_service_that_cannot_answer_fails_closed_with_its_own_outcome() {
    let config = configured(json!({}));
    for (reply, label) in [
        (
            ServiceReply::Closed {
                status: 14,
                message: "redis full".into(),
            },
            "unavailable",
        ),
        (
            ServiceReply::Closed {
                status: 4,
                message: String::new(),
            },
            "timeout",
        ),
        (ServiceReply::Message(vec![0xff, 0x01]), "error"),
        (answer(0, &[]), "error"),
    ] {
        let store = MemoryStore::new();
        let mut call_held = held(&config, &store, &call("logout_instance", 4));
        call_held.filter.on_service_reply(&call_held.host, reply);
        assert_eq!(call_held.host.resumed.get(), 0, "{label}");
        let (status, body) = reply_json(&call_held.host);
        assert_eq!(status, 500, "{label}");
        assert_eq!(body["error"]["code"], -32603);
        assert_eq!(body["id"], 4);
        assert_eq!(
            call_held.host.last_reply().map(|reply| reply.details),
            Some("mcp_policy_rate_limit_unavailable")
        );
        assert_eq!(
            field(&call_held.host, "decision").as_deref(),
            Some("rate_limit_unavailable")
        );
        assert_eq!(
            call_held
                .host
                .counter("mcp_policy.decisions.outcome.rate_limit_unavailable"),
            1
        );
        assert_eq!(call_held.host.counter("mcp_policy.fail_closed"), 1);
        assert_eq!(
            call_held
                .host
                .counter(&format!("mcp_policy.rls_calls.result.{label}")),
            1
        );
        assert_eq!(local_count(&store, &config, "logouts"), 0, "{label}");
    }
}

#[test]
fn a_call_the_host_will_not_dispatch_fails_closed_at_once() {
    let config = configured(json!({}));
    let host = FakeHost::default();
    host.now_millis.set(NOW_MILLIS);
    host.broken_grpc.set(true);
    let mut filter = HttpFilter::new(Rc::clone(&config));
    let action = send(
        &mut filter,
        &host,
        post_headers(Some(ALICE)),
        &call("send_text", 1),
    );
    assert_eq!(action, Action::Pause);
    assert_eq!(reply_json(&host).0, 500);
    assert_eq!(host.counter("mcp_policy.rls_calls.result.error"), 1);
    assert_eq!(filter.awaited_call(), None);
}

#[test]
fn failing_open_admits_the_call_and_counts_it() {
    let config = configured(json!({"failure_mode": "allow"}));
    let store = MemoryStore::new();
    let mut call_held = held(&config, &store, &call("logout_instance", 4));
    call_held.filter.on_service_reply(
        &call_held.host,
        ServiceReply::Closed {
            status: 14,
            message: "down".into(),
        },
    );
    assert_eq!(call_held.host.resumed.get(), 1);
    assert!(call_held.host.replies.borrow().is_empty());
    assert_eq!(call_held.host.counter("mcp_policy.rls_failed_open"), 1);
    assert_eq!(call_held.host.counter("mcp_policy.fail_closed"), 0);
    assert_eq!(
        local_count(&store, &config, "logouts"),
        1,
        "local limits still hold"
    );
}

#[test]
fn dry_run_limits_stay_in_shared_data() {
    let config = configured(json!({}));
    let store = MemoryStore::new();
    let call_held = held(&config, &store, &call("get_server_status", 1));
    assert_eq!(call_held.action, Action::Continue);
    assert!(call_held.host.grpc_calls.borrow().is_empty());
}

#[test]
fn a_batch_takes_as_many_hits_as_it_has_calls() {
    let config = configured(json!({}));
    let store = MemoryStore::new();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "send_text", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "send_text", "arguments": {}}}
    ])
    .to_string();
    let mut headers = post_headers(Some(ALICE));
    headers.push(("mcp-protocol-version".into(), "2025-03-26".into()));
    let host = FakeHost::with_store(store.clone());
    host.now_millis.set(NOW_MILLIS);
    let mut filter = HttpFilter::new(Rc::clone(&config));
    assert_eq!(
        send(&mut filter, &host, headers, batch.as_bytes()),
        Action::Pause
    );
    let request = sent(&host);
    assert_eq!(request.descriptors.len(), 1);
    assert_eq!(request.hits_addend, 2);
    filter.on_service_reply(&host, answer(CODE_OVER_LIMIT, &[(CODE_OVER_LIMIT, 0, 10)]));
    let (status, body) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
}

#[test]
fn scope_values_leave_only_as_keyed_hashes_of_the_upstream_session() {
    let policy = json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
        "tools": {"send_text": {"limits": [
            {"counter": "per-session", "window": "hour", "max": 9, "scope": "session"},
            {"counter": "per-team", "window": "hour", "max": 9, "scope": "header:x-team"}]}}});
    let config = config(policy, json!({"rate_limit_service": service(json!({}))}));
    let sealed = crate::filter::request::session::seal(&config, "alice", "upstream-session-1")
        .unwrap_or_default();
    let mut values = Vec::new();
    for _ in 0..2 {
        let host = FakeHost::default();
        host.now_millis.set(NOW_MILLIS);
        let mut headers = post_headers(Some(ALICE));
        headers.push(("mcp-session-id".into(), sealed.clone()));
        headers.push(("x-team".into(), "finance".into()));
        let mut filter = HttpFilter::new(Rc::clone(&config));
        assert_eq!(
            send(&mut filter, &host, headers, &call("send_text", 1)),
            Action::Pause
        );
        let request = sent(&host);
        let text = format!("{request:?}");
        assert!(!text.contains("upstream-session-1") && !text.contains("finance"));
        assert!(!text.contains(&sealed));
        values.push(
            request
                .descriptors
                .iter()
                .map(|descriptor| descriptor.entries[2].value.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        values[0], values[1],
        "the same session and header count as one"
    );
    let secret = config.settings.counter_key.unwrap_or_default();
    assert_eq!(
        values[0][0],
        keyed_value(
            &secret,
            "mcp-policy/v1/c/per-session\u{1f}session:upstream-session-1"
        )
    );
}

#[test]
fn refunds_go_to_a_service_that_takes_them_and_only_to_it() {
    for refunds in [true, false] {
        let config = configured(json!({"refunds": refunds}));
        let store = MemoryStore::new();
        // The call did not run (HTTP 4xx): local and service units go back.
        let mut call_held = held(&config, &store, &call("logout_instance", 7));
        call_held
            .filter
            .on_service_reply(&call_held.host, answer(CODE_OK, &[(CODE_OK, 1, 30)]));
        *call_held.host.response_headers.borrow_mut() = vec![
            (":status".into(), "404".into()),
            ("content-type".into(), "text/plain".into()),
        ];
        call_held.filter.on_response_headers(&call_held.host, true);
        assert_eq!(local_count(&store, &config, "logouts"), 0);
        let calls = call_held.host.grpc_calls.borrow().len();
        assert_eq!(calls, if refunds { 2 } else { 1 }, "refunds {refunds}");
        assert_eq!(
            call_held.host.counter("mcp_policy.rls_refunds"),
            u64::from(refunds)
        );
        if refunds {
            let refund = sent(&call_held.host);
            assert!(refund.descriptors.iter().all(|d| d.is_negative_hits));
            assert_eq!(refund.descriptors[0].entries[0].value, "texts");
            let dispatched = call_held.filter.take_dispatched();
            assert_eq!(
                dispatched.last().map(|call| call.kind),
                Some(CallKind::Refund)
            );
        }
    }
}

#[test]
fn a_refused_call_gives_back_the_service_units_of_its_other_limits() {
    let config = config(
        json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
               "tools": {"send_text": {"limits": [
                   {"counter": "a", "window": "minute", "max": 2},
                   {"counter": "b", "window": "hour", "max": 2}]}}}),
        json!({"rate_limit_service": service(json!({"refunds": true}))}),
    );
    let store = MemoryStore::new();
    let mut call_held = held(&config, &store, &call("send_text", 3));
    call_held.filter.on_service_reply(
        &call_held.host,
        answer(
            CODE_OVER_LIMIT,
            &[(CODE_OK, 1, 30), (CODE_OVER_LIMIT, 0, 600)],
        ),
    );
    let refund = sent(&call_held.host);
    assert_eq!(refund.descriptors.len(), 1);
    assert_eq!(refund.descriptors[0].entries[0].value, "a");
    assert!(refund.descriptors[0].is_negative_hits);
    let (_, body) = reply_json(&call_held.host);
    assert_eq!(
        body["result"]["_meta"]["mcp-policy/rule"],
        "/tools/send_text/limits/b"
    );
    assert_eq!(body["result"]["_meta"]["mcp-policy/retryAfterSeconds"], 600);
}

#[test]
fn an_approval_is_used_only_once_the_service_admitted_the_call() {
    const MODERN: &str = "2026-07-28";
    let policy = json!({"version": "1", "default": "deny", "tools": {"create_invoice": {
        "action": "require_approval",
        "limits": [{"counter": "invoices", "window": "hour", "max": 5, "counted_by": "rate_limit_service"}]}}});
    let config = config(
        policy,
        json!({"approvals": {"enabled": true}, "rate_limit_service": service(json!({}))}),
    );
    let store = MemoryStore::new();
    let invoice = |id: u64, extra: Value| {
        let mut params = json!({"name": "create_invoice", "arguments": {"amount_total": 10},
            "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                      "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}}});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}).to_string()
    };
    let run = |body: String| {
        let host = FakeHost::with_store(store.clone());
        host.now_millis.set(NOW_MILLIS);
        let mut headers = post_headers(Some(ALICE));
        headers.push(("mcp-protocol-version".into(), MODERN.into()));
        headers.push(("mcp-method".into(), "tools/call".into()));
        headers.push(("mcp-name".into(), "create_invoice".into()));
        let mut filter = HttpFilter::new(Rc::clone(&config));
        let action = send(&mut filter, &host, headers, body.as_bytes());
        (host, filter, action)
    };
    let (asked, _, _) = run(invoice(1, json!({})));
    let state = reply_json(&asked).1["result"]["requestState"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(!state.is_empty());
    let retry = invoice(
        2,
        json!({"requestState": state, "inputResponses": {INPUT_KEY: {"action": "accept"}}}),
    );
    let (host, mut filter, action) = run(retry.clone());
    assert_eq!(action, Action::Pause);
    filter.on_service_reply(&host, answer(CODE_OVER_LIMIT, &[(CODE_OVER_LIMIT, 0, 5)]));
    assert_eq!(field(&host, "decision").as_deref(), Some("rate_limited"));
    // Refused by the service: the approval is still unused.
    let (host, mut filter, _) = run(retry.clone());
    filter.on_service_reply(&host, answer(CODE_OK, &[(CODE_OK, 4, 5)]));
    assert_eq!(host.resumed.get(), 1);
    assert_eq!(field(&host, "decision").as_deref(), Some("approved"));
    // Used now.
    let (host, mut filter, _) = run(retry);
    filter.on_service_reply(&host, answer(CODE_OK, &[(CODE_OK, 3, 5)]));
    assert_eq!(host.resumed.get(), 0);
    assert_eq!(field(&host, "decision").as_deref(), Some("approval_denied"));
    assert_eq!(host.counter("mcp_policy.rls_refunds"), 0, "refunds are off");
}
