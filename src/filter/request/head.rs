//! What the filter reads from request headers.

use crate::host::HeaderMap;

/// The request headers as the proxy gave them, where the ones the filter
/// decides on are, and the bearer token. Where one of those is repeated, the
/// last one counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub headers: HeaderMap,
    pub bearer: Bearer,
    method: Option<usize>,
    path: Option<usize>,
    session_id: Option<usize>,
    protocol_version: Option<usize>,
    content_type: Option<usize>,
    content_encoding: Option<usize>,
    content_length: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Bearer {
    #[default]
    Missing,
    Malformed,
    Token(String),
}

impl RequestHead {
    pub fn from_headers(headers: HeaderMap) -> RequestHead {
        let mut head = RequestHead::default();
        let mut authorization = None;
        let mut authorizations = 0;
        for (index, (name, value)) in headers.iter().enumerate() {
            let slot = match name.len() {
                5 if name == ":path" => &mut head.path,
                7 if name == ":method" => &mut head.method,
                12 if name.eq_ignore_ascii_case("content-type") => &mut head.content_type,
                13 if name.eq_ignore_ascii_case("authorization") => {
                    authorizations += 1;
                    authorization = Some(value);
                    continue;
                }
                14 if name.eq_ignore_ascii_case("mcp-session-id") => &mut head.session_id,
                14 if name.eq_ignore_ascii_case("content-length") => &mut head.content_length,
                16 if name.eq_ignore_ascii_case("content-encoding") => &mut head.content_encoding,
                20 if name.eq_ignore_ascii_case("mcp-protocol-version") => {
                    &mut head.protocol_version
                }
                _ => continue,
            };
            *slot = Some(index);
        }
        head.bearer = match (authorization, authorizations) {
            (Some(value), 1) => parse_bearer(value),
            (None, _) => Bearer::Missing,
            _ => Bearer::Malformed,
        };
        head.headers = headers;
        head
    }

    fn value(&self, index: Option<usize>) -> Option<&str> {
        self.headers.value(index?)
    }

    pub fn method(&self) -> &str {
        self.value(self.method).unwrap_or("")
    }

    pub fn path(&self) -> &str {
        self.value(self.path).unwrap_or("")
    }

    pub fn session_id(&self) -> Option<&str> {
        self.value(self.session_id)
    }

    pub fn protocol_version(&self) -> Option<&str> {
        self.value(self.protocol_version)
    }

    pub fn content_length(&self) -> Option<u64> {
        self.value(self.content_length)
            .and_then(|value| value.trim().parse().ok())
    }

    /// The first value of a header, for `header:<name>` scopes.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// Methods whose requests carry a JSON-RPC body.
    pub fn expects_body(&self) -> bool {
        !matches!(self.method(), "GET" | "HEAD" | "DELETE" | "OPTIONS")
    }

    /// True when the body is declared with an encoding other than identity.
    pub fn body_is_encoded(&self) -> bool {
        self.value(self.content_encoding)
            .is_some_and(|encoding| !encoding.trim().eq_ignore_ascii_case("identity"))
    }

    /// True when the content type is `application/json`, in any case, with any parameters.
    pub fn body_is_json(&self) -> bool {
        self.value(self.content_type)
            .is_some_and(is_json_media_type)
    }
}

pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn parse_bearer(value: &str) -> Bearer {
    let value = value.trim();
    let Some((scheme, token)) = value.split_once(' ') else {
        return Bearer::Malformed;
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Bearer::Malformed;
    }
    Bearer::Token(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(pairs: &[(&str, &str)]) -> RequestHead {
        RequestHead::from_headers(pairs.iter().copied().collect())
    }

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(
            head(&[("authorization", "Bearer abc")]).bearer,
            Bearer::Token("abc".into())
        );
        assert_eq!(
            head(&[("Authorization", "bearer  abc ")]).bearer,
            Bearer::Token("abc".into())
        );
        assert_eq!(
            head(&[("authorization", "Basic abc")]).bearer,
            Bearer::Malformed
        );
        assert_eq!(
            head(&[("authorization", "Bearer")]).bearer,
            Bearer::Malformed
        );
        assert_eq!(head(&[]).bearer, Bearer::Missing);
        assert_eq!(
            head(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]).bearer,
            Bearer::Malformed
        );
    }

    #[test]
    fn the_last_of_a_repeated_header_counts() {
        let head = head(&[
            (":method", "POST"),
            (":path", "/mcp"),
            ("Mcp-Session-Id", "a"),
            ("mcp-session-id", "b"),
            ("content-length", " 12 "),
            ("MCP-Protocol-Version", "2025-06-18"),
        ]);
        assert_eq!(head.method(), "POST");
        assert_eq!(head.path(), "/mcp");
        assert_eq!(head.session_id(), Some("b"));
        assert_eq!(head.content_length(), Some(12));
        assert_eq!(head.protocol_version(), Some("2025-06-18"));
        assert_eq!(head.header("mcp-session-id"), Some("a"));
        assert!(!head.body_is_json());
        assert_eq!(RequestHead::default().method(), "");
    }

    #[test]
    fn json_media_type_ignores_case_and_parameters() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type(" application/json ;charset=UTF-8"));
        assert!(!is_json_media_type("application/json-seq"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/jsonx"));
    }

    #[test]
    fn encoded_bodies_are_detected() {
        assert!(head(&[("content-encoding", "gzip")]).body_is_encoded());
        assert!(!head(&[("content-encoding", "identity")]).body_is_encoded());
        assert!(!head(&[]).body_is_encoded());
    }
}
