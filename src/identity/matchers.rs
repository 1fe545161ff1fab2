//! What a grant matches besides static tokens: a JWT that Envoy verified
//! (issuer, audience, scopes, claim values), and a verified mTLS peer
//! (its URI or DNS SAN).
//!
//! ```json
//! "jwt":  {"issuer": "https://idp.example", "audience": "https://mcp.example/mcp",
//!          "scopes": ["mcp:invoices"], "claims": {"tenant": ["acme", "globex"]},
//!          "name_from_claim": "sub"},
//! "mtls": {"uri_san": "spiffe://cluster.local/ns/agents/sa/invoice-bot", "dns_san": "bot.agents.svc"}
//! ```
//! A string field is one accepted value, a list is "one of"; `scopes` are
//! all required; `claims` values are "one of" (a list claim matches when it
//! holds one). A SAN ending in `*` matches by prefix.

use serde_json::{Map, Value};

use super::claims::{ClaimValue, Claims};
use crate::json::pointer;

const JWT_FIELDS: [&str; 5] = ["issuer", "audience", "scopes", "claims", "name_from_claim"];
const MTLS_FIELDS: [&str; 2] = ["uri_san", "dns_san"];

/// A verified JWT's conditions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JwtMatcher {
    /// One of these issuers (`iss`); empty: any.
    pub issuers: Vec<String>,
    /// One of these audiences (`aud`, a string or a list); empty: any.
    pub audiences: Vec<String>,
    /// Every one of these scopes (`scope`, `scp`).
    pub scopes: Vec<String>,
    /// Each claim holds one of its values.
    pub claims: Vec<(String, Vec<Value>)>,
    /// Each value of this claim is a grant of its own, named after it.
    pub name_from_claim: Option<String>,
}

/// A SAN of the verified peer certificate, exactly or by prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SanPattern {
    Exact(String),
    Prefix(String),
}

/// A verified mTLS peer's conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MtlsMatcher {
    pub uri_san: Option<SanPattern>,
    pub dns_san: Option<SanPattern>,
}

impl SanPattern {
    fn parse(text: &str) -> Result<SanPattern, String> {
        match text.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => {
                Err("a SAN may end in one `*`, and have no other".to_owned())
            }
            Some(prefix) => Ok(SanPattern::Prefix(prefix.to_owned())),
            None if text.contains('*') => {
                Err("a SAN may end in one `*`, and have no other".to_owned())
            }
            None if text.is_empty() => Err("a SAN must not be empty".to_owned()),
            None => Ok(SanPattern::Exact(text.to_owned())),
        }
    }

    pub fn matches(&self, san: &str) -> bool {
        match self {
            SanPattern::Exact(exact) => san == exact,
            SanPattern::Prefix(prefix) => san.starts_with(prefix.as_str()),
        }
    }

    /// Whether every SAN this pattern matches, `other` matches too.
    pub fn covered_by(&self, other: &SanPattern) -> bool {
        match (self, other) {
            (SanPattern::Exact(mine), other) => other.matches(mine),
            (SanPattern::Prefix(mine), SanPattern::Prefix(theirs)) => {
                mine.starts_with(theirs.as_str())
            }
            (SanPattern::Prefix(_), SanPattern::Exact(_)) => false,
        }
    }
}

/// Problems by JSON pointer (relative to the matcher's object).
pub type Problems = Vec<(String, String)>;

/// A problem for each member of `object` that is not one of `known`.
pub fn unknown_fields(object: &Map<String, Value>, known: &[&str], problems: &mut Problems) {
    for key in object.keys() {
        if !known.contains(&key.as_str()) {
            problems.push((
                pointer::join("", key),
                format!(
                    "unknown field \"{key}\"; expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
}

/// A string, or a non-empty list of strings.
fn strings(value: Option<&Value>, field: &str, problems: &mut Problems) -> Vec<String> {
    match value {
        None => Vec::new(),
        Some(Value::String(text)) if !text.is_empty() => vec![text.clone()],
        Some(Value::Array(items)) if !items.is_empty() => {
            let texts: Option<Vec<String>> = items
                .iter()
                .map(|item| {
                    item.as_str()
                        .filter(|text| !text.is_empty())
                        .map(str::to_owned)
                })
                .collect();
            texts.unwrap_or_else(|| {
                problems.push((
                    format!("/{field}"),
                    "must hold non-empty strings".to_owned(),
                ));
                Vec::new()
            })
        }
        Some(_) => {
            problems.push((
                format!("/{field}"),
                "must be a non-empty string or a non-empty list of them".to_owned(),
            ));
            Vec::new()
        }
    }
}

impl JwtMatcher {
    pub fn parse(value: &Value) -> Result<JwtMatcher, Problems> {
        let mut problems = Vec::new();
        let Some(object) = value.as_object() else {
            return Err(vec![(
                String::new(),
                "\"jwt\" must be an object {issuer?, audience?, scopes?, claims?, name_from_claim?}".to_owned(),
            )]);
        };
        unknown_fields(object, &JWT_FIELDS, &mut problems);
        let mut matcher = JwtMatcher {
            issuers: strings(object.get("issuer"), "issuer", &mut problems),
            audiences: strings(object.get("audience"), "audience", &mut problems),
            scopes: match object.get("scopes") {
                None => Vec::new(),
                Some(Value::String(_)) => {
                    problems.push((
                        "/scopes".to_owned(),
                        "must be a list of scopes, all required".to_owned(),
                    ));
                    Vec::new()
                }
                scopes => strings(scopes, "scopes", &mut problems),
            },
            ..JwtMatcher::default()
        };
        match object.get("claims") {
            None => {}
            Some(Value::Object(claims)) => {
                for (name, expected) in claims {
                    let values = match expected {
                        Value::Array(items) if !items.is_empty() => items.clone(),
                        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                            vec![expected.clone()]
                        }
                        _ => Vec::new(),
                    };
                    let scalar = |value: &Value| {
                        matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
                    };
                    if values.is_empty() || !values.iter().all(scalar) {
                        problems.push((
                            pointer::join("/claims", name),
                            "a claim's value is a string, number or bool, or a non-empty list of them (one of)".to_owned(),
                        ));
                        continue;
                    }
                    matcher.claims.push((name.clone(), values));
                }
            }
            Some(_) => problems.push((
                "/claims".to_owned(),
                "must be an object of claim: value".to_owned(),
            )),
        }
        match object.get("name_from_claim") {
            None => {}
            Some(Value::String(name)) if !name.is_empty() => {
                matcher.name_from_claim = Some(name.clone())
            }
            Some(_) => problems.push((
                "/name_from_claim".to_owned(),
                "must be a claim's name, e.g. \"sub\" or \"client_id\"".to_owned(),
            )),
        }
        if problems.is_empty() {
            Ok(matcher)
        } else {
            Err(problems)
        }
    }

    pub fn matches(&self, claims: &Claims) -> bool {
        let one_of = |claim: Option<ClaimValue<'_>>, accepted: &[String]| {
            accepted.is_empty()
                || claim.is_some_and(|value| {
                    value
                        .strings()
                        .iter()
                        .any(|held| accepted.iter().any(|a| a == held))
                })
        };
        if !one_of(claims.get("iss"), &self.issuers) || !one_of(claims.get("aud"), &self.audiences)
        {
            return false;
        }
        let granted = claims.scopes();
        if !self
            .scopes
            .iter()
            .all(|scope| granted.contains(&scope.as_str()))
        {
            return false;
        }
        let claims_hold = self.claims.iter().all(|(name, values)| {
            claims
                .get(name)
                .is_some_and(|value| values.iter().any(|expected| value.holds(expected)))
        });
        // A grant named from a claim matches only tokens that carry a usable
        // value of it.
        claims_hold && (self.name_from_claim.is_none() || self.member_name(claims).is_some())
    }

    /// The value of `name_from_claim`, when it is usable as a name.
    pub fn member_name<'c>(&self, claims: &'c Claims) -> Option<&'c str> {
        let claim = self.name_from_claim.as_deref()?;
        claims
            .get(claim)
            .and_then(ClaimValue::as_str)
            .filter(|value| !value.is_empty() && value.len() <= super::claims::MAX_NAME_CLAIM_BYTES)
    }

    /// Whether every token this one matches, `earlier` matches too.
    pub fn covered_by(&self, earlier: &JwtMatcher) -> bool {
        let within = |mine: &[String], theirs: &[String]| {
            theirs.is_empty()
                || (!mine.is_empty() && mine.iter().all(|value| theirs.contains(value)))
        };
        within(&self.issuers, &earlier.issuers)
            && within(&self.audiences, &earlier.audiences)
            && earlier
                .scopes
                .iter()
                .all(|scope| self.scopes.contains(scope))
            && earlier.claims.iter().all(|(name, theirs)| {
                self.claims.iter().any(|(mine_name, mine)| {
                    mine_name == name && mine.iter().all(|value| theirs.contains(value))
                })
            })
            && (earlier.name_from_claim.is_none()
                || earlier.name_from_claim == self.name_from_claim)
    }
}

impl MtlsMatcher {
    pub fn parse(value: &Value) -> Result<MtlsMatcher, Problems> {
        let mut problems = Vec::new();
        let Some(object) = value.as_object() else {
            return Err(vec![(
                String::new(),
                "\"mtls\" must be an object {uri_san?, dns_san?}".to_owned(),
            )]);
        };
        unknown_fields(object, &MTLS_FIELDS, &mut problems);
        let mut pattern = |field: &str| match object.get(field) {
            None => None,
            Some(Value::String(text)) => match SanPattern::parse(text) {
                Ok(pattern) => Some(pattern),
                Err(message) => {
                    problems.push((format!("/{field}"), message));
                    None
                }
            },
            Some(_) => {
                problems.push((format!("/{field}"), "must be a string".to_owned()));
                None
            }
        };
        let matcher = MtlsMatcher {
            uri_san: pattern("uri_san"),
            dns_san: pattern("dns_san"),
        };
        if matcher.uri_san.is_none() && matcher.dns_san.is_none() && problems.is_empty() {
            problems.push((
                String::new(),
                "\"mtls\" needs \"uri_san\" or \"dns_san\"".to_owned(),
            ));
        }
        if problems.is_empty() {
            Ok(matcher)
        } else {
            Err(problems)
        }
    }

    pub fn matches(&self, uri_san: Option<&str>, dns_san: Option<&str>) -> bool {
        let holds = |pattern: &Option<SanPattern>, san: Option<&str>| {
            pattern
                .as_ref()
                .is_none_or(|pattern| san.is_some_and(|san| pattern.matches(san)))
        };
        holds(&self.uri_san, uri_san) && holds(&self.dns_san, dns_san)
    }

    /// Whether every peer this one matches, `earlier` matches too.
    pub fn covered_by(&self, earlier: &MtlsMatcher) -> bool {
        let within = |mine: &Option<SanPattern>, theirs: &Option<SanPattern>| match (mine, theirs) {
            (_, None) => true,
            (Some(mine), Some(theirs)) => mine.covered_by(theirs),
            (None, Some(_)) => false,
        };
        within(&self.uri_san, &earlier.uri_san) && within(&self.dns_san, &earlier.dns_san)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(payload: Value) -> Claims {
        Claims::from_json(&payload).unwrap()
    }

    #[test]
    fn a_jwt_matcher_checks_issuer_audience_scopes_and_claims() {
        let matcher = JwtMatcher::parse(&json!({
            "issuer": "https://idp", "audience": ["https://mcp/a", "https://mcp/b"],
            "scopes": ["mcp:invoices"], "claims": {"tenant": ["acme", "globex"], "level": 3}
        }))
        .unwrap();
        let good = json!({"iss": "https://idp", "aud": ["x", "https://mcp/b"], "scope": "openid mcp:invoices",
                          "tenant": "acme", "level": 3});
        assert!(matcher.matches(&claims(good.clone())));
        for (field, value) in [
            ("iss", json!("https://other")),
            ("aud", json!("https://mcp/c")),
            ("scope", json!("openid")),
            ("tenant", json!("initech")),
            ("level", json!(2)),
        ] {
            let mut bad = good.clone();
            bad[field] = value;
            assert!(!matcher.matches(&claims(bad)), "{field}");
        }
        let mut scp = good.clone();
        scp.as_object_mut().unwrap().remove("scope");
        scp["scp"] = json!(["mcp:invoices"]);
        assert!(matcher.matches(&claims(scp)));
    }

    #[test]
    fn a_member_needs_a_usable_name_claim() {
        let matcher = JwtMatcher::parse(&json!({"issuer": "i", "name_from_claim": "sub"})).unwrap();
        assert!(matcher.matches(&claims(json!({"iss": "i", "sub": "u1"}))));
        assert!(!matcher.matches(&claims(json!({"iss": "i"}))));
        assert!(!matcher.matches(&claims(json!({"iss": "i", "sub": "x".repeat(300)}))));
        assert_eq!(
            matcher.member_name(&claims(json!({"iss": "i", "sub": "u1"}))),
            Some("u1")
        );
    }

    #[test]
    fn sans_match_exactly_or_by_prefix() {
        let matcher =
            MtlsMatcher::parse(&json!({"uri_san": "spiffe://cluster.local/ns/agents/sa/*"}))
                .unwrap();
        assert!(matcher.matches(Some("spiffe://cluster.local/ns/agents/sa/bot"), None));
        assert!(!matcher.matches(Some("spiffe://cluster.local/ns/other/sa/bot"), None));
        assert!(!matcher.matches(None, Some("bot")));
        assert!(MtlsMatcher::parse(&json!({"uri_san": "a*b"})).is_err());
        assert!(MtlsMatcher::parse(&json!({})).is_err());
        assert!(MtlsMatcher::parse(&json!({"uri": "x"})).is_err());
    }

    #[test]
    fn covering_is_what_shadows_a_later_grant() {
        let broad = JwtMatcher::parse(&json!({"issuer": "i"})).unwrap();
        let narrow = JwtMatcher::parse(&json!({"issuer": "i", "scopes": ["a"]})).unwrap();
        assert!(narrow.covered_by(&broad));
        assert!(!broad.covered_by(&narrow));
        let all = MtlsMatcher::parse(&json!({"uri_san": "spiffe://x/*"})).unwrap();
        let one = MtlsMatcher::parse(&json!({"uri_san": "spiffe://x/bot"})).unwrap();
        assert!(one.covered_by(&all));
        assert!(!all.covered_by(&one));
    }

    #[test]
    fn malformed_matchers_name_their_field() {
        let problems =
            JwtMatcher::parse(&json!({"issuer": 3, "scopes": "a", "claims": {"t": {}}, "x": 1}))
                .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["/x", "/issuer", "/scopes", "/claims/t"]);
    }
}
