//! Upstream failures as JSON-RPC: when the upstream (or Envoy for it)
//! answers a JSON-RPC request with something that is not a JSON-RPC reply
//! (a 5xx, a 413, a connection failure, an HTML page), the client gets a
//! JSON-RPC error with the request's id instead, with the same HTTP status:
//! `-32603`, and the upstream's status in `data`.

use serde_json::json;

use crate::filter::refusal::{json_reply, ReplyKind};
use crate::filter::request::is_json_media_type;
use crate::host::{HeaderMap, LocalReply};
use crate::mcp::{error_response_with_data, RequestId, INTERNAL_ERROR};

/// The requests whose replies the response must carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub ids: Vec<RequestId>,
    pub is_batch: bool,
}

/// The JSON-RPC error reply that replaces a response carrying no JSON-RPC
/// reply; `None` for a response that may carry one (JSON, an event stream),
/// or one that answers no request.
pub fn replacement(expected: &Expected, headers: &HeaderMap) -> Option<LocalReply> {
    if expected.ids.is_empty() {
        return None;
    }
    let status: u32 = headers.get(":status")?.trim().parse().ok()?;
    let content_type = headers
        .get("content-type")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let carries_json_rpc =
        is_json_media_type(&content_type) || content_type.starts_with("text/event-stream");
    if carries_json_rpc || matches!(status, 202 | 204) {
        return None;
    }
    let message = format!("The MCP server did not answer with JSON-RPC (HTTP {status})");
    let data = json!({"status": status});
    let mut replies = expected
        .ids
        .iter()
        .map(|id| error_response_with_data(Some(id), INTERNAL_ERROR, &message, &data));
    let body = if expected.is_batch {
        let mut body = b"[".to_vec();
        for (index, reply) in replies.enumerate() {
            if index > 0 {
                body.push(b',');
            }
            body.extend(reply);
        }
        body.push(b']');
        body
    } else {
        replies.next()?
    };
    Some(json_reply(status, body, ReplyKind::UpstreamFailure))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(status: &str, content_type: &str) -> HeaderMap {
        [(":status", status), ("content-type", content_type)]
            .into_iter()
            .collect()
    }

    fn one(id: i64) -> Expected {
        Expected {
            ids: RequestId::from_integer(id).into_iter().collect(),
            is_batch: false,
        }
    }

    #[test]
    fn a_failure_without_json_rpc_becomes_an_error_with_the_id() {
        for (status, content_type) in [
            ("503", "text/plain"),
            ("413", "text/html; charset=utf-8"),
            ("502", ""),
            ("200", "text/html"),
        ] {
            let reply = replacement(&one(7), &headers(status, content_type))
                .unwrap_or_else(|| panic!("{status}"));
            assert_eq!(reply.status.to_string(), status);
            let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(body["id"], 7);
            assert_eq!(body["error"]["code"], -32603);
            assert_eq!(body["error"]["data"]["status"].to_string(), status);
            assert_eq!(reply.details, "mcp_policy_upstream_failure");
        }
    }

    #[test]
    fn json_rpc_replies_and_accepted_notifications_pass() {
        for (status, content_type) in [
            ("200", "application/json"),
            ("200", "text/event-stream"),
            ("400", "application/json"),
            ("500", "application/json"),
            ("202", ""),
        ] {
            assert_eq!(
                replacement(&one(7), &headers(status, content_type)),
                None,
                "{status} {content_type}"
            );
        }
        assert_eq!(
            replacement(&Expected::default(), &headers("503", "text/plain")),
            None
        );
    }

    #[test]
    fn a_batch_gets_one_error_per_request() {
        let expected = Expected {
            ids: vec![RequestId::from_string("a"), RequestId::from_string("b")],
            is_batch: true,
        };
        let reply = replacement(&expected, &headers("500", "text/html")).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body[0]["id"], "a");
        assert_eq!(body[1]["id"], "b");
    }
}
