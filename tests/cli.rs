//! The `mcp-policy` binary, end to end.
//! Run: cargo test --no-default-features --features cli
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mcp_policy_filter::config::Config;
use mcp_policy_filter::policy::Policy;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-policy");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn root(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn run(args: &[&str]) -> Output {
    run_with_stdin(args, None)
}

fn run_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-policy");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

/// A file in a directory of this test's own.
fn temp_file(test: &str, name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcp-policy-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn tool_call(id: Value, name: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
        .to_string()
}

/// `explain --json` for a request.
fn explain_json(test: &str, policy: &str, request: &str, extra: &[&str]) -> (i32, Value) {
    let request = temp_file(test, "request.json", request);
    let mut args = vec!["explain", policy, "--request", s(&request), "--json"];
    args.extend_from_slice(extra);
    let output = run(&args);
    let value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&output), stderr(&output)));
    (code(&output), value)
}

fn reply_body(explained: &Value) -> Value {
    let text = explained["reply"]["body_text"].as_str().expect("a reply");
    serde_json::from_str(text).unwrap()
}

// ---------------------------------------------------------------- check

#[test]
fn check_accepts_every_file_in_policies() {
    let mut files: Vec<String> = std::fs::read_dir(root("policies"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let output = run(&args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let out = stdout(&output);
    for file in &files {
        let verdict = if file.ends_with("policy.schema.json") {
            "skipped"
        } else {
            "ok"
        };
        assert!(
            out.contains(&format!("{file}: {verdict} (")),
            "{file}: {out}"
        );
    }
    assert!(
        out.contains("demo-grants.json: ok (grants list: 2 grants (alice, bob))"),
        "{out}"
    );
    assert!(out.contains("wrapper-example.json: ok (wrapper:"), "{out}");
    // Patterns count as well as exact names.
    assert!(
        out.contains("mcp-afip-dry-run.json: ok (bare policy: 6 named tools, 3 patterns, 3 hidden, 4 limits)"),
        "{out}"
    );
}

#[test]
fn check_reports_path_line_and_column() {
    let text = "{\n  \"version\": \"1\",\n  \"default\": \"maybe\",\n  \"tools\": {\n    \"x\": {\"limits\": [{\"counter\": \"c\", \"window\": \"week\", \"max\": 1}], \"colour\": 1}\n  }\n}\n";
    let file = temp_file("check_broken", "broken.json", text);
    let output = run(&["check", s(&file)]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    let f = s(&file);
    assert!(
        err.contains(&format!(
            "{f}:3:14: /default: default must be \"allow\" or \"deny\", not \"maybe\""
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:5:49: /tools/x/limits/0/window: window must be"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:5:69: /tools/x/colour: unknown field \"colour\""
        )),
        "{err}"
    );
    assert!(err.contains("invalid (3 problems)"), "{err}");
    assert_eq!(stdout(&output), "");
}

#[test]
fn check_places_wrapper_problems() {
    let text = "{\n  \"policy\": {\"version\": \"1\", \"default\": \"deny\",\n    \"tools\": {\"a\": {\"action\": \"nope\"}}},\n  \"grants\": [\n    {\"name\": \"alice\", \"token_sha256\": [\"abc\"]}\n  ],\n  \"extra\": true\n}\n";
    let file = temp_file("check_wrapper", "wrapper.json", text);
    let output = run(&["check", s(&file)]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    let f = s(&file);
    assert!(
        err.contains(&format!("{f}:3:21: /policy/tools/a/action: action must be")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{f}:5:40: /grants/0/token_sha256/0: a token hash is 64 hexadecimal"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}:7:3: /extra: unknown field \"extra\"")),
        "{err}"
    );
}

#[test]
fn check_reports_bad_json_and_missing_files() {
    let file = temp_file(
        "check_syntax",
        "syntax.json",
        "{\"version\": \"1\",\n  \"default\": \"deny\",,\n}",
    );
    let output = run(&["check", s(&file)]);
    assert_eq!(code(&output), 1);
    assert!(
        stderr(&output).contains(&format!("{}:2:21: (root): not valid JSON", s(&file))),
        "{}",
        stderr(&output)
    );

    let output = run(&["check", "policies/seed-policy.json", "no/such/file.json"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("cannot read no/such/file.json"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains(
        "policies/seed-policy.json: ok (bare policy: 1 named tool, 0 patterns, 0 hidden, 1 limit)"
    ));
}

#[test]
fn check_reads_array_paths_and_requirement_messages() {
    let text = r#"{"version": "1", "default": "deny", "tools": {
  "create_invoice_batch": {
    "require": [{"path": "args.invoices.*.currency", "op": "in", "value": ["PES", "DOL"], "on_deny": "Pesos or dollars."}],
    "deny_if": [{"conditions": [{"path": "args.invoices.*.amount_total", "op": "gt", "value": 100000}]}]
  }}}
"#;
    let good = temp_file("check_arrays", "good.json", text);
    let output = run(&["check", s(&good)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = r#"{"version": "1", "default": "deny", "tools": {"t": {
  "require": [{"path": "args.*.a", "op": "eq", "value": 1},
    {"path": "request.tool.*", "op": "eq", "value": 1, "on_deny": ""}],
  "deny_if": [{"conditions": [{"path": "args.a.**", "op": "eq", "value": 1},
    {"path": "args.a..*", "op": "eq", "value": 1, "on_deny": "x"}]}]
}}}
"#;
    let bad = temp_file("check_arrays", "bad.json", text);
    let output = run(&["check", s(&bad)]);
    assert_eq!(code(&output), 1);
    let err = stderr(&output);
    let f = s(&bad);
    for expected in [
        format!("{f}:2:24: /tools/t/require/0/path: path \"args.*.a\": the arguments are an object"),
        format!("{f}:3:14: /tools/t/require/1/path: path \"request.tool.*\": \"*\" (every element of an array) applies only to args paths"),
        format!("{f}:3:67: /tools/t/require/1/on_deny: on_deny cannot be empty"),
        format!("{f}:4:40: /tools/t/deny_if/0/conditions/0/path: path \"args.a.**\": \"*\" must be a whole segment"),
        format!("{f}:5:14: /tools/t/deny_if/0/conditions/1/path: path \"args.a..*\" has an empty segment"),
        format!("{f}:5:51: /tools/t/deny_if/0/conditions/1/on_deny: unknown field \"on_deny\" in a condition"),
    ] {
        assert!(err.contains(&expected), "{expected}\n{err}");
    }
    assert!(err.contains("invalid (6 problems)"), "{err}");
}

#[test]
fn check_warns_about_duplicate_keys_in_wrappers() {
    let text = "{\"grants\": [], \"grants\": []}";
    let file = temp_file("check_duplicates", "dup.json", text);
    let output = run(&["check", s(&file)]);
    assert_eq!(code(&output), 0);
    assert!(
        stderr(&output).contains(":1:16: /grants: warning: duplicate key"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------- explain

#[test]
fn explain_names_the_array_element_a_denial_is_about() {
    let policy = temp_file(
        "explain_arrays",
        "policy.json",
        r#"{"version": "1", "default": "deny", "tools": {"create_invoice_batch": {
            "deny_if": [{"conditions": [{"path": "args.invoices.*.amount_total", "op": "gt", "value": 100000}],
                         "on_deny": "Invoices over 100,000 need a human."}]}}}"#,
    );
    let request = tool_call(
        json!(7),
        "create_invoice_batch",
        json!({"invoices": [{"amount_total": 10}, {"amount_total": 150000}]}),
    );
    let file = temp_file("explain_arrays", "request.json", &request);
    let out = stdout(&run(&["explain", s(&policy), "--request", s(&file)]));
    assert!(
        out.contains("rule:     /tools/create_invoice_batch/deny_if/0\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "reason:   Invoices over 100,000 need a human. (args.invoices.1.amount_total is 150000)\n"
        ),
        "{out}"
    );
    let (_, explained) = explain_json("explain_arrays", s(&policy), &request, &[]);
    assert_eq!(
        reply_body(&explained)["result"]["content"][0]["text"],
        "[POLICY DENIED] Invoices over 100,000 need a human. (args.invoices.1.amount_total is 150000)"
    );
}

const RECOMMENDED: &str = "policies/mcp-afip-recommended.json";

#[test]
fn explain_allow_lists_limits_and_the_rate_limit_reply() {
    let request = tool_call(
        json!("a"),
        "send_text",
        json!({"instance": "x", "number": "1", "text": "hi"}),
    );
    let file = temp_file("explain_allow", "request.json", &request);
    let output = run(&["explain", RECOMMENDED, "--request", s(&file)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("decision: allow\n"), "{out}");
    assert!(out.contains("rule:     /tools/send_text\n"), "{out}");
    assert!(
        out.contains("send_text_rate: 10 per minute, scope grant"),
        "{out}"
    );
    assert!(
        out.contains("reply:    none: the request is forwarded"),
        "{out}"
    );
    assert!(
        out.contains(r#"{"jsonrpc":"2.0","id":"a","result":{"content":[{"type":"text","text":"[POLICY DENIED] Rate limit of 10 per minute reached. Try again later."}],"isError":true,"_meta":{"mcp-policy/rule":"/tools/send_text/limits/send_text_rate","mcp-policy/retryAfterSeconds":60}}}"#),
        "{out}"
    );

    let (status, explained) = explain_json("explain_allow_json", RECOMMENDED, &request, &[]);
    assert_eq!(status, 0);
    assert_eq!(explained["decision"], "allow");
    assert_eq!(explained["reply"], Value::Null);
    let limit = &explained["messages"][0]["limits"][0];
    assert_eq!(limit["counter"], "send_text_rate");
    assert_eq!(limit["max"], 10);
    assert_eq!(
        limit["reply_when_spent"]["result"]["content"][0]["text"],
        "[POLICY DENIED] Rate limit of 10 per minute reached. Try again later."
    );
}

#[test]
fn explain_deny_prints_the_exact_reply() {
    let request = tool_call(json!(1), "create_invoice", json!({"amount_total": 5}));
    let file = temp_file("explain_deny", "request.json", &request);
    let output = run(&["explain", RECOMMENDED, "--request", s(&file)]);
    assert_eq!(code(&output), 0);
    let out = stdout(&output);
    assert!(out.contains("decision: deny\n"), "{out}");
    assert!(
        out.contains("rule:     /tools/create_invoice/action\n"),
        "{out}"
    );
    assert!(out.contains("kind:     approval required\n"), "{out}");
    assert!(out.contains("reply:    HTTP 200\n"), "{out}");
    assert!(
        out.contains(r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"[POLICY DENIED] Requires human approval."}],"isError":true,"_meta":{"mcp-policy/rule":"/tools/create_invoice/action"}}}"#),
        "{out}"
    );

    // --exit-code makes a denial exit 1, and an allowed call still exit 0.
    assert_eq!(
        code(&run(&[
            "explain",
            RECOMMENDED,
            "-r",
            s(&file),
            "--exit-code"
        ])),
        1
    );
    let allowed = temp_file(
        "explain_deny",
        "allowed.json",
        &tool_call(json!(2), "get_invoice", json!({})),
    );
    assert_eq!(
        code(&run(&[
            "explain",
            RECOMMENDED,
            "-r",
            s(&allowed),
            "--exit-code"
        ])),
        0
    );

    // Default deny, as JSON.
    let (_, explained) = explain_json(
        "explain_default",
        RECOMMENDED,
        &tool_call(json!(3), "nope", json!({})),
        &[],
    );
    assert_eq!(explained["decision"], "deny");
    assert_eq!(explained["messages"][0]["rule"], "(default deny)");
    let body = reply_body(&explained);
    assert_eq!(
        body["result"]["content"][0]["text"],
        "[POLICY DENIED] Tool \"nope\" is not allowed by policy"
    );
    assert_eq!(body["result"]["_meta"]["mcp-policy/rule"], "(default deny)");
}

#[test]
fn explain_hidden_tool_is_unknown() {
    let (status, explained) = explain_json(
        "explain_hidden",
        RECOMMENDED,
        &tool_call(json!(7), "delete_instance", json!({"instance": "x"})),
        &[],
    );
    assert_eq!(status, 0);
    assert_eq!(explained["messages"][0]["rule"], "(hidden)");
    assert_eq!(explained["messages"][0]["listing"], "hidden");
    assert_eq!(
        reply_body(&explained),
        json!({"jsonrpc": "2.0", "id": 7, "error": {"code": -32602, "message": "Unknown tool: delete_instance"}})
    );
}

#[test]
fn explain_spent_budget_and_conditions() {
    let policy = temp_file(
        "explain_limits",
        "policy.json",
        r#"{"version":"1","default":"deny","tools":{
            "frozen":{"limits":[{"counter":"frozen","window":"hour","max":0}]},
            "create_invoice":{"deny_if":[
                {"conditions":[{"path":"args.amount_total","op":"gt","value":100000}],"on_deny":"Too large"},
                {"conditions":[{"path":"args.amount_total","op":"gt","value":50000}],"on_deny":"Large","mode":"dry_run"}]}}}"#,
    );
    // At the start of an hour, a spent hourly budget resets in 3600 s.
    let (_, explained) = explain_json(
        "explain_limits",
        s(&policy),
        &tool_call(json!(1), "frozen", json!({})),
        &["--now", "1800000000"],
    );
    assert_eq!(explained["decision"], "deny");
    assert_eq!(
        explained["messages"][0]["rule"],
        "/tools/frozen/limits/frozen"
    );
    assert_eq!(explained["reply"]["headers"]["retry-after"], "3600");
    assert_eq!(
        reply_body(&explained)["result"]["content"][0]["text"],
        "[POLICY DENIED] Rate limit of 0 per hour reached. Try again later."
    );

    let big = tool_call(json!(2), "create_invoice", json!({"amount_total": 250000}));
    let (_, explained) = explain_json("explain_limits", s(&policy), &big, &[]);
    assert_eq!(
        explained["messages"][0]["rule"],
        "/tools/create_invoice/deny_if/0"
    );
    assert_eq!(
        reply_body(&explained)["result"]["content"][0]["text"],
        "[POLICY DENIED] Too large"
    );

    let medium = tool_call(json!(3), "create_invoice", json!({"amount_total": 60000}));
    let (_, explained) = explain_json("explain_limits", s(&policy), &medium, &[]);
    assert_eq!(explained["decision"], "allow");
    assert_eq!(
        explained["messages"][0]["would_deny"]["rule"],
        "/tools/create_invoice/deny_if/1"
    );
    let request = temp_file("explain_limits", "medium.json", &medium);
    let out = stdout(&run(&["explain", s(&policy), "-r", s(&request)]));
    assert!(
        out.contains("dry run:  would deny by /tools/create_invoice/deny_if/1 (denied): Large"),
        "{out}"
    );
}

#[test]
fn explain_with_grant_on_a_wrapper() {
    let wrapper = "policies/wrapper-example.json";
    let request = tool_call(json!(1), "create_invoice", json!({"amount_total": 10}));

    let (_, explained) = explain_json("grant_default", wrapper, &request, &[]);
    assert_eq!(explained["grant"], "cli");
    assert_eq!(explained["source"], "policy /policy");
    assert_eq!(
        explained["messages"][0]["rule"],
        "/tools/create_invoice/action"
    );

    let (_, explained) = explain_json("grant_bob", wrapper, &request, &["--grant", "bob"]);
    assert_eq!(explained["source"], "policy /policies/read-only");
    assert_eq!(explained["decision"], "deny");
    assert_eq!(explained["messages"][0]["rule"], "(default deny)");

    let (_, explained) = explain_json(
        "grant_billing",
        wrapper,
        &request,
        &["--grant", "billing-bot"],
    );
    assert_eq!(explained["grant"], "billing-bot");
    assert_eq!(explained["decision"], "allow");
    assert_eq!(
        explained["messages"][0]["limits"][0]["counter"],
        "invoices_per_day"
    );

    let file = temp_file("grant_unknown", "request.json", &request);
    let output = run(&["explain", wrapper, "-r", s(&file), "--grant", "mallory"]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output)
        .contains("no grant named \"mallory\"; the grants are: alice, bob, billing-bot"));
}

#[test]
fn explain_batches_and_bad_requests() {
    let batch = format!(
        "[{},{},{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}]",
        tool_call(json!(1), "get_invoice", json!({})),
        tool_call(json!(2), "delete_instance", json!({}))
    );
    let (_, explained) = explain_json("explain_batch", RECOMMENDED, &batch, &[]);
    assert_eq!(explained["decision"], "deny");
    assert_eq!(explained["messages"].as_array().unwrap().len(), 3);
    let body = reply_body(&explained);
    assert_eq!(body[0]["error"]["code"], -32600);
    assert_eq!(body[1]["error"]["message"], "Unknown tool: delete_instance");

    let output = run_with_stdin(
        &["explain", RECOMMENDED, "--request", "-"],
        Some(r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":3}}"#),
    );
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("-32602"), "{}", stderr(&output));

    let output = run(&["explain", "policies/demo-grants.json", "--request", "-"]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("not a policy"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------- generate

const FIXTURE: &str = "tests/fixtures/afip-tools-list.json";

/// Whether the classification table has `tool` in class `class` (the
/// columns are separated by two spaces or more).
fn row(table: &str, tool: &str, class: &str) -> bool {
    table.lines().any(|line| {
        let mut columns = line.split("  ").map(str::trim).filter(|c| !c.is_empty());
        columns.next() == Some(tool) && columns.next() == Some(class)
    })
}

#[test]
fn generate_writes_a_policy_that_check_accepts() {
    let output = run(&["generate", "--tools", FIXTURE]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let policy_text = stdout(&output);
    let table = stderr(&output);
    assert!(row(&table, "create_invoice", "Financial"), "{table}");
    assert!(row(&table, "delete_instance", "Destructive"), "{table}");
    assert!(row(&table, "get_invoice", "Read"), "{table}");
    assert!(row(&table, "send_text", "Execute"), "{table}");
    assert!(row(&table, "create_instance", "Write"), "{table}");
    assert!(table.contains("45 tools:"), "{table}");

    let file = temp_file("generate", "generated.json", &policy_text);
    let checked = run(&["check", s(&file)]);
    assert_eq!(code(&checked), 0, "{}", stderr(&checked));
    assert!(Policy::from_json_text(&policy_text).is_ok());

    let policy: Value = serde_json::from_str(&policy_text).unwrap();
    assert_eq!(policy["default"], "deny");
    assert_eq!(policy["tools"]["get_invoice"], json!({}));
    assert_eq!(
        policy["tools"]["create_invoice"],
        json!({"action": "require_approval", "message": "Requires human approval.",
            "approval": {"by": "approver", "approvers": ["approver"]}})
    );
    assert!(
        table.contains("requires approval by grant \"approver\" (define it)"),
        "{table}"
    );
    assert_eq!(
        policy["tools"]["create_instance"]["limits"][0],
        json!({"counter": "create_instance_rate", "window": "minute", "max": 30, "scope": "grant"})
    );
    assert_eq!(policy["tools"]["restart_instance"]["limits"][0]["max"], 10);
    assert!(policy["hide"]
        .as_array()
        .unwrap()
        .contains(&json!("delete_instance")));
    assert!(policy["tools"].get("delete_instance").is_none());

    // policies/mcp-afip-recommended.json is this output.
    let example = std::fs::read_to_string(root("policies/mcp-afip-recommended.json")).unwrap();
    assert_eq!(
        policy_text, example,
        "regenerate policies/mcp-afip-recommended.json"
    );
}

/// `generate` on a real server's saved tools/list: the policy and its table.
fn generate_real(server: &str) -> (Value, String) {
    let fixture = format!("tests/fixtures/servers/{server}.tools-list.json");
    let output = run(&["generate", "--tools", &fixture]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let policy_text = stdout(&output);
    let file = temp_file("generate_real", &format!("{server}.json"), &policy_text);
    assert_eq!(code(&run(&["check", s(&file)])), 0);
    (serde_json::from_str(&policy_text).unwrap(), stderr(&output))
}

fn expect_entries(policy: &Value, entries: &[(&str, Value)]) {
    for (tool, entry) in entries {
        assert_eq!(&policy["tools"][tool], entry, "{tool}");
    }
}

fn per_minute(counter: &str, max: u64) -> Value {
    json!({"limits": [{"counter": counter, "window": "minute", "max": max, "scope": "grant"}]})
}

#[test]
fn generate_on_the_real_mcp_afip_limits_personal_data_reads() {
    let (policy, table) = generate_real("mcp-afip");
    assert!(table.contains("20 tools: 13 Read, 2 Read (personal data), 0 Write, 0 Execute, 0 Destructive, 5 Financial"), "{table}");
    assert!(
        row(&table, "lookup_taxpayer", "Read (personal data)"),
        "{table}"
    );
    assert!(
        row(
            &table,
            "get_registration_certificate",
            "Read (personal data)"
        ),
        "{table}"
    );
    assert!(row(&table, "get_currency_rate", "Read"), "{table}");
    expect_entries(
        &policy,
        &[
            ("lookup_taxpayer", per_minute("lookup_taxpayer_rate", 10)),
            (
                "get_registration_certificate",
                per_minute("get_registration_certificate_rate", 10),
            ),
            ("get_currency_rate", json!({})),
        ],
    );
    assert_eq!(policy["tools"].as_object().unwrap().len(), 20);
    assert!(policy.get("hide").is_none());
}

#[test]
fn generate_on_the_real_evolution_api_hides_update_group_participants() {
    let (policy, table) = generate_real("evolution-api");
    assert!(table.contains("25 tools: 8 Read, 1 Read (personal data), 7 Write, 5 Execute, 4 Destructive, 0 Financial"), "{table}");
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("update_group_participants")
                && line.contains("Destructive")
                && line.ends_with("verb \"update\", but \"remove\" is a value of \"action\"")),
        "{table}"
    );
    assert_eq!(
        policy["hide"],
        json!([
            "delete_instance",
            "leave_group",
            "update_group_participants",
            "delete_message"
        ])
    );
    assert!(policy["tools"].get("update_group_participants").is_none());
    expect_entries(
        &policy,
        &[
            // The seed policy's rule, as PolicyLayer recommends it for a Write tool.
            ("logout_instance", per_minute("logout_instance_rate", 30)),
            ("get_contacts", per_minute("get_contacts_rate", 10)),
        ],
    );
}

#[test]
fn generate_accepts_every_form_of_tools_list() {
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(root(FIXTURE)).unwrap()).unwrap();
    let expected = stdout(&run(&["generate", "--tools", FIXTURE]));
    let forms = [
        fixture["result"].clone(),
        json!({"tools": fixture["result"]["tools"]}),
        fixture["result"]["tools"].clone(),
    ];
    for form in forms {
        let output = run_with_stdin(&["generate", "--tools", "-"], Some(&form.to_string()));
        assert_eq!(code(&output), 0, "{}", stderr(&output));
        assert_eq!(stdout(&output), expected);
    }
    let sse = format!("event: message\ndata: {}\n\n", fixture);
    assert_eq!(
        stdout(&run_with_stdin(&["generate", "--tools", "-"], Some(&sse))),
        expected
    );

    let annotated = json!({"tools": [
        {"name": "frobnicate", "annotations": {"readOnlyHint": true}},
        {"name": "update_thing", "annotations": {"destructiveHint": true}},
    ]});
    let output = run_with_stdin(&["generate", "--tools", "-"], Some(&annotated.to_string()));
    let policy: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(policy["tools"], json!({"frobnicate": {}}));
    assert_eq!(policy["hide"], json!(["update_thing"]));

    let output = run_with_stdin(&["generate", "--tools", "-"], Some("{\"nothing\": 1}"));
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("no \"tools\" array"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------- envoy

/// The JSON of the `value: |` block.
fn embedded_configuration(yaml: &str) -> String {
    let start = yaml.find("value: |\n").expect("a block scalar") + "value: |\n".len();
    yaml[start..]
        .lines()
        .map(|line| line.strip_prefix("          ").expect("block indentation"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `mcp-policy envoy` for the seed policy and the demo grants, before more options.
const ENVOY_DEMO: [&str; 5] = [
    "envoy",
    "--policy",
    "policies/mcp-afip.json",
    "--grants",
    "policies/demo-grants.json",
];

/// What `mcp-policy` printed on stdout, once it succeeded.
fn printed(args: &[&str]) -> String {
    let output = run(args);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    stdout(&output)
}

fn assert_holds_all(text: &str, expected: &[&str]) {
    for expected in expected {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn envoy_prints_the_http_filter_with_a_valid_wrapper() {
    let yaml = printed(&[
        "envoy",
        "--policy",
        "policies/mcp-afip-invoice-guard.json",
        "--grants",
        "policies/demo-grants.json",
    ]);
    assert_holds_all(
        &yaml,
        &[
            "- name: mcp_policy\n",
            "    \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm\n",
            "        vm_id: mcp_policy\n",
            "        runtime: envoy.wasm.runtime.v8\n",
            "            filename: \"/etc/envoy/mcp_policy_filter.wasm\"\n",
            "      allow_on_headers_stop_iteration: true\n",
            "      failure_policy: FAIL_CLOSED\n",
            "        \"@type\": type.googleapis.com/google.protobuf.StringValue\n",
            "        value: |\n",
        ],
    );
    // Session keys come from the VM's environment, which the entry lists.
    assert!(
        yaml.contains("        environment_variables:\n          host_env_keys:\n          - \"MCP_POLICY_SESSION_KEYS\"\n"),
        "{yaml}"
    );
    let configuration = embedded_configuration(&yaml);
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let env = |name: &str| (name == "MCP_POLICY_SESSION_KEYS").then(|| key.to_owned());
    let config = Config::from_json_text_with_env(&configuration, &env).expect("a valid wrapper");
    assert_eq!(config.grants.names(), ["alice", "bob"]);
    let wrapper: Value = serde_json::from_str(&configuration).unwrap();
    let policy: Value = serde_json::from_str(
        &std::fs::read_to_string(root("policies/mcp-afip-invoice-guard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(wrapper["policy"], policy);
    assert!(configuration.is_ascii());
}

#[test]
fn envoy_module_option_wrappers_and_missing_grants() {
    let output = run(&[
        "envoy",
        "--policy",
        "policies/wrapper-example.json",
        "--module",
        "dist/mcp_policy_filter.wasm",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let yaml = stdout(&output);
    assert!(yaml.contains("            filename: \"dist/mcp_policy_filter.wasm\"\n"));
    let wrapper: Value = serde_json::from_str(&embedded_configuration(&yaml)).unwrap();
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(root("policies/wrapper-example.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(wrapper, original);

    let output = run(&["envoy", "--policy", "policies/seed-policy.json"]);
    assert_eq!(code(&output), 0);
    assert!(
        stderr(&output).contains("every request will get 401"),
        "{}",
        stderr(&output)
    );

    let output = run(&[
        "envoy",
        "--policy",
        "policies/seed-policy.json",
        "--grants",
        "policies/seed-policy.json",
    ]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("must be a JSON array of grants"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------- hash-token

const ALICE_HASH: &str = "1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40";

#[test]
fn hash_token_from_an_argument_and_from_stdin() {
    let output = run(&["hash-token", "demo-token-alice"]);
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), format!("{ALICE_HASH}\n"));

    for input in [
        "demo-token-alice",
        "demo-token-alice\n",
        "demo-token-alice\r\n",
    ] {
        let output = run_with_stdin(&["hash-token"], Some(input));
        assert_eq!(code(&output), 0, "{input:?}");
        assert_eq!(stdout(&output), format!("{ALICE_HASH}\n"), "{input:?}");
    }
    // Only one newline is removed.
    let output = run_with_stdin(&["hash-token"], Some("demo-token-alice\n\n"));
    assert_ne!(stdout(&output), format!("{ALICE_HASH}\n"));

    let output = run_with_stdin(&["hash-token"], Some("\n"));
    assert_eq!(code(&output), 2);
}

// ---------------------------------------------------------------- help

#[test]
fn every_subcommand_has_help() {
    let output = run(&["--help"]);
    assert_eq!(code(&output), 0);
    for command in ["check", "explain", "generate", "envoy", "hash-token"] {
        assert!(stdout(&output).contains(command), "{command}");
        let help = run(&[command, "--help"]);
        assert_eq!(code(&help), 0, "{command}");
        assert!(
            stdout(&help).contains("Usage: mcp-policy"),
            "{command}: {}",
            stdout(&help)
        );
    }
    let output = run(&["explain", "policies/seed-policy.json"]);
    assert_eq!(code(&output), 2);
    assert!(stderr(&output).contains("--request"), "{}", stderr(&output));
}

// ---------------------------------------------------------------- identity

const IDENTITY_WRAPPER: &str = r#"{
  "policy": {"version": "1", "default": "deny", "tools": {"get_server_status": {}}},
  "policies": {"billing": {"version": "1", "default": "deny", "tools": {"create_invoice": {}}}},
  "sessions": "off",
  "grants": [
    {"name": "any-idp-token", "jwt": {"issuer": "https://idp"}},
    {"name": "invoicing", "jwt": {"issuer": "https://idp", "scopes": ["mcp:invoices"]}, "policy": "billing"},
    {"name": "invoice-bot", "mtls": {"uri_san": "spiffe://cluster.local/ns/agents/sa/invoice-bot"}, "policy": "billing"}
  ]
}"#;

#[test]
fn check_warns_about_a_grant_an_earlier_one_always_matches() {
    let file = temp_file("check_shadowed", "wrapper.json", IDENTITY_WRAPPER);
    let output = run(&["check", s(&file)]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("/grants/1")
            && err.contains(
                "grant \"invoicing\" can never match: the earlier grant \"any-idp-token\""
            ),
        "{err}"
    );
}

#[test]
fn explain_picks_the_grant_from_an_identity_as_the_filter_does() {
    let file = temp_file("explain_identity", "wrapper.json", IDENTITY_WRAPPER);
    let request = tool_call(json!(1), "create_invoice", json!({"amount_total": 1}));
    let (_, explained) = explain_json(
        "explain_identity",
        s(&file),
        &request,
        &[
            "--identity",
            "uri-san=spiffe://cluster.local/ns/agents/sa/invoice-bot",
        ],
    );
    assert_eq!(explained["grant"], "invoice-bot");
    assert_eq!(explained["decision"], "allow");
    let (_, explained) = explain_json(
        "explain_identity",
        s(&file),
        &request,
        &[
            "--identity",
            r#"jwt={"iss": "https://idp", "scope": "mcp:invoices"}"#,
        ],
    );
    assert_eq!(
        explained["grant"], "any-idp-token",
        "the first grant that matches wins"
    );
    assert_eq!(explained["decision"], "deny");
    let (_, explained) = explain_json(
        "explain_identity",
        s(&file),
        &request,
        &[
            "--identity",
            "uri-san=spiffe://cluster.local/ns/web/sa/frontend",
        ],
    );
    assert_eq!(explained["reply"]["status"], 403);
    assert_eq!(explained["reply"]["details"], "mcp_policy_forbidden");
    let (_, explained) = explain_json(
        "explain_identity",
        s(&file),
        &request,
        &["--identity", "token=nope"],
    );
    assert_eq!(explained["reply"]["status"], 401);
}

#[test]
fn explain_gives_the_oauth_challenges_the_filter_gives() {
    let wrapper = r#"{
      "policy": {"version": "1", "default": "deny", "tools": {"get_server_status": {}}},
      "sessions": "off",
      "oauth": {"resource": "https://mcp.example.com/mcp", "authorization_servers": ["https://idp"]},
      "grants": [{"name": "users", "jwt": {"issuer": "https://idp", "scopes": ["mcp:tools"]}}]
    }"#;
    let file = temp_file("explain_oauth", "wrapper.json", wrapper);
    let request = tool_call(json!(1), "get_server_status", json!({}));
    let metadata =
        "resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"";
    let challenge = |identity: &str| {
        let (_, explained) = explain_json(
            "explain_oauth",
            s(&file),
            &request,
            &["--identity", identity],
        );
        (
            explained["reply"]["status"].clone(),
            explained["reply"]["headers"]["www-authenticate"].clone(),
        )
    };
    let for_us =
        r#"jwt={"iss": "https://idp", "aud": "https://mcp.example.com/mcp", "scope": "openid"}"#;
    assert_eq!(
        challenge(for_us),
        (
            json!(403),
            json!(format!(
                "Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", {metadata}"
            ))
        )
    );
    let for_another =
        r#"jwt={"iss": "https://idp", "aud": "https://other.example.com", "scope": "mcp:tools"}"#;
    assert_eq!(
        challenge(for_another),
        (
            json!(401),
            json!(format!(
                "Bearer realm=\"mcp\", error=\"invalid_token\", {metadata}"
            ))
        )
    );
}

#[test]
fn envoy_emits_a_jwt_authn_filter_envoy_accepts() {
    let jwt = [
        "--jwt-issuer",
        "https://idp.example",
        "--jwt-audience",
        "https://mcp.example/mcp",
        "--jwks-uri",
        "https://idp.example/.well-known/jwks.json",
        "--jwks-cluster",
        "idp",
    ];
    let yaml = printed(&[&ENVOY_DEMO[..], &jwt[..]].concat());
    let jwt = yaml
        .find("- name: envoy.filters.http.jwt_authn")
        .expect("jwt_authn");
    let wasm = yaml.find("- name: mcp_policy").expect("mcp_policy");
    assert!(jwt < wasm, "jwt_authn goes first");
    assert_holds_all(
        &yaml,
        &[
            "        issuer: \"https://idp.example\"\n",
            "        - \"https://mcp.example/mcp\"\n",
            "            cluster: \"idp\"\n",
            "        payload_in_metadata: \"jwt_payload\"\n",
            "          - allow_missing_or_failed: {}\n",
            "        forward: false\n",
        ],
    );
}

#[test]
fn envoy_makes_the_gateway_an_oauth_resource_and_jwt_authn_follows() {
    let more = [
        "--jwt-issuer",
        "https://as.example.com",
        "--jwks-uri",
        "https://as.example.com/jwks.json",
        "--jwks-cluster",
        "as",
        "--oauth-resource",
        "https://mcp.example.com/mcp",
    ];
    let base = [&ENVOY_DEMO[..], &more[..]].concat();
    let yaml = printed(&[&base[..], &["--oauth-scope", "mcp:tools", "--jwt-forward"]].concat());
    // The audience is the resource, the token is read from Authorization
    // only, and it goes upstream because the configuration says so.
    assert_holds_all(&yaml, &[
        "        audiences:\n        - \"https://mcp.example.com/mcp\"\n",
        "        from_headers:\n        - name: Authorization\n          value_prefix: \"Bearer \"\n",
        "        forward: true\n",
    ]);
    let wrapper: Value = serde_json::from_str(&embedded_configuration(&yaml)).unwrap();
    assert_eq!(
        wrapper["oauth"],
        json!({
            "resource": "https://mcp.example.com/mcp",
            "authorization_servers": ["https://as.example.com"],
            "scopes_supported": ["mcp:tools"],
            "forward_token": true
        })
    );

    assert_holds_all(&printed(&base), &["        forward: false\n"]);

    let yaml = printed(
        &[
            &base[..],
            &[
                "--oauth-metadata",
                "upstream",
                "--oauth-public-path",
                "/token",
                "--oauth-public-path",
                "/.well-known/oauth-authorization-server",
            ],
        ]
        .concat(),
    );
    let wrapper: Value = serde_json::from_str(&embedded_configuration(&yaml)).unwrap();
    assert_eq!(wrapper["oauth"]["metadata"], "upstream");
    assert_eq!(
        wrapper["oauth"]["public_paths"],
        json!(["/token", "/.well-known/oauth-authorization-server"])
    );
    assert_eq!(wrapper["oauth"].get("authorization_servers"), None);
}

#[test]
fn envoy_refuses_oauth_options_that_disagree() {
    let envoy = |extra: &[&str]| {
        let jwt = [
            "--jwt-issuer",
            "https://as.example.com",
            "--jwks-file",
            "/etc/envoy/jwks.json",
        ];
        let output = run(&[&ENVOY_DEMO[..], &jwt[..], extra].concat());
        (code(&output), stderr(&output))
    };
    let resource = ["--oauth-resource", "https://mcp.example.com/mcp"];
    for (extra, message) in [
        (
            vec!["--jwt-forward"],
            "need the gateway's public MCP URL: --oauth-resource",
        ),
        (
            [
                &resource[..],
                &["--jwt-audience", "https://other.example.com"],
            ]
            .concat(),
            "--jwt-audience must include the OAuth resource https://mcp.example.com/mcp",
        ),
        (
            [&resource[..], &["--oauth-public-path", "/mcp"]].concat(),
            "/oauth/public_paths/0: /mcp is the MCP endpoint",
        ),
        (
            vec!["--oauth-resource", "http://mcp.example.com/mcp"],
            "/oauth/resource: \"http://mcp.example.com/mcp\": must be an https URL",
        ),
        (
            [
                &resource[..],
                &["--oauth-metadata", "upstream", "--oauth-scope", "s"],
            ]
            .concat(),
            "/oauth/scopes_supported: only with \"metadata\": \"filter\"",
        ),
    ] {
        let (status, stderr) = envoy(&extra);
        assert_eq!(status, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
    }
}
