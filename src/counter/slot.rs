//! The fixed table of counter slots, and where a counter lives in it.
//!
//! Envoy's shared data never deletes a key, so a key per scope value (a
//! session id, a header value: anything a client chooses) would grow memory
//! for as long as Envoy runs. Counters therefore live in a fixed table of
//! `slots` keys per [`Region`]:
//!
//! | region | keys |
//! |---|---|
//! | enforced limits | `mcp-policy/v1/slot/0` … `mcp-policy/v1/slot/<slots-1>` |
//! | dry-run (shadow) limits | `mcp-policy/v1/dry-slot/0` … `mcp-policy/v1/dry-slot/<slots-1>` |
//!
//! **Identity.** A counter is identified by its `CounterSpec::key` (the filter
//! puts the counter name and the resolved scope value in it). The SHA-256 of a
//! domain tag and that key gives two independent values: bytes 0..8 pick the
//! home slot, bytes 8..24 are the 128-bit owner fingerprint stored in the slot.
//! SHA-256 is fixed by its specification, has no seed, and is identical on every
//! worker, across VM reloads, module upgrades and Rust versions. Being
//! collision resistant, a client cannot craft a scope value whose fingerprint
//! equals another owner's, so two owners are never merged into one count.
//!
//! **Candidates.** `PROBES` (8) distinct slots, each picked by Lamping and
//! Veach's jump consistent hash of its own probe hash (the first is bytes
//! 0..8 of the digest, each next one a SplitMix64 step of the previous), so
//! that they are spread independently over the table (no clustering) and a
//! change of the slot count moves as few of them as possible: going between
//! `n` and `m` slots keeps each candidate with probability `min/max`. A table
//! of fewer than 8 slots gives every counter all of its slots.
//!
//! **Probe rule.** The candidates are read in order, up to and including the
//! first absent key (a counter's records never lie beyond an absent
//! candidate, so a sparse table costs two reads). Then:
//! 1. every candidate owned by the counter (same fingerprint) whose window
//!    overlaps the current window counts toward it (normally there is exactly
//!    one), and the unit is written to the first of them; failing that, to the
//!    first candidate the counter owns with an old window (rolled over);
//! 2. a counter that owns no candidate claims the first candidate that is
//!    absent, holds a value that is not a slot record, or holds a record whose
//!    window has ended (`window_end <= now`);
//! 3. when every candidate holds another owner's live window, the counter is
//!    refused as rate-limited (`LimitRefusal::no_slot`), with `retry_after` = the
//!    earliest end among those windows. It is never merged with another owner.
//!
//! With 8 independent candidates, a new owner is refused only if all 8 hold
//! live windows: about `load^8`. Measured with 65,536 slots and one owner
//! after another in one window: none refused up to 20,000 live owners, 9 of
//! 32,768 at half load, 71 of 40,000.
//!
//! **Full table.** When the table is crowded, new owners are refused as in 3
//! until a candidate's window ends: conservative, no call is ever admitted
//! uncounted, and nobody is locked out for longer than the longest window in
//! use. Owners that already hold a slot are not affected. A client that can
//! choose scope values can fill the table, but only for the windows it keeps
//! its slots live, and only within its own limits' budgets. The hash has no
//! secret, so such a client could also search for values whose candidates
//! cover all 8 of one other counter's slots and hold them when that
//! counter's window rolls over, keeping it refused; a deployment secret mixed
//! into `Identity::of` would close that, at the price of a setting that must
//! not change while Envoy runs (a change re-maps every counter).
//!
//! **Dry run.** Shadow counters live in their own region, with the same slot
//! count, so a dry-run limit can never take a slot an enforced limit needs (a
//! dry run must not refuse anything).
//!
//! **Resizing.** The slot count is not part of the keys. After a change from
//! `n` to `m` slots, an owner whose record is still found keeps its count
//! (about `min(n,m)/max(n,m)` of them, a little fewer in a crowded table,
//! where a moved candidate ahead of the record can hide it). Any other owner
//! starts its current window again from zero, so it may be admitted up to
//! `max` more in the window in which the size changed (once); its old record
//! stays in place until its window ends, then is reclaimed (if it is found
//! again meanwhile, its count is added, conservatively). After shrinking,
//! the keys at or above the new count are never read or written again;
//! shared data keeps them, so memory stays bounded by the largest count ever
//! configured since Envoy started.

use std::cell::RefCell;

use sha2::{Digest, Sha256};

use crate::hash::fnv1a64;

/// The default slot count per region. At about 72 bytes of key and value
/// per slot (about 136 bytes in Envoy once its hash-map node is counted) a
/// full region holds 4.5 MiB of keys and values, about 8.5 MiB in Envoy.
pub const DEFAULT_SLOTS: u32 = 65_536;

/// The largest slot count accepted; larger values are clamped to it.
pub const MAX_SLOTS: u32 = 1 << 20;

/// Candidate slots per counter (fewer in a table of fewer slots).
pub const PROBES: u32 = 8;

const ENFORCED_PREFIX: &str = "mcp-policy/v1/slot/";
const SHADOW_PREFIX: &str = "mcp-policy/v1/dry-slot/";
const DOMAIN: &[u8] = b"mcp-policy counter slot v1\0";

/// Which table a counter lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Region {
    /// Enforced limits.
    Enforced,
    /// Dry-run limits' shadow counters.
    Shadow,
}

/// A region, a partition of it and its slot count: the slots one set of
/// counters may use, and the secret that keys where they hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table {
    region: Region,
    /// 0: the region's shared table; otherwise a partition of its own (one
    /// grant's client-chosen counters, or one counter's dedicated slot).
    partition: u64,
    slots: u32,
    /// Keys the identity hash, so that colliding scope values cannot be
    /// computed offline.
    secret: Option<[u8; 32]>,
}

impl Table {
    /// `slots` is clamped to `1..=MAX_SLOTS`.
    pub const fn new(region: Region, slots: u32) -> Table {
        let slots = if slots == 0 {
            1
        } else if slots > MAX_SLOTS {
            MAX_SLOTS
        } else {
            slots
        };
        Table {
            region,
            partition: 0,
            slots,
            secret: None,
        }
    }

    /// A table of one slot for one counter, named by `key`: nobody else can
    /// take its room. For counters the configuration fixes (a listed grant's
    /// own, or a global one), so that their number is bounded by it.
    pub fn dedicated(region: Region, key: &str) -> Table {
        let digest = Sha256::new()
            .chain_update(b"mcp-policy dedicated counter v1\0")
            .chain_update(key.as_bytes())
            .finalize();
        let mut partition = [0u8; 8];
        for (dst, src) in partition.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
        Table {
            partition: u64::from_le_bytes(partition) | 1,
            ..Table::new(region, 1)
        }
    }

    /// `slots` slots for the counters of `owner` (a grant) whose scope value
    /// the client chooses, hashed with `secret`: a grant that fills its part
    /// only refuses itself.
    pub fn partitioned(region: Region, owner: &str, slots: u32, secret: Option<[u8; 32]>) -> Table {
        let digest = Sha256::new()
            .chain_update(b"mcp-policy counter partition v1\0")
            .chain_update(owner.as_bytes())
            .finalize();
        let mut partition = [0u8; 8];
        for (dst, src) in partition.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
        Table {
            partition: u64::from_le_bytes(partition) | 1,
            secret,
            ..Table::new(region, slots)
        }
    }

    /// The identity of the counter `key` names in this table.
    pub fn identity(&self, key: &str) -> Identity {
        Identity::keyed(self.secret.as_ref(), key)
    }

    pub const fn enforced(slots: u32) -> Table {
        Table::new(Region::Enforced, slots)
    }

    pub const fn shadow(slots: u32) -> Table {
        Table::new(Region::Shadow, slots)
    }

    pub const fn slots(self) -> u32 {
        self.slots
    }

    pub const fn region(self) -> Region {
        self.region
    }

    /// The shared-data key of slot `index`.
    pub fn slot_key(self, index: u32) -> String {
        let prefix = match self.region {
            Region::Enforced => ENFORCED_PREFIX,
            Region::Shadow => SHADOW_PREFIX,
        };
        let mut key = String::with_capacity(prefix.len() + 28);
        key.push_str(prefix);
        if self.partition != 0 {
            for shift in (0..16).rev() {
                let nibble = (self.partition >> (shift * 4)) & 0xf;
                key.push(char::from_digit(nibble as u32, 16).unwrap_or('0'));
            }
            key.push('/');
        }
        push_decimal(&mut key, index);
        key
    }

    /// The candidate slot indexes of a counter, in probe order: distinct,
    /// `min(PROBES, slots)` of them.
    pub fn candidates(self, identity: &Identity) -> Vec<u32> {
        self.probe(identity).collect()
    }

    /// The candidates of [`Table::candidates`], computed as they are read
    /// (a sparse table reads two).
    pub fn probe(self, identity: &Identity) -> Probe {
        Probe {
            slots: self.slots,
            wanted: PROBES.min(self.slots) as usize,
            found: [0; PROBES as usize],
            count: 0,
            hash: identity.home,
            hashes_left: PROBES * 4,
            fill: None,
        }
    }
}

/// The candidate slots of one counter, in probe order.
pub struct Probe {
    slots: u32,
    wanted: usize,
    found: [u32; PROBES as usize],
    count: usize,
    hash: u64,
    hashes_left: u32,
    /// Tiny tables: the last successor of the home slot tried.
    fill: Option<u32>,
}

impl Iterator for Probe {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.count >= self.wanted {
            return None;
        }
        while self.hashes_left > 0 {
            self.hashes_left -= 1;
            let index = jump_hash(self.hash, self.slots);
            self.hash = split_mix(self.hash);
            if let Some(index) = self.accept(index) {
                return Some(index);
            }
        }
        // Tiny tables: fill up with the home slot's successors.
        let mut next = self
            .fill
            .unwrap_or_else(|| self.found.first().copied().unwrap_or(0));
        loop {
            next = if next + 1 >= self.slots { 0 } else { next + 1 };
            self.fill = Some(next);
            if let Some(index) = self.accept(next) {
                return Some(index);
            }
        }
    }
}

impl Probe {
    fn accept(&mut self, index: u32) -> Option<u32> {
        let known = self.found.get(..self.count).unwrap_or(&[]);
        if known.contains(&index) {
            return None;
        }
        *self.found.get_mut(self.count)? = index;
        self.count += 1;
        Some(index)
    }
}

fn push_decimal(text: &mut String, value: u32) {
    let mut digits = [0u8; 10];
    let mut rest = value;
    let mut len = 0;
    for digit in &mut digits {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
        if rest == 0 {
            break;
        }
    }
    for &digit in digits.iter().take(len).rev() {
        text.push(char::from(digit));
    }
}

/// SplitMix64's step: the next probe's hash from the previous one.
fn split_mix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Default for Table {
    fn default() -> Table {
        Table::enforced(DEFAULT_SLOTS)
    }
}

/// Where a counter lives and who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// Picks the home slot.
    pub home: u64,
    /// Stored in the slot; never derived from the same bits as `home`.
    pub owner: u128,
}

impl Identity {
    /// The identity of the counter named by `key` (a `CounterSpec::key`).
    pub fn of(key: &str) -> Identity {
        Identity::keyed(None, key)
    }

    /// The identity of `key` under `secret` (HMAC-SHA-256), or without one
    /// (SHA-256).
    pub fn keyed(secret: Option<&[u8; 32]>, key: &str) -> Identity {
        RECENT
            .try_with(|recent| match recent.try_borrow_mut() {
                Ok(mut recent) => recent.identity(secret, key),
                Err(_) => Identity::digest(secret, key),
            })
            .unwrap_or_else(|_| Identity::digest(secret, key))
    }

    fn digest(secret: Option<&[u8; 32]>, key: &str) -> Identity {
        use hmac::{Hmac, Mac};
        let digest: [u8; 32] =
            match secret.and_then(|secret| Hmac::<Sha256>::new_from_slice(secret).ok()) {
                Some(mac) => mac
                    .chain_update(DOMAIN)
                    .chain_update(key.as_bytes())
                    .finalize()
                    .into_bytes()
                    .into(),
                None => Sha256::new()
                    .chain_update(DOMAIN)
                    .chain_update(key.as_bytes())
                    .finalize()
                    .into(),
            };
        let mut home = [0u8; 8];
        let mut owner = [0u8; 16];
        for (dst, src) in home.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
        for (dst, src) in owner.iter_mut().zip(digest.iter().skip(8)) {
            *dst = *src;
        }
        Identity {
            home: u64::from_le_bytes(home),
            owner: u128::from_le_bytes(owner),
        }
    }
}

thread_local! {
    static RECENT: RefCell<RecentIdentities> = RefCell::new(RecentIdentities::default());
}

/// The identities of recently used counters, so that a hot counter's SHA-256
/// is not recomputed on every call: a direct-mapped table of
/// `RECENT_ENTRIES`, each entry holding its key, checked in full on a hit.
#[derive(Default)]
struct RecentIdentities {
    entries: Vec<Option<Recent>>,
}

/// A key's identity under a secret (or none).
type Recent = (Option<[u8; 32]>, String, Identity);

const RECENT_ENTRIES: usize = 64;
/// Longer keys (a long header value in a `header:` scope) are not kept.
const RECENT_MAX_KEY: usize = 160;

impl RecentIdentities {
    fn identity(&mut self, secret: Option<&[u8; 32]>, key: &str) -> Identity {
        if key.len() > RECENT_MAX_KEY {
            return Identity::digest(secret, key);
        }
        if self.entries.is_empty() {
            self.entries.resize(RECENT_ENTRIES, None);
        }
        let Some(entry) = self
            .entries
            .get_mut(fnv1a64(0, key.as_bytes()) as usize % RECENT_ENTRIES)
        else {
            return Identity::digest(secret, key);
        };
        match entry {
            Some((known_secret, known, identity))
                if known == key && known_secret.as_ref() == secret =>
            {
                *identity
            }
            _ => {
                let identity = Identity::digest(secret, key);
                *entry = Some((secret.copied(), key.to_string(), identity));
                identity
            }
        }
    }
}

/// Jump consistent hash (Lamping and Veach, 2014): a bucket in `0..buckets`
/// such that growing `buckets` by one moves only `1/buckets` of the keys.
/// IEEE 754 double arithmetic is exact and identical on every platform.
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let buckets = i64::from(buckets.max(1));
    let mut bucket: i64 = -1;
    let mut next: i64 = 0;
    while next < buckets {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let divisor = ((key >> 33) + 1) as f64;
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / divisor)) as i64;
    }
    u32::try_from(bucket).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_stable() {
        // Pinned (checked with Python hashlib): a change here re-maps every
        // counter of every deployment.
        let id = Identity::of("mcp-policy/v1/c/calls\u{1f}grant:alice");
        assert_eq!(id, Identity::of("mcp-policy/v1/c/calls\u{1f}grant:alice"));
        assert_eq!(
            (id.home, id.owner),
            (PINNED_HOME, PINNED_OWNER),
            "{:#x} {:#x}",
            id.home,
            id.owner
        );
        assert_ne!(Identity::of("a").owner, Identity::of("b").owner);
        assert_eq!(
            Identity::digest(None, "mcp-policy/v1/c/calls\u{1f}grant:alice"),
            id
        );
        // Checked with an independent Python implementation.
        assert_eq!(
            Table::default().candidates(&id),
            vec![36557, 35513, 57526, 34487, 9667, 50883, 9836, 27065]
        );
    }

    const PINNED_HOME: u64 = 0xf9b3_ec2c_17ee_fe61;
    const PINNED_OWNER: u128 = 0x87d8_c5b9_908f_a775_e6ee_70a5_5f96_ee67;

    #[test]
    fn jump_hash_is_pinned_and_consistent() {
        // The published test vectors of the algorithm.
        for (key, buckets, bucket) in [
            (1, 1, 0),
            (42, 57, 43),
            (0xDEAD_10CC, 1, 0),
            (0xDEAD_10CC, 666, 361),
            (256, 1024, 520),
            (1, 128, 55),
            (129, 128, 120),
            (u64::MAX, 128, 92),
            (128, 100_000_000, 38_172_097),
        ] {
            assert_eq!(
                jump_hash(key, buckets),
                bucket,
                "jump_hash({key}, {buckets})"
            );
        }
        let mut moved = 0;
        for key in 0..10_000u64 {
            let key = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let small = jump_hash(key, 1000);
            let large = jump_hash(key, 1100);
            assert!(small < 1000 && large < 1100);
            if small != large {
                assert!(large >= 1000, "a key moved between old buckets");
                moved += 1;
            }
        }
        // About 100/1100 of the keys move.
        assert!((700..1100).contains(&moved), "{moved}");
    }

    #[test]
    fn candidates_are_distinct_and_in_range() {
        for slots in [1, 2, 3, 4, 5, 64, DEFAULT_SLOTS] {
            let table = Table::enforced(slots);
            for key in ["a", "b", "c", "session:xyz"] {
                let candidates = table.candidates(&Identity::of(key));
                assert_eq!(candidates.len() as u32, PROBES.min(slots));
                assert!(candidates.iter().all(|index| *index < slots));
                let mut unique = candidates.clone();
                unique.sort_unstable();
                unique.dedup();
                assert_eq!(unique.len(), candidates.len());
            }
        }
    }

    /// The probe order as first specified: all candidates at once.
    fn eager_candidates(table: Table, identity: &Identity) -> Vec<u32> {
        let wanted = PROBES.min(table.slots) as usize;
        let mut candidates: Vec<u32> = Vec::new();
        let mut probe = identity.home;
        for _ in 0..PROBES * 4 {
            if candidates.len() == wanted {
                return candidates;
            }
            let index = jump_hash(probe, table.slots);
            if !candidates.contains(&index) {
                candidates.push(index);
            }
            probe = split_mix(probe);
        }
        let mut next = candidates.first().copied().unwrap_or(0);
        while candidates.len() < wanted {
            next = if next + 1 >= table.slots { 0 } else { next + 1 };
            if !candidates.contains(&next) {
                candidates.push(next);
            }
        }
        candidates
    }

    #[test]
    fn lazy_probe_yields_the_specified_order() {
        for slots in (1..=20).chain([63, 64, 1000, DEFAULT_SLOTS]) {
            let table = Table::enforced(slots);
            for key in 0..200 {
                let identity = Identity::of(&format!("k{key}"));
                assert_eq!(
                    table.probe(&identity).collect::<Vec<_>>(),
                    eager_candidates(table, &identity),
                    "{slots} slots, key {key}"
                );
                // Read one at a time, as read_candidates does.
                let mut probe = table.probe(&identity);
                assert_eq!(
                    probe.next(),
                    eager_candidates(table, &identity).first().copied()
                );
            }
        }
    }

    #[test]
    fn recent_identities_are_the_digests() {
        let mut recent = RecentIdentities::default();
        let long = "x".repeat(RECENT_MAX_KEY + 1);
        let secret = [7u8; 32];
        // Enough keys to collide in the table, asked twice each, with and
        // without a secret.
        for round in 0..2 {
            for key in (0..300)
                .map(|n| format!("k{n}"))
                .chain([long.clone(), String::new()])
            {
                for secret in [None, Some(&secret)] {
                    assert_eq!(
                        recent.identity(secret, &key),
                        Identity::digest(secret, &key),
                        "{key} round {round}"
                    );
                }
            }
        }
        assert!(recent
            .entries
            .iter()
            .flatten()
            .all(|(secret, key, id)| *id == Identity::digest(secret.as_ref(), key)));
        assert!(recent
            .entries
            .iter()
            .flatten()
            .all(|(_, key, _)| key.len() <= RECENT_MAX_KEY));
    }

    #[test]
    fn a_secret_keys_the_identity() {
        let secret = [1u8; 32];
        let other = [2u8; 32];
        let key = "c\u{1f}header:x\u{1f}v";
        assert_ne!(
            Identity::keyed(Some(&secret), key),
            Identity::keyed(None, key)
        );
        assert_ne!(
            Identity::keyed(Some(&secret), key),
            Identity::keyed(Some(&other), key)
        );
        assert_eq!(
            Identity::keyed(Some(&secret), key),
            Identity::keyed(Some(&secret), key)
        );
    }

    #[test]
    fn partitions_and_dedicated_tables_have_keys_of_their_own() {
        let alice = Table::partitioned(Region::Enforced, "alice", 16, None);
        let bob = Table::partitioned(Region::Enforced, "bob", 16, None);
        assert_ne!(alice.slot_key(3), bob.slot_key(3));
        assert_ne!(alice.slot_key(3), Table::enforced(16).slot_key(3));
        assert!(alice.slot_key(3).starts_with("mcp-policy/v1/slot/"));
        let one = Table::dedicated(Region::Enforced, "a");
        assert_eq!(one.slots(), 1);
        assert_ne!(
            one.slot_key(0),
            Table::dedicated(Region::Enforced, "b").slot_key(0)
        );
        assert_ne!(
            one.slot_key(0),
            Table::dedicated(Region::Shadow, "a").slot_key(0)
        );
    }

    #[test]
    fn slot_counts_are_clamped_and_regions_apart() {
        assert_eq!(Table::enforced(0).slots(), 1);
        assert_eq!(Table::shadow(u32::MAX).slots(), MAX_SLOTS);
        assert_eq!(Table::default().slots(), DEFAULT_SLOTS);
        assert_eq!(Table::enforced(8).slot_key(3), "mcp-policy/v1/slot/3");
        assert_eq!(Table::shadow(8).slot_key(3), "mcp-policy/v1/dry-slot/3");
        assert_eq!(Table::enforced(8).slot_key(0), "mcp-policy/v1/slot/0");
        assert_eq!(
            Table::enforced(8).slot_key(u32::MAX),
            "mcp-policy/v1/slot/4294967295"
        );
    }
}
