//! The filter's `requestState`: what a pending (or given) approval binds,
//! sealed so that a client can carry it but not change it. It is
//! `<base64url of a JSON object>.<tag>`, the tag an HMAC with the session
//! keys (`seal::Purpose::RequestState`) over the grant and the payload.

use base64::Engine as _;
use serde::Serialize;

use super::fields;
use crate::seal::{Purpose, Sealer};

/// What an approval binds, and where its exchange stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct ApprovalState {
    /// The tool.
    #[serde(rename = "t")]
    pub tool: String,
    /// SHA-256 of the arguments' canonical form, hex.
    #[serde(rename = "a")]
    pub arguments: String,
    /// SHA-256 of the tool's rule as configured, hex: a reload that leaves
    /// the rule alone keeps pending approvals valid.
    #[serde(rename = "r")]
    pub rule: String,
    /// Unix seconds after which the state is refused.
    #[serde(rename = "e")]
    pub expires_at: u64,
    /// Makes the approval single use.
    #[serde(rename = "n")]
    pub nonce: String,
    /// The approval was given and used: the exchange now carries the
    /// upstream's own rounds (its `requestState` inside).
    #[serde(rename = "d", default, skip_serializing_if = "std::ops::Not::not")]
    pub approved: bool,
    /// The upstream's own `requestState`, while it asks for input itself.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

/// The longest `requestState` the filter reads.
pub const MAX_STATE_BYTES: usize = 64 * 1024;

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ApprovalState {
    /// The state sealed for `grant`.
    pub fn seal(&self, sealer: &Sealer, grant: &str) -> Option<String> {
        let payload = serde_json::to_vec(self).ok()?;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
        Some(sealer.seal(Purpose::RequestState, grant, &text))
    }

    /// The state inside `sealed`, if the filter sealed it for `grant`.
    pub fn open(sealer: &Sealer, grant: &str, sealed: &str) -> Option<ApprovalState> {
        if sealed.len() > MAX_STATE_BYTES {
            return None;
        }
        let text = sealer.open(Purpose::RequestState, grant, sealed)?;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        Self::read(&payload)
    }

    /// The state in `payload` (JSON), as the derived `Deserialize` reads it.
    fn read(payload: &[u8]) -> Option<ApprovalState> {
        let mut map = fields::object(payload)?;
        let tool = fields::string(&mut map, "t")?;
        let arguments = fields::string(&mut map, "a")?;
        let rule = fields::string(&mut map, "r")?;
        let expires_at = fields::unsigned(&mut map, "e")?;
        let nonce = fields::string(&mut map, "n")?;
        let approved = match map.remove("d") {
            None => false,
            Some(value) => value.as_bool()?,
        };
        let upstream = fields::optional_string(&mut map, "u")?;
        Some(ApprovalState {
            tool,
            arguments,
            rule,
            expires_at,
            nonce,
            approved,
            upstream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ApprovalState {
        ApprovalState {
            tool: "create_invoice".into(),
            arguments: "ab".repeat(32),
            rule: "cd".repeat(32),
            expires_at: 1_800_000_900,
            nonce: "n1".into(),
            approved: false,
            upstream: None,
        }
    }

    #[test]
    fn read_agrees_with_the_derived_deserializer() {
        for text in [
            r#"{"t":"x","a":"y","r":"z","e":5,"n":"q"}"#,
            r#"{"t":"x","a":"y","r":"z","e":5,"n":"q","d":true,"u":"up"}"#,
            r#"{"t":"x","a":"y","r":"z","e":5,"n":"q","d":false,"u":null,"x":[1]}"#,
            r#"{"t":"x","a":"y","r":"z","e":-1,"n":"q"}"#,
            r#"{"t":"x","a":"y","r":"z","e":5.0,"n":"q"}"#,
            r#"{"t":"x","a":"y","r":"z","e":18446744073709551615,"n":"q"}"#,
            r#"{"t":"x","a":"y","r":"z","n":"q"}"#,
            r#"{"t":1,"a":"y","r":"z","e":5,"n":"q"}"#,
            r#"{"t":"x","a":"y","r":"z","e":5,"n":"q","d":null}"#,
            r#"{"t":"x","a":"y","r":"z","e":5,"n":"q","d":1}"#,
            r#"{"t":"x","a":"y","r":"z","e":5,"n":"q","u":3}"#,
            "[]",
            "null",
            "{}",
            "{} x",
        ] {
            assert_eq!(
                ApprovalState::read(text.as_bytes()),
                serde_json::from_str::<ApprovalState>(text).ok(),
                "{text}"
            );
        }
        let mut given = state();
        given.approved = true;
        given.upstream = Some("theirs".into());
        for state in [state(), given] {
            let payload = serde_json::to_vec(&state).unwrap();
            assert_eq!(ApprovalState::read(&payload), Some(state));
        }
    }

    #[test]
    fn a_state_opens_only_for_its_grant_and_unchanged() {
        let sealer = Sealer::new(vec![vec![7; 32]]).unwrap();
        let sealed = state().seal(&sealer, "alice").unwrap();
        assert_eq!(
            ApprovalState::open(&sealer, "alice", &sealed),
            Some(state())
        );
        assert_eq!(ApprovalState::open(&sealer, "bob", &sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        tampered[3] ^= 1;
        assert_eq!(
            ApprovalState::open(&sealer, "alice", &String::from_utf8(tampered).unwrap()),
            None
        );
        // A session id sealed for the grant is not a request state.
        let session = sealer.seal(Purpose::Session, "alice", "eyJ0IjoiIn0");
        assert_eq!(ApprovalState::open(&sealer, "alice", &session), None);
    }
}
