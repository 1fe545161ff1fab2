//! `mcp-policy envoy`'s OAuth options: they set the wrapper's `oauth`
//! object (the gateway as MCP's OAuth protected resource), and `jwt_authn`
//! follows the result: its audience is the resource, and it forwards the
//! token exactly when the configuration does.

use clap::{Args, ValueEnum};

use super::tree::Node;
use crate::config::OAuth;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MetadataSource {
    /// The filter answers it from the configuration.
    Filter,
    /// The upstream answers it; the filter lets the request through.
    Upstream,
}

#[derive(Debug, Default, Args)]
pub struct OAuthArgs {
    /// The gateway's public MCP URL (oauth.resource): the audience tokens must
    /// name, and the `resource` of its protected-resource metadata, which every
    /// 401 points to (WWW-Authenticate: Bearer resource_metadata=...).
    #[arg(long, value_name = "URL")]
    pub oauth_resource: Option<String>,
    /// An authorization server the metadata names (repeatable;
    /// oauth.authorization_servers). Default: --jwt-issuer.
    #[arg(long, value_name = "URL")]
    pub oauth_authorization_server: Vec<String>,
    /// A scope the metadata lists (repeatable; oauth.scopes_supported): the
    /// scopes clients ask for.
    #[arg(long, value_name = "SCOPE")]
    pub oauth_scope: Vec<String>,
    /// Who answers /.well-known/oauth-protected-resource (oauth.metadata).
    #[arg(long, value_name = "WHO")]
    pub oauth_metadata: Option<MetadataSource>,
    /// A path that passes without a credential, uninspected, matched exactly
    /// but for the query (repeatable; oauth.public_paths): an upstream's own
    /// /authorize, /token, /register, /.well-known/oauth-authorization-server.
    #[arg(long, value_name = "PATH")]
    pub oauth_public_path: Vec<String>,
}

impl OAuthArgs {
    fn given(&self) -> bool {
        self.oauth_resource.is_some()
            || !self.oauth_authorization_server.is_empty()
            || !self.oauth_scope.is_empty()
            || self.oauth_metadata.is_some()
            || !self.oauth_public_path.is_empty()
    }
}

fn strings(texts: &[String]) -> Node {
    Node::array(texts.iter().map(|text| Node::string(text)).collect())
}

/// Sets the wrapper's `oauth` from the options. `forward` (`--jwt-forward`)
/// sets `forward_token`; `issuer` (`--jwt-issuer`) is the default
/// authorization server of metadata the filter answers.
pub fn apply(
    wrapper: &mut Node,
    args: &OAuthArgs,
    issuer: Option<&str>,
    forward: bool,
) -> Result<(), String> {
    if !args.given() && !forward {
        return Ok(());
    }
    let mut oauth = match wrapper.get("oauth") {
        Some(node @ Node::Object(_)) => node.clone(),
        Some(_) => return Err("the wrapper's \"oauth\" must be an object".to_owned()),
        None => Node::object(Vec::new()),
    };
    if let Some(resource) = &args.oauth_resource {
        oauth.set("resource", Node::string(resource));
    }
    if oauth.get("resource").is_none() {
        return Err(
            "--jwt-forward and the --oauth-* options need the gateway's public MCP URL: --oauth-resource URL (or \"oauth\": {\"resource\"} in the wrapper)".to_owned(),
        );
    }
    if let Some(source) = args.oauth_metadata {
        let word = match source {
            MetadataSource::Filter => "filter",
            MetadataSource::Upstream => "upstream",
        };
        oauth.set("metadata", Node::string(word));
    }
    let from_filter = !matches!(
        oauth.get("metadata"),
        Some(Node::Scalar(raw)) if raw == "\"upstream\""
    );
    if !args.oauth_authorization_server.is_empty() {
        oauth.set(
            "authorization_servers",
            strings(&args.oauth_authorization_server),
        );
    } else if let Some(issuer) = issuer.filter(|_| from_filter) {
        if oauth.get("authorization_servers").is_none() {
            oauth.set("authorization_servers", strings(&[issuer.to_owned()]));
        }
    }
    if !args.oauth_scope.is_empty() {
        oauth.set("scopes_supported", strings(&args.oauth_scope));
    }
    if !args.oauth_public_path.is_empty() {
        oauth.set("public_paths", strings(&args.oauth_public_path));
    }
    if forward {
        oauth.set("forward_token", Node::scalar("true"));
    }
    wrapper.set("oauth", oauth);
    Ok(())
}

/// The audiences `jwt_authn` accepts: `--jwt-audience`, which must hold the
/// resource, or else the resource alone.
pub fn audiences(given: &[String], oauth: Option<&OAuth>) -> Result<Vec<String>, String> {
    match oauth {
        Some(oauth) if given.is_empty() => Ok(vec![oauth.resource.clone()]),
        Some(oauth) if !given.contains(&oauth.resource) => Err(format!(
            "--jwt-audience must include the OAuth resource {}: the filter accepts only tokens issued for it",
            oauth.resource
        )),
        _ => Ok(given.to_vec()),
    }
}
