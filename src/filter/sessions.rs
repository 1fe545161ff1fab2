//! Sessions and tasks bound to the grant that obtained them. An id presented
//! by another grant is answered 404, as an unknown one is.

use crate::store::{BoundedMap, PutOutcome};
use crate::store::{SharedStore, StoreError};

pub const BINDINGS: BoundedMap = BoundedMap::new("mcp-policy/v1/session", 65_536);
/// A binding lives this long after its last use.
pub const BINDING_TTL_SECS: u64 = 7 * 86_400;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Bound to this grant (now, or already).
    Mine,
    /// Bound to another grant.
    Foreign,
    /// The bounded table has no room for a new binding.
    TableFull,
}

/// Binds `session` to `grant` if it is unbound; reports whose it is.
pub fn bind(
    store: &dyn SharedStore,
    session: &str,
    grant: &str,
    now_secs: u64,
) -> Result<Binding, StoreError> {
    bind_key(store, format!("s\u{1f}{session}"), grant, now_secs)
}

/// Binds a task id to `grant` if it is unbound; reports whose it is.
pub fn bind_task(
    store: &dyn SharedStore,
    task: &str,
    grant: &str,
    now_secs: u64,
) -> Result<Binding, StoreError> {
    bind_key(store, format!("t\u{1f}{task}"), grant, now_secs)
}

fn bind_key(
    store: &dyn SharedStore,
    key: String,
    grant: &str,
    now_secs: u64,
) -> Result<Binding, StoreError> {
    match BINDINGS.get_entry(store, &key, now_secs)? {
        Some((owner, _)) if owner != grant.as_bytes() => return Ok(Binding::Foreign),
        // Bound to this grant with most of its life left: no write, so that
        // busy sessions do not contend on their entry.
        Some((_, expires_at)) if expires_at.saturating_sub(now_secs) > BINDING_TTL_SECS / 2 => {
            return Ok(Binding::Mine)
        }
        _ => {}
    }
    match BINDINGS.put(store, &key, grant.as_bytes(), now_secs, BINDING_TTL_SECS)? {
        PutOutcome::Stored => Ok(Binding::Mine),
        PutOutcome::Full => Ok(Binding::TableFull),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn a_bound_session_is_refreshed_only_past_half_its_life() {
        let store = MemoryStore::new();
        assert_eq!(bind(&store, "abc", "alice", 0), Ok(Binding::Mine));
        // Any write would now fail: a fresh binding is read, not rewritten.
        store.fail_next_sets(1);
        assert_eq!(bind(&store, "abc", "alice", 10), Ok(Binding::Mine));
        let later = BINDING_TTL_SECS / 2 + 1;
        assert!(
            bind(&store, "abc", "alice", later).is_err(),
            "past half its life it is rewritten"
        );
        assert_eq!(bind(&store, "abc", "alice", later), Ok(Binding::Mine));
        assert_eq!(
            bind(&store, "abc", "bob", BINDING_TTL_SECS + 10),
            Ok(Binding::Foreign)
        );
    }

    #[test]
    fn a_session_belongs_to_the_first_grant() {
        let store = MemoryStore::new();
        assert_eq!(bind(&store, "abc", "alice", 0), Ok(Binding::Mine));
        assert_eq!(bind(&store, "abc", "alice", 10), Ok(Binding::Mine));
        assert_eq!(bind(&store, "abc", "bob", 10), Ok(Binding::Foreign));
        assert_eq!(bind(&store, "other", "bob", 10), Ok(Binding::Mine));
    }
}
