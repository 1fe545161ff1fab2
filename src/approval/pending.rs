//! Approvals a named approver gives (`by: approver`): each call waiting for
//! one is a pending approval in shared data until it expires. The table is
//! a fixed set of slots per grant (members of a grant named from a claim
//! share their grant's), so listing it reads every slot of every grant, and
//! no grant can take another's room. Only the approver's decision changes an
//! entry (compare-and-swap); using an approval is single use through the
//! nonce table (`nonce`), keyed by the approval's id.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::fields;
use super::state::hex;
use crate::store::{BoundedMap, PutOutcome, SharedStore, StoreError};

/// Pending approvals: slots per grant.
pub const SLOTS_PER_GRANT: u64 = 64;
const PENDING: BoundedMap = BoundedMap::new("mcp-policy/v2/pending", SLOTS_PER_GRANT);
/// How long an entry outlives its expiry, so that a late retry hears that
/// its approval expired rather than nothing.
const KEPT_AFTER_EXPIRY_SECS: u64 = 600;
/// The longest rendering of a call's arguments kept for the approver.
pub const MAX_SHOWN_ARGUMENTS: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Denied,
    /// Approved, and the approved call went through.
    Used,
}

/// One call waiting for (or given) an approver's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Pending {
    pub id: String,
    /// The slot key: the grant, the tool, the arguments' and the rule's digests.
    pub key: String,
    /// The grant asking (a member's own name).
    pub grant: String,
    pub tool: String,
    /// The arguments, for the approver: the JSON itself when short enough,
    /// else the start of its text.
    pub arguments: Value,
    /// The policy rule requiring approval (`/tools/<key>/action`).
    pub rule: String,
    /// The grants that may decide.
    pub approvers: Vec<String>,
    pub created_at: u64,
    pub expires_at: u64,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
}

/// What identifies a call for approval: the same grant, tool, canonical
/// arguments and rule make the same key.
pub fn call_key(grant: &str, tool: &str, arguments_digest: &str, rule_digest: &str) -> String {
    let mut hash = Sha256::new();
    for part in [grant, tool, arguments_digest, rule_digest] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hex(hash.finalize().get(..16).unwrap_or_default())
}

/// A new approval's id: the call's key and when it was asked.
pub fn new_id(key: &str, now_nanos: u64) -> String {
    let mut hash = Sha256::new();
    hash.update(key.as_bytes());
    hash.update(now_nanos.to_le_bytes());
    hex(hash.finalize().get(..10).unwrap_or_default())
}

/// The arguments as kept for the approver.
pub fn shown_arguments(arguments: Option<&Value>) -> Value {
    let arguments = arguments
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let text = arguments.to_string();
    if text.len() <= MAX_SHOWN_ARGUMENTS {
        return arguments;
    }
    let mut cut = MAX_SHOWN_ARGUMENTS;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!(
        "{}… ({} bytes in all)",
        text.get(..cut).unwrap_or(""),
        text.len()
    ))
}

/// An entry as the derived `Deserialize` reads it (`fields`).
fn decode(bytes: &[u8]) -> Option<Pending> {
    let mut map = fields::object(bytes)?;
    let id = fields::string(&mut map, "id")?;
    let key = fields::string(&mut map, "key")?;
    let grant = fields::string(&mut map, "grant")?;
    let tool = fields::string(&mut map, "tool")?;
    let arguments = map.remove("arguments")?;
    let rule = fields::string(&mut map, "rule")?;
    let approvers = match map.remove("approvers")? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(name) => Some(name),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()?,
        _ => return None,
    };
    let created_at = fields::unsigned(&mut map, "created_at")?;
    let expires_at = fields::unsigned(&mut map, "expires_at")?;
    let status = match map.remove("status")?.as_str()? {
        "pending" => Status::Pending,
        "approved" => Status::Approved,
        "denied" => Status::Denied,
        "used" => Status::Used,
        _ => return None,
    };
    let decided_by = fields::optional_string(&mut map, "decided_by")?;
    Some(Pending {
        id,
        key,
        grant,
        tool,
        arguments,
        rule,
        approvers,
        created_at,
        expires_at,
        status,
        decided_by,
    })
}

/// The entry of `key` in `scope` (the requester's grant), expired or not.
pub fn find(
    store: &dyn SharedStore,
    scope: &str,
    key: &str,
    now_secs: u64,
) -> Result<Option<Pending>, StoreError> {
    Ok(PENDING
        .get(store, scope, key, now_secs)?
        .as_deref()
        .and_then(decode))
}

/// Stores a new entry (replacing the key's previous one); `Full` when the
/// grant has no room for another.
pub fn create(
    store: &dyn SharedStore,
    scope: &str,
    entry: &Pending,
    now_secs: u64,
) -> Result<PutOutcome, StoreError> {
    let bytes = serde_json::to_vec(entry).map_err(|error| StoreError::Host(error.to_string()))?;
    let ttl = entry
        .expires_at
        .saturating_sub(now_secs)
        .saturating_add(KEPT_AFTER_EXPIRY_SECS);
    PENDING.put(store, scope, &entry.key, &bytes, now_secs, ttl)
}

/// Changes the entry of `key` as `change` says, atomically; `None` when it
/// is gone or `change` declines.
pub fn update(
    store: &dyn SharedStore,
    scope: &str,
    key: &str,
    now_secs: u64,
    change: impl Fn(&mut Pending) -> bool,
) -> Result<Option<Pending>, StoreError> {
    let changed = PENDING.update(store, scope, key, now_secs, |bytes| {
        let mut entry = decode(bytes)?;
        if !change(&mut entry) {
            return None;
        }
        let expires = entry.expires_at.saturating_add(KEPT_AFTER_EXPIRY_SECS);
        Some((serde_json::to_vec(&entry).ok()?, expires))
    })?;
    Ok(changed.as_deref().and_then(decode))
}

/// Every entry of the grants `scopes`, expired ones included.
pub fn list<'s>(
    store: &dyn SharedStore,
    scopes: impl IntoIterator<Item = &'s str>,
    now_secs: u64,
) -> Result<Vec<(String, Pending)>, StoreError> {
    let mut entries = Vec::new();
    for scope in scopes {
        for bytes in PENDING.values(store, scope, now_secs)? {
            if let Some(entry) = decode(&bytes) {
                entries.push((scope.to_owned(), entry));
            }
        }
    }
    Ok(entries)
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let seconds = unix_secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use serde_json::json;

    fn entry(key: &str, expires_at: u64) -> Pending {
        Pending {
            id: new_id(key, 1),
            key: key.into(),
            grant: "alice".into(),
            tool: "refund".into(),
            arguments: json!({"amount": 5}),
            rule: "/tools/refund/action".into(),
            approvers: vec!["carol".into()],
            created_at: 100,
            expires_at,
            status: Status::Pending,
            decided_by: None,
        }
    }

    #[test]
    fn decode_agrees_with_the_derived_deserializer() {
        let mut decided = entry("k", 9);
        decided.status = Status::Used;
        decided.decided_by = Some("carol".into());
        decided.arguments = Value::Null;
        for entry in [entry("k", 1000), decided] {
            let bytes = serde_json::to_vec(&entry).unwrap();
            assert_eq!(decode(&bytes), Some(entry));
        }
        let base = serde_json::to_value(entry("k", 1000)).unwrap();
        let variants: Vec<(&str, Option<Value>)> = vec![
            ("id", None),
            ("id", Some(json!(3))),
            ("arguments", None),
            ("arguments", Some(json!(null))),
            ("arguments", Some(json!("text"))),
            ("approvers", Some(json!([]))),
            ("approvers", Some(json!(["a", 1]))),
            ("approvers", Some(json!("a"))),
            ("approvers", None),
            ("created_at", Some(json!(-1))),
            ("created_at", Some(json!(1.5))),
            ("expires_at", None),
            ("status", Some(json!("approved"))),
            ("status", Some(json!("denied"))),
            ("status", Some(json!("Pending"))),
            ("status", Some(json!(1))),
            ("decided_by", Some(json!(null))),
            ("decided_by", Some(json!("dave"))),
            ("decided_by", Some(json!(false))),
            ("extra", Some(json!({"a": 1}))),
        ];
        for (field, value) in variants {
            let mut record = base.clone();
            let object = record.as_object_mut().unwrap();
            match value {
                Some(value) => object.insert(field.into(), value),
                None => object.remove(field),
            };
            let bytes = serde_json::to_vec(&record).unwrap();
            assert_eq!(
                decode(&bytes),
                serde_json::from_slice::<Pending>(&bytes).ok(),
                "{record}"
            );
        }
        for text in ["[]", "null", "{}", "{} x"] {
            assert_eq!(decode(text.as_bytes()), None);
        }
    }

    #[test]
    fn entries_are_found_decided_once_and_listed_per_grant() {
        let store = MemoryStore::new();
        let key = call_key("alice", "refund", "aa", "bb");
        assert_ne!(key, call_key("alice", "refund", "aa", "bc"));
        assert_eq!(
            create(&store, "alice", &entry(&key, 1000), 100),
            Ok(PutOutcome::Stored)
        );
        assert_eq!(
            find(&store, "alice", &key, 200).unwrap().map(|e| e.status),
            Some(Status::Pending)
        );
        // Kept past its expiry, so that a retry hears it expired.
        assert!(find(&store, "alice", &key, 1100).unwrap().is_some());
        let approve = |entry: &mut Pending| {
            if entry.status != Status::Pending {
                return false;
            }
            entry.status = Status::Approved;
            entry.decided_by = Some("carol".into());
            true
        };
        let decided = update(&store, "alice", &key, 200, approve).unwrap();
        assert_eq!(
            decided.map(|e| (e.status, e.decided_by)),
            Some((Status::Approved, Some("carol".into())))
        );
        assert_eq!(update(&store, "alice", &key, 200, approve), Ok(None));
        assert_eq!(list(&store, ["alice", "bob"], 200).unwrap().len(), 1);
        assert!(list(&store, ["bob"], 200).unwrap().is_empty());
    }

    #[test]
    fn a_grant_has_a_bounded_number_of_pending_approvals() {
        let store = MemoryStore::new();
        let mut stored = 0;
        for n in 0..200 {
            let key = call_key("alice", "refund", &n.to_string(), "bb");
            if create(&store, "alice", &entry(&key, 1000), 100) == Ok(PutOutcome::Stored) {
                stored += 1;
            }
        }
        assert!(stored <= SLOTS_PER_GRANT as usize, "{stored}");
        let key = call_key("bob", "refund", "0", "bb");
        assert_eq!(
            create(&store, "bob", &entry(&key, 1000), 100),
            Ok(PutOutcome::Stored)
        );
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_465_955), "2026-12-05T10:19:15Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
