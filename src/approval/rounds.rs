//! An approved call whose upstream asks for input itself (its own
//! `input_required` result): the user is not asked to approve again at
//! each round. The upstream's `requestState` travels inside a new sealed
//! approval state, marked approved, with a fresh nonce and expiry; the
//! client's next retry is forwarded with the upstream's state restored.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::state::{hex, ApprovalState};
use crate::mcp::RequestId;
use crate::seal::Sealer;

/// The longest upstream `requestState` the filter carries.
pub const MAX_UPSTREAM_STATE_BYTES: usize = 32 * 1024;

/// What seals the rounds of one approved call.
#[derive(Clone, Debug)]
pub struct Rounds {
    /// The forwarded call's id: only its reply is rewritten.
    pub id: RequestId,
    pub grant: String,
    pub sealer: Sealer,
    /// The approval as given (tool, arguments, rule).
    pub approval: ApprovalState,
    pub ttl_seconds: u64,
}

/// What becomes of one reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// Not this call's `input_required` result: passes as it is.
    Unchanged,
    Replace(Vec<u8>),
}

impl Rounds {
    /// `reply`, one JSON-RPC message, with its `requestState` sealed into an
    /// approved state if it is this call's `input_required` result.
    pub fn rewrite(&self, reply: &[u8], now_nanos: u64) -> Rewrite {
        let Ok(Value::Object(mut message)) = serde_json::from_slice::<Value>(reply) else {
            return Rewrite::Unchanged;
        };
        if message.get("id").and_then(RequestId::from_value).as_ref() != Some(&self.id) {
            return Rewrite::Unchanged;
        }
        let Some(Value::Object(result)) = message.get_mut("result") else {
            return Rewrite::Unchanged;
        };
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return Rewrite::Unchanged;
        }
        match self.sealed(result, now_nanos) {
            Some(sealed) => {
                result.insert("requestState".to_owned(), Value::String(sealed));
                match serde_json::to_vec(&message) {
                    Ok(bytes) => Rewrite::Replace(bytes),
                    Err(_) => Rewrite::Replace(self.cannot_carry()),
                }
            }
            None => Rewrite::Replace(self.cannot_carry()),
        }
    }

    fn sealed(&self, result: &Map<String, Value>, now_nanos: u64) -> Option<String> {
        let upstream = match result.get("requestState") {
            None => None,
            Some(Value::String(state)) if state.len() <= MAX_UPSTREAM_STATE_BYTES => {
                Some(state.clone())
            }
            Some(_) => return None,
        };
        let mut seed = Sha256::new();
        seed.update(self.approval.nonce.as_bytes());
        seed.update(now_nanos.to_le_bytes());
        seed.update(upstream.as_deref().unwrap_or("").as_bytes());
        let nonce = hex(seed.finalize().get(..16)?);
        let state = ApprovalState {
            nonce,
            expires_at: (now_nanos / 1_000_000_000).saturating_add(self.ttl_seconds),
            approved: true,
            upstream,
            ..self.approval.clone()
        };
        state.seal(&self.sealer, &self.grant)
    }

    /// The reply in place of a round the filter cannot carry.
    fn cannot_carry(&self) -> Vec<u8> {
        crate::mcp::error_response(
            Some(&self.id),
            crate::mcp::INTERNAL_ERROR,
            "The upstream asked for input with a request state the policy filter cannot carry (not a string, or longer than 32 KiB)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rounds(sealer: &Sealer) -> Rounds {
        Rounds {
            id: RequestId::from_value(&json!(7)).unwrap(),
            grant: "alice".into(),
            sealer: sealer.clone(),
            approval: ApprovalState {
                tool: "create_invoice".into(),
                arguments: "ab".repeat(32),
                rule: "cd".repeat(32),
                expires_at: 10,
                nonce: "n0".into(),
                approved: false,
                upstream: None,
            },
            ttl_seconds: 900,
        }
    }

    #[test]
    fn the_upstreams_state_travels_sealed_inside_an_approved_one() {
        let sealer = Sealer::new(vec![vec![9; 32]]).unwrap();
        let reply = json!({"jsonrpc": "2.0", "id": 7, "result": {"resultType": "input_required",
            "inputRequests": {"q": {"method": "elicitation/create"}}, "requestState": "theirs"}});
        let Rewrite::Replace(bytes) =
            rounds(&sealer).rewrite(reply.to_string().as_bytes(), 5_000_000_000)
        else {
            panic!("not rewritten");
        };
        let out: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            out["result"]["inputRequests"],
            reply["result"]["inputRequests"]
        );
        let sealed = out["result"]["requestState"].as_str().unwrap();
        let state = ApprovalState::open(&sealer, "alice", sealed).unwrap();
        assert!(state.approved);
        assert_eq!(state.upstream.as_deref(), Some("theirs"));
        assert_eq!(state.expires_at, 905);
        assert_ne!(state.nonce, "n0");
        assert_eq!(state.tool, "create_invoice");
    }

    #[test]
    fn other_replies_pass_and_oversized_states_are_refused() {
        let sealer = Sealer::new(vec![vec![9; 32]]).unwrap();
        let r = rounds(&sealer);
        for reply in [
            json!({"jsonrpc": "2.0", "id": 7, "result": {"content": []}}),
            json!({"jsonrpc": "2.0", "id": 8, "result": {"resultType": "input_required"}}),
            json!({"jsonrpc": "2.0", "method": "notifications/progress"}),
        ] {
            assert_eq!(
                r.rewrite(reply.to_string().as_bytes(), 0),
                Rewrite::Unchanged
            );
        }
        let huge = json!({"jsonrpc": "2.0", "id": 7, "result": {"resultType": "input_required",
            "requestState": "x".repeat(MAX_UPSTREAM_STATE_BYTES + 1)}});
        let Rewrite::Replace(bytes) = r.rewrite(huge.to_string().as_bytes(), 0) else {
            panic!()
        };
        let out: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(out["error"]["code"], -32603);
    }
}
