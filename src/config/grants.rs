//! Grants: named bearer tokens, stored only as SHA-256 hashes.

use std::collections::HashMap;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::policy::Policy;

pub type TokenHash = [u8; 32];

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug)]
pub struct Grant {
    pub name: String,
    pub policy: Rc<Policy>,
    /// Where the policy comes from: `/policy`, `/policies/<name>`, or a
    /// description (`bare policy`, `(no policy)`).
    pub source: String,
    /// Its own limit on every request, refused ones included (else the
    /// configuration's `request_limit`).
    pub request_limit: Option<super::RequestLimit>,
}

#[derive(Debug, Default)]
pub struct GrantTable {
    by_hash: HashMap<TokenHash, Rc<Grant>>,
    /// Every grant, in the configuration's order.
    grants: Vec<Rc<Grant>>,
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

    /// Fails when a hash is already held by another grant.
    pub fn insert(&mut self, hash: TokenHash, grant: Rc<Grant>) -> Result<(), String> {
        if let Some(holder) = self.by_hash.get(&hash) {
            return Err(format!(
                "token hash is already used by grant \"{}\"",
                holder.name
            ));
        }
        if !self.names.contains(&grant.name) {
            self.names.push(grant.name.clone());
            self.grants.push(Rc::clone(&grant));
        }
        self.by_hash.insert(hash, grant);
        Ok(())
    }

    pub fn lookup(&self, token: &str) -> Option<&Rc<Grant>> {
        self.by_hash.get(&hash_token(token))
    }

    pub fn by_name(&self, name: &str) -> Option<&Rc<Grant>> {
        self.grants.iter().find(|grant| grant.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn is_bare_policy(&self) -> bool {
        self.bare_policy.is_some()
    }
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
