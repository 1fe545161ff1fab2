//! Sealing: a value the gateway hands a client carries a MAC (HMAC-SHA-256,
//! truncated to 128 bits) over what it is for, the grant it was issued to and
//! the value itself. The filter then needs no table to remember who holds
//! what: a sealed value opens only for the grant it was made for, survives
//! restarts, and holds across replicas that share the keys.
//!
//! Keys come as a list: the first seals, every one of them opens, so keys can
//! be rotated (add the new key first, wait until sealed values made with the
//! old one have expired or been re-issued, then drop the old one).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of MAC kept.
const TAG_BYTES: usize = 16;
/// Characters of the tag in base64url (22 for 16 bytes).
pub const TAG_CHARS: usize = 22;
/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What a sealed value is for; part of the MAC, so that a value sealed for one
/// purpose never opens for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// An `Mcp-Session-Id` (or a legacy `sessionId`) the upstream issued.
    Session,
    /// The filter's own multi-round-trip `requestState`.
    RequestState,
    /// An approval request's id.
    Approval,
}

impl Purpose {
    fn domain(self) -> &'static [u8] {
        match self {
            Purpose::Session => b"mcp-policy session v1",
            Purpose::RequestState => b"mcp-policy request-state v1",
            Purpose::Approval => b"mcp-policy approval v1",
        }
    }
}

/// The sealing keys: the first seals, all of them open.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealer {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.keys.len())
    }
}

impl Sealer {
    /// `None` when there is no key or a key is shorter than
    /// [`MIN_KEY_BYTES`].
    pub fn new(keys: Vec<Vec<u8>>) -> Option<Sealer> {
        let usable = !keys.is_empty() && keys.iter().all(|key| key.len() >= MIN_KEY_BYTES);
        usable.then_some(Sealer { keys })
    }

    fn mac(key: &[u8], purpose: Purpose, grant: &str, value: &[u8]) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(key).ok()?;
        for part in [purpose.domain(), grant.as_bytes(), value] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        Some(mac)
    }

    /// The 22-character tag of `value` for `grant`, made with the first key.
    pub fn tag(&self, purpose: Purpose, grant: &str, value: &[u8]) -> String {
        let Some(mac) = self
            .keys
            .first()
            .and_then(|key| Sealer::mac(key, purpose, grant, value))
        else {
            return String::new();
        };
        let bytes = mac.finalize().into_bytes();
        let tag = bytes.get(..TAG_BYTES).unwrap_or(&bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag)
    }

    /// Whether `tag` is the tag of `value` for `grant` under any key,
    /// compared in constant time.
    pub fn verify(&self, purpose: Purpose, grant: &str, value: &[u8], tag: &str) -> bool {
        let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
            return false;
        };
        if tag.len() != TAG_BYTES {
            return false;
        }
        self.keys.iter().any(|key| {
            Sealer::mac(key, purpose, grant, value)
                .is_some_and(|mac| mac.verify_truncated_left(&tag).is_ok())
        })
    }

    /// `value` sealed for `grant`: `<value>.<tag>`.
    pub fn seal(&self, purpose: Purpose, grant: &str, value: &str) -> String {
        let tag = self.tag(purpose, grant, value.as_bytes());
        let mut sealed = String::with_capacity(value.len() + 1 + TAG_CHARS);
        sealed.push_str(value);
        sealed.push('.');
        sealed.push_str(&tag);
        sealed
    }

    /// The value inside `sealed`, if it was sealed for `grant` with one of
    /// the keys; `None` for anything else.
    pub fn open<'s>(&self, purpose: Purpose, grant: &str, sealed: &'s str) -> Option<&'s str> {
        let split = sealed.len().checked_sub(TAG_CHARS + 1)?;
        let value = sealed.get(..split)?;
        let rest = sealed.get(split..)?;
        let tag = rest.strip_prefix('.')?;
        self.verify(purpose, grant, value.as_bytes(), tag)
            .then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Vec<u8> {
        vec![byte; 32]
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_grant_and_purpose() {
        let sealer = Sealer::new(vec![key(1)]).unwrap();
        let sealed = sealer.seal(Purpose::Session, "alice", "abc-123");
        assert!(sealed.starts_with("abc-123."));
        assert_eq!(sealed.len(), "abc-123".len() + 1 + TAG_CHARS);
        assert!(sealed.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(
            sealer.open(Purpose::Session, "alice", &sealed),
            Some("abc-123")
        );
        assert_eq!(sealer.open(Purpose::Session, "bob", &sealed), None);
        assert_eq!(sealer.open(Purpose::Approval, "alice", &sealed), None);
        assert_eq!(sealer.open(Purpose::Session, "alice", "abc-123"), None);
        let mut forged = sealed.clone();
        forged.replace_range(0..1, "b");
        assert_eq!(sealer.open(Purpose::Session, "alice", &forged), None);
        let mut flipped = sealed.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(sealer.open(Purpose::Session, "alice", &flipped), None);
    }

    #[test]
    fn grant_and_value_boundaries_cannot_be_shifted() {
        let sealer = Sealer::new(vec![key(1)]).unwrap();
        let a = sealer.tag(Purpose::Session, "ab", b"c");
        let b = sealer.tag(Purpose::Session, "a", b"bc");
        assert_ne!(a, b);
    }

    #[test]
    fn every_key_opens_and_the_first_seals() {
        let old = Sealer::new(vec![key(1)]).unwrap();
        let rotated = Sealer::new(vec![key(2), key(1)]).unwrap();
        let sealed_old = old.seal(Purpose::Session, "alice", "s");
        assert_eq!(
            rotated.open(Purpose::Session, "alice", &sealed_old),
            Some("s")
        );
        let sealed_new = rotated.seal(Purpose::Session, "alice", "s");
        assert_ne!(sealed_new, sealed_old);
        assert_eq!(old.open(Purpose::Session, "alice", &sealed_new), None);
    }

    #[test]
    fn short_or_missing_keys_are_refused() {
        assert!(Sealer::new(Vec::new()).is_none());
        assert!(Sealer::new(vec![vec![0; 31]]).is_none());
    }
}
