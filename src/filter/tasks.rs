//! Tasks belong to the grant whose call created them. A task id is bound to
//! its grant only when the upstream issues it (in the reply to a forwarded
//! call), never because a client presents it, in a table each grant has its
//! own part of: a grant that creates more tasks than its part holds forgets
//! its own oldest bindings, and never anybody else's. A task method naming a
//! task the grant does not hold is answered as an unknown task.
//!
//! Sealing task ids instead would mean rewriting every place they travel
//! (results, `tasks/list`, status notifications, related-task `_meta`, the
//! 2026-07-28 `Mcp-Name` header) in both directions; the table needs none of
//! that, and a grant can only fill it with tasks its own allowed calls made.

use crate::store::{BoundedMap, PutOutcome, SharedStore, StoreError};

/// Task bindings: slots per grant.
const TASKS: BoundedMap = BoundedMap::evicting("mcp-policy/v2/task", 1024);
/// A binding lives this long after the task was created.
const TASK_TTL_SECS: u64 = 7 * 86_400;

/// Binds a task the upstream created for `grant`.
pub fn bind(
    store: &dyn SharedStore,
    grant: &str,
    task: &str,
    now_secs: u64,
) -> Result<(), StoreError> {
    match TASKS.put(store, grant, task, b"1", now_secs, TASK_TTL_SECS)? {
        PutOutcome::Stored => Ok(()),
        PutOutcome::Full => Err(StoreError::Host("task bindings: no slot".into())),
    }
}

/// Whether the upstream created `task` for `grant`.
pub fn holds(
    store: &dyn SharedStore,
    grant: &str,
    task: &str,
    now_secs: u64,
) -> Result<bool, StoreError> {
    Ok(TASKS.get(store, grant, task, now_secs)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn a_task_is_held_only_by_the_grant_it_was_issued_to() {
        let store = MemoryStore::new();
        assert_eq!(holds(&store, "alice", "t-1", 0), Ok(false));
        assert_eq!(bind(&store, "alice", "t-1", 0), Ok(()));
        assert_eq!(holds(&store, "alice", "t-1", 10), Ok(true));
        assert_eq!(holds(&store, "bob", "t-1", 10), Ok(false));
        assert_eq!(holds(&store, "alice", "t-1", TASK_TTL_SECS + 1), Ok(false));
    }

    #[test]
    fn one_grant_flooding_tasks_never_evicts_another_grants_binding() {
        let store = MemoryStore::new();
        assert_eq!(bind(&store, "alice", "mine", 0), Ok(()));
        for i in 0..5000 {
            assert_eq!(bind(&store, "mallory", &format!("t-{i}"), 1), Ok(()));
        }
        assert_eq!(holds(&store, "alice", "mine", 2), Ok(true));
    }
}
