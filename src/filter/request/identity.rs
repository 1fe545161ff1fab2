//! Who is calling: the credentials of the request as Envoy verified them
//! (a static bearer token, the claims `jwt_authn` wrote to metadata, the
//! peer certificate's SANs), read only where some grant uses them, and the
//! grant they select (`crate::identity::select`).

use super::head::{Bearer, RequestHead};
use crate::config::{Config, OAuth};
use crate::filter::refusal::{json_reply, Outcome, Refusal, ReplyKind};
use crate::host::{Host, HostError};
use crate::identity::{select, Claims, Credentials, Selection};
use crate::mcp::{error_response, FORBIDDEN};

/// What the request's credentials are, read from the host.
#[derive(Debug, Default)]
pub struct Presented {
    pub claims: Option<Claims>,
    pub uri_san: Option<String>,
    pub dns_san: Option<String>,
}

/// Reads the verified credentials the configuration's grants use.
pub fn presented(config: &Config, host: &dyn Host) -> Result<Presented, HostError> {
    let mut presented = Presented::default();
    if config.grants.uses_jwt() || config.claim_scopes {
        let path = [
            "metadata",
            "filter_metadata",
            "envoy.filters.http.jwt_authn",
            config.settings.jwt_payload_metadata_key.as_str(),
        ];
        let claims =
            match host.property(&path)? {
                Some(bytes) => Some(Claims::from_envoy(&bytes).ok_or_else(|| {
                    HostError::new("get_property", "the JWT payload is not a map")
                })?),
                None => None,
            };
        presented.claims = super::oauth::for_this_resource(config, claims);
    }
    if config.grants.uses_mtls() {
        let text = |bytes: Option<Vec<u8>>| bytes.and_then(|bytes| String::from_utf8(bytes).ok());
        presented.uri_san = text(host.property(&["connection", "uri_san_peer_certificate"])?);
        presented.dns_san = text(host.property(&["connection", "dns_san_peer_certificate"])?);
    }
    Ok(presented)
}

/// The grant the credentials select.
pub fn identify(config: &Config, head: &RequestHead, presented: &Presented) -> Selection {
    let credentials = Credentials {
        bearer: match &head.bearer {
            Bearer::Token(token) => Some(token),
            _ => None,
        },
        bearer_malformed: head.bearer == Bearer::Malformed,
        jwt: presented.claims.as_ref(),
        uri_san: presented.uri_san.as_deref(),
        dns_san: presented.dns_san.as_deref(),
    };
    select(&config.grants, &credentials)
}

/// A valid identity that no grant matches: 403, and the scopes that would.
pub fn forbidden(scopes: &[String], oauth: Option<&OAuth>) -> Refusal {
    let mut challenge = String::from("Bearer error=\"insufficient_scope\"");
    if !scopes.is_empty() {
        challenge.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    challenge.push_str(&super::oauth::resource_metadata(oauth));
    let message = if scopes.is_empty() {
        "Forbidden: no grant matches this identity".to_owned()
    } else {
        format!(
            "Forbidden: no grant matches this identity; a token with the scopes {} would",
            scopes.join(" ")
        )
    };
    let mut reply = json_reply(
        403,
        error_response(None, FORBIDDEN, &message),
        ReplyKind::Forbidden,
    );
    reply.headers.push(("www-authenticate".into(), challenge));
    Refusal::new(Outcome::Unauthenticated, reply)
}
