//! `tools/list` filtering: the response the filter reads whole, checks
//! strictly and cuts hidden tools out of, against a plain copy of it and
//! serde_json's own parse into a tree.
//!
//! - `list45`: the 45 Mcp Afip tools (`tests/fixtures/afip-tools-list.json`,
//!   compacted as the bench's upstream sends it, about 18 KB), 3 hidden;
//! - `list1360`: 1,360 generated tools of about 430 bytes each, 40 hidden.
//!
//! Run: `cargo bench --no-default-features --bench tools_list`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

use mcp_policy_filter::mcp::{filter_tools_list_json, RequestId};

const AFIP_LIST: &str = include_str!("../../tests/fixtures/afip-tools-list.json");

fn afip_list() -> Vec<u8> {
    let mut body: Value = serde_json::from_str(AFIP_LIST).unwrap();
    body["id"] = json!(1);
    serde_json::to_vec(&body).unwrap()
}

fn big_list() -> Vec<u8> {
    let tools: Vec<Value> = (0..1360)
        .map(|n| {
            let name = if n % 34 == 0 {
                format!("delete_record_{n}")
            } else {
                format!("service_{}_get_record_{n}", n % 40)
            };
            json!({
                "name": name,
                "description": format!("{name}: performs the operation on the remote service and returns the resulting record as JSON."),
                "inputSchema": {"type": "object", "properties": {
                    "id": {"type": "string", "description": "Identifier of the record"},
                    "tenant": {"type": "string", "description": "Tenant the record belongs to"},
                    "amount": {"type": "number", "description": "Amount in the record's currency"}
                }, "required": ["id", "tenant"]}
            })
        })
        .collect();
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}})).unwrap()
}

fn keep(name: &str) -> bool {
    !(name.starts_with("delete_") || name == "leave_group" || name == "restart_instance")
}

fn bench_filter(c: &mut Criterion) {
    let ids = [RequestId::from_value(&json!(1)).unwrap()];
    for (label, body) in [("list45", afip_list()), ("list1360", big_list())] {
        let filtered = filter_tools_list_json(&body, &ids, &keep).unwrap().unwrap();
        assert!(filtered.len() < body.len(), "{label}: nothing hidden");
        let mut group = c.benchmark_group(format!("tools_list_{label}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("filter", |b| {
            b.iter(|| filter_tools_list_json(black_box(&body), &ids, &keep))
        });
        group.bench_function("copy", |b| b.iter(|| black_box(&body).to_vec()));
        group.bench_function("serde_json_value", |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&body)).unwrap())
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_filter
}
criterion_main!(benches);
