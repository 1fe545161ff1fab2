//! Policy engine benchmarks: compiling a policy from JSON text, deciding
//! `tools/call` requests against it, and reading request bodies.
//!
//! Two policies:
//! - `afip45`: a hand-written policy over the 45 tools of Mcp Afip
//!   (`bench/fixtures/mcp-afip-45.json`): reads allowed, writes limited,
//!   financial `deny_if` rules on `amount_total`, destructive tools hidden.
//! - `gen1300`: a generated policy with 1,300 exact tool entries (the size of
//!   the seed's catalogue), 20 patterns, 8 hide entries, conditions with every
//!   operator and limits with shared counters and `all_tools` limits.
//!
//! Every decide case is checked before it is timed, so each benchmark
//! measures the path its name says. The same cases run against both
//! policies: deciding should cost the same whatever the policy's size.
//!
//! Run: `cargo bench --no-default-features --bench policy` (add `-- --quick`
//! for a fast pass, `-- --test` to only check that every case runs).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde_json::{json, Map, Value};

use mcp_policy_filter::config::Config;
use mcp_policy_filter::filter::decide::charge::NoClaims;
use mcp_policy_filter::filter::decide::{decide_body, Context, Disposition};
use mcp_policy_filter::filter::request::RequestHead;
use mcp_policy_filter::host::HeaderMap;
use mcp_policy_filter::mcp::{read_payload, ReadLimits};
use mcp_policy_filter::policy::{Decision, Policy, Request};
use mcp_policy_filter::store::{Entry, SharedStore, StoreError};

/// The Mcp Afip policy (45 tools).
const AFIP_POLICY: &str = include_str!("../fixtures/mcp-afip-45.json");

/// Every tool Mcp Afip lists: 20 AFIP tools and 25 Evolution API tools.
const AFIP_TOOLS: [&str; 45] = [
    "create_invoice",
    "get_invoice",
    "get_last_invoice_number",
    "get_cae_status",
    "create_invoice_batch",
    "create_credit_note",
    "create_debit_note",
    "cancel_invoice",
    "get_currency_rate",
    "lookup_taxpayer",
    "get_registration_certificate",
    "list_invoice_types",
    "list_tax_types",
    "get_server_status",
    "get_authorized_points_of_sale",
    "get_invoice_total_x_request",
    "list_concept_types",
    "list_doc_types",
    "list_iva_types",
    "list_currency_types",
    "send_text",
    "send_image",
    "send_document",
    "get_instances",
    "create_instance",
    "get_qrcode",
    "get_contacts",
    "logout_instance",
    "restart_instance",
    "delete_instance",
    "connection_state",
    "send_poll",
    "get_messages",
    "check_number",
    "create_group",
    "get_group_info",
    "leave_group",
    "fetch_group_invite_code",
    "update_profile",
    "set_presence",
    "get_chat_history",
    "update_group_participants",
    "mark_message_as_read",
    "archive_chat",
    "delete_message",
];

/// The generated policy's exact tools: service × verb × object = 13 × 10 × 10.
const SERVICES: [&str; 13] = [
    "afip",
    "evolution",
    "stripe",
    "github",
    "slack",
    "jira",
    "notion",
    "hubspot",
    "shopify",
    "twilio",
    "sendgrid",
    "gdrive",
    "postgres",
];
const VERBS: [&str; 10] = [
    "create", "update", "remove", "search", "read", "send", "approve", "assign", "import", "upload",
];
const OBJECTS: [&str; 10] = [
    "invoice", "contact", "order", "ticket", "message", "file", "user", "payment", "report",
    "channel",
];
const GENERATED_TOOLS: usize = SERVICES.len() * VERBS.len() * OBJECTS.len();

/// The generated policy's patterns. Equal-rank patterns never match a common
/// name (the policy would not load), so prefixes share a rank only with
/// prefixes of the same length, and so on.
const PATTERNS: [&str; 20] = [
    "get_*",
    "put_*",
    "set_*",
    "list_*",
    "sync_*",
    "fetch_*",
    "export_*",
    "archive_*",
    "*_instance",
    "*_snapshot",
    "*_attachments",
    "*_configuration",
    "tenant_*_read",
    "tenant_*_write",
    "billing_*_v2",
    "crm_*_bulk",
    "report_*_monthly",
    "audit_*_log",
    "webhook_*_retry",
    "ml_*",
];

/// The generated policy's hide list.
const HIDE: [&str; 8] = [
    "drop_*",
    "*_purge",
    "admin_*_delete",
    "truncate_table",
    "shell_exec",
    "rotate_root_key",
    "wipe_*",
    "*_impersonate",
];

/// The `create_invoice` rules of the Afip policy, reused in the generated
/// policy under `stripe_create_invoice` so that both policies evaluate the
/// same conditions in the `deny_if_evaluated` case.
fn invoice_rules() -> Value {
    match serde_json::from_str::<Value>(AFIP_POLICY) {
        Ok(policy) => {
            let mut entry = policy["tools"]["create_invoice"].clone();
            entry["limits"] = json!([{"counter": "stripe_writes", "window": "minute", "max": 120}]);
            entry
        }
        Err(e) => panic!("the Afip fixture is not JSON: {e}"),
    }
}

/// One exact entry of the generated policy; `index` picks its rules so that
/// the policy mixes every kind of rule.
fn generated_entry(index: usize, service: &str, verb: &str, object: &str) -> Value {
    let mut entry = Map::new();
    let mut require = Vec::new();
    let mut deny_if = Vec::new();
    let mut limits = Vec::new();
    match index % 7 {
        0 => require.push(json!({"path": "args.id", "op": "exists", "value": true})),
        1 => require.push(json!({"path": "args.currency", "op": "in", "value": ["ARS", "USD", "EUR", "BRL"]})),
        2 => deny_if.push(json!({
            "conditions": [{"path": "args.amount", "op": "gt", "value": 10_000 + index * 100}],
            "on_deny": format!("{service}: {verb} {object} over the limit")
        })),
        3 => deny_if.push(json!({
            "conditions": [{"path": "args.email", "op": "regex", "value": format!("(?i)@({service}|example)\\.(com|org)$")}]
        })),
        4 => deny_if.push(json!({
            "conditions": [
                {"path": "args.items.0.unit_price", "op": "gte", "value": 1_000_000},
                {"path": "args.items.0.currency", "op": "neq", "value": "ARS"}
            ]
        })),
        5 => deny_if.push(json!({
            "conditions": [{"path": "args.tags", "op": "contains", "value": "restricted"}],
            "on_deny": "Restricted records are read by people."
        })),
        _ => require.push(json!({"path": "args.tenant", "op": "eq", "value": "acme"})),
    }
    if index % 11 == 0 {
        require.push(json!({"path": "request.grant", "op": "regex", "value": "^(ci|ops)-"}));
    }
    if index % 13 == 0 {
        deny_if.push(json!({"conditions": [{"path": "args.amount", "op": "lt", "value": -0.5}]}));
    }
    if index % 17 == 0 {
        entry.insert("mode".into(), json!("dry_run"));
    }
    // Writes share one budget per service; every fourth tool has its own too.
    if matches!(verb, "create" | "update" | "remove" | "send" | "upload") {
        limits
            .push(json!({"counter": format!("{service}_writes"), "window": "minute", "max": 120}));
    }
    if index % 4 == 0 {
        let window = match index % 3 {
            0 => json!("hour"),
            1 => json!("day"),
            _ => json!(30 + index % 600),
        };
        let scope = [
            "grant",
            "global",
            "session",
            "header:x-tenant-id",
            "claim:sub",
        ][index % 5];
        limits.push(json!({
            "counter": format!("{service}_{verb}_{object}_rate"),
            "window": window,
            "max": 10 + index % 90,
            "scope": scope
        }));
    }
    for (key, list) in [
        ("require", require),
        ("deny_if", deny_if),
        ("limits", limits),
    ] {
        if !list.is_empty() {
            entry.insert(key.into(), Value::Array(list));
        }
    }
    Value::Object(entry)
}

/// The generated 1,300-tool policy, as JSON text.
fn generated_policy() -> String {
    let mut tools = Map::new();
    let mut index = 0;
    for service in SERVICES {
        for verb in VERBS {
            for object in OBJECTS {
                let name = format!("{service}_{verb}_{object}");
                tools.insert(name, generated_entry(index, service, verb, object));
                index += 1;
            }
        }
    }
    tools.insert("stripe_create_invoice".into(), invoice_rules());
    tools.insert("stripe_read_report".into(), json!({}));
    for (rank, pattern) in PATTERNS.iter().enumerate() {
        let entry = match rank % 4 {
            0 => json!({}),
            1 => {
                json!({"deny_if": [{"conditions": [{"path": "args.id", "op": "eq", "value": "root"}]}]})
            }
            2 => {
                json!({"limits": [{"counter": format!("pattern_{rank}"), "window": "minute", "max": 50}]})
            }
            _ => json!({"require": [{"path": "args.tenant", "op": "exists", "value": true}]}),
        };
        tools.insert((*pattern).to_owned(), entry);
    }
    let policy = json!({
        "version": "1",
        "default": "deny",
        "hide": HIDE,
        "all_tools": {"limits": [
            {"counter": "calls_per_minute", "window": "minute", "max": 1200},
            {"counter": "calls_per_day", "window": "day", "max": 500_000, "scope": "global"}
        ]},
        "tools": tools,
        "methods": {
            "resources/read": {"default": "deny", "rules": {"file:///docs/*": "allow"}},
            "prompts/get": "allow"
        }
    });
    match serde_json::to_string_pretty(&policy) {
        Ok(text) => text,
        Err(e) => panic!("cannot serialise the generated policy: {e}"),
    }
}

fn load(name: &str, text: &str) -> Policy {
    match Policy::from_json_text(text) {
        Ok(policy) => policy,
        Err(errors) => panic!("the {name} policy does not load:\n{errors}"),
    }
}

fn call<'a>(tool: &'a str, args: &'a Value) -> Request<'a> {
    Request {
        method: "tools/call",
        target: Some(tool),
        arguments: Some(args),
        grant: "alice",
        session: Some("session-1"),
    }
}

/// The rule a decision names, and whether it allowed.
fn outcome(decision: &Decision<'_>) -> (bool, String) {
    match decision {
        Decision::Allow { rule, .. } => (true, rule.clone()),
        Decision::Deny(denial) => (false, denial.rule.clone()),
    }
}

/// One decide case: the tool, its arguments and the outcome it must have.
struct Case {
    name: &'static str,
    tool: &'static str,
    args: Value,
    allowed: bool,
    rule: &'static str,
}

/// A `create_invoice` call that passes every require and deny_if rule, so
/// that every condition (numeric comparisons and the regex) is evaluated.
fn invoice_args() -> Value {
    json!({
        "point_of_sale": 3,
        "invoice_type": 6,
        "concept": 2,
        "doc_type": 80,
        "doc_number": 20_123_456_789_u64,
        "amount_total": 121_000.5,
        "amount_net": 100_000,
        "amount_iva": 21_000.5,
        "currency": "PES",
        "items": [{"description": "Servicios de consultoría, octubre", "quantity": 1, "unit_price": 100_000, "iva_rate": 21}]
    })
}

fn cases(policy: &str) -> Vec<Case> {
    let afip = policy == "afip45";
    vec![
        Case {
            name: "exact_hit",
            tool: if afip {
                "get_invoice"
            } else {
                "stripe_read_report"
            },
            args: json!({"point_of_sale": 3, "invoice_type": 6, "invoice_number": 1042}),
            allowed: true,
            rule: if afip {
                "/tools/get_invoice"
            } else {
                "/tools/stripe_read_report"
            },
        },
        Case {
            name: "pattern_hit",
            tool: if afip {
                "list_currency_types"
            } else {
                "tenant_acme_read"
            },
            args: json!({}),
            allowed: true,
            rule: if afip {
                "/tools/list_*"
            } else {
                "/tools/tenant_*_read"
            },
        },
        Case {
            name: "unlisted_default",
            tool: "transfer_funds_abroad",
            args: json!({"amount": 10}),
            allowed: false,
            rule: "(default deny)",
        },
        Case {
            name: "hidden",
            tool: if afip {
                "delete_instance"
            } else {
                "drop_customers"
            },
            args: json!({"instance": "prod"}),
            allowed: false,
            rule: "(hidden)",
        },
        Case {
            name: "deny_if_evaluated",
            tool: if afip {
                "create_invoice"
            } else {
                "stripe_create_invoice"
            },
            args: invoice_args(),
            allowed: true,
            rule: if afip {
                "/tools/create_invoice"
            } else {
                "/tools/stripe_create_invoice"
            },
        },
    ]
}

/// A 120-byte `tools/call` body.
const SMALL_BODY: &[u8] =
    br#"{"jsonrpc":"2.0","id":1017,"method":"tools/call","params":{"name":"get_cae_status","arguments":{"invoice_number":1042}}}"#;

/// A `create_invoice` `tools/call` body of at least `target` bytes (items
/// are added until it is that long).
fn invoice_body(target: usize) -> Vec<u8> {
    let mut items = Vec::new();
    loop {
        let n = items.len();
        items.push(json!({
            "description": format!("Servicio profesional {n}: consultoría e implementación"),
            "quantity": n % 5 + 1,
            "unit_price": 12_500.75 + n as f64,
            "iva_rate": 21
        }));
        let body = json!({
            "jsonrpc": "2.0", "id": 18, "method": "tools/call",
            "params": {"name": "create_invoice", "arguments": {
                "point_of_sale": 3, "invoice_type": 6, "concept": 2, "doc_type": 80,
                "doc_number": 20_123_456_789_u64, "amount_total": 121_000.5, "currency": "PES",
                "items": items
            }}
        })
        .to_string();
        if body.len() >= target {
            return body.into_bytes();
        }
    }
}

fn bench_compile(c: &mut Criterion) {
    let generated = generated_policy();
    let afip = load("afip45", AFIP_POLICY);
    let big = load("gen1300", &generated);
    for tool in AFIP_TOOLS {
        let (_, rule) = outcome(&afip.decide(&call(tool, &json!({}))));
        assert_ne!(
            rule, "(default deny)",
            "{tool} is not covered by the Afip policy"
        );
    }
    assert_eq!(
        big.named_tools().len(),
        GENERATED_TOOLS,
        "the generated policy must have {GENERATED_TOOLS} exact tools"
    );
    assert_eq!(
        big.limits().len(),
        980,
        "docs/benchmarks.md says 980 limits"
    );

    let mut group = c.benchmark_group("compile");
    for (name, text) in [("afip45", AFIP_POLICY), ("gen1300", generated.as_str())] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| Policy::from_json_text(black_box(text)).is_ok())
        });
    }
    group.finish();
}

fn bench_decide(c: &mut Criterion) {
    let generated = generated_policy();
    let policies = [
        ("afip45", load("afip45", AFIP_POLICY)),
        ("gen1300", load("gen1300", &generated)),
    ];
    let mut group = c.benchmark_group("decide");
    for (policy_name, policy) in &policies {
        for case in cases(policy_name) {
            let request = call(case.tool, &case.args);
            let got = outcome(&policy.decide(&request));
            assert_eq!(
                got,
                (case.allowed, case.rule.to_owned()),
                "{policy_name}/{}: the case does not take the path it is named after",
                case.name
            );
            group.bench_with_input(
                BenchmarkId::new(case.name, policy_name),
                &request,
                |b, request| {
                    b.iter(|| match policy.decide(black_box(request)) {
                        Decision::Allow { limits, .. } => limits.len(),
                        Decision::Deny(denial) => denial.message.len(),
                    })
                },
            );
        }
    }
    group.finish();
}

fn bench_read_payload(c: &mut Criterion) {
    let limits = ReadLimits::default();
    let mut group = c.benchmark_group("read_payload");
    let large = invoice_body(4096);
    assert_eq!(SMALL_BODY.len(), 120);
    assert!(
        (4096..4096 + 256).contains(&large.len()),
        "{} bytes",
        large.len()
    );
    for (name, body) in [
        ("tools_call_120B", SMALL_BODY.to_vec()),
        ("tools_call_4KiB", large),
    ] {
        let read = read_payload(&body, &limits);
        assert!(
            read.as_ref()
                .is_ok_and(|payload| payload.messages()[0].target().is_some()),
            "{name} ({} bytes) does not read as a tools/call: {read:?}",
            body.len()
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| read_payload(black_box(body), &limits).is_ok())
        });
    }
    group.finish();
}

/// No shared data at all: the worst-case policies below charge no limit.
struct NoStore;

impl SharedStore for NoStore {
    fn get(&self, _key: &str) -> Result<Option<Entry>, StoreError> {
        Ok(None)
    }

    fn set(&self, _key: &str, _value: &[u8], _cas: Option<u32>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The filter's whole decision (strict read, checks, policy) on a body of
/// `max_body_bytes` (1 MiB), one string argument filling it: with no
/// condition, with seven conditions on that string (the regex refused by the
/// default `max_regex_subject_bytes`), and with the cap raised to 1 MiB.
fn bench_decide_worst_case(c: &mut Criterion) {
    let text = "a".repeat(1024 * 1024 - 160);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "send_text", "arguments": {"text": text, "number": "1"}}})
    .to_string()
    .into_bytes();
    assert!(body.len() <= 1024 * 1024, "{} bytes", body.len());
    // Every condition is evaluated: all hold but the last, the regex, which
    // scans the whole string (or is refused by the cap) and denies.
    let conditions = json!([
        {"path": "args.number", "op": "in", "value": ["1", "2"]},
        {"path": "args.text", "op": "exists", "value": true},
        {"path": "args.text", "op": "neq", "value": "x"},
        {"path": "args.text", "op": "not_in", "value": ["x", "y"]},
        {"path": "request.grant", "op": "eq", "value": "alice"},
        {"path": "args.text", "op": "contains", "value": "aaaa"},
        {"path": "args.text", "op": "regex", "value": "(?i)wire .* transfer"}
    ]);
    let policy =
        |entry: Value| json!({"version": "1", "default": "deny", "tools": {"send_text": entry}});
    let cases = [
        ("no_conditions", policy(json!({})), 4096, true),
        (
            "7_conditions",
            policy(json!({"require": conditions})),
            4096,
            false,
        ),
        (
            "7_conditions_uncapped_regex",
            policy(json!({"require": conditions})),
            1024 * 1024,
            false,
        ),
    ];
    bench_whole_decision(c, "decide_1MiB_body", &body, cases);
}

/// The filter's whole decision (strict read, checks, policy) on `body`
/// under each case's policy, with its `max_regex_subject_bytes`; each case
/// is checked to forward the body, or not, before it is timed.
fn bench_whole_decision(
    c: &mut Criterion,
    group: &str,
    body: &[u8],
    cases: impl IntoIterator<Item = (&'static str, Value, usize, bool)>,
) {
    let head = RequestHead::from_headers(
        [
            (":method", "POST"),
            (":path", "/mcp"),
            ("content-type", "application/json"),
        ]
        .into_iter()
        .collect::<HeaderMap>(),
    );
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Bytes(body.len() as u64));
    for (name, policy, cap, forwards) in cases {
        let config = Config::from_json_text(
            &json!({"policy": policy, "grants": [{"name": "alice", "token_sha256": ["00".repeat(32)]}],
                    "sessions": "off", "max_regex_subject_bytes": cap})
            .to_string(),
        )
        .unwrap_or_else(|error| panic!("{name}: {error}"));
        let grant = config.grants.by_name("alice").expect("grant").clone();
        let context = Context {
            config: &config,
            head: &head,
            grant: &grant,
            session: None,
            store: &NoStore,
            claims: &NoClaims,
            now_secs: 1_800_000_000,
            now_nanos: 1_800_000_000_000_000_000,
        };
        let forwarded = |body: &[u8]| {
            matches!(
                decide_body(&context, body).disposition,
                Disposition::Forward(_)
            )
        };
        assert_eq!(forwarded(body), forwards, "{name}");
        group.bench_function(name, |b| b.iter(|| forwarded(black_box(body))));
    }
    group.finish();
}

/// The filter's whole decision on a `create_invoice_batch` body of about
/// 1 MiB (thousands of invoices), with no condition and with three `*`
/// conditions that read every invoice: a requirement on each currency, a cap
/// on each amount, and dollars-and-over-a-cap bound to one invoice. None
/// holds, so every element is visited; the cost should stay linear in the
/// body.
fn bench_decide_array_batch(c: &mut Criterion) {
    let invoice = |i: usize| {
        json!({"concept": 2, "doc_type": 80, "doc_number": 20_123_456_789_u64, "invoice_number": i,
               "amount_total": 1_000 + i % 5_000, "amount_net": 900, "amount_iva": 100,
               "currency": if i % 2 == 0 { "PES" } else { "DOL" }})
    };
    let mut invoices = Vec::new();
    let mut size = batch_body(&[]).len();
    loop {
        let next = invoice(invoices.len());
        let grows = next.to_string().len() + 1;
        if size + grows > 1024 * 1024 {
            break;
        }
        size += grows;
        invoices.push(next);
    }
    let body = batch_body(&invoices);
    assert!(body.len() <= 1024 * 1024, "{} bytes", body.len());
    let policy = |entry: Value| json!({"version": "1", "default": "deny", "tools": {"create_invoice_batch": entry}});
    let conditions = json!({
        "require": [{"path": "args.invoices.*.currency", "op": "in", "value": ["PES", "DOL"]}],
        "deny_if": [
            {"conditions": [{"path": "args.invoices.*.amount_total", "op": "gt", "value": 100_000}]},
            {"conditions": [
                {"path": "args.invoices.*.currency", "op": "eq", "value": "DOL"},
                {"path": "args.invoices.*.amount_total", "op": "gt", "value": 10_000}
            ]}
        ]
    });
    let cases = [
        ("no_conditions", policy(json!({})), 4096, true),
        ("3_wildcard_conditions", policy(conditions), 4096, true),
    ];
    let group = format!("decide_batch_{}_invoices", invoices.len());
    bench_whole_decision(c, &group, &body, cases);
}

fn batch_body(invoices: &[Value]) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "create_invoice_batch", "arguments": {"point_of_sale": 3, "invoice_type": 6, "invoices": invoices}}})
    .to_string()
    .into_bytes()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_compile, bench_decide, bench_read_payload, bench_decide_worst_case, bench_decide_array_batch
}
criterion_main!(benches);
