//! Picking the grant of a request from its credentials: the grants are
//! tried in the order the configuration lists them and the first whose every
//! matcher holds wins. A request without any credential the configuration
//! uses gets 401; a valid identity that no grant matches gets 403
//! (`insufficient_scope`, with the scopes that would match).

use std::rc::Rc;

use super::claims::Claims;
use crate::config::{hash_token, Grant, GrantRule, GrantTable};

/// What the request presents, as Envoy verified it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// The bearer token of the `Authorization` header.
    pub bearer: Option<&'a str>,
    /// The `Authorization` header is there but is not one `Bearer <token>`.
    pub bearer_malformed: bool,
    /// The claims of a JWT that `jwt_authn` verified.
    pub jwt: Option<&'a Claims>,
    /// The verified peer certificate's first URI SAN and first DNS SAN.
    pub uri_san: Option<&'a str>,
    pub dns_san: Option<&'a str>,
}

/// How a grant matched: the credentials that its matchers checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchKind {
    pub token: bool,
    pub jwt: bool,
    pub mtls: bool,
}

impl MatchKind {
    /// `token`, `jwt`, `mtls`, or those joined with `+`.
    pub fn as_str(self) -> &'static str {
        match (self.mtls, self.jwt, self.token) {
            (false, false, true) => "token",
            (false, true, false) => "jwt",
            (true, false, false) => "mtls",
            (true, true, false) => "mtls+jwt",
            (true, false, true) => "mtls+token",
            (false, true, true) => "jwt+token",
            (true, true, true) => "mtls+jwt+token",
            (false, false, false) => "none",
        }
    }
}

/// The caller, as the credentials establish it.
#[derive(Clone, Debug)]
pub enum Selection {
    Granted {
        grant: Rc<Grant>,
        matched_by: MatchKind,
    },
    /// No usable credential: 401, with the reason.
    Unauthenticated(&'static str),
    /// A valid identity no grant matches: 403, with the scopes that would.
    Forbidden { scopes: Vec<String> },
}

fn rule_matches(
    rule: &GrantRule,
    credentials: &Credentials<'_>,
    token_rule: Option<usize>,
    index: usize,
) -> bool {
    let token_holds = rule.tokens == 0 || token_rule == Some(index);
    let jwt_holds = rule.jwt.as_ref().is_none_or(|matcher| {
        credentials
            .jwt
            .is_some_and(|claims| matcher.matches(claims))
    });
    let mtls_holds = rule
        .mtls
        .as_ref()
        .is_none_or(|matcher| matcher.matches(credentials.uri_san, credentials.dns_san));
    token_holds
        && jwt_holds
        && mtls_holds
        && (rule.tokens > 0 || rule.jwt.is_some() || rule.mtls.is_some())
}

pub fn select(table: &GrantTable, credentials: &Credentials<'_>) -> Selection {
    if table.is_empty() {
        return Selection::Unauthenticated(if table.is_bare_policy() {
            "Unauthorized: the filter was given a bare policy with no grants, so no bearer token is accepted; configure grants in the wrapper configuration"
        } else {
            "Unauthorized: no grants are configured, so no credential is accepted"
        });
    }
    let token_rule = credentials
        .bearer
        .and_then(|token| table.rule_of_token(&hash_token(token)));
    for (index, rule) in table.rules().iter().enumerate() {
        if !rule_matches(rule, credentials, token_rule, index) {
            continue;
        }
        let matched_by = MatchKind {
            token: rule.tokens > 0,
            jwt: rule.jwt.is_some(),
            mtls: rule.mtls.is_some(),
        };
        let member = rule
            .jwt
            .as_ref()
            .zip(credentials.jwt)
            .and_then(|(matcher, claims)| matcher.member_name(claims));
        let grant = match member {
            Some(name) => Rc::new(rule.grant.member(name)),
            None => Rc::clone(&rule.grant),
        };
        return Selection::Granted { grant, matched_by };
    }
    let identified = token_rule.is_some()
        || (table.uses_jwt() && credentials.jwt.is_some())
        || (table.uses_mtls() && (credentials.uri_san.is_some() || credentials.dns_san.is_some()));
    if identified {
        return Selection::Forbidden {
            scopes: wanted_scopes(table, credentials),
        };
    }
    Selection::Unauthenticated(if credentials.bearer_malformed {
        "Unauthorized: the Authorization header must be a single \"Bearer <token>\""
    } else if credentials.bearer.is_some() {
        "Unauthorized: the bearer token is unknown, or is not a valid token for this server"
    } else {
        "Unauthorized: a credential is required (Authorization: Bearer <token>)"
    })
}

/// The scopes that would let the caller in: those of the first grant that
/// matches but for its scopes, else every scope any grant asks for.
fn wanted_scopes(table: &GrantTable, credentials: &Credentials<'_>) -> Vec<String> {
    let near_miss = table.rules().iter().find_map(|rule| {
        let matcher = rule
            .jwt
            .as_ref()
            .filter(|matcher| !matcher.scopes.is_empty())?;
        let unscoped = crate::identity::JwtMatcher {
            scopes: Vec::new(),
            ..matcher.clone()
        };
        let holds = credentials
            .jwt
            .is_some_and(|claims| unscoped.matches(claims))
            && rule
                .mtls
                .as_ref()
                .is_none_or(|mtls| mtls.matches(credentials.uri_san, credentials.dns_san));
        holds.then(|| matcher.scopes.clone())
    });
    near_miss.unwrap_or_else(|| {
        let mut all: Vec<String> = Vec::new();
        for scope in table
            .rules()
            .iter()
            .filter_map(|rule| rule.jwt.as_ref())
            .flat_map(|m| &m.scopes)
        {
            if !all.contains(scope) {
                all.push(scope.clone());
            }
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::config::Config;

    const ALICE_HASH: &str = "1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40";

    fn table(grants: Value) -> Config {
        let config = json!({"policy": {"version": "1", "default": "deny"}, "grants": grants, "sessions": "off"});
        Config::from_json_text(&config.to_string()).unwrap_or_else(|error| panic!("{error}"))
    }

    fn granted(selection: &Selection) -> Option<(&str, &'static str)> {
        match selection {
            Selection::Granted { grant, matched_by } => {
                Some((grant.name.as_str(), matched_by.as_str()))
            }
            _ => None,
        }
    }

    fn claims(payload: Value) -> Claims {
        Claims::from_json(&payload).unwrap()
    }

    fn grants() -> Config {
        table(json!([
            {"name": "invoicing", "jwt": {"issuer": "https://idp", "scopes": ["mcp:invoices"]}},
            {"name": "readers", "jwt": {"issuer": "https://idp", "scopes": ["mcp:read"]}},
            {"name": "users", "jwt": {"issuer": "https://idp", "name_from_claim": "sub"}},
            {"name": "invoice-bot", "mtls": {"uri_san": "spiffe://cluster.local/ns/agents/sa/invoice-bot"}},
            {"name": "bot-with-user", "mtls": {"uri_san": "spiffe://cluster.local/ns/agents/sa/*"},
             "jwt": {"issuer": "https://idp", "claims": {"act": "delegated"}}},
            {"name": "alice", "token_sha256": [ALICE_HASH]}
        ]))
    }

    #[test]
    fn the_first_grant_that_matches_wins() {
        let config = grants();
        let both =
            claims(json!({"iss": "https://idp", "scope": "mcp:read mcp:invoices", "sub": "u1"}));
        let selection = select(
            &config.grants,
            &Credentials {
                jwt: Some(&both),
                ..Credentials::default()
            },
        );
        assert_eq!(granted(&selection), Some(("invoicing", "jwt")));
        let read = claims(json!({"iss": "https://idp", "scope": "mcp:read", "sub": "u1"}));
        let selection = select(
            &config.grants,
            &Credentials {
                jwt: Some(&read),
                ..Credentials::default()
            },
        );
        assert_eq!(granted(&selection), Some(("readers", "jwt")));
    }

    #[test]
    fn a_grant_named_from_a_claim_has_one_member_per_value() {
        let config = grants();
        let token = claims(json!({"iss": "https://idp", "sub": "u-42"}));
        let selection = select(
            &config.grants,
            &Credentials {
                jwt: Some(&token),
                ..Credentials::default()
            },
        );
        let Selection::Granted { grant, .. } = selection else {
            panic!("not granted")
        };
        assert_eq!(
            (grant.name.as_str(), grant.rule.as_str(), grant.member),
            ("users/u-42", "users", true)
        );
    }

    #[test]
    fn peers_tokens_and_combinations() {
        let config = grants();
        let bot = Credentials {
            uri_san: Some("spiffe://cluster.local/ns/agents/sa/invoice-bot"),
            ..Credentials::default()
        };
        assert_eq!(
            granted(&select(&config.grants, &bot)),
            Some(("invoice-bot", "mtls"))
        );
        let delegated = claims(json!({"iss": "https://idp", "act": "delegated"}));
        let other_bot = Credentials {
            uri_san: Some("spiffe://cluster.local/ns/agents/sa/other"),
            jwt: Some(&delegated),
            ..Credentials::default()
        };
        assert_eq!(
            granted(&select(&config.grants, &other_bot)),
            Some(("bot-with-user", "mtls+jwt"))
        );
        let alice = Credentials {
            bearer: Some("demo-token-alice"),
            ..Credentials::default()
        };
        assert_eq!(
            granted(&select(&config.grants, &alice)),
            Some(("alice", "token"))
        );
    }

    #[test]
    fn no_credential_is_401_and_a_valid_identity_without_a_grant_is_403() {
        let config = grants();
        for credentials in [
            Credentials::default(),
            Credentials {
                bearer: Some("not-a-grant"),
                ..Credentials::default()
            },
            Credentials {
                bearer_malformed: true,
                ..Credentials::default()
            },
        ] {
            assert!(matches!(
                select(&config.grants, &credentials),
                Selection::Unauthenticated(_)
            ));
        }
        let outsider = claims(json!({"iss": "https://other-idp", "scope": "mcp:read"}));
        let selection = select(
            &config.grants,
            &Credentials {
                jwt: Some(&outsider),
                ..Credentials::default()
            },
        );
        let Selection::Forbidden { scopes } = selection else {
            panic!("{selection:?}")
        };
        assert_eq!(scopes, ["mcp:invoices", "mcp:read"]);
        let peer = Credentials {
            uri_san: Some("spiffe://cluster.local/ns/x/sa/y"),
            ..Credentials::default()
        };
        assert!(matches!(
            select(&config.grants, &peer),
            Selection::Forbidden { .. }
        ));
        // A scope short of a grant that otherwise matches: that grant's scopes.
        let config = table(
            json!([{"name": "invoicing", "jwt": {"issuer": "https://idp", "scopes": ["mcp:invoices", "mcp:write"]}}]),
        );
        let short = claims(json!({"iss": "https://idp", "scope": "mcp:invoices"}));
        let selection = select(
            &config.grants,
            &Credentials {
                jwt: Some(&short),
                ..Credentials::default()
            },
        );
        let Selection::Forbidden { scopes } = selection else {
            panic!("{selection:?}")
        };
        assert_eq!(scopes, ["mcp:invoices", "mcp:write"]);
    }

    #[test]
    fn a_grant_an_earlier_one_always_covers_is_reported() {
        let config = table(json!([
            {"name": "any-idp-token", "jwt": {"issuer": "https://idp"}},
            {"name": "invoicing", "jwt": {"issuer": "https://idp", "scopes": ["mcp:invoices"]}},
            {"name": "agents", "mtls": {"uri_san": "spiffe://c/ns/agents/*"}},
            {"name": "bot", "mtls": {"uri_san": "spiffe://c/ns/agents/bot"}},
            {"name": "alice", "token_sha256": [ALICE_HASH]}
        ]));
        assert_eq!(
            config.grants.shadowed(),
            vec![("invoicing", "any-idp-token"), ("bot", "agents")]
        );
    }
}
