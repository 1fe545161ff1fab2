//! Grants: who may call, and with which policy. A grant matches static
//! bearer tokens (stored only as SHA-256 hashes), a verified JWT, a verified
//! mTLS peer, or several of these at once (all must hold). A grant whose JWT
//! matcher names a claim (`name_from_claim`) is a rule with many members, one
//! per value of that claim, each a grant of its own with the rule's policy.

use std::collections::HashMap;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::identity::{JwtMatcher, MtlsMatcher};
use crate::policy::Policy;

pub type TokenHash = [u8; 32];

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug)]
pub struct Grant {
    /// The grant's name: the configured one, or `<rule>/<claim value>` for a
    /// member of a grant named from a claim.
    pub name: String,
    /// The configured grant this one is (or is a member of): state a grant's
    /// requests create is bounded per rule.
    pub rule: String,
    /// A member of a grant named from a claim: its own counters are values a
    /// client chooses (it holds the token), bounded with the rule's.
    pub member: bool,
    pub policy: Rc<Policy>,
    /// Where the policy comes from: `/policy`, `/policies/<name>`, or a
    /// description (`bare policy`, `(no policy)`).
    pub source: String,
    /// Its own limit on every request, refused ones included (else the
    /// configuration's `request_limit`).
    pub request_limit: Option<super::RequestLimit>,
}

impl Grant {
    /// A listed grant.
    pub fn listed(name: &str, policy: Rc<Policy>, source: String) -> Grant {
        Grant {
            name: name.to_owned(),
            rule: name.to_owned(),
            member: false,
            policy,
            source,
            request_limit: None,
        }
    }

    /// The member of this rule named `value`.
    pub fn member(&self, value: &str) -> Grant {
        Grant {
            name: format!("{}/{value}", self.rule),
            rule: self.rule.clone(),
            member: true,
            policy: Rc::clone(&self.policy),
            source: self.source.clone(),
            request_limit: self.request_limit,
        }
    }
}

/// A configured grant and what it matches.
#[derive(Debug)]
pub struct GrantRule {
    pub grant: Rc<Grant>,
    /// How many token hashes it has (the hashes live in the table's index).
    pub tokens: usize,
    pub jwt: Option<JwtMatcher>,
    pub mtls: Option<MtlsMatcher>,
}

#[derive(Debug, Default)]
pub struct GrantTable {
    /// In the configuration's order: the first that matches wins.
    rules: Vec<GrantRule>,
    /// Token hash → the rule holding it.
    by_hash: HashMap<TokenHash, usize>,
    names: Vec<String>,
    /// Set for a bare policy, which has no grants: it explains every 401.
    bare_policy: Option<Rc<Policy>>,
}

impl GrantTable {
    pub fn bare(policy: Rc<Policy>) -> GrantTable {
        GrantTable {
            bare_policy: Some(policy),
            ..GrantTable::default()
        }
    }

    /// Adds a rule with its token hashes; fails when a hash is already held
    /// by another grant.
    pub fn push(&mut self, mut rule: GrantRule, hashes: &[TokenHash]) -> Result<(), String> {
        let index = self.rules.len();
        for hash in hashes {
            if let Some(holder) = self.by_hash.get(hash).and_then(|at| self.rules.get(*at)) {
                return Err(format!(
                    "token hash is already used by grant \"{}\"",
                    holder.grant.name
                ));
            }
        }
        for hash in hashes {
            self.by_hash.insert(*hash, index);
        }
        rule.tokens = hashes.len();
        self.names.push(rule.grant.name.clone());
        self.rules.push(rule);
        Ok(())
    }

    pub fn rules(&self) -> &[GrantRule] {
        &self.rules
    }

    /// The index of the rule holding this token hash.
    pub fn rule_of_token(&self, hash: &TokenHash) -> Option<usize> {
        self.by_hash.get(hash).copied()
    }

    /// The listed grant holding `token` (a static-token grant).
    pub fn lookup(&self, token: &str) -> Option<&Rc<Grant>> {
        let index = self.rule_of_token(&hash_token(token))?;
        self.rules.get(index).map(|rule| &rule.grant)
    }

    pub fn by_name(&self, name: &str) -> Option<&Rc<Grant>> {
        self.rules
            .iter()
            .map(|rule| &rule.grant)
            .find(|grant| grant.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn is_bare_policy(&self) -> bool {
        self.bare_policy.is_some()
    }

    pub fn uses_jwt(&self) -> bool {
        self.rules.iter().any(|rule| rule.jwt.is_some())
    }

    pub fn uses_mtls(&self) -> bool {
        self.rules.iter().any(|rule| rule.mtls.is_some())
    }

    /// Grants that can never match because an earlier one matches whatever
    /// they do: (the shadowed grant, the earlier one).
    pub fn shadowed(&self) -> Vec<(&str, &str)> {
        let mut found = Vec::new();
        for (later_index, later) in self.rules.iter().enumerate() {
            let earlier = self
                .rules
                .iter()
                .take(later_index)
                .find(|earlier| covers(earlier, later));
            if let Some(earlier) = earlier {
                found.push((later.grant.name.as_str(), earlier.grant.name.as_str()));
            }
        }
        found
    }
}

/// Whether `earlier` matches every request `later` matches.
fn covers(earlier: &GrantRule, later: &GrantRule) -> bool {
    // Token hashes are held by one grant only: a grant with tokens matches
    // no request that another grant's tokens identify.
    if earlier.tokens > 0 {
        return false;
    }
    let jwt = match (&earlier.jwt, &later.jwt) {
        (None, _) => true,
        (Some(theirs), Some(mine)) => mine.covered_by(theirs),
        (Some(_), None) => false,
    };
    let mtls = match (&earlier.mtls, &later.mtls) {
        (None, _) => true,
        (Some(theirs), Some(mine)) => mine.covered_by(theirs),
        (Some(_), None) => false,
    };
    jwt && mtls && (earlier.jwt.is_some() || earlier.mtls.is_some())
}

pub fn parse_token_hash(text: &str) -> Result<TokenHash, String> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return Err(format!(
            "a token hash is 64 hexadecimal characters (SHA-256), got {} characters",
            bytes.len()
        ));
    }
    let mut hash = [0u8; 32];
    for (out, pair) in hash.iter_mut().zip(bytes.chunks(2)) {
        let digits = std::str::from_utf8(pair)
            .map_err(|_| "a token hash must be hexadecimal".to_string())?;
        *out = u8::from_str_radix(digits, 16)
            .map_err(|_| "a token hash must be hexadecimal".to_string())?;
    }
    Ok(hash)
}

pub fn to_hex(hash: &TokenHash) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
