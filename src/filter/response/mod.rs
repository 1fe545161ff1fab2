//! Step 3, the response: carrying out the plan made when the request was
//! forwarded. `tools/list` results lose the tools the grant may not see,
//! whether they come as JSON or in an event stream; GET streams are rewritten
//! event by event. What the filter cannot read or rewrite is never passed on:
//! the stream is reset.

mod approved;
mod event_stream;
mod plan;
mod upstream_error;

pub use event_stream::StreamRewriter;
pub use plan::{rewrite_json, BodyRewrite, ResponsePlan, Visibility};
pub use upstream_error::{replacement as upstream_error_reply, Expected};

use super::clock;
use super::observe;
use super::param_maps;
use super::request::is_json_media_type;
use crate::host::{Action, HeaderMap, Host};
use crate::mcp::{error_response, RequestId, SseSplitter, ToolsListStreamFilter, INTERNAL_ERROR};

/// What replaces a `tools/list` result the filter could not read: it is
/// never passed on unfiltered.
pub fn unreadable_tools_list(id: Option<&RequestId>) -> Vec<u8> {
    error_response(
        id,
        INTERNAL_ERROR,
        "tools/list response could not be read by the policy filter",
    )
}

/// Whether the plan needs the response headers read.
pub fn needs_headers(plan: &ResponsePlan) -> bool {
    !matches!(plan, ResponsePlan::Untouched)
}

/// Settles the plan once the response's type is known.
pub fn on_headers(
    plan: &mut ResponsePlan,
    host: &dyn Host,
    headers: &HeaderMap,
    end_of_stream: bool,
) {
    let content_type = headers
        .get("content-type")
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match std::mem::replace(plan, ResponsePlan::Untouched) {
        ResponsePlan::Stream(rewriter) => {
            if !end_of_stream && content_type.starts_with("text/event-stream") {
                *plan = ResponsePlan::Stream(rewriter);
                drop_content_length(host);
            }
        }
        ResponsePlan::ToolsList {
            ids,
            visibility,
            learns,
        } => {
            if end_of_stream {
                return;
            }
            if content_encoded(headers) {
                log::warn!(
                    "tools/list response is content-encoded; the filter cannot read it and refuses it"
                );
                *plan = ResponsePlan::ToolsListJson {
                    ids,
                    visibility,
                    learns,
                };
                if let Err(error) = host.set_response_header("content-encoding", None) {
                    log::error!("cannot drop content-encoding: {error}");
                }
                if let Err(error) =
                    host.set_response_header("content-type", Some("application/json"))
                {
                    log::error!("cannot set content-type: {error}");
                }
            } else if is_json_media_type(&content_type) {
                *plan = ResponsePlan::ToolsListJson {
                    ids,
                    visibility,
                    learns,
                };
            } else if content_type.starts_with("text/event-stream") {
                *plan = ResponsePlan::ToolsListStream {
                    filter: (!visibility.keeps_all()).then(|| ToolsListStreamFilter::new(ids)),
                    learner: learns.then(SseSplitter::new),
                    visibility,
                };
            } else {
                return;
            }
            drop_content_length(host);
        }
        ResponsePlan::Approved(rounds) => {
            if end_of_stream {
                return;
            }
            if content_encoded(headers) {
                // Its requestState, if any, passes as the upstream wrote
                // it; a retry carrying it is refused as not the filter's.
                log::warn!("the response to an approved call is content-encoded; its rounds cannot be carried");
                return;
            }
            if is_json_media_type(&content_type) {
                *plan = ResponsePlan::ApprovedJson(rounds);
            } else if content_type.starts_with("text/event-stream") {
                *plan = ResponsePlan::ApprovedStream(approved::RoundsStream::new(rounds));
            } else {
                return;
            }
            drop_content_length(host);
        }
        other => *plan = other,
    }
}

fn content_encoded(headers: &HeaderMap) -> bool {
    headers
        .get("content-encoding")
        .is_some_and(|encoding| !encoding.trim().eq_ignore_ascii_case("identity"))
}

fn drop_content_length(host: &dyn Host) {
    if let Err(error) = host.set_response_header("content-length", None) {
        log::error!("cannot drop content-length of a rewritten response: {error}");
    }
}

/// Rewrites a response body chunk as the plan says.
pub fn on_body(
    plan: &mut ResponsePlan,
    host: &dyn Host,
    body_size: usize,
    end_of_stream: bool,
) -> Action {
    match plan {
        ResponsePlan::Untouched | ResponsePlan::ToolsList { .. } | ResponsePlan::Approved(_) => {
            Action::Continue
        }
        ResponsePlan::ApprovedJson(rounds) => {
            if !end_of_stream {
                return Action::Pause;
            }
            let Ok(body) = host.response_body(0, body_size) else {
                return cut_off(host, "the response to an approved call could not be read");
            };
            let Ok(now_nanos) = host.now_nanos() else {
                return cut_off(host, "the clock could not be read");
            };
            match approved::rewrite_json(rounds, &body, now_nanos) {
                None => Action::Continue,
                Some(out) => replace_if_changed(host, body_size, &body, &out),
            }
        }
        ResponsePlan::ApprovedStream(stream) => {
            let Ok(chunk) = host.response_body(0, body_size) else {
                return cut_off(
                    host,
                    "the event stream of an approved call could not be read",
                );
            };
            let Ok(now_nanos) = host.now_nanos() else {
                return cut_off(host, "the clock could not be read");
            };
            let mut out = stream.push(&chunk, now_nanos);
            if end_of_stream {
                out.extend(stream.finish());
            }
            replace_if_changed(host, body_size, &chunk, &out)
        }
        ResponsePlan::Stream(rewriter) => {
            let Ok(chunk) = host.response_body(0, body_size) else {
                return cut_off(host, "an event stream could not be read");
            };
            let Ok(now_secs) = clock::now_secs(host) else {
                return cut_off(host, "the clock could not be read");
            };
            let mut out = rewriter.push(host, &chunk, now_secs);
            if end_of_stream {
                out.extend(rewriter.finish());
            }
            replace_if_changed(host, body_size, &chunk, &out)
        }
        ResponsePlan::ToolsListJson {
            ids,
            visibility,
            learns,
        } => {
            if !end_of_stream {
                return Action::Pause;
            }
            let rewrite = match host.response_body(0, body_size) {
                Ok(body) => {
                    if *learns {
                        if let Ok(now_secs) = clock::now_secs(host) {
                            param_maps::learn(host, &body, now_secs);
                        }
                    }
                    if visibility.keeps_all() {
                        BodyRewrite::Unchanged
                    } else {
                        rewrite_json(&body, ids, visibility)
                    }
                }
                Err(error) => BodyRewrite::Unreadable(error.to_string()),
            };
            let replacement = match rewrite {
                BodyRewrite::Unchanged => return Action::Continue,
                BodyRewrite::Replace(bytes) => bytes,
                BodyRewrite::Unreadable(detail) => {
                    log::error!(
                        "tools/list response not filtered ({detail}); replaced with an error"
                    );
                    observe::count(host, observe::FAIL_CLOSED, 1);
                    unreadable_tools_list(ids.first())
                }
            };
            match host.replace_response_body(0, body_size, &replacement) {
                Ok(()) => Action::Continue,
                Err(_) => cut_off(host, "a tools/list response could not be rewritten"),
            }
        }
        ResponsePlan::ToolsListStream {
            filter,
            learner,
            visibility,
        } => {
            let Ok(chunk) = host.response_body(0, body_size) else {
                return cut_off(host, "a tools/list event stream could not be read");
            };
            if let Some(learner) = learner {
                let now_secs = clock::now_secs(host).ok();
                for event in learner.push(&chunk) {
                    if let Some(now_secs) = now_secs {
                        param_maps::learn(host, event.data.as_bytes(), now_secs);
                    }
                }
            }
            let Some(filter) = filter else {
                return Action::Continue;
            };
            let keep = |name: &str| visibility.keeps(name);
            let mut out = filter.push(&chunk, &keep);
            if end_of_stream {
                out.extend(filter.finish(&keep));
            }
            replace_if_changed(host, body_size, &chunk, &out)
        }
    }
}

fn replace_if_changed(host: &dyn Host, body_size: usize, chunk: &[u8], out: &[u8]) -> Action {
    if out == chunk {
        return Action::Continue;
    }
    match host.replace_response_body(0, body_size, out) {
        Ok(()) => Action::Continue,
        Err(_) => cut_off(host, "an event stream could not be rewritten"),
    }
}

/// A chunk that needed filtering and cannot be: the stream is reset, and
/// the chunk is held, never passed on.
fn cut_off(host: &dyn Host, why: &str) -> Action {
    log::error!("{why}; resetting the stream rather than passing it unfiltered");
    observe::count(host, observe::FAIL_CLOSED, 1);
    if let Err(error) = host.reset_stream() {
        log::error!("cannot reset the stream: {error}");
    }
    Action::Pause
}
