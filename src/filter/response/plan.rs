//! What the filter does with a forwarded request's response, decided when
//! the request is forwarded: which tools the grant sees, and the plan.

use std::rc::Rc;

use super::approved::RoundsStream;
use super::event_stream::StreamRewriter;
use crate::approval::rounds::Rounds;
use crate::mcp::{filter_tools_list_json, RequestId, SseSplitter, ToolsListStreamFilter};
use crate::policy::{Listing, Policy};

/// Which tools a grant sees in `tools/list`.
pub struct Visibility {
    pub policy: Rc<Policy>,
    pub hide_denied_tools: bool,
    /// Approvals can be given: a tool allowed once approved is callable.
    pub approvals: bool,
}

impl Visibility {
    pub fn keeps(&self, tool: &str) -> bool {
        let listing = if self.approvals {
            self.policy.listing_with_approvals(tool)
        } else {
            self.policy.listing(tool)
        };
        match listing {
            Listing::Visible => true,
            Listing::Hidden => false,
            Listing::NeverAllowed => !self.hide_denied_tools,
        }
    }

    /// Whether every tool is kept, whatever its name.
    pub fn keeps_all(&self) -> bool {
        self.policy.lists_every_tool(self.hide_denied_tools)
    }
}

/// How the response body is treated.
pub enum ResponsePlan {
    Untouched,
    /// A GET stream: every event passes as it arrives, rewritten where needed.
    Stream(Box<StreamRewriter>),
    /// A `tools/list` was forwarded; its response has not been seen yet.
    ToolsList {
        ids: Vec<RequestId>,
        visibility: Visibility,
        /// Its `Mcp-Param-*` maps are learned (a version that mirrors them).
        learns: bool,
    },
    /// `application/json`: buffered whole, then rewritten.
    ToolsListJson {
        ids: Vec<RequestId>,
        visibility: Visibility,
        learns: bool,
    },
    /// An approved call was forwarded; its response has not been seen yet.
    Approved(Box<Rounds>),
    /// `application/json`: buffered whole, then rewritten.
    ApprovedJson(Box<Rounds>),
    /// `text/event-stream`: rewritten event by event as it streams.
    ApprovedStream(RoundsStream),
    /// `text/event-stream`: rewritten event by event as it streams.
    ToolsListStream {
        /// `None` when every tool is kept.
        filter: Option<ToolsListStreamFilter>,
        /// Reads the same events to learn `Mcp-Param-*` maps, if learned.
        learner: Option<SseSplitter>,
        visibility: Visibility,
    },
}

impl ResponsePlan {
    /// For a forwarded `tools/list`: its response is read only when a tool
    /// may go or its maps are learned; otherwise it passes untouched.
    pub fn tools_list(ids: Vec<RequestId>, visibility: Visibility, learns: bool) -> ResponsePlan {
        if !learns && visibility.keeps_all() {
            return ResponsePlan::Untouched;
        }
        ResponsePlan::ToolsList {
            ids,
            visibility,
            learns,
        }
    }
}

pub enum BodyRewrite {
    /// Forward what was received.
    Unchanged,
    /// Replace what was received with these bytes.
    Replace(Vec<u8>),
    /// Not readable: refuse rather than forward unfiltered.
    Unreadable(String),
}

pub fn rewrite_json(body: &[u8], ids: &[RequestId], visibility: &Visibility) -> BodyRewrite {
    match filter_tools_list_json(body, ids, &|name| visibility.keeps(name)) {
        Ok(Some(bytes)) => BodyRewrite::Replace(bytes),
        Ok(None) => BodyRewrite::Unchanged,
        Err(error) => BodyRewrite::Unreadable(format!("{error:?}")),
    }
}
