//! Single use: an approval's nonce is claimed in shared data when the
//! approved call is forwarded, and a second claim of it fails. Each grant
//! has its own part of the table; a grant whose part is full of live nonces
//! is refused until they expire (never another grant's room).

use crate::store::{BoundedMap, Claim, SharedStore, StoreError};

/// Used nonces: slots per grant rule.
const NONCES: BoundedMap = BoundedMap::new("mcp-policy/v2/nonce", 4096);

/// Claims `nonce` for `grant` until `expires_at`.
pub fn claim(
    store: &dyn SharedStore,
    grant: &str,
    nonce: &str,
    now_secs: u64,
    expires_at: u64,
) -> Result<Claim, StoreError> {
    NONCES.claim(
        store,
        grant,
        nonce,
        now_secs,
        expires_at.saturating_sub(now_secs).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn a_nonce_is_used_once() {
        let store = MemoryStore::new();
        assert_eq!(claim(&store, "alice", "n1", 0, 900), Ok(Claim::Claimed));
        assert_eq!(claim(&store, "alice", "n1", 10, 900), Ok(Claim::Taken));
        assert_eq!(claim(&store, "bob", "n1", 10, 900), Ok(Claim::Claimed));
        assert_eq!(claim(&store, "alice", "n2", 10, 900), Ok(Claim::Claimed));
    }
}
