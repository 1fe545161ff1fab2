//! `*` against a reference: the same policy written with fixed indices
//! (`args.items.0.v`, `args.items.1.v`, ...), one element at a time.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::{decide, load};

/// What a decision says about the tested conditions: `Some(true)` they
/// hold, `Some(false)` they do not, `None` an evaluation error.
type Holds = Option<bool>;

fn condition(path: &str, (op, value): &(&str, Value)) -> Value {
    json!({"path": path, "op": op, "value": value})
}

/// Tool `t` with `entry`: `Some(true)` allowed, `Some(false)` denied,
/// `None` an evaluation error; and the decision.
fn allowed(entry: Value, args: &Value) -> (Holds, String) {
    let policy = load(json!({"version": "1", "default": "deny", "tools": {"t": entry}}));
    let decided = decide(&policy, "t", args.clone());
    let allowed = if decided == "allow /tools/t" {
        Some(true)
    } else if decided.starts_with("deny Denied ") {
        Some(false)
    } else {
        assert!(decided.starts_with("deny ConditionError "), "{decided}");
        None
    };
    (allowed, decided)
}

/// A `deny_if` entry of `conditions`: whether it holds (denies).
fn any(conditions: Vec<Value>, args: &Value) -> (Holds, String) {
    let (allowed, decided) = allowed(json!({"deny_if": [{"conditions": conditions}]}), args);
    (allowed.map(|a| !a), decided)
}

/// One `require` condition: whether it holds.
fn every(condition: Value, args: &Value) -> (Holds, String) {
    allowed(json!({"require": [condition]}), args)
}

/// The reference for one `*` over `array` (the value at the `*`'s parent):
/// `element(i)` is the fixed-index outcome for element `i` (or for the
/// missing element when the array is missing), and `decides` is the outcome
/// that ends the scan. Returns the outcome and the index that decided.
fn scan(
    array: Option<&Value>,
    element: &mut dyn FnMut(usize) -> Holds,
    decides: bool,
) -> (Holds, Option<usize>) {
    match array {
        None => (element(0), None),
        Some(Value::Array(items)) => {
            for i in 0..items.len() {
                match element(i) {
                    None => return (None, Some(i)),
                    Some(holds) if holds == decides => return (Some(holds), Some(i)),
                    Some(_) => {}
                }
            }
            (Some(!decides), None)
        }
        Some(_) => (None, None),
    }
}

fn operand() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        Just(("eq", json!("PES"))),
        Just(("eq", json!(1))),
        Just(("neq", json!("PES"))),
        Just(("in", json!(["PES", 1, null]))),
        Just(("not_in", json!(["PES", 2.5]))),
        Just(("gt", json!(1))),
        Just(("lte", json!(2.5))),
        Just(("regex", json!("^P"))),
        Just(("contains", json!("E"))),
        Just(("exists", json!(true))),
        Just(("exists", json!(false))),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("PES")),
        Just(json!("DOL")),
        Just(json!(1)),
        Just(json!(2.5)),
        Just(json!(7)),
        Just(json!(null)),
        Just(json!(true)),
        Just(json!(["PES"])),
        Just(json!({"v": 1})),
    ]
}

/// An element: an object with some of the members `a` and `b`, or a scalar.
fn element() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (proptest::option::of(scalar()), proptest::option::of(scalar())).prop_map(|(a, b)| {
            let mut object = Map::new();
            if let Some(a) = a {
                object.insert("a".into(), a);
            }
            if let Some(b) = b {
                object.insert("b".into(), b);
            }
            Value::Object(object)
        }),
        1 => scalar(),
    ]
}

/// The value under `items`: usually an array, sometimes missing or not an array.
fn array_of<S: Strategy<Value = Value> + 'static>(item: S) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        6 => proptest::collection::vec(item, 0..5).prop_map(|v| Some(Value::Array(v))),
        1 => Just(None),
        1 => scalar().prop_filter("not an array", |v| !v.is_array()).prop_map(Some),
    ]
    .boxed()
}

fn with(key: &str, value: Option<Value>, mut args: Map<String, Value>) -> Value {
    if let Some(value) = value {
        args.insert(key.to_owned(), value);
    }
    Value::Object(args)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// deny_if with `*` holds when some element satisfies the condition,
    /// require when every element does; the element that decides is named.
    #[test]
    fn one_wildcard_is_any_or_every_element(items in array_of(element()), op in operand()) {
        let args = with("items", items, Map::new());
        let array = args.get("items");
        let fixed = |i: usize| condition(&format!("args.items.{i}.a"), &op);
        let (got, said) = any(vec![condition("args.items.*.a", &op)], &args);
        let (want, at) = scan(array, &mut |i| any(vec![fixed(i)], &args).0, true);
        prop_assert_eq!(got, want, "deny_if {:?} on {}: {}", op, args, said);
        if let Some(i) = at {
            prop_assert!(said.contains(&format!("args.items.{i}.a")), "{}", said);
        }

        let (got, said) = every(condition("args.items.*.a", &op), &args);
        let (want, at) = scan(array, &mut |i| every(fixed(i), &args).0, false);
        prop_assert_eq!(got, want, "require {:?} on {}: {}", op, args, said);
        if let Some(i) = at {
            prop_assert!(said.contains(&format!("args.items.{i}.a")), "{}", said);
        }
    }

    /// Two conditions under the same `*` and one without: the scalar first,
    /// then one element that satisfies both.
    #[test]
    fn conditions_under_one_wildcard_share_the_element(
        items in array_of(element()),
        first in operand(),
        second in operand(),
        scalar_op in operand(),
        s in proptest::option::of(scalar()),
    ) {
        let args = with("items", items, match &s {
            Some(s) => [("s".to_owned(), s.clone())].into_iter().collect(),
            None => Map::new(),
        });
        let scalar_condition = condition("args.s", &scalar_op);
        let (got, said) = any(vec![
            condition("args.items.*.a", &first),
            scalar_condition.clone(),
            condition("args.items.*.b", &second),
        ], &args);
        let want = match any(vec![scalar_condition], &args).0 {
            Some(true) => scan(args.get("items"), &mut |i| {
                any(vec![
                    condition(&format!("args.items.{i}.a"), &first),
                    condition(&format!("args.items.{i}.b"), &second),
                ], &args).0
            }, true).0,
            other => other,
        };
        prop_assert_eq!(got, want, "{:?} {:?} {:?} on {}: {}", first, scalar_op, second, args, said);
    }

    /// Nested `*`s: some order has some item (deny_if), every order has
    /// only such items (require).
    #[test]
    fn nested_wildcards_are_any_or_every_pair(
        orders in array_of(
            prop_oneof![
                4 => array_of(element()).prop_map(|items| with("items", items, Map::new())),
                1 => scalar(),
            ]
        ),
        op in operand(),
    ) {
        let args = with("orders", orders, Map::new());
        let orders = args.get("orders");
        let items_of = |i: usize| orders.and_then(|o| o.get(i)).and_then(|o| o.get("items"));
        let fixed = |i: usize, j: usize| condition(&format!("args.orders.{i}.items.{j}.a"), &op);

        let (got, said) = any(vec![condition("args.orders.*.items.*.a", &op)], &args);
        let (want, _) = scan(orders, &mut |i| {
            let items = if orders.is_some() { items_of(i) } else { None };
            scan(items, &mut |j| any(vec![fixed(i, j)], &args).0, true).0
        }, true);
        prop_assert_eq!(got, want, "deny_if {:?} on {}: {}", op, args, said);

        let (got, said) = every(condition("args.orders.*.items.*.a", &op), &args);
        let (want, _) = scan(orders, &mut |i| {
            let items = if orders.is_some() { items_of(i) } else { None };
            scan(items, &mut |j| every(fixed(i, j), &args).0, false).0
        }, false);
        prop_assert_eq!(got, want, "require {:?} on {}: {}", op, args, said);
    }
}
