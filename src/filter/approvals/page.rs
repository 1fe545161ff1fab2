//! The approval page: one self-contained HTML document (inline style and
//! script, no external assets), served with a Content-Security-Policy that
//! allows exactly its own script and style (by hash) and requests to its
//! own origin. Every value it shows is set as text, never as markup.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::filter::refusal::ReplyKind;
use crate::host::LocalReply;

const PAGE: &str = include_str!("page.html");

/// The text between `open` and `close` in the page (what a CSP hash covers).
fn inline(open: &str, close: &str) -> &'static str {
    PAGE.split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map_or("", |(inside, _)| inside)
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(inline("<script>", "</script>")),
        hash(inline("<style>", "</style>")),
    )
}

/// The page, for a GET (or HEAD: the body is dropped by Envoy).
pub fn reply() -> LocalReply {
    LocalReply {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("content-security-policy".into(), content_security_policy()),
            ("cache-control".into(), "no-store".into()),
            ("x-content-type-options".into(), "nosniff".into()),
            ("referrer-policy".into(), "no-referrer".into()),
            ("x-frame-options".into(), "DENY".into()),
        ],
        body: PAGE.as_bytes().to_vec(),
        details: ReplyKind::ApprovalPage.details(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_pages_own_script_and_style_only() {
        let csp = content_security_policy();
        assert!(inline("<script>", "</script>").contains("textContent"));
        assert!(!inline("<script>", "</script>").contains("innerHTML"));
        assert!(
            !PAGE.contains("src=") && !PAGE.contains("href="),
            "no external assets"
        );
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(csp.matches("'sha256-").count(), 2);
    }
}
