//! Whole-policy tests: loading, validation errors and decisions.

use serde_json::{json, Value};

use super::pattern;
use super::*;

mod array_props;
mod arrays;
mod counted_by;
mod messages;

const SEED: &str = r#"{"version":"1","default":"deny","tools":{"logout_instance":{"limits":[{"counter":"logout_instance_rate","window":"minute","max":30,"scope":"grant"}]}}}"#;

mod approval;

fn load(value: Value) -> Policy {
    match Policy::from_value(&value, "") {
        Ok(policy) => policy,
        Err(errors) => panic!("policy rejected:\n{errors}"),
    }
}

fn errors_of(text: &str) -> Vec<PolicyError> {
    match Policy::from_json_text(text) {
        Ok(_) => panic!("policy accepted: {text}"),
        Err(errors) => errors.0,
    }
}

fn value_errors(value: Value) -> Vec<(String, String)> {
    match Policy::from_value(&value, "") {
        Ok(_) => panic!("policy accepted: {value}"),
        Err(errors) => errors.0.into_iter().map(|e| (e.path, e.message)).collect(),
    }
}

fn call<'a>(tool: &'a str, args: &'a Value) -> Request<'a> {
    Request {
        method: "tools/call",
        target: Some(tool),
        arguments: Some(args),
        grant: "alice-laptop",
        session: Some("s-1"),
    }
}

fn method<'a>(name: &'a str, target: Option<&'a str>) -> Request<'a> {
    Request {
        method: name,
        target,
        arguments: None,
        grant: "alice-laptop",
        session: None,
    }
}

/// `allow <rule>` or `deny <kind> <rule>: <message>`, plus any would_deny.
fn show(decision: &Decision<'_>) -> String {
    match decision {
        Decision::Allow {
            rule,
            would_deny: None,
            ..
        } => format!("allow {rule}"),
        Decision::Allow {
            rule,
            would_deny: Some(d),
            ..
        } => {
            format!(
                "allow {rule} (would deny {:?} {}: {})",
                d.kind, d.rule, d.message
            )
        }
        Decision::Deny(d) => format!("deny {:?} {}: {}", d.kind, d.rule, d.message),
    }
}

fn decide(policy: &Policy, tool: &str, args: Value) -> String {
    show(&policy.decide(&call(tool, &args)))
}

fn limit_rules(decision: &Decision<'_>) -> Vec<(String, bool)> {
    match decision {
        Decision::Allow { limits, .. } => {
            limits.iter().map(|l| (l.rule.clone(), l.dry_run)).collect()
        }
        Decision::Deny(_) => Vec::new(),
    }
}

#[test]
fn seed_policy_verbatim() {
    let policy = match Policy::from_json_text(SEED) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(policy.mode(), Mode::Enforce);
    let args = json!({"instance": "i-1"});
    let decision = policy.decide(&call("logout_instance", &args));
    assert_eq!(show(&decision), "allow /tools/logout_instance");
    match decision {
        Decision::Allow { limits, .. } => assert_eq!(
            limits,
            vec![&Limit {
                counter: "logout_instance_rate".into(),
                window: Window::Minute,
                max: 30,
                scope: Scope::Grant,
                rule: "/tools/logout_instance/limits/logout_instance_rate".into(),
                dry_run: false,
                service: false,
            }]
        ),
        Decision::Deny(d) => panic!("{d:?}"),
    }
    assert_eq!(
        decide(&policy, "delete_instance", json!({})),
        "deny Denied (default deny): Tool \"delete_instance\" is not allowed by policy"
    );
    assert_eq!(policy.listing("logout_instance"), Listing::Visible);
    assert_eq!(policy.listing("delete_instance"), Listing::NeverAllowed);
    assert_eq!(policy.named_tools(), vec!["logout_instance"]);
    assert_eq!(policy.limits().len(), 1);
    // Protocol plumbing passes; unknown methods follow the default.
    assert_eq!(
        show(&policy.decide(&method("initialize", None))),
        "allow (protocol)"
    );
    assert_eq!(
        show(&policy.decide(&method("tools/list", None))),
        "allow (protocol)"
    );
    assert_eq!(
        show(&policy.decide(&method("resources/read", Some("file:///x")))),
        "deny Denied (default deny): Resource \"file:///x\" is not allowed by policy"
    );
    assert_eq!(
        show(&policy.decide(&method("sampling/createMessage", None))),
        "deny Denied (default deny): Method \"sampling/createMessage\" is not allowed by policy"
    );
}

#[test]
fn default_allow_and_all_tools_limits() {
    let policy = load(json!({
        "version": "1", "default": "allow",
        "all_tools": {"limits": [{"counter": "calls-per-minute", "window": "minute", "max": 600}]},
        "tools": {"slow": {"limits": [{"counter": "slow", "window": 10, "max": 1, "scope": "header:X-Team-Id"}]}}
    }));
    let anything = policy.decide(&call("anything", &Value::Null));
    assert_eq!(show(&anything), "allow (default allow)");
    assert_eq!(
        limit_rules(&anything),
        vec![("/all_tools/limits/calls-per-minute".to_owned(), false)]
    );
    let slow = policy.decide(&call("slow", &Value::Null));
    assert_eq!(
        limit_rules(&slow),
        vec![
            ("/tools/slow/limits/slow".to_owned(), false),
            ("/all_tools/limits/calls-per-minute".to_owned(), false)
        ]
    );
    let scopes: Vec<Scope> = policy.limits().iter().map(|l| l.scope.clone()).collect();
    assert_eq!(
        scopes,
        vec![Scope::Header("x-team-id".into()), Scope::Grant]
    );
    assert_eq!(policy.limits()[0].window, Window::Seconds(10));
    assert_eq!(
        show(&policy.decide(&method("custom/thing", None))),
        "allow (default allow)"
    );
    assert_eq!(policy.listing("anything"), Listing::Visible);
}

#[test]
fn scopes() {
    let policy = load(json!({
        "version": "1", "default": "deny",
        "tools": {"t": {"limits": [
            {"counter": "a", "window": "hour", "max": 1, "scope": "global"},
            {"counter": "b", "window": "day", "max": 1, "scope": "session"},
            {"counter": "c", "window": "day", "max": 1, "scope": "claim:sub"},
            {"counter": "d", "window": "day", "max": 0}
        ]}}
    }));
    let scopes: Vec<Scope> = policy.limits().iter().map(|l| l.scope.clone()).collect();
    assert_eq!(
        scopes,
        vec![
            Scope::Global,
            Scope::Session,
            Scope::Claim("sub".into()),
            Scope::Grant
        ]
    );
    // max 0: never allowed, and listing says so.
    assert_eq!(policy.listing("t"), Listing::NeverAllowed);
}

#[test]
fn shared_counters_load() {
    let policy = load(json!({
        "version": "1", "default": "deny",
        "all_tools": {"limits": [{"counter": "writes", "window": "minute", "max": 100, "scope": "global"}]},
        "tools": {
            "a": {"limits": [{"counter": "writes", "window": "minute", "max": 100}]},
            "b": {"limits": [{"counter": "writes", "window": "minute", "max": 100}]}
        }
    }));
    let a = policy.decide(&call("a", &Value::Null));
    let b = policy.decide(&call("b", &Value::Null));
    assert_eq!(limit_rules(&a)[0].0, "/tools/a/limits/writes");
    assert_eq!(limit_rules(&b)[0].0, "/tools/b/limits/writes");
}

#[test]
fn hidden_tools() {
    let policy = load(json!({
        "version": "1", "default": "allow",
        "hide": ["drop_database", "delete_*"],
        "tools": {"get_*": {}}
    }));
    assert_eq!(
        decide(&policy, "drop_database", json!({})),
        "deny Hidden (hidden): Tool \"drop_database\" is hidden by policy"
    );
    assert_eq!(
        decide(&policy, "delete_user", json!({})),
        "deny Hidden (hidden): Tool \"delete_user\" is hidden by policy"
    );
    assert_eq!(decide(&policy, "get_user", json!({})), "allow /tools/get_*");
    assert_eq!(policy.listing("delete_user"), Listing::Hidden);
    assert_eq!(policy.listing("get_user"), Listing::Visible);
    let all = load(json!({"version": "1", "default": "allow", "hide": ["*"]}));
    assert_eq!(
        decide(&all, "x", json!({})),
        "deny Hidden (hidden): Tool \"x\" is hidden by policy"
    );
    assert_eq!(all.listing("x"), Listing::Hidden);
}

fn invoice_policy() -> Policy {
    load(json!({
        "version": "1", "default": "deny",
        "tools": {
            "create_invoice": {
                "require": [
                    {"path": "args.currency", "op": "in", "value": ["EUR", "USD"]},
                    {"path": "args.customer", "op": "exists", "value": true}
                ],
                "deny_if": [
                    {"conditions": [{"path": "args.items.0.unit_price", "op": "gt", "value": 1000}], "on_deny": "Unit price too high"},
                    {"conditions": [{"path": "args.currency", "op": "eq", "value": "USD"}, {"path": "args.amount", "op": "gt", "value": 100000}]},
                    {"conditions": [{"path": "args.memo", "op": "regex", "value": "(?i)urgent|wire"}], "on_deny": "Suspicious memo"}
                ]
            },
            "wire_transfer": {"deny_if": [{"conditions": [], "on_deny": "Requires human approval."}]}
        }
    }))
}

#[test]
fn require_and_deny_if() {
    let p = invoice_policy();
    let ok =
        json!({"currency": "EUR", "customer": "c1", "amount": 5, "items": [{"unit_price": 10}]});
    assert_eq!(
        decide(&p, "create_invoice", ok),
        "allow /tools/create_invoice"
    );
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "GBP", "customer": "c"})),
        "deny Denied /tools/create_invoice/require/0: Denied by rule \"/tools/create_invoice/require/0\": \
         requirement not met: args.currency in [\"EUR\",\"USD\"] (args.currency is \"GBP\")"
    );
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "EUR"})),
        "deny Denied /tools/create_invoice/require/1: Denied by rule \"/tools/create_invoice/require/1\": \
         requirement not met: args.customer exists true (args.customer is missing)"
    );
    assert_eq!(
        decide(
            &p,
            "create_invoice",
            json!({"currency": "EUR", "customer": "c", "items": [{"unit_price": 1000.5}]})
        ),
        "deny Denied /tools/create_invoice/deny_if/0: Unit price too high"
    );
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "USD", "customer": "c", "amount": 250000})),
        "deny Denied /tools/create_invoice/deny_if/1: Denied by rule \"/tools/create_invoice/deny_if/1\""
    );
    // Numbers as strings are not numbers: a type mismatch denies (fail closed).
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "USD", "customer": "c", "amount": "250000"})),
        "deny ConditionError /tools/create_invoice/deny_if/1/conditions/1: Denied by rule \
         \"/tools/create_invoice/deny_if/1/conditions/1\": gt needs a number but args.amount is a string"
    );
    // A false condition first decides the entry: no error from the second.
    assert_eq!(
        decide(
            &p,
            "create_invoice",
            json!({"currency": "EUR", "customer": "c", "amount": "lots"})
        ),
        "allow /tools/create_invoice"
    );
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "EUR", "customer": "c", "items": [{"unit_price": "9"}]})),
        "deny ConditionError /tools/create_invoice/deny_if/0/conditions/0: Denied by rule \
         \"/tools/create_invoice/deny_if/0/conditions/0\": gt needs a number but args.items.0.unit_price is a string"
    );
    assert_eq!(
        decide(
            &p,
            "create_invoice",
            json!({"currency": "EUR", "customer": "c", "memo": "Überweisung URGENT"})
        ),
        "deny Denied /tools/create_invoice/deny_if/2: Suspicious memo"
    );
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "EUR", "customer": "c", "memo": 5})),
        "deny ConditionError /tools/create_invoice/deny_if/2/conditions/0: Denied by rule \
         \"/tools/create_invoice/deny_if/2/conditions/0\": regex needs a string but args.memo is a number"
    );
    assert_eq!(
        decide(&p, "wire_transfer", json!({})),
        "deny Denied /tools/wire_transfer/deny_if/0: Requires human approval."
    );
    assert_eq!(p.listing("wire_transfer"), Listing::NeverAllowed);
    assert_eq!(p.listing("create_invoice"), Listing::Visible);
}

#[test]
fn require_type_errors_fail_closed() {
    let p = load(
        json!({"version": "1", "default": "deny", "tools": {"x": {"require": [{"path": "args.n", "op": "lte", "value": 10}]}}}),
    );
    assert_eq!(decide(&p, "x", json!({"n": 10})), "allow /tools/x");
    assert_eq!(
        decide(&p, "x", json!({"n": [1]})),
        "deny ConditionError /tools/x/require/0: Denied by rule \"/tools/x/require/0\": lte needs a number but args.n is an array"
    );
    // Missing: the comparison is false, so the requirement is not met.
    assert_eq!(
        decide(&p, "x", json!({})),
        "deny Denied /tools/x/require/0: Denied by rule \"/tools/x/require/0\": requirement not met: \
         args.n lte 10 (args.n is missing)"
    );
    let no_args = Request {
        arguments: None,
        ..call("x", &Value::Null)
    };
    assert!(show(&p.decide(&no_args)).contains("requirement not met"));
}

#[test]
fn actions() {
    let p = load(json!({
        "version": "1", "default": "allow",
        "tools": {
            "pay": {"action": "require_approval"},
            "refund": {"action": "require_approval", "message": "Ask finance"},
            "nuke": {"action": "deny"},
            "nuke2": {"action": "deny", "message": "Never"},
            "fine": {"action": "allow"}
        }
    }));
    assert_eq!(
        decide(&p, "pay", json!({})),
        "deny ApprovalRequired /tools/pay/action: Requires human approval."
    );
    assert_eq!(
        decide(&p, "refund", json!({})),
        "deny ApprovalRequired /tools/refund/action: Ask finance"
    );
    assert_eq!(
        decide(&p, "nuke", json!({})),
        "deny Denied /tools/nuke/action: Tool \"nuke\" is not allowed by policy"
    );
    assert_eq!(
        decide(&p, "nuke2", json!({})),
        "deny Denied /tools/nuke2/action: Never"
    );
    assert_eq!(decide(&p, "fine", json!({})), "allow /tools/fine");
    for tool in ["pay", "refund", "nuke", "nuke2"] {
        assert_eq!(p.listing(tool), Listing::NeverAllowed, "{tool}");
    }
    assert_eq!(p.listing("fine"), Listing::Visible);
    assert_eq!(
        p.named_tools(),
        vec!["fine", "nuke", "nuke2", "pay", "refund"]
    );
}

#[test]
fn pattern_precedence_in_policies() {
    let p = load(json!({
        "version": "1", "default": "deny",
        "tools": {
            "get_*": {"deny_if": [{"conditions": [{"path": "args.id", "op": "eq", "value": "root"}]}]},
            "get_secret*": {"action": "deny"},
            "get_public": {},
            "*_instance": {"limits": [{"counter": "instance_ops", "window": "minute", "max": 10}]},
            "*": {"action": "require_approval"}
        }
    }));
    assert_eq!(
        decide(&p, "get_public", json!({"id": "root"})),
        "allow /tools/get_public"
    );
    assert_eq!(
        decide(&p, "get_user", json!({"id": "u"})),
        "allow /tools/get_*"
    );
    assert_eq!(
        decide(&p, "get_user", json!({"id": "root"})),
        "deny Denied /tools/get_*/deny_if/0: Denied by rule \"/tools/get_*/deny_if/0\""
    );
    assert_eq!(
        decide(&p, "get_secret_key", json!({})),
        "deny Denied /tools/get_secret*/action: Tool \"get_secret_key\" is not allowed by policy"
    );
    let stop = p.decide(&call("stop_instance", &Value::Null));
    assert_eq!(show(&stop), "allow /tools/*_instance");
    assert_eq!(
        limit_rules(&stop),
        vec![("/tools/*_instance/limits/instance_ops".to_owned(), false)]
    );
    assert_eq!(
        decide(&p, "other", json!({})),
        "deny ApprovalRequired /tools/*/action: Requires human approval."
    );
    assert_eq!(p.named_tools(), vec!["get_public"]);
    assert_eq!(p.listing("get_secret_x"), Listing::NeverAllowed);
    assert_eq!(p.listing("get_x"), Listing::Visible);
    // get_instance: "get_*" and "*_instance" both have 4 literals... and
    // loading would have rejected it: check that it does.
}

#[test]
fn equal_rank_patterns_are_rejected() {
    let errors = value_errors(
        json!({"version": "1", "default": "deny", "tools": {"get_*": {}, "*_get": {}}}),
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "/tools/get_*");
    assert!(
        errors[0].1.contains("ties with \"*_get\" (/tools/*_get)"),
        "{}",
        errors[0].1
    );
    // Different ranks are fine: more literals win.
    let p = load(
        json!({"version": "1", "default": "deny", "tools": {"get_*": {"action": "deny"}, "*_instance": {}}}),
    );
    assert_eq!(
        decide(&p, "get_instance", json!({})),
        "allow /tools/*_instance"
    );
}

#[test]
fn dry_run_at_the_top_level() {
    let p = load(json!({
        "version": "1", "default": "deny", "mode": "dry_run",
        "hide": ["secret"],
        "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 0}]},
        "tools": {"x": {"deny_if": [{}], "limits": [{"counter": "x", "window": "minute", "max": 0, "mode": "enforce"}]}},
        "methods": {"ping": "deny"}
    }));
    assert_eq!(p.mode(), Mode::DryRun);
    assert_eq!(
        decide(&p, "secret", json!({})),
        "allow (default deny) (would deny Hidden (hidden): Tool \"secret\" is hidden by policy)"
    );
    assert_eq!(
        decide(&p, "unlisted", json!({})),
        "allow (default deny) (would deny Denied (default deny): Tool \"unlisted\" is not allowed by policy)"
    );
    let x = p.decide(&call("x", &Value::Null));
    assert_eq!(show(&x), "allow /tools/x (would deny Denied /tools/x/deny_if/0: Denied by rule \"/tools/x/deny_if/0\")");
    assert_eq!(
        limit_rules(&x),
        vec![
            ("/tools/x/limits/x".to_owned(), true),
            ("/all_tools/limits/all".to_owned(), true)
        ]
    );
    assert_eq!(
        show(&p.decide(&method("ping", None))),
        "allow /methods/ping (would deny Denied /methods/ping: Method \"ping\" is not allowed by policy)"
    );
    assert_eq!(
        show(&p.decide(&method("custom", None))),
        "allow (default deny) (would deny Denied (default deny): Method \"custom\" is not allowed by policy)"
    );
    for tool in ["secret", "unlisted", "x"] {
        assert_eq!(p.listing(tool), Listing::Visible);
    }
    assert!(p.limits().iter().all(|l| l.dry_run));
}

#[test]
fn dry_run_on_a_tool_entry() {
    let p = load(json!({
        "version": "1", "default": "deny",
        "all_tools": {"limits": [{"counter": "all", "window": "minute", "max": 5}]},
        "tools": {
            "x": {
                "mode": "dry_run",
                "action": "require_approval",
                "require": [{"path": "args.ok", "op": "eq", "value": true}],
                "deny_if": [{"conditions": []}],
                "limits": [{"counter": "x", "window": "minute", "max": 1}]
            }
        }
    }));
    let x = p.decide(&call("x", &Value::Null));
    assert_eq!(
        show(&x),
        "allow /tools/x (would deny Denied /tools/x/require/0: Denied by rule \"/tools/x/require/0\": requirement not met: args.ok eq true (args.ok is missing))"
    );
    // The entry's mode covers its own limits, not all_tools.
    assert_eq!(
        limit_rules(&x),
        vec![
            ("/tools/x/limits/x".to_owned(), true),
            ("/all_tools/limits/all".to_owned(), false)
        ]
    );
    assert_eq!(p.listing("x"), Listing::Visible);
    assert_eq!(p.mode(), Mode::Enforce);
}

#[test]
fn dry_run_on_a_deny_if_entry() {
    let p = load(json!({
        "version": "1", "default": "deny",
        "tools": {"x": {"deny_if": [
            {"conditions": [{"path": "args.a", "op": "exists", "value": true}], "on_deny": "A", "mode": "dry_run"},
            {"conditions": [{"path": "args.b", "op": "gt", "value": 1}], "on_deny": "B", "mode": "dry_run"},
            {"conditions": [{"path": "args.c", "op": "exists", "value": true}], "on_deny": "C"},
            {"conditions": [], "mode": "dry_run"}
        ]}}
    }));
    assert_eq!(
        decide(&p, "x", json!({"a": 1, "b": 2})),
        "allow /tools/x (would deny Denied /tools/x/deny_if/0: A)"
    );
    // A later enforced entry still denies.
    assert_eq!(
        decide(&p, "x", json!({"a": 1, "c": 1})),
        "deny Denied /tools/x/deny_if/2: C"
    );
    // Dry-run condition errors are reported too.
    assert_eq!(
        decide(&p, "x", json!({"b": "2"})),
        "allow /tools/x (would deny ConditionError /tools/x/deny_if/1/conditions/0: Denied by rule \
         \"/tools/x/deny_if/1/conditions/0\": gt needs a number but args.b is a string)"
    );
    assert_eq!(
        decide(&p, "x", json!({})),
        "allow /tools/x (would deny Denied /tools/x/deny_if/3: Denied by rule \"/tools/x/deny_if/3\")"
    );
    assert_eq!(p.listing("x"), Listing::Visible);
}

#[test]
fn dry_run_on_a_limit() {
    let p = load(json!({
        "version": "1", "default": "deny",
        "tools": {"x": {"limits": [
            {"counter": "shadow", "window": "minute", "max": 0, "mode": "dry_run"},
            {"counter": "real", "window": "minute", "max": 3, "mode": "enforce"}
        ]}}
    }));
    let x = p.decide(&call("x", &Value::Null));
    assert_eq!(
        limit_rules(&x),
        vec![
            ("/tools/x/limits/shadow".to_owned(), true),
            ("/tools/x/limits/real".to_owned(), false)
        ]
    );
    assert_eq!(p.listing("x"), Listing::Visible);
}

#[test]
fn method_rules_through_policy() {
    let p = load(json!({
        "version": "1", "default": "allow",
        "methods": {
            "resources/read": {"default": "deny", "rules": {"file:///docs/*": "allow"}},
            "prompts/get": "deny",
            "logging/setLevel": "deny",
            "tasks/cancel": "allow"
        }
    }));
    assert_eq!(
        show(&p.decide(&method("resources/read", Some("file:///docs/a.md")))),
        "allow /methods/resources~1read/rules/file:~1~1~1docs~1*"
    );
    assert_eq!(
        show(&p.decide(&method("resources/read", Some("file:///etc/passwd")))),
        "deny Denied /methods/resources~1read/default: Resource \"file:///etc/passwd\" is not allowed by policy"
    );
    assert_eq!(
        show(&p.decide(&method("prompts/get", Some("p")))),
        "deny Denied /methods/prompts~1get: Prompt \"p\" is not allowed by policy"
    );
    assert_eq!(
        show(&p.decide(&method("logging/setLevel", None))),
        "deny Denied /methods/logging~1setLevel: Method \"logging/setLevel\" is not allowed by policy"
    );
    assert_eq!(
        show(&p.decide(&method("tasks/cancel", None))),
        "allow /methods/tasks~1cancel"
    );
    assert_eq!(
        show(&p.decide(&method("notifications/cancelled", None))),
        "allow (protocol)"
    );
    match p.decide(&method("ping", None)) {
        Decision::Allow { limits, .. } => assert!(limits.is_empty()),
        Decision::Deny(d) => panic!("{d:?}"),
    }
}

#[test]
fn no_policy() {
    let p = Policy::deny_all_no_policy();
    assert_eq!(p.mode(), Mode::Enforce);
    assert_eq!(
        decide(&p, "x", json!({})),
        "deny Denied (no policy): No policy is attached to this grant"
    );
    assert_eq!(
        show(&p.decide(&method("resources/read", Some("u")))),
        "deny Denied (no policy): No policy is attached to this grant"
    );
    assert_eq!(
        show(&p.decide(&method("initialize", None))),
        "allow (protocol)"
    );
    assert_eq!(p.listing("x"), Listing::NeverAllowed);
    assert!(p.named_tools().is_empty());
    assert!(p.limits().is_empty());
}

#[test]
fn tools_call_without_a_name() {
    let p = load(json!({"version": "1", "default": "allow"}));
    let request = Request {
        target: None,
        ..call("x", &Value::Null)
    };
    assert_eq!(
        show(&p.decide(&request)),
        "deny Denied (no tool name): tools/call has no tool name"
    );
}

#[test]
fn unicode_tool_names_and_conditions() {
    let p = load(json!({
        "version": "1", "default": "deny",
        "tools": {"überweisung_*": {"deny_if": [{"conditions": [{"path": "args.empfänger", "op": "contains", "value": "Müller"}], "on_deny": "Nicht an Müller"}]}}
    }));
    assert_eq!(
        decide(&p, "überweisung_sepa", json!({"empfänger": "Frau Müller"})),
        "deny Denied /tools/überweisung_*/deny_if/0: Nicht an Müller"
    );
    assert_eq!(
        decide(&p, "überweisung_sepa", json!({"empfänger": "Herr Muller"})),
        "allow /tools/überweisung_*"
    );
}

#[test]
fn from_value_prefixes_pointers() {
    let value = json!({"version": 1, "default": "deny", "tools": {"x": {"limits": [{"counter": "", "window": "week", "max": -1}]}}});
    let errors = match Policy::from_value(&value, "/grants/alice/policy") {
        Ok(_) => panic!("accepted"),
        Err(e) => e.0,
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "/grants/alice/policy/version",
            "/grants/alice/policy/tools/x/limits/0/counter",
            "/grants/alice/policy/tools/x/limits/0/window",
            "/grants/alice/policy/tools/x/limits/0/max",
        ]
    );
    assert!(errors
        .iter()
        .all(|e| e.line.is_none() && e.column.is_none()));
}

/// One error per class, each with its pointer and its line and column.
#[test]
fn validation_errors_with_positions() {
    let text = r#"{
  "version": 1,
  "default": "maybe",
  "mode": "shadow",
  "colour": "blue",
  "hide": ["drop", "", 7, "*_instance", "both"],
  "all_tools": {"limits": [{"counter": "calls", "window": "minute", "max": 10}], "extra": 1},
  "tools": {
    "": {},
    "both": {},
    "stop_instance": {},
    "a": {"bogus": 1, "action": "maybe", "mode": "dry"},
    "b": {"message": "hi"},
    "c": {"require": [{"path": "state.x", "op": "eq", "value": 1}, {"path": "args.n", "op": "gt", "value": "5"}]},
    "d": {"deny_if": [{"conditions": [{"path": "args.s", "op": "regex", "value": "(open"}], "on_deny": "", "why": 1}]},
    "e": {"deny_if": [{"conditions": [{"path": "args.s", "op": "in", "value": "x", "extra": true}]}]},
    "f": {"limits": [
      {"counter": "shared", "window": "minute", "max": 5},
      {"counter": "shared", "window": "minute", "max": 5},
      {"counter": "calls", "window": "minute", "max": 10},
      {"counter": "bad", "window": "week", "max": 1.5, "scope": "header:bad header", "per": 1}
    ]},
    "g": {"limits": [{"counter": "shared", "window": "hour", "max": 5, "scope": "global"}]},
    "get_*": {},
    "*_get": {},
    "dup": {},
    "dup": {"require": "nope"}
  },
  "methods": {"tools/call": "deny", "ping": "sometimes", "resources/read": {"default": "deny", "other": 1}}
}"#;
    let errors = errors_of(text);
    let got: Vec<(String, usize, usize, String)> = errors
        .iter()
        .map(|e| {
            (
                e.path.clone(),
                e.line.unwrap_or(0),
                e.column.unwrap_or(0),
                e.message.clone(),
            )
        })
        .collect();
    let expect: &[(&str, usize, usize, &str)] = &[
        ("/version", 2, 14, "version must be the string \"1\""),
        ("/default", 3, 14, "default must be \"allow\" or \"deny\""),
        ("/mode", 4, 11, "mode must be \"enforce\" or \"dry_run\""),
        ("/colour", 5, 3, "unknown field \"colour\" in a policy"),
        ("/hide/1", 6, 20, "a hidden tool name cannot be empty"),
        ("/hide/2", 6, 24, "a hidden tool name must be a string, not a number"),
        ("/hide/3", 6, 27, "\"*_instance\" hides \"stop_instance\", which is also listed under tools (/tools/stop_instance)"),
        ("/hide/4", 6, 41, "\"both\" is both hidden and listed under tools (/tools/both)"),
        ("/all_tools/extra", 7, 82, "unknown field \"extra\" in all_tools"),
        ("/tools/", 9, 5, "a tool name cannot be empty"),
        ("/tools/a/action", 12, 33, "action must be \"allow\", \"deny\" or \"require_approval\", not \"maybe\""),
        ("/tools/a/bogus", 12, 11, "unknown field \"bogus\" in a tool entry"),
        ("/tools/a/mode", 12, 50, "mode must be \"enforce\" or \"dry_run\", not \"dry\""),
        ("/tools/b/message", 13, 22, "message applies only with action \"deny\" or \"require_approval\""),
        ("/tools/c/require/0/path", 14, 32, "path must be \"args\""),
        ("/tools/c/require/1/value", 14, 108, "gt needs a number value (ordering compares numbers only), not a string (\"5\")"),
        ("/tools/d/deny_if/0/conditions/0/value", 15, 82, "invalid regex \"(open\""),
        ("/tools/d/deny_if/0/on_deny", 15, 104, "on_deny cannot be empty"),
        ("/tools/d/deny_if/0/why", 15, 108, "unknown field \"why\" in a deny_if entry"),
        ("/tools/e/deny_if/0/conditions/0/extra", 16, 84, "unknown field \"extra\" in a condition; expected one of: path, op, value"),
        ("/tools/e/deny_if/0/conditions/0/value", 16, 79, "in needs an array value, not a string (\"x\")"),
        ("/tools/f/limits/2", 20, 7, "counter \"calls\" with the same scope is already an all_tools limit (/all_tools/limits/calls)"),
        ("/tools/f/limits/1/counter", 19, 19, "counter \"shared\" is already limited at /tools/f/limits/0"),
        ("/tools/f/limits/3/max", 21, 51, "max must be a whole number, 0 or more, not 1.5"),
        ("/tools/f/limits/3/per", 21, 86, "unknown field \"per\" in a limit"),
        ("/tools/f/limits/3/scope", 21, 65, "\"header:bad header\" does not name a valid header"),
        ("/tools/f/limits/3/window", 21, 36, "window must be \"minute\", \"hour\", \"day\" or a whole number of seconds, not \"week\""),
        ("/tools/g/limits/0", 23, 22, "counter \"shared\" is defined at /tools/f/limits/0 with window minute and max 5 but here with window hour"),
        ("/tools/get_*", 24, 5, "tool pattern \"get_*\" ties with \"*_get\" (/tools/*_get)"),
        ("/tools/dup", 27, 5, "duplicate key \"dup\" (first at line 26, column 5)"),
        ("/tools/dup/require", 27, 24, "require must be an array, not a string"),
        ("/methods/tools~1call", 29, 15, "tools/call cannot have a method rule"),
        ("/methods/ping", 29, 45, "a method rule must be \"allow\" or \"deny\", not \"sometimes\""),
        ("/methods/resources~1read/other", 29, 96, "unknown field \"other\" in"),
    ];
    let mut missing = Vec::new();
    for (path, line, column, message) in expect {
        let hit = got
            .iter()
            .any(|(p, l, c, m)| p == path && l == line && c == column && m.starts_with(message));
        if !hit {
            missing.push(format!("{path} ({line}:{column}) {message}"));
        }
    }
    let shown: Vec<String> = got
        .iter()
        .map(|(p, l, c, m)| format!("{p} ({l}:{c}) {m}"))
        .collect();
    assert!(
        missing.is_empty(),
        "missing:\n{}\n\ngot:\n{}",
        missing.join("\n"),
        shown.join("\n")
    );
    // The "g" limit disagrees with /tools/f/limits/0 on window: both paths named.
    assert!(
        got.iter().any(|(p, _, _, m)| p == "/tools/g/limits/0"
            && m.contains("/tools/f/limits/0")
            && m.contains("window minute and max 5 but here with window hour")),
        "{}",
        shown.join("\n")
    );
    // Errors come in text order.
    let positions: Vec<(usize, usize)> = got.iter().map(|(_, l, c, _)| (*l, *c)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    // Display: one error per line.
    let display = PolicyErrors(errors.clone()).to_string();
    assert_eq!(display.lines().count(), errors.len());
    assert!(
        display
            .lines()
            .any(|l| l.starts_with("/default (line 3, column 14): default must be")),
        "{display}"
    );
}

#[test]
fn missing_required_fields_and_wrong_shapes() {
    let errors = errors_of("{\n  \"tools\": {}\n}");
    let got: Vec<(String, Option<usize>, String)> = errors
        .iter()
        .map(|e| (e.path.clone(), e.line, e.message.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "".into(),
                Some(1),
                "missing required field \"version\" (must be \"1\")".into()
            ),
            (
                "".into(),
                Some(1),
                "missing required field \"default\" (\"allow\" or \"deny\")".into()
            ),
        ]
    );
    let errors = errors_of("[1, 2]");
    assert_eq!(
        (errors[0].path.as_str(), errors[0].message.as_str()),
        ("", "a policy must be a JSON object, not an array")
    );
    let errors = errors_of("{\"version\": \"1\", \"default\": \"deny\", \"tools\": []}");
    assert_eq!(errors[0].path, "/tools");
    let e = value_errors(json!({"version": "1", "default": "deny", "tools": {"x": 5}}));
    assert_eq!(
        e,
        vec![(
            "/tools/x".to_owned(),
            "a tool entry must be an object, not a number".to_owned()
        )]
    );
    let e = value_errors(
        json!({"version": "1", "default": "deny", "tools": {"x": {"limits": [{"window": "minute"}]}}}),
    );
    assert_eq!(e.len(), 2);
    assert!(e.iter().all(|(p, _)| p == "/tools/x/limits/0"));
    let e = value_errors(
        json!({"version": "1", "default": "deny", "hide": ["*"], "tools": {"a": {}, "b*": {}}}),
    );
    assert_eq!(e, vec![("/hide/0".to_owned(), "\"*\" hides every tool, so no entry under tools (a, b*) can ever apply; remove them or hide fewer tools".to_owned())]);
    let e = value_errors(json!({"version": "1", "default": "deny", "hide": "x"}));
    assert_eq!(e[0].0, "/hide");
    let e = value_errors(json!({"version": "1", "default": "deny", "all_tools": {"limits": {}}}));
    assert_eq!(e[0].0, "/all_tools/limits");
    let e =
        value_errors(json!({"version": "1", "default": "deny", "tools": {"x": {"deny_if": [5]}}}));
    assert_eq!(e[0].0, "/tools/x/deny_if/0");
    let e = value_errors(
        json!({"version": "1", "default": "deny", "tools": {"x": {"limits": [{"counter": "c", "window": "minute", "max": 1, "scope": "claim:"}]}}}),
    );
    assert_eq!(e[0].0, "/tools/x/limits/0/scope");
    let e = value_errors(
        json!({"version": "1", "default": "deny", "tools": {"x": {"limits": [{"counter": "c", "window": "minute", "max": 1, "mode": "dry"}]}}}),
    );
    assert_eq!(e[0].0, "/tools/x/limits/0/mode");
    let e = value_errors(
        json!({"version": "1", "default": "deny", "tools": {"x": {"limits": [{"counter": "c", "window": "minute", "max": 1, "scope": "tenant"}]}}}),
    );
    assert_eq!(e, vec![("/tools/x/limits/0/scope".to_owned(), "scope must be \"grant\", \"global\", \"session\", \"header:<name>\" or \"claim:<name>\", not \"tenant\"".to_owned())]);
}

#[test]
fn syntax_errors_are_reported_with_positions() {
    let errors = errors_of("{\n  \"version\": \"1\",\n  \"default\": deny\n}");
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (Some(3), Some(14)));
    assert_eq!(errors[0].path, "/default");
    assert!(
        errors[0].message.starts_with("expected a JSON value"),
        "{}",
        errors[0].message
    );
}

#[test]
fn header_scope_is_lowercased_and_claims_kept() {
    let p = load(
        json!({"version": "1", "default": "deny", "tools": {"x": {"limits": [
            {"counter": "h", "window": "minute", "max": 1, "scope": "header:X-Tenant"},
            {"counter": "c", "window": "minute", "max": 1, "scope": "claim:Org.Id"}
        ]}}}),
    );
    let scopes: Vec<Scope> = p.limits().iter().map(|l| l.scope.clone()).collect();
    assert_eq!(
        scopes,
        vec![
            Scope::Header("x-tenant".into()),
            Scope::Claim("Org.Id".into())
        ]
    );
}

#[test]
fn all_tools_max_zero_blocks_listing() {
    let p = load(json!({
        "version": "1", "default": "allow",
        "all_tools": {"limits": [{"counter": "frozen", "window": "day", "max": 0}]},
        "tools": {"x": {}}
    }));
    assert_eq!(p.listing("x"), Listing::NeverAllowed);
    assert_eq!(p.listing("unlisted"), Listing::NeverAllowed);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Through the whole policy: the exact entry wins whenever there is
        /// one; otherwise the matching pattern with the most literals wins,
        /// and a policy with two equal-rank patterns matching the name does
        /// not load.
        #[test]
        fn exact_beats_patterns_and_more_literals_win(
            name in "[a-d_]{1,10}",
            cuts in proptest::collection::vec((0usize..10, 0usize..10), 0..4),
            decoys in proptest::collection::vec("[a-d_*]{1,6}", 0..4),
            with_exact in any::<bool>(),
        ) {
            let chars: Vec<char> = name.chars().collect();
            let mut keys: Vec<String> = decoys;
            for (x, y) in cuts {
                let (lo, hi) = (x.min(y).min(chars.len()), x.max(y).min(chars.len()));
                keys.push(chars[..lo].iter().chain(std::iter::once(&'*')).chain(chars[hi..].iter()).collect());
            }
            if with_exact {
                keys.push(name.clone());
            }
            keys.sort();
            keys.dedup();
            let tools: serde_json::Map<String, Value> = keys
                .iter()
                .map(|k| (k.clone(), json!({"action": "deny", "message": format!("entry {k}")})))
                .collect();
            let policy = Policy::from_value(&json!({"version": "1", "default": "allow", "tools": tools}), "");
            let matching: Vec<&String> = keys
                .iter()
                .filter(|k| pattern::Pattern::new(k).matches(&name))
                .collect();
            let exact = keys.iter().find(|k| **k == name && !k.contains('*'));
            let best_rank = matching.iter().filter(|k| k.contains('*')).map(|k| pattern::Pattern::new(k).literals()).max();
            let best: Vec<&&String> = matching.iter().filter(|k| k.contains('*') && Some(pattern::Pattern::new(k).literals()) == best_rank).collect();
            match policy {
                Err(errors) => {
                    // Only ties can make this policy fail.
                    prop_assert!(errors.0.iter().all(|e| e.message.contains("ties with")), "{}", errors);
                }
                Ok(policy) => {
                    let decided = decide(&policy, &name, json!({}));
                    if let Some(exact) = exact {
                        prop_assert!(decided.ends_with(&format!(": entry {exact}")), "{}", decided);
                    } else if best.len() == 1 {
                        prop_assert!(decided.ends_with(&format!(": entry {}", best[0])), "{}", decided);
                    } else {
                        prop_assert!(best.is_empty(), "equal-rank patterns {:?} both match {:?} but loaded", best, name);
                        prop_assert_eq!(decided, "allow (default allow)".to_owned());
                    }
                }
            }
        }
    }
}
