//! A message for every denial: a requirement's `on_deny`, and the default
//! text that names the condition and what the request carried.

use serde_json::json;

use super::{decide, load, value_errors};

#[test]
fn a_requirement_may_carry_its_own_message() {
    let p = load(json!({"version": "1", "default": "deny", "tools": {
        "create_invoice": {"require": [
            {"path": "args.currency", "op": "in", "value": ["PES", "DOL"], "on_deny": "Only pesos or dollars."},
            {"path": "args.invoices.*.currency", "op": "in", "value": ["PES", "DOL"], "on_deny": "Every invoice in pesos or dollars."},
            {"path": "args.point_of_sale", "op": "exists", "value": true}
        ]}
    }}));
    let rule = "/tools/create_invoice/require";
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "EUR"})),
        format!("deny Denied {rule}/0: Only pesos or dollars.")
    );
    // Through a `*`, the message names the element that failed.
    assert_eq!(
        decide(&p, "create_invoice", json!({"currency": "PES", "invoices": [{"currency": "PES"}, {"currency": "EUR"}]})),
        format!("deny Denied {rule}/1: Every invoice in pesos or dollars. (args.invoices.1.currency is \"EUR\")")
    );
    // Without one, the default names the condition.
    assert_eq!(
        decide(
            &p,
            "create_invoice",
            json!({"currency": "PES", "invoices": []})
        ),
        format!(
            "deny Denied {rule}/2: Denied by rule \"{rule}/2\": requirement not met: \
             args.point_of_sale exists true (args.point_of_sale is missing)"
        )
    );
}

#[test]
fn default_messages_never_echo_long_values() {
    let p = load(
        json!({"version": "1", "default": "deny", "tools": {"t": {"require": [
            {"path": "args.note", "op": "in", "value": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"]},
            {"path": "request.grant", "op": "eq", "value": "bob"}
        ]}}}),
    );
    let long = "x".repeat(100_000);
    let decided = decide(&p, "t", json!({"note": long}));
    assert_eq!(
        decided,
        format!(
            "deny Denied /tools/t/require/0: Denied by rule \"/tools/t/require/0\": requirement not met: \
             args.note in [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\"] \
             (args.note is \"{}…\")",
            "x".repeat(40)
        )
    );
    let decided = decide(&p, "t", json!({"note": {"deep": [long]}}));
    assert!(decided.ends_with("(args.note is an object)"), "{decided}");
    assert_eq!(
        decide(&p, "t", json!({"note": "a"})),
        "deny Denied /tools/t/require/1: Denied by rule \"/tools/t/require/1\": requirement not met: \
         request.grant eq \"bob\" (request.grant is \"alice-laptop\")"
    );
    // A long operand is cut too.
    let p = load(
        json!({"version": "1", "default": "deny", "tools": {"t": {"require": [
            {"path": "args.n", "op": "in", "value": (0..100).collect::<Vec<u32>>()}
        ]}}}),
    );
    let decided = decide(&p, "t", json!({"n": -1}));
    assert!(
        decided.ends_with("requirement not met: args.n in [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,… (args.n is -1)"),
        "{decided}"
    );
}

#[test]
fn on_deny_belongs_to_requirements_and_deny_if_entries_only() {
    let errors = value_errors(json!({"version": "1", "default": "deny", "tools": {"t": {
        "require": [
            {"path": "args.a", "op": "eq", "value": 1, "on_deny": ""},
            {"path": "args.a", "op": "eq", "value": 1, "on_deny": 5},
            {"path": "args.a", "op": "eq", "value": 1, "message": "hi"}
        ],
        "deny_if": [{"conditions": [{"path": "args.a", "op": "eq", "value": 1, "on_deny": "No."}]}]
    }}}));
    assert_eq!(
        errors,
        vec![
            (
                "/tools/t/require/0/on_deny".to_owned(),
                "on_deny cannot be empty".to_owned()
            ),
            (
                "/tools/t/require/1/on_deny".to_owned(),
                "on_deny must be a string, not a number".to_owned()
            ),
            (
                "/tools/t/require/2/message".to_owned(),
                "unknown field \"message\" in a condition; expected one of: path, op, value, on_deny"
                    .to_owned()
            ),
            (
                "/tools/t/deny_if/0/conditions/0/on_deny".to_owned(),
                "unknown field \"on_deny\" in a condition; expected one of: path, op, value; \
                 a deny_if entry's message is the entry's on_deny, beside its conditions"
                    .to_owned()
            ),
        ]
    );
}
