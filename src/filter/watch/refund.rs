//! Quota is taken before a call is forwarded and given back only when the
//! upstream did not execute it:
//!
//! | upstream outcome | refunded |
//! |---|---|
//! | Envoy never sent the request: connection failure, no healthy host, overflow, no route (its response flags say so, with one attempt) | yes |
//! | HTTP 4xx (refused before execution) | yes |
//! | a JSON-RPC error response to the call's id | yes |
//! | an upstream timeout, a reset after the request was sent, a retried request, any other 5xx without a JSON-RPC error reply | no |
//! | a result, including `isError: true` (the tool ran) | no |
//! | the client disconnects mid-call | no |
//! | 202 (the legacy transport's POST) | no |
//! | the stream ends without a reply | no |
//!
//! The response is watched, never held: chunks pass as they arrive and the
//! watch reads a copy (bounded) to find the reply to the call's id. The same
//! watch picks up a task id the reply creates, so the task can be bound to
//! the grant that started it.

use serde_json::Value;

use crate::counter::Reservation;
use crate::filter::bytes::contains_bytes;
use crate::mcp::{RequestId, SseSplitter};

/// JSON bodies larger than this are not read for an error reply (no refund).
const MAX_WATCHED_JSON: usize = 1024 * 1024;

pub struct RefundWatch {
    /// The forwarded call's id; `None` for a batch, refunded only on HTTP failure.
    id: Option<RequestId>,
    /// Quota to give back; `None` when the call charged nothing.
    reservation: Option<Reservation>,
    body: Body,
    /// A task the reply created (`result.task.taskId`).
    task_id: Option<String>,
}

enum Body {
    Unknown,
    Json(Vec<u8>),
    Stream(SseSplitter),
    /// Nothing more to learn from the body.
    Ignored,
}

/// What the watch concluded.
#[derive(Debug, PartialEq, Eq)]
pub enum Settlement {
    Pending,
    Refund,
    Keep,
}

impl RefundWatch {
    pub fn new(id: Option<RequestId>, reservation: Option<Reservation>) -> RefundWatch {
        RefundWatch {
            id,
            reservation,
            body: Body::Unknown,
            task_id: None,
        }
    }

    pub fn take_reservation(&mut self) -> Option<Reservation> {
        self.reservation.take()
    }

    pub fn take_task_id(&mut self) -> Option<String> {
        self.task_id.take()
    }

    /// `never_sent`: Envoy reports that no attempt reached the upstream.
    pub fn on_headers(
        &mut self,
        status: Option<u32>,
        content_type: &str,
        never_sent: bool,
    ) -> Settlement {
        match status {
            Some(400..=499) => return Settlement::Refund,
            Some(500..=599) if never_sent => return Settlement::Refund,
            // A 5xx may follow a call that ran: only a JSON-RPC error reply
            // to the call, read below, says it did not.
            None => return Settlement::Keep,
            Some(_) => {}
        }
        if self.id.is_none() {
            return Settlement::Keep;
        }
        let content_type = content_type.trim().to_ascii_lowercase();
        self.body = if content_type.starts_with("text/event-stream") {
            Body::Stream(SseSplitter::new())
        } else if crate::filter::request::is_json_media_type(&content_type) {
            Body::Json(Vec::new())
        } else {
            Body::Ignored
        };
        match self.body {
            Body::Ignored => Settlement::Keep,
            _ => Settlement::Pending,
        }
    }

    pub fn on_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Settlement {
        let Some(id) = &self.id else {
            return Settlement::Keep;
        };
        let verdict = match &mut self.body {
            Body::Unknown | Body::Ignored => Settlement::Keep,
            Body::Json(buffer) => {
                if buffer.len() + chunk.len() > MAX_WATCHED_JSON {
                    self.body = Body::Ignored;
                    return Settlement::Keep;
                }
                buffer.extend_from_slice(chunk);
                if end_of_stream {
                    if cannot_name_error_or_task(buffer) {
                        // Whether or not it is the reply, the verdict is Keep.
                        self.body = Body::Ignored;
                        return Settlement::Keep;
                    }
                    match read_reply(buffer, id) {
                        Some((verdict, task)) => {
                            self.task_id = task;
                            verdict
                        }
                        None => Settlement::Keep,
                    }
                } else {
                    Settlement::Pending
                }
            }
            Body::Stream(splitter) => {
                let mut verdict = Settlement::Pending;
                for event in splitter.push(chunk) {
                    if let Some((found, task)) = read_reply(event.data.as_bytes(), id) {
                        verdict = found;
                        self.task_id = task;
                        break;
                    }
                }
                if verdict == Settlement::Pending && end_of_stream {
                    Settlement::Keep
                } else {
                    verdict
                }
            }
        };
        if verdict != Settlement::Pending {
            self.body = Body::Ignored;
        }
        verdict
    }
}

/// True when `body` cannot hold an `error` member or a task id: it spells
/// neither word and has no `\u` escape that could spell one. Any reply to the
/// call's id is then a result without a task, as `read_reply` would find.
fn cannot_name_error_or_task(body: &[u8]) -> bool {
    !contains_bytes(body, b"error")
        && !contains_bytes(body, b"task")
        && !contains_bytes(body, b"\\u")
}

/// `Some(Refund)` for an error reply to `id`, `Some(Keep)` for a result
/// (with the task it created, if any), `None` when the message is not the
/// reply to `id`.
fn read_reply(message: &[u8], id: &RequestId) -> Option<(Settlement, Option<String>)> {
    let parsed: Value = serde_json::from_slice(message).ok()?;
    let candidates = match &parsed {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        single => vec![single],
    };
    candidates.into_iter().find_map(|message| {
        let reply_id = message.get("id").and_then(RequestId::from_value)?;
        if &reply_id != id {
            return None;
        }
        if message.get("error").is_some() {
            Some((Settlement::Refund, None))
        } else if let Some(result) = message.get("result") {
            let task = result
                .pointer("/task/taskId")
                .or_else(|| {
                    result.get("taskId").filter(|_| {
                        result.get("resultType").and_then(Value::as_str) == Some("task")
                    })
                })
                .and_then(Value::as_str)
                .map(str::to_string);
            Some((Settlement::Keep, task))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> RefundWatch {
        RefundWatch::new(RequestId::from_integer(7), Some(Reservation::default()))
    }

    #[test]
    fn rejections_and_requests_never_sent_refund() {
        for status in [400, 404, 413, 429] {
            assert_eq!(
                watch().on_headers(Some(status), "application/json", false),
                Settlement::Refund,
                "{status}"
            );
        }
        for status in [500, 502, 503, 504] {
            assert_eq!(
                watch().on_headers(Some(status), "text/plain", false),
                Settlement::Keep,
                "{status} may have run"
            );
            let mut w = watch();
            assert_eq!(
                w.on_headers(Some(status), "application/json", false),
                Settlement::Pending
            );
            assert_eq!(
                w.on_body(
                    br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"m"}}"#,
                    true
                ),
                Settlement::Refund,
                "{status} with the call's error reply"
            );
            assert_eq!(
                watch().on_headers(Some(status), "text/plain", true),
                Settlement::Refund,
                "{status} never sent"
            );
        }
        assert_eq!(watch().on_headers(Some(202), "", false), Settlement::Keep);
    }

    #[test]
    fn json_error_reply_refunds_and_tool_errors_do_not() {
        let mut w = watch();
        assert_eq!(
            w.on_headers(Some(200), "application/json", false),
            Settlement::Pending
        );
        assert_eq!(
            w.on_body(br#"{"jsonrpc":"2.0","id":7,"#, false),
            Settlement::Pending
        );
        assert_eq!(
            w.on_body(br#""error":{"code":-32603,"message":"x"}}"#, true),
            Settlement::Refund
        );

        let mut w = watch();
        w.on_headers(Some(200), "application/json; charset=utf-8", false);
        let ran = br#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":true}}"#;
        assert_eq!(w.on_body(ran, true), Settlement::Keep);
    }

    #[test]
    fn event_stream_reply_is_found_among_other_events() {
        let mut w = watch();
        assert_eq!(
            w.on_headers(Some(200), "text/event-stream", false),
            Settlement::Pending
        );
        let progress = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
        assert_eq!(w.on_body(progress, false), Settlement::Pending);
        let error = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-1,\"message\":\"m\"}}\n\n";
        assert_eq!(w.on_body(error, false), Settlement::Refund);
    }

    #[test]
    fn a_stream_that_ends_without_a_reply_keeps_the_charge() {
        let mut w = watch();
        w.on_headers(Some(200), "text/event-stream", false);
        assert_eq!(w.on_body(b": keepalive\n\n", true), Settlement::Keep);
    }

    #[test]
    fn the_task_a_reply_creates_is_reported() {
        let mut w = watch();
        w.on_headers(Some(200), "application/json", false);
        let created =
            br#"{"jsonrpc":"2.0","id":7,"result":{"task":{"taskId":"t-42","status":"working"}}}"#;
        assert_eq!(w.on_body(created, true), Settlement::Keep);
        assert_eq!(w.take_task_id().as_deref(), Some("t-42"));
    }

    #[test]
    fn members_spelled_with_escapes_are_still_read() {
        let mut w = watch();
        w.on_headers(Some(200), "application/json", false);
        let escaped = br#"{"jsonrpc":"2.0","id":7,"\u0065rror":{"code":-1,"message":"m"}}"#;
        assert_eq!(w.on_body(escaped, true), Settlement::Refund);
        let mut w = watch();
        w.on_headers(Some(200), "application/json", false);
        let task = br#"{"jsonrpc":"2.0","id":7,"result":{"\u0074ask":{"\u0074askId":"t-1"}}}"#;
        assert_eq!(w.on_body(task, true), Settlement::Keep);
        assert_eq!(w.take_task_id().as_deref(), Some("t-1"));
        assert!(cannot_name_error_or_task(
            br#"{"jsonrpc":"2.0","id":7,"result":{"content":[],"isError":false}}"#
        ));
    }

    #[test]
    fn batches_refund_only_on_http_failure() {
        let mut w = RefundWatch::new(None, Some(Reservation::default()));
        assert_eq!(
            w.on_headers(Some(200), "application/json", false),
            Settlement::Keep
        );
        let mut w = RefundWatch::new(None, Some(Reservation::default()));
        assert_eq!(
            w.on_headers(Some(502), "text/plain", true),
            Settlement::Refund
        );
    }
}
