//! JSON pointers (RFC 6901): every rule, error and position names a place
//! in a document as a JSON pointer.

use std::borrow::Cow;

/// Escapes one reference token: `~` becomes `~0` and `/` becomes `~1`.
pub(crate) fn escape_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Appends `/` and one escaped reference token to `pointer`.
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&escape_token(token));
}

/// Appends `/` and an array index to `pointer`.
pub(crate) fn push_index(pointer: &mut String, index: usize) {
    use std::fmt::Write as _;
    let _ = write!(pointer, "/{index}");
}

/// `base` followed by one escaped reference token.
pub(crate) fn join(base: &str, token: &str) -> String {
    let mut out = String::with_capacity(base.len() + token.len() + 1);
    out.push_str(base);
    push_token(&mut out, token);
    out
}

/// `base` followed by an array index.
pub(crate) fn join_index(base: &str, index: usize) -> String {
    let mut out = base.to_owned();
    push_index(&mut out, index);
    out
}

/// The pointer of the parent of `pointer` (`None` for the root `""`).
pub(crate) fn parent(pointer: &str) -> Option<&str> {
    let at = pointer.bytes().rposition(|byte| byte == b'/')?;
    pointer.get(..at)
}

/// `pointer` and each of its ancestors, the root `""` last.
pub(crate) fn ancestry(pointer: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(pointer), |at| parent(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_tilde_and_slash() {
        assert_eq!(escape_token("plain"), "plain");
        assert!(matches!(escape_token("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_token("resources/read"), "resources~1read");
        assert_eq!(escape_token("a~/b"), "a~0~1b");
        assert_eq!(
            join("/methods", "resources/read"),
            "/methods/resources~1read"
        );
        assert_eq!(join_index("/hide", 3), "/hide/3");
        let mut pointer = String::from("/a");
        push_token(&mut pointer, "~");
        push_index(&mut pointer, 0);
        assert_eq!(pointer, "/a/~0/0");
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/tools/x/limits/0"), Some("/tools/x/limits"));
        assert_eq!(parent("/tools"), Some(""));
        assert_eq!(parent(""), None);
        assert_eq!(ancestry("/a/b").collect::<Vec<_>>(), ["/a/b", "/a", ""]);
    }
}
