use serde_json::json;

use super::{hash_token, Config, ConfigForm};

mod service;

const SEED: &str = r#"{"version":"1","default":"deny","tools":{"logout_instance":{"limits":[{"counter":"logout_instance_rate","window":"minute","max":30,"scope":"grant"}]}}}"#;
const ALICE_HASH: &str = "1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40";

fn problems(text: &str) -> String {
    match Config::from_json_text(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn token_hash_is_sha256_hex() {
    let hex: String = hash_token("demo-token-alice")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, ALICE_HASH);
}

#[test]
fn bare_seed_policy_is_accepted_with_no_grants() {
    let config = Config::from_json_text(SEED).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.form, ConfigForm::BarePolicy);
    assert!(config.grants.is_empty());
    assert!(config.grants.is_bare_policy());
}

#[test]
fn wrapper_with_grants_and_named_policies() {
    let text = json!({
        "policy": serde_json::from_str::<serde_json::Value>(SEED).unwrap_or_default(),
        "policies": {"open": {"version": "1", "default": "allow"}},
        "grants": [
            {"name": "alice", "token_sha256": [ALICE_HASH, "00".repeat(32)]},
            {"name": "ci", "token_sha256": ["11".repeat(32)], "policy": "open"}
        ],
        "hide_denied_tools": true,
        "max_body_bytes": 2048,
        "max_json_depth": 16,
        "sessions": "off"
    })
    .to_string();
    let config = Config::from_json_text(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.form, ConfigForm::Wrapper);
    assert!(config.settings.hide_denied_tools);
    assert_eq!(config.settings.max_body_bytes, 2048);
    assert_eq!(config.settings.max_json_depth, 16);
    assert_eq!(
        config
            .grants
            .lookup("demo-token-alice")
            .map(|g| g.name.as_str()),
        Some("alice")
    );
    assert_eq!(config.grants.names(), ["alice", "ci"]);
    assert!(config.grants.lookup("nope").is_none());
}

#[test]
fn wrapper_errors_name_their_paths() {
    let text = json!({
        "polcy": {},
        "grants": [
            {"name": "a", "token_sha256": ["xyz"]},
            {"name": "a", "token_sha256": [ALICE_HASH]},
            {"name": "b", "token_sha256": [ALICE_HASH], "policy": "missing"},
            {"token_sha256": [ALICE_HASH]},
            {"name": "c", "token_sha256": [], "extra": 1}
        ],
        "max_body_bytes": 0
    })
    .to_string();
    let report = problems(&text);
    for expected in [
        "/polcy: unknown field",
        "/grants/0/token_sha256/0: a token hash is 64 hexadecimal characters",
        "/grants/1/name: grant \"a\" is defined twice",
        "/grants/2/policy: grant \"b\" names policy \"missing\"",
        "/grants/3/name:",
        "/grants/4/extra: unknown field",
        "/grants/4/token_sha256:",
        "/max_body_bytes:",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
}

#[test]
fn a_token_hash_belongs_to_one_grant() {
    let text = json!({"grants": [
        {"name": "a", "token_sha256": [ALICE_HASH]},
        {"name": "b", "token_sha256": [ALICE_HASH.to_uppercase()]}
    ]})
    .to_string();
    assert!(problems(&text).contains("already used by grant \"a\""));
}

#[test]
fn invalid_json_reports_line_and_column() {
    let report = problems("{\n  \"grants\": [\n}");
    assert!(report.contains("line 3"), "{report}");
}

#[test]
fn invalid_policy_inside_wrapper_is_rejected_with_its_path() {
    let text = json!({"policy": {"version": "2", "default": "deny"}, "grants": []}).to_string();
    assert!(problems(&text).contains("/policy/version"));
}

#[test]
fn filter_state_names_the_published_fields() {
    use super::FilterStateFields;
    let with = |value: serde_json::Value| {
        Config::from_json_text(&json!({"filter_state": value}).to_string())
            .map(|config| config.settings.filter_state)
    };
    assert_eq!(
        Config::from_json_text("{}").map(|c| c.settings.filter_state),
        Ok(FilterStateFields::ALL)
    );
    assert_eq!(with(json!("all")), Ok(FilterStateFields::ALL));
    assert_eq!(with(json!("none")), Ok(FilterStateFields::NONE));
    let chosen = with(json!(["decision", "tool"])).unwrap();
    assert!(chosen.includes("decision") && chosen.includes("tool"));
    assert!(!chosen.includes("rule") && !chosen.includes("grant"));
    let report = problems(&json!({"filter_state": ["decision", "toool", 3]}).to_string());
    assert!(
        report.contains(
            "/filter_state/1: must be \"all\", \"none\" or a list of fields from decision, rule"
        ),
        "{report}"
    );
    assert!(report.contains("/filter_state/2:"), "{report}");
    assert!(problems(&json!({"filter_state": true}).to_string()).contains("/filter_state: must be"));

    let keys = |value: serde_json::Value| {
        Config::from_json_text(&json!({"filter_state_keys": value}).to_string())
            .map(|config| config.settings.filter_state_keys)
    };
    assert_eq!(
        Config::from_json_text("{}").map(|c| c.settings.filter_state_keys),
        Ok(FilterStateFields::NONE)
    );
    assert_eq!(keys(json!("all")), Ok(FilterStateFields::ALL));
    assert!(keys(json!(["tool"])).unwrap().includes("tool"));
    let report = problems(&json!({"filter_state_keys": ["tol"]}).to_string());
    assert!(report.contains("/filter_state_keys/0: must be"), "{report}");
}

mod oauth;
