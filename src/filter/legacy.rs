//! The 2024-11-05 HTTP+SSE transport. A POST to the message URL is answered
//! 202 and its real response travels on the client's GET stream, so a local
//! reply to the POST never reaches the client (and a non-2xx one breaks
//! official clients). A refused message is therefore replaced, before it is
//! forwarded, by a harmless `ping` with the same id; the refusal is stored
//! under (session, id) and the ping's reply on the GET stream is rewritten
//! into it (see `event_stream`).

use crate::mcp::RequestId;
use crate::store::{BoundedMap, PutOutcome};
use crate::store::{SharedStore, StoreError};

/// Refusals waiting for their ping's reply: bounded, entries live 10 minutes.
pub const PENDING_REFUSALS: BoundedMap = BoundedMap::new("mcp-policy/v1/legacy", 8192);
pub const PENDING_TTL_SECS: u64 = 600;

/// The legacy session a message POST belongs to: its `sessionId` (TypeScript
/// SDK) or `session_id` (Python SDK) query parameter.
pub fn session_of_path(path: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "sessionId" || *name == "session_id")
        .map(|(_, value)| value.to_string())
        .filter(|value| !value.is_empty())
}

fn pending_key(session: &str, id: &RequestId) -> String {
    format!("{session}\u{1f}{}", id.as_json())
}

/// Remembers the reply the client must get for `id` instead of the ping's.
pub fn remember(
    store: &dyn SharedStore,
    session: &str,
    id: &RequestId,
    reply: &[u8],
    now_secs: u64,
) -> Result<PutOutcome, StoreError> {
    PENDING_REFUSALS.put(
        store,
        &pending_key(session, id),
        reply,
        now_secs,
        PENDING_TTL_SECS,
    )
}

pub fn pending_reply(
    store: &dyn SharedStore,
    session: &str,
    id: &RequestId,
    now_secs: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    PENDING_REFUSALS.get(store, &pending_key(session, id), now_secs)
}

/// The body forwarded in place of refused messages: one ping per id (a batch
/// when there are several).
pub fn pings(ids: &[RequestId]) -> Vec<u8> {
    let ping = |id: &RequestId| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"ping"}}"#,
            id.as_json()
        )
    };
    match ids {
        [single] => ping(single).into_bytes(),
        many => format!("[{}]", many.iter().map(ping).collect::<Vec<_>>().join(",")).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_session_in_either_sdk_spelling() {
        assert_eq!(
            session_of_path("/messages?sessionId=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            session_of_path("/messages/?session_id=0f3e&x=1").as_deref(),
            Some("0f3e")
        );
        assert_eq!(session_of_path("/mcp"), None);
        assert_eq!(session_of_path("/messages?sessionId="), None);
    }

    #[test]
    fn pings_keep_the_ids() {
        let one = RequestId::from_integer(7).map(|id| pings(&[id]));
        assert_eq!(
            one.as_deref(),
            Some(&br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#[..])
        );
        let two = pings(&[RequestId::from_string("a"), RequestId::from_string("b")]);
        assert_eq!(
            two,
            br#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"ping"}]"#.to_vec()
        );
    }
}
