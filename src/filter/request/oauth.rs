//! MCP's OAuth at the gateway (`oauth` in the configuration): the requests
//! that need no credential (the protected-resource metadata, and the paths
//! the configuration lists as public), the challenge of every 401 and 403,
//! and whether the verified token goes upstream.

use super::head::{Bearer, RequestHead};
use crate::config::{Config, Metadata, OAuth};
use crate::filter::legacy;
use crate::host::{Host, HostError, LocalReply};
use crate::identity::MatchKind;

/// Envoy's response code details for the metadata the filter answers.
const METADATA_DETAILS: &str = "mcp_policy_oauth_metadata";
const METADATA_METHODS: &str = "GET, HEAD, OPTIONS";

/// A request that needs no credential.
#[derive(Debug, PartialEq, Eq)]
pub enum Public {
    /// The protected-resource metadata, answered by the filter.
    Metadata(LocalReply),
    /// Passed to the upstream uninspected: the metadata when the upstream
    /// answers it, or a listed public path.
    Pass,
}

/// What a request that needs no credential gets; `None` for every other
/// request. Paths match exactly, the query aside. A request that presents
/// an MCP session is an MCP request, never a public one.
pub fn public(config: &Config, head: &RequestHead) -> Option<Public> {
    let oauth = config.settings.oauth.as_deref()?;
    let full = head.path();
    let path = full.split_once('?').map_or(full, |(path, _)| path);
    let presents_session =
        || head.session_id().is_some() || legacy::session_of_path(full).is_some();
    if oauth.metadata_paths.iter().any(|known| known == path) {
        return match &oauth.metadata {
            Metadata::Filter(document) => {
                Some(Public::Metadata(metadata_reply(head.method(), document)))
            }
            Metadata::Upstream => (!presents_session()).then_some(Public::Pass),
        };
    }
    (oauth.public_paths.iter().any(|listed| listed == path) && !presents_session())
        .then_some(Public::Pass)
}

fn metadata_reply(method: &str, document: &[u8]) -> LocalReply {
    let header = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let any_origin = header("access-control-allow-origin", "*");
    let (status, headers, body) = match method {
        "GET" | "HEAD" => (
            200,
            vec![
                header("content-type", "application/json"),
                header("cache-control", "no-store"),
                any_origin,
            ],
            document.to_vec(),
        ),
        "OPTIONS" => (
            204,
            vec![
                any_origin,
                header("access-control-allow-methods", METADATA_METHODS),
                header("access-control-allow-headers", "mcp-protocol-version"),
            ],
            Vec::new(),
        ),
        _ => (405, vec![header("allow", METADATA_METHODS)], Vec::new()),
    };
    LocalReply {
        status,
        headers,
        body,
        details: METADATA_DETAILS,
    }
}

/// A public request goes upstream without cookies, and without a static
/// grant's token: those are the gateway's credentials. Any other
/// `Authorization` stays (a client's Basic credentials at a token endpoint).
pub fn scrub_public(host: &dyn Host, config: &Config, head: &RequestHead) -> Result<(), HostError> {
    if head.headers.get("cookie").is_some() {
        host.set_request_header("cookie", None)?;
    }
    let holds_static_token = head.headers.get_all("authorization").any(|value| {
        value
            .trim()
            .split_once(' ')
            .is_some_and(|(_, token)| config.grants.lookup(token.trim()).is_some())
    });
    if holds_static_token {
        host.set_request_header("authorization", None)?;
    }
    Ok(())
}

/// Whether `Authorization` goes upstream: only with `forward_token`, for a
/// grant a verified JWT selected, and never holding a static grant's token.
/// A JWT grant with nothing in `Authorization` means `jwt_authn` removed the
/// token (`forward: false`): the configurations disagree, and the request is
/// refused rather than sent on without the token the upstream expects.
pub fn keeps_token(
    config: &Config,
    head: &RequestHead,
    matched_by: MatchKind,
) -> Result<bool, HostError> {
    let forwards = config
        .settings
        .oauth
        .as_ref()
        .is_some_and(|oauth| oauth.forward_token);
    if !forwards || !matched_by.jwt || matched_by.token {
        return Ok(false);
    }
    match &head.bearer {
        Bearer::Token(token) => Ok(config.grants.lookup(token).is_none()),
        _ => Err(HostError::new(
            "oauth",
            "forward_token is on but the verified token is not in Authorization: give jwt_authn `forward: true` and read the token from Authorization",
        )),
    }
}

/// `, resource_metadata="…"` for a challenge, when OAuth is configured.
pub fn resource_metadata(oauth: Option<&OAuth>) -> String {
    oauth.map_or_else(String::new, |oauth| {
        format!(", resource_metadata=\"{}\"", oauth.metadata_url)
    })
}

/// The claims of a token issued for another resource are no credential
/// here (RFC 8707): with `oauth`, a JWT must name `resource` in `aud`.
pub fn for_this_resource(
    config: &Config,
    claims: Option<crate::identity::Claims>,
) -> Option<crate::identity::Claims> {
    match (&config.settings.oauth, claims) {
        (Some(oauth), Some(claims)) if !claims.audience_holds(&oauth.resource) => {
            log::info!(
                "a verified JWT was issued for another audience than {}",
                oauth.resource
            );
            None
        }
        (_, claims) => claims,
    }
}
