//! `*` in condition paths: every element of an array.

use serde_json::{json, Value};

use super::{decide, load, value_errors};
use crate::policy::Policy;

fn tool(entry: Value) -> Policy {
    load(json!({"version": "1", "default": "deny", "tools": {"t": entry}}))
}

fn deny_if(conditions: Value) -> Policy {
    tool(json!({"deny_if": [{"conditions": conditions, "on_deny": "No."}]}))
}

fn require(condition: Value) -> Policy {
    tool(json!({"require": [condition]}))
}

fn c(path: &str, op: &str, value: Value) -> Value {
    json!({"path": path, "op": op, "value": value})
}

/// The decision for a call whose arguments are `{"invoices": invoices}`.
fn invoices(p: &Policy, invoices: Value) -> String {
    decide(p, "t", json!({ "invoices": invoices }))
}

const ALLOW: &str = "allow /tools/t";
const DENY_IF: &str = "deny Denied /tools/t/deny_if/0: No.";

fn unmet(text: &str, fact: &str) -> String {
    format!(
        "deny Denied /tools/t/require/0: Denied by rule \"/tools/t/require/0\": requirement not met: {text} ({fact})"
    )
}

fn error(rule: &str, what: &str) -> String {
    format!("deny ConditionError {rule}: Denied by rule \"{rule}\": {what}")
}

#[test]
fn deny_if_holds_when_any_element_does() {
    let p = deny_if(json!([c(
        "args.invoices.*.amount_total",
        "gt",
        json!(100000)
    )]));
    let batch = |amounts: Value| json!({"invoices": amounts.as_array().map(|a| a.iter().map(|x| json!({"amount_total": x})).collect::<Vec<_>>())});
    assert_eq!(decide(&p, "t", batch(json!([500, 100000]))), ALLOW);
    assert_eq!(
        decide(&p, "t", batch(json!([500, 150000, 200000]))),
        format!("{DENY_IF} (args.invoices.1.amount_total is 150000)")
    );
    assert_eq!(decide(&p, "t", batch(json!([]))), ALLOW);
    // A missing array: the comparison is on a missing path, so false.
    assert_eq!(decide(&p, "t", json!({})), ALLOW);
    // An element without the member: missing, so false for that element.
    assert_eq!(
        invoices(&p, json!([{"x": 1}, 7, {"amount_total": 100001}])),
        format!("{DENY_IF} (args.invoices.2.amount_total is 100001)")
    );
    // Elements are tried in order: the first that decides ends it.
    assert_eq!(
        decide(&p, "t", batch(json!([150000, "9"]))),
        format!("{DENY_IF} (args.invoices.0.amount_total is 150000)")
    );
    let rule = "/tools/t/deny_if/0/conditions/0";
    assert_eq!(
        decide(&p, "t", batch(json!([5, "9", 150000]))),
        error(
            rule,
            "gt needs a number but args.invoices.1.amount_total is a string"
        )
    );
}

#[test]
fn require_holds_when_every_element_does() {
    let p = require(c("args.invoices.*.currency", "in", json!(["PES", "DOL"])));
    let text = r#"args.invoices.*.currency in ["PES","DOL"]"#;
    let batch = |currencies: Value| json!({"invoices": currencies.as_array().map(|a| a.iter().map(|x| json!({"currency": x})).collect::<Vec<_>>())});
    assert_eq!(decide(&p, "t", batch(json!(["PES", "DOL", "PES"]))), ALLOW);
    assert_eq!(
        decide(&p, "t", batch(json!(["PES", "EUR", "GBP"]))),
        unmet(text, r#"args.invoices.1.currency is "EUR""#)
    );
    // An empty array satisfies a requirement.
    assert_eq!(decide(&p, "t", batch(json!([]))), ALLOW);
    // A missing array is a missing path: the requirement fails closed.
    assert_eq!(
        decide(&p, "t", json!({})),
        unmet(text, "args.invoices.*.currency is missing")
    );
    assert_eq!(
        invoices(&p, json!([{"currency": "PES"}, {}])),
        unmet(text, "args.invoices.1.currency is missing")
    );
}

#[test]
fn a_value_that_is_not_an_array_at_a_wildcard_is_an_error() {
    let p = deny_if(json!([c("args.invoices.*.amount_total", "gt", json!(1))]));
    let rule = "/tools/t/deny_if/0/conditions/0";
    for (value, kind) in [
        (json!({"0": {"amount_total": 5}}), "an object"),
        (json!("[]"), "a string"),
        (json!(null), "null"),
        (json!(3), "a number"),
    ] {
        assert_eq!(
            invoices(&p, value),
            error(
                rule,
                &format!("\"*\" needs an array but args.invoices is {kind}")
            )
        );
    }
    let p = require(c("args.orders.*.items.*.price", "lte", json!(10)));
    assert_eq!(
        decide(
            &p,
            "t",
            json!({"orders": [{"items": [{"price": 1}]}, {"items": {"price": 1}}]})
        ),
        error(
            "/tools/t/require/0",
            "\"*\" needs an array but args.orders.1.items is an object"
        )
    );
}

#[test]
fn conditions_under_the_same_wildcard_hold_for_one_element() {
    let p = deny_if(json!([
        c("args.invoices.*.currency", "eq", json!("DOL")),
        c("args.invoices.*.amount_total", "gt", json!(1000))
    ]));
    // Dollars in one invoice, over 1000 in another: no single invoice is both.
    assert_eq!(
        invoices(
            &p,
            json!([{"currency": "DOL", "amount_total": 10}, {"currency": "PES", "amount_total": 5000}])
        ),
        ALLOW
    );
    assert_eq!(
        invoices(
            &p,
            json!([{"currency": "PES", "amount_total": 5000}, {"currency": "DOL", "amount_total": 5000}])
        ),
        format!(
            "{DENY_IF} (args.invoices.1.currency is \"DOL\", args.invoices.1.amount_total is 5000)"
        )
    );
    // Per element, the first false condition ends it: no type error from the second.
    assert_eq!(
        invoices(&p, json!([{"currency": "PES", "amount_total": "lots"}])),
        ALLOW
    );
    assert_eq!(
        invoices(&p, json!([{"currency": "DOL", "amount_total": "lots"}])),
        error(
            "/tools/t/deny_if/0/conditions/1",
            "gt needs a number but args.invoices.0.amount_total is a string"
        )
    );
    // A value that is not an array names the first condition under the `*`.
    assert_eq!(
        invoices(&p, json!("x")),
        error(
            "/tools/t/deny_if/0/conditions/0",
            "\"*\" needs an array but args.invoices is a string"
        )
    );
}

#[test]
fn different_arrays_and_scalars_are_evaluated_independently() {
    let p = deny_if(json!([
        c("args.invoices.*.currency", "eq", json!("DOL")),
        c("args.refunds.*.amount", "gt", json!(10)),
        c("args.point_of_sale", "eq", json!(3))
    ]));
    let args = |pos: u32| {
        json!({"point_of_sale": pos, "invoices": [{"currency": "PES"}, {"currency": "DOL"}],
               "refunds": [{"amount": 50}, {"amount": 1}]})
    };
    assert_eq!(
        decide(&p, "t", args(3)),
        format!("{DENY_IF} (args.invoices.1.currency is \"DOL\", args.refunds.0.amount is 50)")
    );
    assert_eq!(decide(&p, "t", args(4)), ALLOW);
    // Conditions without `*` are evaluated first: a false one ends the entry
    // before any array is read.
    assert_eq!(
        decide(
            &p,
            "t",
            json!({"point_of_sale": 4, "invoices": "not an array"})
        ),
        ALLOW
    );
    // A member deeper in the element is still bound to the same invoice.
    let p = deny_if(json!([
        c("args.invoices.*.currency", "eq", json!("DOL")),
        c("args.invoices.*.lines.0.amount", "gt", json!(10))
    ]));
    assert_eq!(
        invoices(
            &p,
            json!([{"currency": "DOL", "lines": [{"amount": 1}]}, {"currency": "PES", "lines": [{"amount": 99}]}])
        ),
        ALLOW
    );
    // Bound at the invoice, independent below it: some line and some fee
    // of one invoice.
    let p = deny_if(json!([
        c("args.invoices.*.lines.*.amount", "gt", json!(10)),
        c("args.invoices.*.fees.*.amount", "gt", json!(10))
    ]));
    let invoice = |lines: Value, fees: Value| json!({"lines": lines, "fees": fees});
    assert_eq!(
        invoices(
            &p,
            json!([
                invoice(json!([{"amount": 50}]), json!([{"amount": 1}])),
                invoice(json!([{"amount": 1}]), json!([{"amount": 50}]))
            ])
        ),
        ALLOW
    );
    assert_eq!(
        invoices(
            &p,
            json!([
                invoice(json!([{"amount": 50}]), json!([{"amount": 1}])),
                invoice(
                    json!([{"amount": 1}, {"amount": 20}]),
                    json!([{"amount": 50}])
                )
            ])
        ),
        format!(
            "{DENY_IF} (args.invoices.1.lines.1.amount is 20, args.invoices.1.fees.0.amount is 50)"
        )
    );
}

#[test]
fn nested_wildcards() {
    let order = |country: &str, prices: Value| json!({"country": country, "items": prices.as_array().map(|a| a.iter().map(|p| json!({"price": p, "sku": "A"})).collect::<Vec<_>>())});
    let args = json!({"orders": [order("AR", json!([5, 50])), order("UY", json!([500]))]});

    let any = deny_if(json!([c("args.orders.*.items.*.price", "gt", json!(100))]));
    assert_eq!(
        decide(&any, "t", args.clone()),
        format!("{DENY_IF} (args.orders.1.items.0.price is 500)")
    );
    // Bound at the outer `*` only: an Argentine order with an item over 100.
    let same_order = deny_if(json!([
        c("args.orders.*.country", "eq", json!("AR")),
        c("args.orders.*.items.*.price", "gt", json!(100))
    ]));
    assert_eq!(decide(&same_order, "t", args.clone()), ALLOW);
    assert_eq!(
        decide(
            &same_order,
            "t",
            json!({"orders": [order("UY", json!([1])), order("AR", json!([1, 200]))]})
        ),
        format!("{DENY_IF} (args.orders.1.country is \"AR\", args.orders.1.items.1.price is 200)")
    );
    // Bound at both `*`s: one item over 100 with sku "B".
    let same_item = deny_if(json!([
        c("args.orders.*.items.*.price", "gt", json!(100)),
        c("args.orders.*.items.*.sku", "eq", json!("B"))
    ]));
    let mixed =
        json!({"orders": [{"items": [{"price": 500, "sku": "A"}, {"price": 1, "sku": "B"}]}]});
    assert_eq!(decide(&same_item, "t", mixed), ALLOW);
    let hit = json!({"orders": [{"items": []}, {"items": [{"price": 1, "sku": "B"}, {"price": 101, "sku": "B"}]}]});
    assert_eq!(
        decide(&same_item, "t", hit),
        format!(
            "{DENY_IF} (args.orders.1.items.1.price is 101, args.orders.1.items.1.sku is \"B\")"
        )
    );

    let every = require(c("args.orders.*.items.*.price", "lte", json!(100)));
    let text = "args.orders.*.items.*.price lte 100";
    assert_eq!(
        decide(&every, "t", args.clone()),
        unmet(text, "args.orders.1.items.0.price is 500")
    );
    assert_eq!(
        decide(
            &every,
            "t",
            json!({"orders": [order("AR", json!([1])), {"country": "UY"}]})
        ),
        unmet(text, "args.orders.1.items.*.price is missing")
    );
    assert_eq!(
        decide(
            &every,
            "t",
            json!({"orders": [order("AR", json!([])), order("UY", json!([100]))]})
        ),
        ALLOW
    );
    // Arrays of arrays.
    let grid = require(c("args.grid.*.*", "gte", json!(0)));
    assert_eq!(
        decide(&grid, "t", json!({"grid": [[0, 1], [], [2]]})),
        ALLOW
    );
    assert_eq!(
        decide(&grid, "t", json!({"grid": [[0, 1], [2, -1]]})),
        unmet("args.grid.*.* gte 0", "args.grid.1.1 is -1")
    );
}

/// The documented readings of `neq`, `not_in` and `exists: false`: each
/// asks about one element.
#[test]
fn negative_operators_ask_about_one_element() {
    let batch = json!({"invoices": [{"currency": "PES", "cae": "1"}, {"currency": "DOL"}]});
    let pesos =
        json!({"invoices": [{"currency": "PES", "cae": "1"}, {"currency": "PES", "cae": "2"}]});

    // deny_if: some invoice is not in pesos.
    let p = deny_if(json!([c("args.invoices.*.currency", "neq", json!("PES"))]));
    assert_eq!(
        decide(&p, "t", batch.clone()),
        format!("{DENY_IF} (args.invoices.1.currency is \"DOL\")")
    );
    assert_eq!(decide(&p, "t", pesos.clone()), ALLOW);
    // require: every invoice has a currency, and none is in pesos.
    let p = require(c("args.invoices.*.currency", "neq", json!("PES")));
    assert_eq!(
        decide(&p, "t", batch.clone()),
        unmet(
            r#"args.invoices.*.currency neq "PES""#,
            r#"args.invoices.0.currency is "PES""#
        )
    );
    assert_eq!(
        invoices(&p, json!([{"currency": "DOL"}, {}])),
        unmet(
            r#"args.invoices.*.currency neq "PES""#,
            "args.invoices.1.currency is missing"
        )
    );
    // not_in reads the same way.
    let p = deny_if(json!([c(
        "args.invoices.*.currency",
        "not_in",
        json!(["PES"])
    )]));
    assert!(decide(&p, "t", batch.clone()).starts_with(DENY_IF));
    assert_eq!(decide(&p, "t", pesos.clone()), ALLOW);
    let p = require(c(
        "args.invoices.*.currency",
        "not_in",
        json!(["DOL", "EUR"]),
    ));
    assert_eq!(decide(&p, "t", pesos.clone()), ALLOW);
    assert!(decide(&p, "t", batch.clone()).contains("args.invoices.1.currency is \"DOL\""));

    // deny_if exists false: some invoice lacks a CAE.
    let p = deny_if(json!([c("args.invoices.*.cae", "exists", json!(false))]));
    assert_eq!(
        decide(&p, "t", batch.clone()),
        format!("{DENY_IF} (args.invoices.1.cae is missing)")
    );
    assert_eq!(decide(&p, "t", pesos.clone()), ALLOW);
    assert_eq!(invoices(&p, json!([])), ALLOW);
    // A missing array is one missing element: its paths are all missing.
    assert_eq!(
        decide(&p, "t", json!({})),
        format!("{DENY_IF} (args.invoices.*.cae is missing)")
    );
    // require exists false: no invoice carries a CAE.
    let p = require(c("args.invoices.*.cae", "exists", json!(false)));
    assert_eq!(invoices(&p, json!([{}, {}])), ALLOW);
    assert_eq!(decide(&p, "t", json!({})), ALLOW);
    assert_eq!(
        decide(&p, "t", batch),
        unmet(
            "args.invoices.*.cae exists false",
            r#"args.invoices.0.cae is "1""#
        )
    );
    // A path ending in `*` tests the elements themselves.
    let p = require(c("args.tags.*", "regex", json!("^[a-z]+$")));
    assert_eq!(decide(&p, "t", json!({"tags": ["a", "bc"]})), ALLOW);
    assert_eq!(
        decide(&p, "t", json!({"tags": ["a", "B"]})),
        unmet(r#"args.tags.* regex "^[a-z]+$""#, r#"args.tags.1 is "B""#)
    );
    let p = require(c("args.tags.*", "exists", json!(true)));
    assert_eq!(decide(&p, "t", json!({"tags": []})), ALLOW);
    assert_eq!(
        decide(&p, "t", json!({})),
        unmet("args.tags.* exists true", "args.tags.* is missing")
    );
}

#[test]
fn wildcards_in_dry_run_report_the_element() {
    let p = tool(
        json!({"deny_if": [{"conditions": [c("args.items.*.qty", "gt", json!(9))], "mode": "dry_run"}]}),
    );
    assert_eq!(
        decide(&p, "t", json!({"items": [{"qty": 1}, {"qty": 10}]})),
        "allow /tools/t (would deny Denied /tools/t/deny_if/0: Denied by rule \"/tools/t/deny_if/0\" \
         (args.items.1.qty is 10))"
    );
}

#[test]
fn malformed_wildcard_paths_are_load_errors() {
    let policy = |path: &str| {
        json!({"version": "1", "default": "deny", "tools": {"t": {
            "require": [c(path, "eq", json!(1))],
            "deny_if": [{"conditions": [c(path, "eq", json!(1))]}]
        }}})
    };
    for (path, message) in [
        ("args.*", "cannot follow args directly"),
        ("args.*.a", "cannot follow args directly"),
        ("args.a.**", "must be a whole segment"),
        ("args.a.*b", "must be a whole segment"),
        ("args.a..*", "has an empty segment"),
        ("args.a.*.", "has an empty segment"),
        ("request.*", "applies only to args paths"),
        ("request.tool.*", "applies only to args paths"),
        ("args.a.*.*.*.*.*.*.*.*.*", "at most 8 are allowed"),
    ] {
        let errors = value_errors(policy(path));
        let pointers: Vec<&str> = errors.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            vec![
                "/tools/t/require/0/path",
                "/tools/t/deny_if/0/conditions/0/path"
            ],
            "{path}"
        );
        assert!(
            errors.iter().all(|(_, m)| m.contains(message)),
            "{path}: {errors:?}"
        );
    }
}

/// Independent `*`s are read one after the other, never combined: three
/// arrays of 20,000 elements take 60,000 tests, not 8·10^12.
#[test]
fn independent_wildcards_cost_the_sum_of_their_arrays() {
    let n = 20_000;
    let last = |name: &str| {
        let mut items: Vec<Value> = (0..n).map(|_| json!({name: 0})).collect();
        items.push(json!({name: 1}));
        items
    };
    let args = json!({"a": last("x"), "b": last("y"), "c": (0..n).map(|_| json!({"z": 0})).collect::<Vec<_>>()});
    let p = deny_if(json!([
        c("args.a.*.x", "eq", json!(1)),
        c("args.b.*.y", "eq", json!(1)),
        c("args.c.*.z", "eq", json!(1))
    ]));
    assert_eq!(decide(&p, "t", args), ALLOW);
}
