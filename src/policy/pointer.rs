//! JSON pointer (RFC 6901) helpers: every rule and every error names a place
//! in the policy document as a JSON pointer.

/// Escapes one reference token: `~` becomes `~0` and `/` becomes `~1`.
pub(crate) fn escape(token: &str) -> String {
    if !token.contains(['~', '/']) {
        return token.to_owned();
    }
    token.replace('~', "~0").replace('/', "~1")
}

/// `base` followed by one escaped reference token.
pub(crate) fn join(base: &str, token: &str) -> String {
    let mut out = String::with_capacity(base.len() + token.len() + 1);
    out.push_str(base);
    out.push('/');
    out.push_str(&escape(token));
    out
}

/// `base` followed by an array index.
pub(crate) fn join_index(base: &str, index: usize) -> String {
    format!("{base}/{index}")
}

/// The pointer of the parent of `pointer` (`None` for the root `""`).
pub(crate) fn parent(pointer: &str) -> Option<&str> {
    pointer.rfind('/').and_then(|at| pointer.get(..at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_tilde_and_slash() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("resources/read"), "resources~1read");
        assert_eq!(escape("a~/b"), "a~0~1b");
        assert_eq!(
            join("/methods", "resources/read"),
            "/methods/resources~1read"
        );
        assert_eq!(join_index("/hide", 3), "/hide/3");
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/tools/x/limits/0"), Some("/tools/x/limits"));
        assert_eq!(parent("/tools"), Some(""));
        assert_eq!(parent(""), None);
    }
}
