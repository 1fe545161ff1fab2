//! MCP's OAuth at the filter: the metadata, the public paths, the
//! challenges of 401 and 403, the token's audience, and which token goes
//! upstream.

use std::rc::Rc;

use serde_json::{json, Value};

use super::*;
use crate::host::LocalReply;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const METADATA_URL: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln";
const PAYLOAD_KEY: &str = "metadata/filter_metadata/envoy.filters.http.jwt_authn/jwt_payload";

fn oauth_config(oauth: Value) -> Rc<Config> {
    config(
        seed_policy(),
        json!({
            "oauth": oauth,
            "grants": [
                {"name": "users", "jwt": {"issuer": "https://as.example.com", "scopes": ["mcp:tools"]}},
                {"name": "alice", "token_sha256": ["1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40"]}
            ]
        }),
    )
}

fn filter_metadata(forward_token: bool) -> Rc<Config> {
    oauth_config(json!({
        "resource": RESOURCE,
        "authorization_servers": ["https://as.example.com"],
        "scopes_supported": ["mcp:tools"],
        "forward_token": forward_token,
        "public_paths": ["/token", "/register"]
    }))
}

fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers = vec![
        (":method".to_string(), method.to_string()),
        (":path".to_string(), path.to_string()),
        ("cookie".to_string(), "sid=1".to_string()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string())),
    );
    headers
}

/// The request's reply, if the filter answered; `None` when it went on.
fn run(config: &Rc<Config>, host: &FakeHost, headers: Vec<(String, String)>) -> Option<LocalReply> {
    run_with(config, host, headers, b"")
}

/// The same for an allowed `tools/call`.
fn run_call(
    config: &Rc<Config>,
    host: &FakeHost,
    headers: Vec<(String, String)>,
) -> Option<LocalReply> {
    run_with(config, host, headers, &call("get_server_status", 1))
}

fn run_with(
    config: &Rc<Config>,
    host: &FakeHost,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Option<LocalReply> {
    let mut filter = HttpFilter::new(Rc::clone(config));
    match send(&mut filter, host, headers, body) {
        Action::Continue => None,
        Action::Pause => host.last_reply(),
    }
}

fn challenge(reply: &LocalReply) -> &str {
    reply
        .headers
        .iter()
        .find(|(name, _)| name == "www-authenticate")
        .map_or("", |(_, value)| value.as_str())
}

fn verified(host: &FakeHost, payload: Value) {
    host.properties.borrow_mut().insert(
        PAYLOAD_KEY.to_string(),
        crate::identity::claims::encode_value(&payload),
    );
}

#[test]
fn the_filter_answers_its_metadata_at_both_paths_without_a_credential() {
    let config = filter_metadata(false);
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp?x=1",
    ] {
        let host = FakeHost::default();
        let Some(reply) = run(&config, &host, request("GET", path, &[])) else {
            panic!("{path} was forwarded")
        };
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.details, "mcp_policy_oauth_metadata");
        let document: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        assert_eq!(document["resource"], json!(RESOURCE));
        assert_eq!(
            document["authorization_servers"],
            json!(["https://as.example.com"])
        );
        assert_eq!(document["scopes_supported"], json!(["mcp:tools"]));
        assert!(reply
            .headers
            .contains(&("content-type".into(), "application/json".into())));
    }
    let host = FakeHost::default();
    let reply = run(
        &config,
        &host,
        request("POST", "/.well-known/oauth-protected-resource", &[]),
    );
    assert_eq!(reply.map(|reply| reply.status), Some(405));
    let reply = run(
        &config,
        &host,
        request("OPTIONS", "/.well-known/oauth-protected-resource/mcp", &[]),
    );
    assert_eq!(reply.map(|reply| reply.status), Some(204));
    // Other well-known paths are no metadata.
    let reply = run(
        &config,
        &host,
        request("GET", "/.well-known/oauth-protected-resource/other", &[]),
    );
    assert_eq!(reply.map(|reply| reply.status), Some(401));
}

#[test]
fn every_401_points_to_the_metadata_and_a_presented_token_is_invalid_token() {
    let config = filter_metadata(false);
    let host = FakeHost::default();
    let reply = run(&config, &host, post_headers(None)).unwrap_or_else(|| panic!("forwarded"));
    assert_eq!(reply.status, 401);
    assert_eq!(
        challenge(&reply),
        format!("Bearer realm=\"mcp\", resource_metadata=\"{METADATA_URL}\"")
    );
    let reply =
        run(&config, &host, post_headers(Some("unknown"))).unwrap_or_else(|| panic!("forwarded"));
    assert_eq!(
        challenge(&reply),
        format!(
            "Bearer realm=\"mcp\", error=\"invalid_token\", resource_metadata=\"{METADATA_URL}\""
        )
    );
    // Without OAuth, the challenge is as before.
    let plain = config_without_oauth();
    let reply = run(&plain, &host, post_headers(None)).unwrap_or_else(|| panic!("forwarded"));
    assert_eq!(challenge(&reply), "Bearer realm=\"mcp\"");
}

fn config_without_oauth() -> Rc<Config> {
    config(seed_policy(), json!({}))
}

#[test]
fn a_valid_token_no_grant_matches_gets_403_with_the_scopes_and_the_metadata() {
    let config = filter_metadata(false);
    let host = FakeHost::default();
    verified(
        &host,
        json!({"iss": "https://as.example.com", "aud": RESOURCE, "scope": "openid"}),
    );
    let reply = run(&config, &host, post_headers(Some(JWT))).unwrap_or_else(|| panic!("forwarded"));
    assert_eq!(reply.status, 403);
    assert_eq!(
        challenge(&reply),
        format!("Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", resource_metadata=\"{METADATA_URL}\"")
    );
}

#[test]
fn a_token_issued_for_another_resource_is_no_credential() {
    let config = filter_metadata(false);
    let host = FakeHost::default();
    verified(
        &host,
        json!({"iss": "https://as.example.com", "aud": "https://other.example.com/mcp", "scope": "mcp:tools"}),
    );
    let reply = run(&config, &host, post_headers(Some(JWT))).unwrap_or_else(|| panic!("forwarded"));
    assert_eq!(reply.status, 401);
    assert!(challenge(&reply).contains("error=\"invalid_token\""));
    // The same claims for this resource select the grant.
    verified(
        &host,
        json!({"iss": "https://as.example.com", "aud": ["x", RESOURCE], "scope": "mcp:tools"}),
    );
    assert_eq!(run_call(&config, &host, post_headers(Some(JWT))), None);
}

#[test]
fn the_verified_token_goes_upstream_only_when_forwarding_and_never_a_static_one() {
    let claims = json!({"iss": "https://as.example.com", "aud": RESOURCE, "scope": "mcp:tools"});
    let bearer = format!("Bearer {JWT}");
    for (forward_token, kept) in [(true, Some(bearer.as_str())), (false, None)] {
        let host = FakeHost::default();
        verified(&host, claims.clone());
        assert_eq!(
            run_call(
                &filter_metadata(forward_token),
                &host,
                post_headers(Some(JWT))
            ),
            None
        );
        assert_eq!(
            host.request_header("authorization").as_deref(),
            kept,
            "forward_token {forward_token}"
        );
        assert_eq!(host.request_header("cookie"), None);
    }
    let host = FakeHost::default();
    assert_eq!(
        run_call(&filter_metadata(true), &host, post_headers(Some(ALICE))),
        None
    );
    assert_eq!(
        host.request_header("authorization"),
        None,
        "a static grant's token"
    );
}

#[test]
fn forwarding_without_a_token_to_forward_fails_closed() {
    // jwt_authn with `forward: false` removed the token it verified.
    let host = FakeHost::default();
    verified(
        &host,
        json!({"iss": "https://as.example.com", "aud": RESOURCE, "scope": "mcp:tools"}),
    );
    let reply = run(&filter_metadata(true), &host, post_headers(None))
        .unwrap_or_else(|| panic!("forwarded"));
    assert_eq!(
        (reply.status, reply.details),
        (500, "mcp_policy_fail_closed")
    );
}

#[test]
fn listed_public_paths_pass_exactly_and_nothing_else_does() {
    let config = filter_metadata(false);
    for path in ["/token", "/token?grant_type=x", "/register"] {
        let host = FakeHost::default();
        let basic = ("authorization", "Basic Y2xpZW50OnNlY3JldA==");
        assert_eq!(
            run(&config, &host, request("POST", path, &[basic])),
            None,
            "{path}"
        );
        assert_eq!(host.request_header("cookie"), None);
        assert_eq!(
            host.request_header("authorization").as_deref(),
            Some("Basic Y2xpZW50OnNlY3JldA=="),
            "a client's own credentials for the token endpoint"
        );
    }
    for path in [
        "/token/",
        "/Token",
        "/tokens",
        "/token/../mcp",
        "/token%2F..%2Fmcp",
        "/token;x",
        "/mcp",
        "/",
    ] {
        let host = FakeHost::default();
        let reply = run(&config, &host, request("POST", path, &[]));
        assert_eq!(reply.map(|reply| reply.status), Some(401), "{path}");
    }
    // An MCP session makes it an MCP request, which needs a credential.
    let host = FakeHost::default();
    let reply = run(
        &config,
        &host,
        request("POST", "/token", &[("mcp-session-id", "s1")]),
    );
    assert_eq!(reply.map(|reply| reply.status), Some(401));
    let reply = run(&config, &host, request("POST", "/token?sessionId=s1", &[]));
    assert_eq!(reply.map(|reply| reply.status), Some(401));
    // A static grant's token never goes upstream, not even on a public path.
    let host = FakeHost::default();
    let alice = format!("Bearer {ALICE}");
    assert_eq!(
        run(
            &config,
            &host,
            request("POST", "/token", &[("authorization", &alice)])
        ),
        None
    );
    assert_eq!(host.request_header("authorization"), None);
}

#[test]
fn metadata_from_the_upstream_passes_uninspected() {
    let config = oauth_config(json!({"resource": RESOURCE, "metadata": "upstream"}));
    let host = FakeHost::default();
    assert_eq!(
        run(
            &config,
            &host,
            request("GET", "/.well-known/oauth-protected-resource/mcp", &[])
        ),
        None
    );
    assert_eq!(host.request_header("cookie"), None);
    assert!(host.replies.borrow().is_empty());
    let reply = run(&config, &host, post_headers(None)).unwrap_or_else(|| panic!("forwarded"));
    assert!(challenge(&reply).ends_with(&format!("resource_metadata=\"{METADATA_URL}\"")));
}
