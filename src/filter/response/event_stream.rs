//! Event streams that are not the answer to one known request: GET streams
//! (the 2024-11-05 transport's response channel, Streamable HTTP's standalone
//! stream and `Last-Event-ID` replays). Each complete event passes as soon as
//! it arrives; only an incomplete event is held. Responses carrying a
//! `tools/list` result are filtered for the stream's grant, replies to
//! legacy pings that stood in for refused messages become those refusals, and
//! the legacy `endpoint` event's session id is sealed for the grant.

use std::rc::Rc;

use serde_json::Value;

use super::plan::Visibility;
use crate::config::Config;
use crate::filter::request::session;
use crate::filter::{legacy, param_maps};
use crate::host::Host;
use crate::mcp::{filter_tools_list_json, RequestId, SseEvent, SseSplitter};

pub struct StreamRewriter {
    config: Rc<Config>,
    splitter: SseSplitter,
    /// The upstream's session id, once the legacy `endpoint` event names it.
    legacy_session: Option<String>,
    grant: String,
    visibility: Visibility,
    /// The stream speaks a version with mirrored headers: `tools/list`
    /// results teach their `Mcp-Param-*` maps.
    learns: bool,
}

impl StreamRewriter {
    pub fn new(
        config: Rc<Config>,
        grant: String,
        session: Option<String>,
        visibility: Visibility,
        learns: bool,
    ) -> StreamRewriter {
        StreamRewriter {
            config,
            splitter: SseSplitter::new(),
            legacy_session: session,
            grant,
            visibility,
            learns,
        }
    }

    pub fn push(&mut self, host: &dyn Host, chunk: &[u8], now_secs: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len());
        for event in self.splitter.push(chunk) {
            out.extend(self.rewrite(host, event, now_secs));
        }
        out
    }

    /// The held tail, at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        self.splitter.take_pending()
    }

    fn rewrite(&mut self, host: &dyn Host, event: SseEvent, now_secs: u64) -> Vec<u8> {
        if event.event.as_deref() == Some("endpoint") {
            let url = event.data.trim();
            let Some(issued) = legacy::session_of_path(url) else {
                return event.raw;
            };
            let sealed = session::seal(&self.config, &self.grant, &issued)
                .and_then(|sealed| legacy::with_session(url, &sealed));
            self.legacy_session = Some(issued);
            return match sealed {
                Some(url) => reissue(&event, url.as_bytes()),
                None => event.raw,
            };
        }
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(&event.data) else {
            return event.raw;
        };
        let Some(id) = message.get("id").and_then(RequestId::from_value) else {
            return event.raw;
        };
        if let Some(session) = &self.legacy_session {
            match legacy::pending_reply(host, &self.grant, session, &id, now_secs) {
                Ok(Some(reply)) => return reissue(&event, &reply),
                Ok(None) => {}
                Err(error) => {
                    log::error!("cannot read pending legacy refusals: {error}");
                    let reply = crate::mcp::error_response(
                        Some(&id),
                        crate::mcp::INTERNAL_ERROR,
                        "The policy filter could not check this reply",
                    );
                    return reissue(&event, &reply);
                }
            }
        }
        let carries_tools = message
            .get("result")
            .and_then(|result| result.get("tools"))
            .is_some();
        if !carries_tools {
            return event.raw;
        }
        if self.learns {
            param_maps::learn(host, event.data.as_bytes(), now_secs);
        }
        if self.visibility.keeps_all() {
            return event.raw;
        }
        let keep = |name: &str| self.visibility.keeps(name);
        match filter_tools_list_json(event.data.as_bytes(), std::slice::from_ref(&id), &keep) {
            Ok(None) => event.raw,
            Ok(Some(filtered)) => reissue(&event, &filtered),
            Err(error) => {
                log::error!(
                    "unreadable tools/list result on a stream ({error}); replaced with an error"
                );
                reissue(&event, &super::unreadable_tools_list(Some(&id)))
            }
        }
    }
}

/// The event with its data replaced, keeping its `event:` and `id:` fields.
pub(super) fn reissue(event: &SseEvent, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    if let Some(name) = &event.event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    if let Some(id) = &event.id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    for line in data.split(|byte| *byte == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}
