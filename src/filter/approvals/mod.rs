//! The approval page and API, served by the filter itself under the
//! configured prefix (`/mcp-policy` by default) and never forwarded:
//! - `GET <prefix>/approvals`: the page (`page`), to anyone;
//! - `GET <prefix>/approvals` with `Accept: application/json`: the pending
//!   approvals the caller's grant may decide (`api::list`);
//! - `POST <prefix>/approvals/<id>` with `{"decision": ...}` (`api::decide`).
//!
//! An approver authenticates as any grant does (token, JWT, mTLS). A POST
//! must be `application/json`, which a cross-site form cannot send.

pub mod api;
pub mod page;

use super::request::RequestHead;
use crate::config::Config;

/// What a request under the prefix asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Page,
    List,
    Decide {
        id: String,
    },
    /// Under the prefix but nothing served there (or the wrong method).
    Refused {
        status: u32,
        message: &'static str,
    },
}

/// The route of a request, if it is under the approval prefix.
pub fn route(config: &Config, head: &RequestHead) -> Option<Route> {
    let prefix = &config.settings.approvals.as_ref()?.path_prefix;
    let path = head.path().split(['?', '#']).next().unwrap_or("");
    let rest = path.strip_prefix(prefix.as_str())?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let method = head.method();
    let route = match rest.strip_prefix("/approvals") {
        Some("" | "/") => match method {
            "GET" | "HEAD" if wants_json(head) => Route::List,
            "GET" | "HEAD" => Route::Page,
            _ => Route::Refused {
                status: 405,
                message: "use GET for the approvals",
            },
        },
        Some(id_path) => match (method, id_path.strip_prefix('/')) {
            ("POST", Some(id)) if valid_id(id) => Route::Decide { id: id.to_owned() },
            ("POST", _) => Route::Refused {
                status: 404,
                message: "no such approval request",
            },
            _ => Route::Refused {
                status: 405,
                message: "use POST to decide an approval request",
            },
        },
        None => Route::Refused {
            status: 404,
            message: "nothing is served here",
        },
    };
    Some(route)
}

fn wants_json(head: &RequestHead) -> bool {
    head.headers
        .get("accept")
        .is_some_and(|accept| accept.contains("application/json"))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HeaderMap;
    use serde_json::json;

    fn head(method: &str, path: &str, accept: &str) -> RequestHead {
        let headers: HeaderMap = [(":method", method), (":path", path), ("accept", accept)]
            .into_iter()
            .collect();
        RequestHead::from_headers(headers)
    }

    #[test]
    fn requests_under_the_prefix_are_routed_and_no_others() {
        let config = Config::from_json_text(
            &json!({"policy": {"version": "1", "default": "deny"},
                "session_keys": ["c2Vzc2lvbi1rZXktZm9yLXRlc3RzLW9ubHktMzJieXQ="],
                "approvals": {"enabled": true, "path_prefix": "/gw"},
                "grants": [{"name": "carol", "token_sha256": ["1159bf80f41ccf3d5efafda50135b734fe094f032809efd1a5d85455c5359b40"]}]})
            .to_string(),
        )
        .unwrap();
        let cases = [
            (head("GET", "/gw/approvals", "text/html"), Some(Route::Page)),
            (
                head("GET", "/gw/approvals?id=ab", "application/json"),
                Some(Route::List),
            ),
            (
                head("POST", "/gw/approvals/0a1b", "*/*"),
                Some(Route::Decide { id: "0a1b".into() }),
            ),
            (
                head("POST", "/gw/approvals/<x>", "*/*"),
                Some(Route::Refused {
                    status: 404,
                    message: "no such approval request",
                }),
            ),
            (
                head("DELETE", "/gw/approvals", "*/*"),
                Some(Route::Refused {
                    status: 405,
                    message: "use GET for the approvals",
                }),
            ),
            (
                head("GET", "/gw/other", "*/*"),
                Some(Route::Refused {
                    status: 404,
                    message: "nothing is served here",
                }),
            ),
            (head("GET", "/gwx/approvals", "*/*"), None),
            (head("POST", "/mcp", "*/*"), None),
        ];
        for (head, expected) in cases {
            assert_eq!(route(&config, &head), expected, "{}", head.path());
        }
    }
}
