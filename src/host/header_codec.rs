//! The proxy-wasm header map wire format, in both directions: a little-endian
//! u32 count, then a (name length, value length) u32 pair per header, then
//! each name and each value followed by a NUL byte. The host hands request
//! and response headers over in it, and local replies carry their headers in
//! it. Pure: nothing here calls the host or panics, whatever the bytes.

use super::HeaderMap;

/// Reads a map the host handed over; `None` when the counts or lengths run
/// past the bytes. Names and values that are not UTF-8 are read lossily
/// (U+FFFD), so a client's bytes cannot make the filter fail. The NUL after
/// the last value and any bytes after it are not checked.
pub fn decode_header_map(bytes: &[u8]) -> Option<HeaderMap> {
    if bytes.is_empty() {
        return Some(HeaderMap::default());
    }
    let read_u32 = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let count = read_u32(0)?;
    let mut cursor = count.checked_mul(8)?.checked_add(4)?;
    if cursor > bytes.len() {
        return None;
    }
    let mut map = HeaderMap::with_capacity(count, bytes.len().saturating_sub(cursor));
    for index in 0..count {
        let sizes_at = 4 + index * 8;
        let name_len = read_u32(sizes_at)?;
        let value_len = read_u32(sizes_at + 4)?;
        let name = bytes.get(cursor..cursor.checked_add(name_len)?)?;
        cursor = cursor.checked_add(name_len)?.checked_add(1)?;
        let value = bytes.get(cursor..cursor.checked_add(value_len)?)?;
        cursor = cursor.checked_add(value_len)?.checked_add(1)?;
        map.push(
            &String::from_utf8_lossy(name),
            &String::from_utf8_lossy(value),
        );
    }
    Some(map)
}

/// Writes `pairs` in the wire format; `None` if a count or a length does not
/// fit in a u32.
pub fn encode_header_map<N: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(N, V)]) -> Option<Vec<u8>> {
    let mut bytes = u32::try_from(pairs.len()).ok()?.to_le_bytes().to_vec();
    for (name, value) in pairs {
        bytes.extend_from_slice(&u32::try_from(name.as_ref().len()).ok()?.to_le_bytes());
        bytes.extend_from_slice(&u32::try_from(value.as_ref().len()).ok()?.to_le_bytes());
    }
    for (name, value) in pairs {
        bytes.extend_from_slice(name.as_ref());
        bytes.push(0);
        bytes.extend_from_slice(value.as_ref());
        bytes.push(0);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(map: &HeaderMap) -> Vec<(&str, &str)> {
        map.iter().collect()
    }

    #[test]
    fn round_trips_order_duplicates_empty_values_and_nuls() {
        let headers = [
            (":method", "POST"),
            ("x-a", ""),
            ("X-A", "2"),
            ("", "empty name"),
            ("nul", "a\0b"),
            ("é", "ü"),
        ];
        let bytes = encode_header_map(&headers).unwrap();
        assert_eq!(pairs(&decode_header_map(&bytes).unwrap()), headers);
    }

    #[test]
    fn the_wire_format_is_the_abis() {
        let bytes = encode_header_map(&[("ab", "c")]).unwrap();
        assert_eq!(bytes, b"\x01\0\0\0\x02\0\0\0\x01\0\0\0ab\0c\0");
    }

    #[test]
    fn empty_maps() {
        let none: [(&str, &str); 0] = [];
        let bytes = encode_header_map(&none).unwrap();
        assert_eq!(bytes, [0, 0, 0, 0]);
        assert!(decode_header_map(&bytes).unwrap().is_empty());
        // The host hands over no bytes at all for an empty map.
        assert!(decode_header_map(&[]).unwrap().is_empty());
    }

    #[test]
    fn truncated_maps_are_refused() {
        let bytes = encode_header_map(&[("name", "value"), ("x", "")]).unwrap();
        // The final NUL is not needed; any shorter prefix is refused.
        let (last, shorter) = (bytes.len() - 1, bytes.len() - 2);
        assert_eq!(decode_header_map(&bytes[..last]).unwrap().len(), 2);
        for cut in 1..=shorter {
            assert_eq!(decode_header_map(&bytes[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn oversized_counts_and_lengths_are_refused() {
        assert_eq!(decode_header_map(&u32::MAX.to_le_bytes()), None);
        assert_eq!(
            decode_header_map(b"\x02\0\0\0\x01\0\0\0\x01\0\0\0a\0b\0"),
            None
        );
        let mut long_name = b"\x01\0\0\0".to_vec();
        long_name.extend_from_slice(&u32::MAX.to_le_bytes());
        long_name.extend_from_slice(b"\0\0\0\0abc\0\0");
        assert_eq!(decode_header_map(&long_name), None);
    }

    #[test]
    fn non_utf8_bytes_are_read_lossily() {
        let headers: [(&[u8], &[u8]); 2] = [(b"x-bin\xff", b"\xc3\x28ok"), (b"ok", b"\x80")];
        let bytes = encode_header_map(&headers).unwrap();
        let map = decode_header_map(&bytes).unwrap();
        assert_eq!(
            pairs(&map),
            [("x-bin\u{fffd}", "\u{fffd}(ok"), ("ok", "\u{fffd}")]
        );
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut bytes = encode_header_map(&[("a", "b")]).unwrap();
        bytes.extend_from_slice(b"junk");
        assert_eq!(pairs(&decode_header_map(&bytes).unwrap()), [("a", "b")]);
    }
}
