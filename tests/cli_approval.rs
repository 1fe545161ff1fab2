//! `mcp-policy check` and `explain` on tools that require approval.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-policy");
const SESSION_KEY: &str = "c2Vzc2lvbi1rZXktZm9yLXRlc3RzLW9ubHktMzJieXQ=";
const ALICE_SHA256: &str = "1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40";

fn write(name: &str, value: &Value) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-policy-cli-approval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run mcp-policy")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn wrapper(approvals: bool, approval: Value) -> Value {
    let mut config = json!({
        "policy": {"version": "1", "default": "deny", "tools": {
            "create_invoice": {"action": "require_approval", "approval": approval},
            "cancel_invoice": {"action": "require_approval"}
        }},
        "session_keys": [SESSION_KEY],
        "grants": [{"name": "alice", "token_sha256": [ALICE_SHA256]}]
    });
    if approvals {
        config["approvals"] = json!({"enabled": true});
    }
    config
}

fn call(meta: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "create_invoice", "arguments": {"amount_total": 5000}, "_meta": meta}})
}

#[test]
fn check_warns_where_approvals_are_not_enabled_and_refuses_unknown_approvers() {
    let off = write("off.json", &wrapper(false, json!({"ttl_seconds": 60})));
    let output = run(&["check", off.to_str().unwrap_or("")]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("/tools/cancel_invoice and 1 more require approval, but approvals are not enabled, so these calls are denied"),
        "{}",
        text(&output)
    );
    let on = write("on.json", &wrapper(true, json!({"ttl_seconds": 60})));
    let output = run(&["check", on.to_str().unwrap_or("")]);
    assert!(
        output.status.success() && !text(&output).contains("warning"),
        "{}",
        text(&output)
    );
    let approver = write(
        "approver.json",
        &wrapper(true, json!({"by": "approver", "approvers": ["carol"]})),
    );
    let output = run(&["check", approver.to_str().unwrap_or("")]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("/policy/tools/create_invoice/approval/approvers/0")
            && text(&output).contains("no grant is named \"carol\""),
        "{}",
        text(&output)
    );
    let mut with_carol = wrapper(true, json!({"by": "approver", "approvers": ["carol"]}));
    with_carol["grants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "carol", "token_sha256": ["dafd3cb82dc96934e400d5d835cd9b3ddb0233dc7aa4850ad64390e16ce31a74"]}));
    let with_carol = write("with-carol.json", &with_carol);
    let output = run(&["check", with_carol.to_str().unwrap_or("")]);
    assert!(output.status.success(), "{}", text(&output));
    let older = write("older-approver.json", &call(json!({})));
    let output = run(&[
        "explain",
        "--json",
        "-g",
        "alice",
        "-H",
        "MCP-Protocol-Version: 2025-06-18",
        "-H",
        "Host: gw.example",
        "-r",
        older.to_str().unwrap_or(""),
        with_carol.to_str().unwrap_or(""),
    ]);
    let explained: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert_eq!(
        explained["reply"]["details"],
        "mcp_policy_approval_pending",
        "{}",
        text(&output)
    );
    let meta = &explained["reply"]["body"]["result"]["_meta"]["mcp-policy/approval"];
    assert_eq!(meta["status"], "pending");
    assert!(
        meta["url"]
            .as_str()
            .unwrap_or("")
            .starts_with("http://gw.example/mcp-policy/approvals?id="),
        "{meta}"
    );
    let path = explained["messages"][0]["approval"].as_str().unwrap_or("");
    assert!(
        path.contains("an approver (carol) decides on the approval page, /mcp-policy/approvals")
            && path.contains("pending"),
        "{path}"
    );
    let mut no_keys = wrapper(true, json!({}));
    if let Some(object) = no_keys.as_object_mut() {
        object.remove("session_keys");
        object.insert("sessions".into(), json!("off"));
    }
    let no_keys = write("no-keys.json", &no_keys);
    let output = run(&["check", no_keys.to_str().unwrap_or("")]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("/session_keys") && text(&output).contains("approvals are enabled"),
        "{}",
        text(&output)
    );
}

#[test]
fn explain_shows_the_approval_path() {
    let on = write(
        "explain-on.json",
        &wrapper(true, json!({"ttl_seconds": 60})),
    );
    let modern = write(
        "modern.json",
        &call(
            json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}}),
        ),
    );
    let headers = [
        "-H",
        "MCP-Protocol-Version: 2026-07-28",
        "-H",
        "Mcp-Method: tools/call",
        "-H",
        "Mcp-Name: create_invoice",
    ];
    let mut args = vec![
        "explain",
        "--json",
        "-g",
        "alice",
        "-r",
        modern.to_str().unwrap_or(""),
    ];
    args.extend(headers);
    args.push(on.to_str().unwrap_or(""));
    let output = run(&args);
    let explained: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert_eq!(
        explained["outcome"],
        "approval_required",
        "{}",
        text(&output)
    );
    assert_eq!(explained["reply"]["details"], "mcp_policy_approval_asked");
    assert_eq!(
        explained["reply"]["body"]["result"]["resultType"],
        "input_required"
    );
    let path = explained["messages"][0]["approval"].as_str().unwrap_or("");
    assert!(
        path.contains("caller's user confirms") && path.contains("60 s") && path.contains("asked"),
        "{path}"
    );

    let older = write("older.json", &call(json!({})));
    let output = run(&[
        "explain",
        "--json",
        "-g",
        "alice",
        "-r",
        older.to_str().unwrap_or(""),
        on.to_str().unwrap_or(""),
    ]);
    let explained: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert_eq!(
        explained["reply"]["details"],
        "mcp_policy_approval_required",
        "{}",
        text(&output)
    );
    assert!(explained["messages"][0]["approval"]
        .as_str()
        .unwrap_or("")
        .contains("this client cannot ask its user"));

    let off = write("explain-off.json", &wrapper(false, json!({})));
    let output = run(&[
        "explain",
        "-g",
        "alice",
        "-r",
        older.to_str().unwrap_or(""),
        off.to_str().unwrap_or(""),
    ]);
    assert!(
        text(&output)
            .contains("approvals are not enabled in this configuration, so the call is denied"),
        "{}",
        text(&output)
    );
}
