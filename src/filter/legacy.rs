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

/// Refusals waiting for their ping's reply: slots per grant (a grant that
/// leaves more refusals waiting forgets its own oldest), entries live 10
/// minutes.
pub const PENDING_REFUSALS: BoundedMap = BoundedMap::evicting("mcp-policy/v2/legacy", 512);
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

/// `path` (or URL) with its `sessionId`/`session_id` query parameter set to
/// `session`; `None` when it has none.
pub fn with_session(path: &str, session: &str) -> Option<String> {
    let (base, query) = path.split_once('?')?;
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let mut found = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if !found && (name == "sessionId" || name == "session_id") => {
                found = true;
                format!("{name}={session}")
            }
            _ => pair.to_string(),
        })
        .collect();
    if !found {
        return None;
    }
    let mut out = format!("{base}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Some(out)
}

fn pending_key(session: &str, id: &RequestId) -> String {
    format!("{session}\u{1f}{}", id.as_json())
}

/// Remembers the reply the client must get for `id` instead of the ping's.
pub fn remember(
    store: &dyn SharedStore,
    grant: &str,
    session: &str,
    id: &RequestId,
    reply: &[u8],
    now_secs: u64,
) -> Result<PutOutcome, StoreError> {
    PENDING_REFUSALS.put(
        store,
        grant,
        &pending_key(session, id),
        reply,
        now_secs,
        PENDING_TTL_SECS,
    )
}

pub fn pending_reply(
    store: &dyn SharedStore,
    grant: &str,
    session: &str,
    id: &RequestId,
    now_secs: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    PENDING_REFUSALS.get(store, grant, &pending_key(session, id), now_secs)
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
    fn the_session_parameter_is_replaced_in_place() {
        assert_eq!(
            with_session("/messages?sessionId=abc", "xyz").as_deref(),
            Some("/messages?sessionId=xyz")
        );
        assert_eq!(
            with_session("/messages/?a=1&session_id=0f3e&b=2#f", "S.T").as_deref(),
            Some("/messages/?a=1&session_id=S.T&b=2#f")
        );
        assert_eq!(with_session("/mcp", "x"), None);
        assert_eq!(with_session("/mcp?other=1", "x"), None);
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
