//! Byte-string search for the body scans that decide whether a body needs
//! parsing at all.

/// Whether `needle` occurs in `haystack`: candidates are found by their first
/// byte, so a scan costs little more than one pass.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &byte)| byte == first)
        .any(|(at, _)| {
            haystack
                .get(at + 1..)
                .is_some_and(|after| after.starts_with(rest))
        })
}

#[cfg(test)]
mod tests {
    use super::contains_bytes;

    #[test]
    fn finds_needles_anywhere_and_only_whole() {
        assert!(contains_bytes(b"abc", b""));
        assert!(contains_bytes(b"x-mcp-header", b"x-mcp-header"));
        assert!(contains_bytes(b"..x-x-mcp-header", b"x-mcp-header"));
        assert!(!contains_bytes(b"x-mcp-heade", b"x-mcp-header"));
        assert!(!contains_bytes(b"", b"a"));
        assert!(contains_bytes(b"an error", b"error"));
        assert!(!contains_bytes(b"an Error", b"error"));
    }
}
