//! FNV-1a, 64 bit: a small hash that is the same in every build, worker and
//! VM reload (unlike `std`'s hashers), for placing keys in slots.

/// FNV-1a of `bytes`, from the offset basis XOR `seed`.
pub(crate) fn fnv1a64(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(fnv1a64(0, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(0, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(0, b"foobar"), 0x8594_4171_f739_67e8);
        assert_ne!(fnv1a64(1, b"a"), fnv1a64(0, b"a"));
    }
}
