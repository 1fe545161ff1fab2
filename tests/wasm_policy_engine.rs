//! The policy engine's tests on wasm32-unknown-unknown, run by
//! wasm-bindgen-test under Node (`scripts/wasm-test.sh`).
//!
//! The filter runs on a 32-bit target in production: `usize` is 32 bits
//! there and 64-bit and 128-bit integer arithmetic is emulated. These tests
//! go through the public API the filter uses (`read_payload`, then
//! `Policy::decide`) and pin the results that a 32-bit truncation, a float
//! shortcut or a stack-hungry recursion would change.
#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use wasm_bindgen_test::*;

use mcp_policy_filter::counter::{Window, MAX_WINDOW_SECS};
use mcp_policy_filter::mcp::{
    read_payload, Payload, ReadError, ReadLimits, RequestId, DEFAULT_MAX_DEPTH, DEPTH_CEILING,
    INVALID_REQUEST, MAX_SAFE_INTEGER, PARSE_ERROR,
};
use mcp_policy_filter::policy::{
    Decision, DenialKind, Listing, Policy, PolicyError, Request, Scope,
};

const AFIP_POLICY: &str = include_str!("../bench/fixtures/mcp-afip-45.json");

// ---------------------------------------------------------------------------
// Helpers

fn load(text: &str) -> Policy {
    match Policy::from_json_text(text) {
        Ok(policy) => policy,
        Err(errors) => panic!("policy rejected:\n{errors}\n{text}"),
    }
}

fn load_errors(text: &str) -> Vec<PolicyError> {
    match Policy::from_json_text(text) {
        Ok(_) => panic!("policy accepted: {text}"),
        Err(errors) => errors.0,
    }
}

fn read(body: &str) -> Result<Payload, ReadError> {
    read_payload(body.as_bytes(), &ReadLimits::default())
}

fn read_err(body: &str, limits: &ReadLimits) -> ReadError {
    match read_payload(body.as_bytes(), limits) {
        Ok(payload) => panic!("accepted: {payload:?}"),
        Err(error) => error,
    }
}

/// `allow <rule>` or `deny <kind> <rule>: <message>`.
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

/// Decides a `tools/call` exactly as the filter does: the body is read by
/// `read_payload`, and the request handed to the policy is built from it.
fn decide_body(policy: &Policy, tool: &str, arguments: &str) -> String {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":{},"arguments":{arguments}}}}}"#,
        json!(tool)
    );
    let payload = match read(&body) {
        Ok(payload) => payload,
        Err(error) => panic!("body refused: {error}\n{body}"),
    };
    let message = &payload.messages()[0];
    let request = Request {
        method: message.method().unwrap_or_default(),
        target: message.target(),
        arguments: message.arguments(),
        grant: "alice-laptop",
        session: Some("s-1"),
    };
    show(&policy.decide(&request))
}

fn decide(policy: &Policy, tool: &str, args: Value) -> String {
    let request = Request {
        method: "tools/call",
        target: Some(tool),
        arguments: Some(&args),
        grant: "alice-laptop",
        session: Some("s-1"),
    };
    show(&policy.decide(&request))
}

const RULE: &str = "/tools/t/require/0";

/// One condition evaluated through a whole policy, both written as text: the
/// policy's operand goes through the policy parser, the arguments through
/// `read_payload`. `Ok(true)`: holds; `Ok(false)`: does not; `Err`: the
/// evaluation error (a type mismatch), which denies.
fn eval(path: &str, op: &str, value: &str, args: &str) -> Result<bool, String> {
    let policy = load(&format!(
        r#"{{"version":"1","default":"deny","tools":{{"t":{{"require":[{{"path":"{path}","op":"{op}","value":{value}}}]}}}}}}"#
    ));
    let decided = decide_body(&policy, "t", args);
    let not_met = format!("deny Denied {RULE}: Denied by rule \"{RULE}\": requirement not met: ");
    let error_prefix = format!("deny ConditionError {RULE}: Denied by rule \"{RULE}\": ");
    if decided == "allow /tools/t" {
        Ok(true)
    } else if decided.starts_with(&not_met) {
        Ok(false)
    } else if let Some(what) = decided.strip_prefix(&error_prefix) {
        Err(what.to_owned())
    } else {
        panic!("unexpected decision for {path} {op} {value} on {args}: {decided}")
    }
}

// ---------------------------------------------------------------------------
// The target

#[wasm_bindgen_test]
fn runs_on_a_32_bit_target() {
    assert_eq!(usize::BITS, 32);
    assert_eq!(std::mem::size_of::<usize>(), 4);
    // What a truncating cast would do to the indices tested below.
    assert_eq!(4_294_967_297_u64 as usize, 1);
}

// ---------------------------------------------------------------------------
// Operators

#[wasm_bindgen_test]
fn eq_and_neq_compare_json_values() {
    let args = r#"{"s":"x","n":1,"f":1.5,"b":true,"z":null,"a":[1,2],"o":{"k":1}}"#;
    assert_eq!(eval("args.s", "eq", r#""x""#, args), Ok(true));
    assert_eq!(eval("args.n", "eq", "1.0", args), Ok(true));
    assert_eq!(eval("args.f", "eq", "1.5", args), Ok(true));
    assert_eq!(eval("args.b", "eq", "true", args), Ok(true));
    assert_eq!(eval("args.z", "eq", "null", args), Ok(true));
    assert_eq!(eval("args.a", "eq", "[1.0,2]", args), Ok(true));
    assert_eq!(eval("args.a", "eq", "[2,1]", args), Ok(false));
    assert_eq!(eval("args.o", "eq", r#"{"k":1.0}"#, args), Ok(true));
    assert_eq!(eval("args.o", "eq", r#"{"k":1,"j":2}"#, args), Ok(false));
    // No coercion: different types are unequal, never an error.
    assert_eq!(eval("args.n", "eq", r#""1""#, args), Ok(false));
    assert_eq!(eval("args.n", "neq", r#""1""#, args), Ok(true));
    assert_eq!(eval("args.s", "neq", r#""x""#, args), Ok(false));
    assert_eq!(eval("args.b", "eq", "1", args), Ok(false));
    // A missing path: every comparison is false.
    assert_eq!(eval("args.missing", "eq", "null", args), Ok(false));
    assert_eq!(eval("args.missing", "neq", "1", args), Ok(false));
}

#[wasm_bindgen_test]
fn in_and_not_in() {
    let args = r#"{"c":"EUR","n":2}"#;
    assert_eq!(eval("args.c", "in", r#"["USD","EUR"]"#, args), Ok(true));
    assert_eq!(eval("args.c", "in", r#"["USD"]"#, args), Ok(false));
    assert_eq!(eval("args.n", "in", "[1,2.0]", args), Ok(true));
    assert_eq!(eval("args.n", "in", r#"["2"]"#, args), Ok(false));
    assert_eq!(eval("args.c", "in", "[]", args), Ok(false));
    assert_eq!(eval("args.c", "not_in", r#"["USD"]"#, args), Ok(true));
    assert_eq!(eval("args.c", "not_in", r#"["EUR"]"#, args), Ok(false));
    assert_eq!(eval("args.missing", "in", "[null]", args), Ok(false));
    assert_eq!(eval("args.missing", "not_in", r#"["x"]"#, args), Ok(false));
}

#[wasm_bindgen_test]
fn ordering_operators_and_type_errors() {
    let args = r#"{"amount":250000,"f":0.5,"s":"250000","neg":-3}"#;
    assert_eq!(eval("args.amount", "gt", "100000", args), Ok(true));
    assert_eq!(eval("args.amount", "gte", "250000", args), Ok(true));
    assert_eq!(eval("args.amount", "gt", "250000", args), Ok(false));
    assert_eq!(eval("args.amount", "lt", "250000.5", args), Ok(true));
    assert_eq!(eval("args.amount", "lte", "249999.5", args), Ok(false));
    assert_eq!(eval("args.f", "lt", "1", args), Ok(true));
    assert_eq!(eval("args.neg", "lt", "0", args), Ok(true));
    assert_eq!(eval("args.neg", "gte", "-3.0", args), Ok(true));
    assert_eq!(eval("args.missing", "gt", "0", args), Ok(false));
    assert_eq!(
        eval("args.s", "gt", "1", args),
        Err("gt needs a number but args.s is a string".into())
    );
    assert_eq!(
        eval("args", "lt", "1", args),
        Err("lt needs a number but args is an object".into())
    );
    assert_eq!(
        eval("request.tool", "gte", "1", args),
        Err("gte needs a number but request.tool is a string".into())
    );
}

#[wasm_bindgen_test]
fn regex_is_unanchored_and_matches_code_points() {
    let args = r#"{"email":"bob@example.com","name":"Zoë Ångström","n":5,"emoji":"pay 💶 now"}"#;
    assert_eq!(
        eval("args.email", "regex", r#""@example\\.com$""#, args),
        Ok(true)
    );
    assert_eq!(
        eval("args.email", "regex", r#""^example""#, args),
        Ok(false)
    );
    assert_eq!(eval("args.email", "regex", r#""example""#, args), Ok(true));
    assert_eq!(eval("args.name", "regex", r#""^Zo. Å""#, args), Ok(true));
    // `.` is one code point: the 4-byte emoji is one character.
    assert_eq!(
        eval("args.emoji", "regex", r#""pay . now""#, args),
        Ok(true)
    );
    assert_eq!(
        eval("args.emoji", "regex", r#""pay .... now""#, args),
        Ok(false)
    );
    assert_eq!(eval("args.email", "regex", r#""(?i)BOB@""#, args), Ok(true));
    assert_eq!(eval("args.missing", "regex", r#""x""#, args), Ok(false));
    assert_eq!(
        eval("args.n", "regex", r#""5""#, args),
        Err("regex needs a string but args.n is a number".into())
    );
    assert_eq!(
        eval("request.grant", "regex", r#""^alice-""#, args),
        Ok(true)
    );
}

#[wasm_bindgen_test]
fn contains_on_strings_and_arrays() {
    let args = r#"{"s":"Grüße aus Köln","tags":["a",2,{"k":1}],"n":1,"o":{},"z":null}"#;
    assert_eq!(eval("args.s", "contains", r#""aus Kö""#, args), Ok(true));
    assert_eq!(eval("args.s", "contains", r#""koln""#, args), Ok(false));
    assert_eq!(eval("args.tags", "contains", r#""a""#, args), Ok(true));
    assert_eq!(eval("args.tags", "contains", "2.0", args), Ok(true));
    assert_eq!(eval("args.tags", "contains", r#"{"k":1}"#, args), Ok(true));
    assert_eq!(eval("args.tags", "contains", r#""2""#, args), Ok(false));
    assert_eq!(eval("args.missing", "contains", r#""x""#, args), Ok(false));
    assert_eq!(
        eval("args.n", "contains", "1", args),
        Err("contains needs a string or an array but args.n is a number".into())
    );
    assert_eq!(
        eval("args.z", "contains", r#""k""#, args),
        Err("contains needs a string or an array but args.z is null".into())
    );
    assert!(
        eval("args.s", "contains", "1", args).is_err_and(|e| e.contains("needs a string value"))
    );
}

#[wasm_bindgen_test]
fn exists_tests_presence() {
    let args = r#"{"z":null,"a":[0]}"#;
    assert_eq!(eval("args.z", "exists", "true", args), Ok(true));
    assert_eq!(eval("args.z", "exists", "false", args), Ok(false));
    assert_eq!(eval("args.q", "exists", "false", args), Ok(true));
    assert_eq!(eval("args.a.0", "exists", "true", args), Ok(true));
    assert_eq!(eval("args.a.1", "exists", "true", args), Ok(false));
    assert_eq!(eval("args", "exists", "true", args), Ok(true));
    assert_eq!(eval("request.session", "exists", "true", args), Ok(true));
    // A tools/call without arguments: `args` itself is missing.
    let policy = load(
        r#"{"version":"1","default":"deny","tools":{"t":{"require":[{"path":"args","op":"exists","value":false}]}}}"#,
    );
    let request = Request {
        method: "tools/call",
        target: Some("t"),
        arguments: None,
        grant: "g",
        session: None,
    };
    assert_eq!(show(&policy.decide(&request)), "allow /tools/t");
}

#[wasm_bindgen_test]
fn request_paths() {
    let args = "{}";
    assert_eq!(
        eval("request.method", "eq", r#""tools/call""#, args),
        Ok(true)
    );
    assert_eq!(eval("request.tool", "eq", r#""t""#, args), Ok(true));
    assert_eq!(
        eval("request.grant", "in", r#"["alice-laptop"]"#, args),
        Ok(true)
    );
    assert_eq!(eval("request.session", "eq", r#""s-1""#, args), Ok(true));
    assert_eq!(eval("request.tool", "contains", r#""t""#, args), Ok(true));
}

// ---------------------------------------------------------------------------
// Paths and array indices

#[wasm_bindgen_test]
fn nested_paths_and_array_indices() {
    let args = r#"{"items":[{"unit_price":10},{"unit_price":99.5,"tags":[["x"]]}],"m":{"0":"zero"},"s":"str"}"#;
    assert_eq!(eval("args.items.0.unit_price", "eq", "10", args), Ok(true));
    assert_eq!(eval("args.items.1.unit_price", "gt", "99", args), Ok(true));
    assert_eq!(
        eval("args.items.1.tags.0.0", "eq", r#""x""#, args),
        Ok(true)
    );
    assert_eq!(eval("args.items.2.unit_price", "gt", "0", args), Ok(false));
    // Not canonical indices: no leading zero, no sign.
    assert_eq!(
        eval("args.items.01.unit_price", "exists", "true", args),
        Ok(false)
    );
    assert_eq!(eval("args.items.-1", "exists", "true", args), Ok(false));
    assert_eq!(eval("args.items.+1", "exists", "true", args), Ok(false));
    // A numeric segment names an object member too.
    assert_eq!(eval("args.m.0", "eq", r#""zero""#, args), Ok(true));
    assert_eq!(eval("args.s.x", "exists", "true", args), Ok(false));
    assert_eq!(eval("args.s.0", "exists", "true", args), Ok(false));
}

#[wasm_bindgen_test]
fn indices_beyond_usize_do_not_wrap() {
    // On wasm32, 2^32 does not fit in usize. Truncated, these indices would
    // be 0, 1 and 0 and would find the items below.
    let args = r#"{"items":[{"unit_price":7},{"unit_price":8}]}"#;
    for index in [
        "4294967296",
        "4294967297",
        "18446744073709551616",
        "99999999999999999999999",
    ] {
        let path = format!("args.items.{index}");
        assert_eq!(eval(&path, "exists", "true", args), Ok(false), "{path}");
        assert_eq!(eval(&path, "exists", "false", args), Ok(true), "{path}");
        let price = format!("args.items.{index}.unit_price");
        assert_eq!(eval(&price, "gt", "0", args), Ok(false), "{price}");
    }
    // The largest u32 index is simply out of bounds.
    assert_eq!(
        eval("args.items.4294967295", "exists", "true", args),
        Ok(false)
    );
    // As object members, the same segments are plain names.
    let members = r#"{"m":{"4294967296":"big","1":"one"}}"#;
    assert_eq!(
        eval("args.m.4294967296", "eq", r#""big""#, members),
        Ok(true)
    );
    assert_eq!(
        eval("args.m.4294967297", "exists", "true", members),
        Ok(false)
    );
}

#[wasm_bindgen_test]
fn long_arrays_index_exactly() {
    let items: Vec<Value> = (0..70_000_u32).map(|i| json!({"i": i})).collect();
    let args = json!({"items": items});
    let policy = load(
        r#"{"version":"1","default":"deny","tools":{"t":{"deny_if":[
            {"conditions":[{"path":"args.items.65536.i","op":"eq","value":65536}],"on_deny":"hit 65536"},
            {"conditions":[{"path":"args.items.69999.i","op":"neq","value":69999}],"on_deny":"wrong last"},
            {"conditions":[{"path":"args.items.70000","op":"exists","value":true}],"on_deny":"past the end"}
        ]}}}"#,
    );
    assert_eq!(
        decide(&policy, "t", args),
        "deny Denied /tools/t/deny_if/0: hit 65536"
    );
    let short = json!({"items": [{"i": 0}]});
    assert_eq!(decide(&policy, "t", short), "allow /tools/t");
}

#[wasm_bindgen_test]
fn wildcards_name_elements_past_65536() {
    let items: Vec<Value> = (0..70_000_u32).map(|i| json!({"i": i})).collect();
    let args = json!({"items": items});
    let policy = load(
        r#"{"version":"1","default":"deny","tools":{"t":{
            "require":[{"path":"args.items.*.i","op":"lt","value":69999,"on_deny":"too far"}],
            "deny_if":[{"conditions":[{"path":"args.items.*.i","op":"eq","value":65537}],"on_deny":"hit"}]
        }}}"#,
    );
    assert_eq!(
        decide(&policy, "t", args),
        "deny Denied /tools/t/require/0: too far (args.items.69999.i is 69999)"
    );
    let items: Vec<Value> = (0..69_999_u32).map(|i| json!({"i": i})).collect();
    assert_eq!(
        decide(&policy, "t", json!({"items": items})),
        "deny Denied /tools/t/deny_if/0: hit (args.items.65537.i is 65537)"
    );
    assert_eq!(decide(&policy, "t", json!({"items": []})), "allow /tools/t");
}

/// Eight nested `*`s (the most a path may have) over arrays as deep as
/// `read_payload` lets through: evaluation recurses per `*`, within the
/// wasm stack, and visits each element once.
#[wasm_bindgen_test]
fn eight_nested_wildcards_through_read_payload() {
    let path = format!("args.a{}", ".*".repeat(8));
    let policy = load(&format!(
        r#"{{"version":"1","default":"deny","tools":{{"t":{{
            "require":[{{"path":"{path}","op":"lt","value":100}}],
            "deny_if":[{{"conditions":[{{"path":"{path}","op":"eq","value":7}}]}}]
        }}}}}}"#
    ));
    // Two elements at each of eight levels: 256 numbers.
    let mut value = "[1,2]".to_owned();
    for _ in 0..7 {
        value = format!("[{value},{value}]");
    }
    assert_eq!(
        decide_body(&policy, "t", &format!(r#"{{"a":{value}}}"#)),
        "allow /tools/t"
    );
    let hit = value.replacen('2', "7", 1);
    assert_eq!(
        decide_body(&policy, "t", &format!(r#"{{"a":{hit}}}"#)),
        "deny Denied /tools/t/deny_if/0: Denied by rule \"/tools/t/deny_if/0\" (args.a.0.0.0.0.0.0.0.1 is 7)"
    );
    // Nested deeper than the path: the eighth `*` meets arrays, which lt
    // cannot compare.
    let deeper = format!(r#"{{"a":{}1{}}}"#, "[".repeat(60), "]".repeat(60));
    assert_eq!(
        decide_body(&policy, "t", &deeper),
        "deny ConditionError /tools/t/require/0: Denied by rule \"/tools/t/require/0\": \
         lt needs a number but args.a.0.0.0.0.0.0.0.0 is an array"
    );
    let nine = format!("args.a{}", ".*".repeat(9));
    let errors = load_errors(&format!(
        r#"{{"version":"1","default":"deny","tools":{{"t":{{"require":[{{"path":"{nine}","op":"lt","value":1}}]}}}}}}"#
    ));
    assert!(
        errors[0].message.contains("at most 8"),
        "{}",
        errors[0].message
    );
}

#[wasm_bindgen_test]
fn a_batch_of_invoices_through_read_payload() {
    let policy = load(
        r#"{"version":"1","default":"deny","tools":{"create_invoice_batch":{
            "require":[{"path":"args.invoices.*.currency","op":"in","value":["PES","DOL"]}],
            "deny_if":[{"conditions":[
                {"path":"args.invoices.*.currency","op":"eq","value":"DOL"},
                {"path":"args.invoices.*.amount_total","op":"gt","value":1000}
            ],"on_deny":"Dollar invoices over 1000 need a human."}]
        }}}"#,
    );
    let batch = |last: &str| {
        let mut invoices: Vec<String> = (0..249)
            .map(|i| {
                format!(
                    r#"{{"currency":"{}","amount_total":{}}}"#,
                    if i % 2 == 0 { "PES" } else { "DOL" },
                    900 + i
                )
            })
            .collect();
        invoices.push(last.to_owned());
        format!(
            r#"{{"point_of_sale":3,"invoices":[{}]}}"#,
            invoices.join(",")
        )
    };
    assert_eq!(
        decide_body(&policy, "create_invoice_batch", &batch(r#"{"currency":"PES","amount_total":5000000000}"#)),
        "deny Denied /tools/create_invoice_batch/deny_if/0: Dollar invoices over 1000 need a human. \
         (args.invoices.101.currency is \"DOL\", args.invoices.101.amount_total is 1001)"
    );
    let few = r#"{"invoices":[{"currency":"DOL","amount_total":5},{"currency":"PES","amount_total":5000000000}]}"#;
    assert_eq!(
        decide_body(&policy, "create_invoice_batch", few),
        "allow /tools/create_invoice_batch"
    );
    assert_eq!(
        decide_body(&policy, "create_invoice_batch", &batch(r#"{"currency":"EUR","amount_total":1}"#)),
        "deny Denied /tools/create_invoice_batch/require/0: Denied by rule \"/tools/create_invoice_batch/require/0\": \
         requirement not met: args.invoices.*.currency in [\"PES\",\"DOL\"] (args.invoices.249.currency is \"EUR\")"
    );
}

// ---------------------------------------------------------------------------
// Numbers

#[wasm_bindgen_test]
fn integers_beyond_32_bits_compare_exactly() {
    let args = r#"{"amount":5000000000,"big":18446744073709551615,"neg":-5000000000,"min":-9223372036854775808}"#;
    assert_eq!(eval("args.amount", "gt", "4294967296", args), Ok(true));
    assert_eq!(eval("args.amount", "lt", "4294967296", args), Ok(false));
    assert_eq!(eval("args.amount", "eq", "5000000000", args), Ok(true));
    assert_eq!(eval("args.amount", "eq", "5000000000.0", args), Ok(true));
    // 5000000000 mod 2^32 = 705032704: a 32-bit shortcut would make this equal.
    assert_eq!(eval("args.amount", "eq", "705032704", args), Ok(false));
    assert_eq!(
        eval("args.amount", "in", "[705032704, 5000000001]", args),
        Ok(false)
    );
    assert_eq!(
        eval("args.big", "gt", "9223372036854775807", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.big", "eq", "18446744073709551615", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.big", "gt", "18446744073709551614", args),
        Ok(true)
    );
    assert_eq!(eval("args.neg", "lt", "-4294967296", args), Ok(true));
    assert_eq!(eval("args.neg", "gt", "-5000000001", args), Ok(true));
    assert_eq!(eval("args.neg", "lt", "0", args), Ok(true));
    assert_eq!(
        eval("args.min", "lt", "-9223372036854775807", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.min", "lt", "18446744073709551615", args),
        Ok(true)
    );
}

#[wasm_bindgen_test]
fn integers_and_floats_compare_by_value() {
    let args = r#"{"one":1,"third":0.30000000000000004,"half":0.5,"zero":0,"negzero":-0.0}"#;
    assert_eq!(eval("args.one", "eq", "1.0", args), Ok(true));
    assert_eq!(eval("args.one", "in", "[1.0]", args), Ok(true));
    assert_eq!(eval("args.one", "lte", "1.0", args), Ok(true));
    // The largest f64 below 1 (written so that every parser rounds it alike).
    assert_eq!(
        eval("args.one", "gt", "0.99999999999999989", args),
        Ok(true)
    );
    assert_eq!(eval("args.one", "lt", "1.0000000000000002", args), Ok(true));
    assert_eq!(eval("args.third", "gt", "0.3", args), Ok(true));
    assert_eq!(eval("args.third", "eq", "0.3", args), Ok(false));
    assert_eq!(eval("args.half", "lt", "1", args), Ok(true));
    assert_eq!(eval("args.half", "gt", "0", args), Ok(true));
    assert_eq!(eval("args.negzero", "eq", "0", args), Ok(true));
    assert_eq!(eval("args.zero", "eq", "-0.0", args), Ok(true));
    assert_eq!(eval("args.negzero", "lt", "0", args), Ok(false));
}

#[wasm_bindgen_test]
fn the_2_pow_53_edges_are_exact() {
    // 2^53 = 9007199254740992. 2^53 + 1 is an integer no f64 can hold.
    let args = r#"{"p53":9007199254740992,"p53_1":9007199254740993,"f":9007199254740992.0,"fp":9007199254740993.0,"n53_1":-9007199254740993}"#;
    assert_eq!(
        eval("args.p53_1", "gt", "9007199254740992.0", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.p53_1", "eq", "9007199254740992.0", args),
        Ok(false)
    );
    assert_eq!(
        eval("args.p53_1", "eq", "9007199254740992", args),
        Ok(false)
    );
    assert_eq!(eval("args.p53", "eq", "9007199254740992.0", args), Ok(true));
    assert_eq!(eval("args.f", "eq", "9007199254740992", args), Ok(true));
    assert_eq!(eval("args.f", "lt", "9007199254740993", args), Ok(true));
    // The float literal 9007199254740993.0 rounds to 2^53.
    assert_eq!(eval("args.fp", "eq", "9007199254740992", args), Ok(true));
    assert_eq!(eval("args.fp", "lt", "9007199254740993", args), Ok(true));
    assert_eq!(
        eval("args.n53_1", "lt", "-9007199254740992.0", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.n53_1", "eq", "-9007199254740992.0", args),
        Ok(false)
    );
}

#[wasm_bindgen_test]
fn u64_max_and_i64_min_against_floats() {
    // u64::MAX as f64 rounds up to 2^64 = 1.8446744073709552e19.
    let args =
        r#"{"max":18446744073709551615,"min":-9223372036854775808,"huge":1e300,"tiny":-1e300}"#;
    assert_eq!(
        eval("args.max", "lt", "1.8446744073709552e19", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.max", "eq", "1.8446744073709552e19", args),
        Ok(false)
    );
    // The f64 just below 2^64 is 2^64 - 2048.
    assert_eq!(
        eval("args.max", "gt", "18446744073709549568.0", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.max", "lt", "18446744073709549568.0", args),
        Ok(false)
    );
    assert_eq!(
        eval("args.min", "eq", "-9.223372036854776e18", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.min", "gt", "-9.223372036854778e18", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.huge", "gt", "18446744073709551615", args),
        Ok(true)
    );
    assert_eq!(
        eval("args.tiny", "lt", "-9223372036854775808", args),
        Ok(true)
    );
    assert_eq!(eval("args.huge", "eq", "1e300", args), Ok(true));
}

/// The same literal must be the same number in a policy and in a request
/// (serde_json's `float_roundtrip` makes the policy parser round correctly,
/// as `read_payload` does).
#[wasm_bindgen_test]
fn policy_and_request_read_float_literals_alike() {
    for literal in [
        "0.9999999999999999",
        "1.8446744073709550e19",
        "9007199254740993.0",
        "2.2250738585072011e-308",
    ] {
        let args = format!(r#"{{"x":{literal}}}"#);
        assert_eq!(eval("args.x", "eq", literal, &args), Ok(true), "{literal}");
    }
    assert_eq!(
        eval("args.one", "gt", "0.9999999999999999", r#"{"one":1}"#),
        Ok(true)
    );
    assert_eq!(
        eval(
            "args.max",
            "gt",
            "1.8446744073709550e19",
            r#"{"max":18446744073709551615}"#
        ),
        Ok(true)
    );
}

#[wasm_bindgen_test]
fn numbers_as_strings_are_not_numbers() {
    let args = r#"{"amount":"250000"}"#;
    assert_eq!(eval("args.amount", "eq", "250000", args), Ok(false));
    assert_eq!(
        eval("args.amount", "gt", "100000", args),
        Err("gt needs a number but args.amount is a string".into())
    );
    let errors = load_errors(
        r#"{"version":"1","default":"deny","tools":{"t":{"require":[{"path":"args.a","op":"gt","value":"250000"}]}}}"#,
    );
    assert_eq!(errors[0].path, "/tools/t/require/0/value");
    assert!(
        errors[0].message.starts_with("gt needs a number value"),
        "{}",
        errors[0].message
    );
}

// ---------------------------------------------------------------------------
// Limits and windows

#[wasm_bindgen_test]
fn limit_max_and_windows_keep_64_bits() {
    let policy = load(
        r#"{"version":"1","default":"deny","tools":{"t":{"limits":[
            {"counter":"a","window":"minute","max":5000000000},
            {"counter":"b","window":31622400,"max":18446744073709551615,"scope":"global"},
            {"counter":"c","window":1,"max":4294967296,"scope":"header:X-Tenant"}
        ]}}}"#,
    );
    let limits = policy.limits();
    let got: Vec<(u64, Window, Scope)> = limits
        .iter()
        .map(|l| (l.max, l.window, l.scope.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (5_000_000_000, Window::Minute, Scope::Grant),
            (u64::MAX, Window::Seconds(MAX_WINDOW_SECS), Scope::Global),
            (
                4_294_967_296,
                Window::Seconds(1),
                Scope::Header("x-tenant".into())
            ),
        ]
    );
    for (window, ok) in [
        ("31622400", true),
        ("31622401", false),
        ("4294967296", false),
        ("4294967297", false),
        ("18446744073709551615", false),
        ("0", false),
        ("60.0", false),
        ("-60", false),
    ] {
        let text = format!(
            r#"{{"version":"1","default":"deny","tools":{{"t":{{"limits":[{{"counter":"a","window":{window},"max":1}}]}}}}}}"#
        );
        assert_eq!(Policy::from_json_text(&text).is_ok(), ok, "window {window}");
    }
    for max in ["-1", "1.5", "18446744073709551616"] {
        let text = format!(
            r#"{{"version":"1","default":"deny","tools":{{"t":{{"limits":[{{"counter":"a","window":"day","max":{max}}}]}}}}}}"#
        );
        let errors = load_errors(&text);
        assert_eq!(errors[0].path, "/tools/t/limits/0/max", "max {max}");
    }
}

#[wasm_bindgen_test]
fn windows_after_2106_use_64_bit_time() {
    // 2^32 seconds is 2106-02-07T06:28:16Z; u32 time would wrap there.
    let now = 4_294_967_355; // 2^32 + 59
    assert_eq!(Window::Minute.start_of(now), 4_294_967_340);
    assert_eq!(Window::Hour.start_of(now), 4_294_965_600);
    assert_eq!(Window::Day.start_of(now), 4_294_944_000);
    assert_eq!(
        Window::Seconds(MAX_WINDOW_SECS).start_of(now),
        4_269_024_000
    );
    assert_eq!(Window::Minute.retry_after(now), 45);
    assert_eq!(Window::Day.reset_at(now), 4_295_030_400);
    // 2^53 + 1
    let now = 9_007_199_254_740_993;
    assert_eq!(Window::Minute.start_of(now), 9_007_199_254_740_960);
    assert_eq!(Window::Hour.start_of(now), 9_007_199_254_738_800);
    assert_eq!(Window::Day.start_of(now), 9_007_199_254_713_600);
    assert_eq!(
        Window::Seconds(MAX_WINDOW_SECS).start_of(now),
        9_007_199_254_540_800
    );
    // The very end of time saturates instead of overflowing.
    let now = u64::MAX;
    assert_eq!(Window::Minute.start_of(now), 18_446_744_073_709_551_600);
    assert_eq!(Window::Day.start_of(now), 18_446_744_073_709_526_400);
    assert_eq!(
        Window::Seconds(MAX_WINDOW_SECS).start_of(now),
        18_446_744_073_679_027_200
    );
    assert_eq!(Window::Minute.reset_at(now), u64::MAX);
    assert_eq!(Window::Minute.retry_after(now), 1);
    // 2100-01-01T00:03:25Z
    assert_eq!(Window::Day.start_of(4_102_444_800 + 205), 4_102_444_800);
}

// ---------------------------------------------------------------------------
// Tool lookup: exact names, patterns, hiding

#[wasm_bindgen_test]
fn pattern_precedence() {
    let policy = load(
        r#"{"version":"1","default":"deny","tools":{
            "get_*":{"deny_if":[{"conditions":[{"path":"args.id","op":"eq","value":"root"}]}]},
            "get_secret*":{"action":"deny"},
            "get_public":{},
            "*_instance":{"limits":[{"counter":"instance_ops","window":"minute","max":10}]},
            "*":{"action":"require_approval"}
        }}"#,
    );
    assert_eq!(
        decide(&policy, "get_public", json!({"id": "root"})),
        "allow /tools/get_public"
    );
    assert_eq!(
        decide(&policy, "get_user", json!({"id": "u"})),
        "allow /tools/get_*"
    );
    assert_eq!(
        decide(&policy, "get_user", json!({"id": "root"})),
        "deny Denied /tools/get_*/deny_if/0: Denied by rule \"/tools/get_*/deny_if/0\""
    );
    assert_eq!(
        decide(&policy, "get_secret_key", json!({})),
        "deny Denied /tools/get_secret*/action: Tool \"get_secret_key\" is not allowed by policy"
    );
    // "*_instance" has 9 literals, "get_*" 4.
    assert_eq!(
        decide(&policy, "get_instance", json!({})),
        "allow /tools/*_instance"
    );
    assert_eq!(
        decide(&policy, "other", json!({})),
        "deny ApprovalRequired /tools/*/action: Requires human approval."
    );
    assert_eq!(policy.named_tools(), vec!["get_public"]);
    assert_eq!(policy.listing("get_secret_x"), Listing::NeverAllowed);
    assert_eq!(policy.listing("get_x"), Listing::Visible);
    assert_eq!(policy.listing("other"), Listing::NeverAllowed);
}

#[wasm_bindgen_test]
fn equal_rank_patterns_are_rejected() {
    let errors = load_errors(r#"{"version":"1","default":"deny","tools":{"get_*":{},"*_get":{}}}"#);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "/tools/get_*");
    assert!(
        errors[0].message.contains("ties with \"*_get\""),
        "{}",
        errors[0].message
    );
    // Equal rank but disjoint: fine.
    load(r#"{"version":"1","default":"deny","tools":{"get_*":{},"put_*":{},"*_a":{}}}"#);
}

#[wasm_bindgen_test]
fn multi_byte_patterns_match_whole_characters() {
    let policy = load(
        r#"{"version":"1","default":"deny","hide":["*_🔥"],"tools":{"überweisung_*":{"deny_if":[
            {"conditions":[{"path":"args.empfänger","op":"contains","value":"Müller"}],"on_deny":"Nicht an Müller"}
        ]},"ü*":{"action":"deny"}}}"#,
    );
    assert_eq!(
        decide(
            &policy,
            "überweisung_sepa",
            json!({"empfänger": "Frau Müller"})
        ),
        "deny Denied /tools/überweisung_*/deny_if/0: Nicht an Müller"
    );
    assert_eq!(
        decide(
            &policy,
            "überweisung_sepa",
            json!({"empfänger": "Herr Muller"})
        ),
        "allow /tools/überweisung_*"
    );
    assert_eq!(
        decide(&policy, "überweisung", json!({})),
        "deny Denied /tools/ü*/action: Tool \"überweisung\" is not allowed by policy"
    );
    // "u" + combining diaeresis is another name.
    assert_eq!(
        decide(&policy, "u\u{308}berweisung_sepa", json!({})),
        "deny Denied (default deny): Tool \"u\\u{308}berweisung_sepa\" is not allowed by policy"
    );
    assert_eq!(policy.listing("burn_🔥"), Listing::Hidden);
    assert_eq!(
        decide(&policy, "burn_🔥", json!({})),
        "deny Hidden (hidden): Tool \"burn_🔥\" is hidden by policy"
    );
}

#[wasm_bindgen_test]
fn the_afip_policy_decides_on_wasm32() {
    let policy = load(AFIP_POLICY);
    let invoice = |amount: &str, currency: &str, description: &str| {
        format!(
            r#"{{"point_of_sale":3,"invoice_type":6,"concept":2,"doc_type":80,"doc_number":20123456789,
                "amount_total":{amount},"currency":"{currency}",
                "items":[{{"description":"{description}","quantity":1,"unit_price":100000}}]}}"#
        )
    };
    assert_eq!(
        decide_body(
            &policy,
            "create_invoice",
            &invoice("121000.5", "PES", "Consultoría")
        ),
        "allow /tools/create_invoice"
    );
    assert_eq!(
        decide_body(&policy, "create_invoice", &invoice("5000000.01", "PES", "Consultoría")),
        "deny Denied /tools/create_invoice/deny_if/0: Invoices over ARS 5,000,000 are issued by a person, not an agent."
    );
    // Above 2^32 centavos-sized amounts still compare as numbers.
    assert!(decide_body(
        &policy,
        "create_invoice",
        &invoice("4294967296", "PES", "x")
    )
    .contains("deny_if/0"));
    assert_eq!(
        decide_body(
            &policy,
            "create_invoice",
            &invoice("10000.5", "DOL", "Consultoría")
        ),
        "deny Denied /tools/create_invoice/deny_if/1: USD invoices over 10,000 need approval."
    );
    assert_eq!(
        decide_body(&policy, "create_invoice", &invoice("100", "PES", "Seña por anticipo")),
        "deny Denied /tools/create_invoice/deny_if/3: Advance-payment and test invoices are not issued by agents."
    );
    assert_eq!(
        decide_body(&policy, "create_invoice", &invoice("\"100\"", "PES", "x")),
        "deny ConditionError /tools/create_invoice/deny_if/0/conditions/0: Denied by rule \
         \"/tools/create_invoice/deny_if/0/conditions/0\": gt needs a number but args.amount_total is a string"
    );
    assert_eq!(
        decide(&policy, "delete_instance", json!({"instance": "prod"})),
        "deny Hidden (hidden): Tool \"delete_instance\" is hidden by policy"
    );
    assert_eq!(
        decide(&policy, "list_iva_types", json!({})),
        "allow /tools/list_*"
    );
    assert_eq!(
        decide(&policy, "cancel_invoice", json!({})),
        "deny ApprovalRequired /tools/cancel_invoice/action: Cancelling an invoice needs a person's approval."
    );
    assert_eq!(
        decide(&policy, "send_text", json!({"instance": "i", "number": "5491155550000", "text": "Tu CBU es 0000"})),
        "deny Denied /tools/send_text/deny_if/0: Do not send banking details or credentials over WhatsApp."
    );
    match policy.decide(&Request {
        method: "tools/call",
        target: Some("logout_instance"),
        arguments: Some(&json!({"instance": "i"})),
        grant: "alice",
        session: None,
    }) {
        Decision::Allow { rule, limits, .. } => {
            assert_eq!(rule, "/tools/logout_instance");
            let counters: Vec<&str> = limits.iter().map(|l| l.counter.as_str()).collect();
            assert_eq!(
                counters,
                vec!["logout_instance_rate", "calls_per_minute", "calls_per_day"]
            );
        }
        Decision::Deny(denial) => panic!("{denial:?}"),
    }
    assert_eq!(policy.listing("get_qrcode"), Listing::NeverAllowed);
    assert_eq!(policy.listing("leave_group"), Listing::Hidden);
    assert_eq!(policy.named_tools().len(), 36);
}

// ---------------------------------------------------------------------------
// Validation errors: positions count characters, not bytes

#[wasm_bindgen_test]
fn error_columns_count_characters_in_multi_byte_text() {
    let text = "{\n  \"version\": \"1\",\n  \"default\": \"deny\",\n  \"tools\": {\"überweisung_😀\": {\"action\": \"maybe\", \"mode\": 7}}\n}";
    let errors = load_errors(text);
    let got: Vec<(&str, Option<usize>, Option<usize>)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.line, e.column))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/tools/überweisung_😀/action", Some(4), Some(41)),
            ("/tools/überweisung_😀/mode", Some(4), Some(58)),
        ]
    );
    assert!(
        errors[0].message.starts_with("action must be"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[1].message.starts_with("mode must be"),
        "{}",
        errors[1].message
    );
    assert!(
        errors[0]
            .to_string()
            .starts_with("/tools/überweisung_😀/action (line 4, column 41): "),
        "{}",
        errors[0]
    );
    // A syntax error after a 2-byte and a 4-byte character.
    let errors = load_errors("{\"ä😀\": tru}");
    assert_eq!((errors[0].line, errors[0].column), (Some(1), Some(8)));
    // A duplicate key, and where the first one was.
    let errors = load_errors(
        "{\"version\":\"1\",\"default\":\"deny\",\n\"tools\":{\"ñandú\":{},\n \"ñandú\":{}}}",
    );
    assert_eq!(errors[0].path, "/tools/ñandú");
    assert_eq!((errors[0].line, errors[0].column), (Some(3), Some(2)));
    assert!(
        errors[0].message.contains("first at line 2, column 10"),
        "{}",
        errors[0].message
    );
}

#[wasm_bindgen_test]
fn every_error_is_reported_in_text_order() {
    let text = r#"{
  "version": 1,
  "default": "maybe",
  "colour": "blue",
  "tools": {
    "c": {"require": [{"path": "state.x", "op": "eq", "value": 1}]},
    "d": {"deny_if": [{"conditions": [{"path": "args.s", "op": "regex", "value": "(open"}]}]},
    "f": {"limits": [{"counter": "bad", "window": "week", "max": 1.5}]}
  }
}"#;
    let errors = load_errors(text);
    let got: Vec<(&str, usize, usize)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.line.unwrap_or(0), e.column.unwrap_or(0)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/version", 2, 14),
            ("/default", 3, 14),
            ("/colour", 4, 3),
            ("/tools/c/require/0/path", 6, 32),
            ("/tools/d/deny_if/0/conditions/0/value", 7, 82),
            ("/tools/f/limits/0/window", 8, 51),
            ("/tools/f/limits/0/max", 8, 66),
        ]
    );
}

#[wasm_bindgen_test]
fn deeply_nested_policy_text_is_an_error_not_a_crash() {
    // The wasm stack is small: parsing and dropping must not recurse per level.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Policy::from_json_text(&deep).is_err());
    let unterminated = "{\"a\":".repeat(100_000);
    assert!(Policy::from_json_text(&unterminated).is_err());
    // The policy parser stops at 128 levels, with an error.
    let too_deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let errors = load_errors(&format!(
        r#"{{"version":"1","default":"deny","tools":{{"t":{{"require":[{{"path":"args.v","op":"eq","value":{too_deep}}}]}}}}}}"#
    ));
    assert!(
        errors[0].message.contains("nested more than 128 levels"),
        "{}",
        errors[0].message
    );
    // A condition operand nested 60 levels deep loads, and compares with
    // arguments as deep (within read_payload's default depth of 64).
    let nested = format!("{}1{}", "[".repeat(60), "]".repeat(60));
    let policy = load(&format!(
        r#"{{"version":"1","default":"deny","tools":{{"t":{{"require":[{{"path":"args.v","op":"eq","value":{nested}}}]}}}}}}"#
    ));
    assert_eq!(
        decide_body(&policy, "t", &format!(r#"{{"v":{nested}}}"#)),
        "allow /tools/t"
    );
    let other = format!("{}2{}", "[".repeat(60), "]".repeat(60));
    assert!(
        decide_body(&policy, "t", &format!(r#"{{"v":{other}}}"#)).contains("requirement not met")
    );
}

// ---------------------------------------------------------------------------
// read_payload

fn nested_request(depth: usize) -> String {
    // Root object (1) + params (2) + arguments (3) + arrays.
    let arrays = depth - 3;
    let value = format!("{}1{}", "[".repeat(arrays), "]".repeat(arrays));
    format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"t","arguments":{{"a":{value}}}}}}}"#
    )
}

#[wasm_bindgen_test]
fn read_payload_depth_limits() {
    let limits = ReadLimits::default();
    assert_eq!(limits.max_depth, DEFAULT_MAX_DEPTH);
    assert!(read_payload(nested_request(64).as_bytes(), &limits).is_ok());
    let error = read_err(&nested_request(65), &limits);
    assert_eq!(error.code, PARSE_ERROR);
    assert_eq!(error.id, RequestId::from_integer(9));
    assert!(
        error.message.contains("nesting deeper than 64 levels"),
        "{}",
        error.message
    );
    let three = ReadLimits { max_depth: 3 };
    assert!(read_payload(nested_request(3).as_bytes(), &three).is_ok());
    let error = read_err(&nested_request(4), &three);
    assert!(
        error.message.contains("at /params/arguments/a"),
        "{}",
        error.message
    );
    // usize::MAX (2^32 - 1 here) acts as the ceiling: 512 levels parse and
    // drop within the wasm stack; 513 are refused.
    let unlimited = ReadLimits {
        max_depth: usize::MAX,
    };
    assert!(read_payload(nested_request(DEPTH_CEILING).as_bytes(), &unlimited).is_ok());
    let error = read_err(&nested_request(DEPTH_CEILING + 1), &unlimited);
    assert!(
        error.message.contains("nesting deeper than 512 levels"),
        "{}",
        error.message
    );
}

#[wasm_bindgen_test]
fn read_payload_survives_a_hundred_thousand_brackets() {
    let limits = ReadLimits {
        max_depth: usize::MAX,
    };
    for body in [
        "[".repeat(100_000),
        "{\"a\":".repeat(100_000),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    ] {
        let error = read_err(&body, &limits);
        assert_eq!(error.code, PARSE_ERROR);
        assert_eq!(error.id, None);
    }
}

#[wasm_bindgen_test]
fn request_ids_are_safe_integers_or_strings() {
    let id_of = |id: &str| {
        read(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#))
            .map(|p| p.messages()[0].id.clone())
    };
    let max = MAX_SAFE_INTEGER.to_string();
    assert_eq!(id_of(&max), Ok(RequestId::from_integer(MAX_SAFE_INTEGER)));
    assert_eq!(
        id_of(&format!("-{max}")),
        Ok(RequestId::from_integer(-MAX_SAFE_INTEGER))
    );
    assert_eq!(
        id_of("4294967296").map(|id| id.and_then(|id| id.as_integer())),
        Ok(Some(4_294_967_296))
    );
    for refused in [
        "9007199254740992",
        "-9007199254740992",
        "18446744073709551615",
        "1.0",
        "1e2",
        "null",
        "[1]",
    ] {
        match id_of(refused) {
            Err(error) => assert_eq!(error.code, INVALID_REQUEST, "{refused}: {error}"),
            Ok(id) => panic!("id {refused} accepted as {id:?}"),
        }
    }
    assert_eq!(RequestId::from_integer(MAX_SAFE_INTEGER + 1), None);
    assert_eq!(RequestId::from_integer(i64::MIN), None);
    assert_eq!(
        id_of(r#""\u0061b""#).map(|id| id.map(|id| id.to_string())),
        Ok(Some("\"ab\"".into()))
    );
}

#[wasm_bindgen_test]
fn large_numbers_in_arguments_survive_read_payload() {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":
        {"u":18446744073709551615,"i":-9223372036854775808,"p":9007199254740993,"f":0.1,"e":1e308}}}"#;
    let payload = match read(body) {
        Ok(payload) => payload,
        Err(error) => panic!("{error}"),
    };
    let args = payload.messages()[0]
        .arguments()
        .cloned()
        .unwrap_or_default();
    assert_eq!(args["u"].as_u64(), Some(u64::MAX));
    assert_eq!(args["i"].as_i64(), Some(i64::MIN));
    assert_eq!(args["p"].as_u64(), Some(9_007_199_254_740_993));
    assert_eq!(args["f"].as_f64(), Some(0.1));
    assert_eq!(args["e"].as_f64(), Some(1e308));
    let error = read_err(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"x":1e400}}}"#,
        &ReadLimits::default(),
    );
    assert_eq!(error.code, PARSE_ERROR);
}

// ---------------------------------------------------------------------------
// Dry run and the no-policy stand-in, on wasm32 too

#[wasm_bindgen_test]
fn dry_run_reports_and_no_policy_denies() {
    let policy = load(
        r#"{"version":"1","default":"deny","mode":"dry_run","hide":["secret"],
            "tools":{"x":{"deny_if":[{"conditions":[{"path":"args.n","op":"gt","value":4294967296}]}]}}}"#,
    );
    assert_eq!(
        decide(&policy, "x", json!({"n": 4_294_967_297_u64})),
        "allow /tools/x (would deny Denied /tools/x/deny_if/0: Denied by rule \"/tools/x/deny_if/0\")"
    );
    assert_eq!(decide(&policy, "x", json!({"n": 1})), "allow /tools/x");
    assert_eq!(policy.listing("secret"), Listing::Visible);
    let none = Policy::deny_all_no_policy();
    match none.decide(&Request {
        method: "tools/call",
        target: Some("x"),
        arguments: None,
        grant: "g",
        session: None,
    }) {
        Decision::Deny(denial) => {
            assert_eq!(denial.kind, DenialKind::Denied);
            assert_eq!(denial.rule, "(no policy)");
        }
        other => panic!("{}", show(&other)),
    }
}
