//! What the filter reads from request headers.

/// The parts of the request headers the filter decides on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub path: String,
    pub bearer: Bearer,
    pub session_id: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_length: Option<u64>,
    pub protocol_version: Option<String>,
    /// Every header, names lowercased, for `header:<name>` scopes.
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Bearer {
    #[default]
    Missing,
    Malformed,
    Token(String),
}

impl RequestHead {
    pub fn from_headers(headers: Vec<(String, String)>) -> RequestHead {
        let mut head = RequestHead::default();
        let mut authorizations = 0;
        for (name, value) in &headers {
            match name.to_ascii_lowercase().as_str() {
                ":method" => head.method = value.clone(),
                ":path" => head.path = value.clone(),
                "authorization" => {
                    authorizations += 1;
                    head.bearer = parse_bearer(value);
                }
                "mcp-session-id" => head.session_id = Some(value.clone()),
                "content-type" => head.content_type = Some(value.clone()),
                "content-encoding" => head.content_encoding = Some(value.clone()),
                "content-length" => head.content_length = value.trim().parse().ok(),
                "mcp-protocol-version" => head.protocol_version = Some(value.clone()),
                _ => {}
            }
        }
        if authorizations > 1 {
            head.bearer = Bearer::Malformed;
        }
        head.headers = headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        head
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }

    /// Methods whose requests carry a JSON-RPC body.
    pub fn expects_body(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS")
    }

    /// True when the body is declared with an encoding other than identity.
    pub fn body_is_encoded(&self) -> bool {
        self.content_encoding
            .as_deref()
            .is_some_and(|encoding| !encoding.trim().eq_ignore_ascii_case("identity"))
    }

    /// True when the content type is `application/json`, in any case, with any parameters.
    pub fn body_is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(is_json_media_type)
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
        RequestHead::from_headers(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
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
