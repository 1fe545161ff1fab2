//! The `oauth` setting: what it accepts, what it derives, and its errors.

use serde_json::{json, Value};

use super::problems;
use crate::config::{Config, Metadata, OAuth};

fn oauth(value: Value) -> Result<OAuth, String> {
    Config::from_json_text(&json!({ "oauth": value }).to_string())
        .map_err(|error| error.to_string())
        .and_then(|config| {
            config
                .settings
                .oauth
                .map(|oauth| *oauth)
                .ok_or_else(|| "no oauth".to_owned())
        })
}

fn oauth_problems(value: Value) -> String {
    problems(&json!({ "oauth": value }).to_string())
}

#[test]
fn the_filter_answers_metadata_built_from_the_configuration() {
    let Ok(parsed) = oauth(json!({
        "resource": "https://mcp.example.com/mcp",
        "authorization_servers": ["https://as.example.com"],
        "scopes_supported": ["mcp:tools"],
        "resource_name": "Example",
        "public_paths": ["/authorize", "/token"]
    })) else {
        panic!("rejected")
    };
    assert_eq!(parsed.resource, "https://mcp.example.com/mcp");
    assert_eq!(
        parsed.metadata_url,
        "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    );
    assert_eq!(
        parsed.metadata_paths,
        [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );
    assert!(!parsed.forward_token);
    assert_eq!(parsed.public_paths, ["/authorize", "/token"]);
    let Metadata::Filter(document) = &parsed.metadata else {
        panic!("not answered by the filter")
    };
    let document: Value = serde_json::from_slice(document).unwrap_or_default();
    assert_eq!(
        document,
        json!({
            "resource": "https://mcp.example.com/mcp",
            "authorization_servers": ["https://as.example.com"],
            "scopes_supported": ["mcp:tools"],
            "resource_name": "Example",
            "bearer_methods_supported": ["header"]
        })
    );
}

#[test]
fn a_resource_at_the_root_has_one_metadata_path_and_loopback_may_be_http() {
    for resource in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
        let parsed =
            oauth(json!({"resource": resource, "metadata": "upstream", "forward_token": true}))
                .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            parsed.metadata_paths,
            ["/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            parsed.metadata_url,
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource"
        );
        assert_eq!(parsed.metadata, Metadata::Upstream);
        assert!(parsed.forward_token);
    }
    for resource in [
        "http://localhost/mcp",
        "http://[::1]:9/mcp",
        "https://[2001:db8::1]/mcp",
    ] {
        assert!(
            oauth(json!({"resource": resource, "metadata": "upstream"})).is_ok(),
            "{resource}"
        );
    }
}

#[test]
fn errors_name_their_pointers() {
    let report = oauth_problems(json!({
        "resource": "http://mcp.example.com/mcp",
        "authorization_servers": ["https://as.example.com", "https://as.example.com", "ftp://x"],
        "scopes_supported": ["mcp tools"],
        "metadata": "proxy",
        "forward_token": "yes",
        "extra": 1
    }));
    for expected in [
        "/oauth/resource: \"http://mcp.example.com/mcp\": must be an https URL (http only for a loopback host)",
        "/oauth/authorization_servers/1: \"https://as.example.com\" is listed twice",
        "/oauth/authorization_servers/2: must be an https URL",
        "/oauth/scopes_supported/0: a scope is printable ASCII without spaces",
        "/oauth/metadata: must be \"filter\" or \"upstream\"",
        "/oauth/forward_token: must be true or false",
        "/oauth/extra: unknown field \"extra\"",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
    assert!(
        oauth_problems(json!({"authorization_servers": ["https://as"]}))
            .contains("/oauth: missing \"resource\"")
    );
    assert!(
        oauth_problems(json!({"resource": "https://mcp.example.com/mcp"}))
            .contains("/oauth: missing \"authorization_servers\"")
    );
    assert!(oauth_problems(
        json!({"resource": "https://mcp.example.com/mcp", "authorization_servers": []})
    )
    .contains("/oauth/authorization_servers: must name at least one"));
    assert!(oauth_problems(json!(["https://mcp.example.com/mcp"]))
        .contains("/oauth: must be an object"));
    for (resource, message) in [
        (
            "https://mcp.example.com/mcp?x=1",
            "must have no query or fragment",
        ),
        (
            "https://mcp.example.com/mcp#x",
            "must have no query or fragment",
        ),
        ("https://user@mcp.example.com/mcp", "no credentials"),
        ("https://mcp.example.com:x/mcp", "are not valid"),
        ("mcp.example.com/mcp", "must be an absolute https URL"),
        ("https://mcp.example.com/a b", "printable ASCII"),
        ("https://mcp.example.com/\"", "printable ASCII"),
    ] {
        let report = oauth_problems(json!({"resource": resource, "metadata": "upstream"}));
        assert!(
            report.contains("/oauth/resource:") && report.contains(message),
            "{resource}: {report}"
        );
    }
}

#[test]
fn metadata_from_the_upstream_takes_no_metadata_fields() {
    let report = oauth_problems(json!({
        "resource": "https://mcp.example.com/mcp",
        "metadata": "upstream",
        "authorization_servers": ["https://as.example.com"],
        "scopes_supported": ["s"],
        "resource_name": "n"
    }));
    for field in ["authorization_servers", "scopes_supported", "resource_name"] {
        assert!(
            report.contains(&format!(
                "/oauth/{field}: only with \"metadata\": \"filter\""
            )),
            "{field}: {report}"
        );
    }
}

#[test]
fn public_paths_are_exact_canonical_and_never_the_mcp_endpoint() {
    let with = |paths: Value| {
        oauth_problems(
            json!({"resource": "https://mcp.example.com/mcp", "metadata": "upstream", "public_paths": paths}),
        )
    };
    for (path, message) in [
        ("token", "must start with /"),
        ("/token?grant=x", "without ? # % ;"),
        ("/token#x", "without ? # % ;"),
        ("/regist%65r", "without ? # % ;"),
        ("/token;x", "without ? # % ;"),
        ("/a/../mcp", "canonical"),
        ("/a/./b", "canonical"),
        ("//token", "canonical"),
        ("/to ken", "printable ASCII"),
        ("/mcp", "the MCP endpoint /mcp or under it"),
        ("/mcp/messages", "the MCP endpoint /mcp or under it"),
        (
            "/.well-known/oauth-protected-resource/mcp",
            "governed by \"metadata\"",
        ),
        (
            "/.well-known/oauth-protected-resource",
            "governed by \"metadata\"",
        ),
    ] {
        let report = with(json!([path]));
        assert!(
            report.contains("/oauth/public_paths/0: ") && report.contains(message),
            "{path}: {report}"
        );
    }
    assert!(with(json!(["/token", "/token"]))
        .contains("/oauth/public_paths/1: \"/token\" is listed twice"));
    assert!(with(json!("/token")).contains("/oauth/public_paths: must be a list"));
    let report = with(json!(["/token?x", "/mcp"]));
    assert!(
        report.contains("/oauth/public_paths/1: /mcp is the MCP endpoint"),
        "{report}"
    );
    let many: Vec<String> = (0..33).map(|n| format!("/p{n}")).collect();
    assert!(with(json!(many)).contains("/oauth/public_paths: at most 32 paths"));
    assert!(oauth(
        json!({"resource": "https://mcp.example.com/mcp", "metadata": "upstream",
                         "public_paths": ["/mcpx", "/.well-known/oauth-authorization-server"]})
    )
    .is_ok());
}
