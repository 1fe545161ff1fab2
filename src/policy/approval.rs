//! A `require_approval` entry's `approval` object: who approves a call of
//! the tool and for how long an approval holds.
//!
//! ```json
//! "approval": {"by": "caller" | "approver", "approvers": ["<grant name>", ...], "ttl_seconds": 900}
//! ```
//!
//! The rule's digest (SHA-256 of the entry's RFC 8785 canonical form, with
//! its key) binds a pending approval to the rule that asked for it: a reload
//! that leaves the entry alone keeps it valid, any change to the entry voids it.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::condition::type_name;
use super::error::Issues;
use crate::json::pointer;

const FIELDS: &[&str] = &["by", "approvers", "ttl_seconds"];
/// How long an approval holds unless the entry says otherwise.
pub const DEFAULT_TTL_SECONDS: u64 = 900;
/// The longest an approval may hold.
pub const MAX_TTL_SECONDS: u64 = 86_400;

/// Who approves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovedBy {
    /// The caller's own user, asked through the client (MCP elicitation).
    Caller,
    /// A person holding one of these grants.
    Approver(Vec<String>),
}

/// How calls of a tool are approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRule {
    pub by: ApprovedBy,
    pub ttl_seconds: u64,
    /// SHA-256 of the tool entry (key and value) in canonical form.
    pub digest: [u8; 32],
}

impl ApprovalRule {
    /// The rule of the entry `key: entry` at `at`, whose `approval` member
    /// (if any) is `value`.
    pub(crate) fn compile(
        key: &str,
        entry: &Value,
        value: Option<&Value>,
        at: &str,
        issues: &mut Issues,
    ) -> Option<ApprovalRule> {
        let Some(digest) = digest(key, entry) else {
            issues.value(at, "the tool entry has no canonical form (RFC 8785)");
            return None;
        };
        let mut rule = ApprovalRule {
            by: ApprovedBy::Caller,
            ttl_seconds: DEFAULT_TTL_SECONDS,
            digest,
        };
        let Some(value) = value else {
            return Some(rule);
        };
        let Some(members) = value.as_object() else {
            issues.value(
                at,
                format!("approval must be an object, not {}", type_name(value)),
            );
            return None;
        };
        let before = issues.0.len();
        for key in members.keys().filter(|key| !FIELDS.contains(&key.as_str())) {
            issues.key(
                pointer::join(at, key),
                format!(
                    "unknown field {key:?} in approval; expected one of {}",
                    FIELDS.join(", ")
                ),
            );
        }
        let approvers = approvers(members, at, issues);
        let by_at = pointer::join(at, "by");
        match members.get("by").map(Value::as_str) {
            None | Some(Some("caller")) => {
                if approvers.is_some() {
                    issues.value(
                        pointer::join(at, "approvers"),
                        "approvers apply only with \"by\": \"approver\"",
                    );
                }
            }
            Some(Some("approver")) => match approvers {
                Some(names) => rule.by = ApprovedBy::Approver(names),
                None => issues.value(
                    &by_at,
                    "\"by\": \"approver\" needs \"approvers\": the grant names that may approve",
                ),
            },
            Some(_) => issues.value(&by_at, "by must be \"caller\" or \"approver\""),
        }
        if let Some(ttl) = members.get("ttl_seconds") {
            match ttl.as_u64() {
                Some(seconds) if (1..=MAX_TTL_SECONDS).contains(&seconds) => {
                    rule.ttl_seconds = seconds;
                }
                _ => issues.value(
                    pointer::join(at, "ttl_seconds"),
                    format!("ttl_seconds must be a whole number from 1 to {MAX_TTL_SECONDS}"),
                ),
            }
        }
        (issues.0.len() == before).then_some(rule)
    }
}

fn approvers(members: &Map<String, Value>, at: &str, issues: &mut Issues) -> Option<Vec<String>> {
    let value = members.get("approvers")?;
    let at = pointer::join(at, "approvers");
    let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
        issues.value(&at, "approvers must be a non-empty array of grant names");
        return None;
    };
    let mut names = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item.as_str().filter(|name| !name.is_empty()) {
            Some(name) if names.iter().any(|known| known == name) => issues.value(
                pointer::join_index(&at, index),
                format!("{name:?} is named twice"),
            ),
            Some(name) => names.push(name.to_owned()),
            None => issues.value(
                pointer::join_index(&at, index),
                "an approver is a grant name (a non-empty string)",
            ),
        }
    }
    Some(names)
}

fn digest(key: &str, entry: &Value) -> Option<[u8; 32]> {
    let mut keyed = Map::new();
    keyed.insert(key.to_owned(), entry.clone());
    let canonical = crate::approval::digest::canonical(&Value::Object(keyed));
    Some(Sha256::digest(canonical).into())
}
