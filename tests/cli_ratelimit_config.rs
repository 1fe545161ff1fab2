//! `mcp-policy ratelimit-config`, and `explain` for limits the rate-limit
//! service counts, through the binary. The configurations it writes for
//! tests/fixtures/ratelimit/wrapper.json are the fixtures that
//! tests/policy_files/test_ratelimit_configs.py checks against each
//! service's documented format; regenerate them with
//! `UPDATE_FIXTURES=1 cargo test --all-features --test cli_ratelimit_config`.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-policy");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const WRAPPER: &str = "tests/fixtures/ratelimit/wrapper.json";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("spawn mcp-policy")
}

#[test]
fn the_written_configurations_are_the_fixtures() {
    for format in ["envoyproxy", "limitador"] {
        let output = run(&["ratelimit-config", WRAPPER, "--format", format]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let fixture = Path::new(ROOT).join(format!("tests/fixtures/ratelimit/{format}.yaml"));
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(&fixture, &output.stdout).unwrap();
        }
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            std::fs::read_to_string(&fixture).unwrap(),
            "{format}"
        );
    }
    let output = run(&[
        "ratelimit-config",
        WRAPPER,
        "--format",
        "limitador",
        "--domain",
        "other",
    ]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("- namespace: \"other\""));
}

#[test]
fn nothing_counted_by_the_service_or_one_counter_twice_is_an_error() {
    let output = run(&[
        "ratelimit-config",
        "policies/seed-policy.json",
        "--format",
        "envoyproxy",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("no limit is counted by the rate-limit service"));

    let dir = std::env::temp_dir().join(format!("mcp-policy-rlc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conflicting = dir.join("conflict.json");
    let limit = |max: u64| {
        serde_json::json!({"version": "1", "default": "deny", "counted_by": "rate_limit_service",
            "tools": {"x": {"limits": [{"counter": "c", "window": "minute", "max": max}]}}})
    };
    let wrapper = serde_json::json!({"policy": limit(3), "policies": {"b": limit(4)},
        "rate_limit_service": {"cluster": "rls"}, "counter_key": {"env": "K"}, "sessions": "off", "grants": []});
    std::fs::write(&conflicting, wrapper.to_string()).unwrap();
    let output = run(&[
        "ratelimit-config",
        conflicting.to_str().unwrap(),
        "--format",
        "limitador",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("3 per minute at /policy/tools/x/limits/c but 4 per minute at /policies/b/tools/x/limits/c"), "{stderr}");
}

#[test]
fn explain_shows_the_request_it_would_send_and_settles_it_as_a_service_would() {
    let dir = std::env::temp_dir().join(format!("mcp-policy-rle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let request = dir.join("call.json");
    std::fs::write(
        &request,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"create_invoice","arguments":{}}}"#,
    )
    .unwrap();
    let explain = |extra: &[&str]| {
        let mut args = vec![
            "explain",
            WRAPPER,
            "--request",
            request.to_str().unwrap(),
            "--grant",
            "alice",
            "--now",
            "1795505505",
            "--header",
            "x-team: finance",
            "--json",
        ];
        args.extend_from_slice(extra);
        let output = run(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let allowed = explain(&[]);
    assert_eq!(allowed["decision"], "allow");
    let service = &allowed["rate_limit_service"];
    assert_eq!(service["cluster"], "mcp_policy_rls");
    assert_eq!(service["domain"], "mcp_policy");
    let counters: Vec<(&str, &str)> = service["descriptors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["entries"][0]["value"].as_str().unwrap(),
                d["entries"][1]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counters,
        [
            ("invoices", "grant"),
            ("invoices-per-team", "header:x-team"),
            ("calls", "grant")
        ]
    );
    assert_eq!(
        service["descriptors"][0]["limit"],
        serde_json::json!({"requests_per_unit": 60, "unit": 3})
    );
    assert!(
        !service.to_string().contains("finance"),
        "scope values leave only as hashes"
    );
    assert_eq!(
        allowed["messages"][0]["limits"][0]["counted_by"],
        "rate_limit_service"
    );

    let spent = explain(&["--used", "invoices-per-team=500"]);
    assert_eq!(spent["decision"], "deny");
    assert_eq!(spent["outcome"], "rate_limited");
    assert_eq!(
        spent["rule"],
        "/tools/create_invoice/limits/invoices-per-team"
    );
    assert_eq!(
        spent["reply"]["body"]["result"]["_meta"]["mcp-policy/retryAfterSeconds"],
        86_400 - 1_795_505_505 % 86_400
    );
    assert_eq!(
        spent["rate_limit_service"]["descriptors"][1]["simulated_over_limit"],
        true
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
