//! The response to an approved call: where the upstream asks for input
//! itself, its `requestState` is carried inside the filter's sealed state
//! (see `approval::rounds`), in a JSON body or in the event stream.

use super::event_stream::reissue;
use crate::approval::rounds::{Rewrite, Rounds};
use crate::mcp::SseSplitter;

/// A JSON body: the reply, rewritten if it is the call's `input_required`.
pub fn rewrite_json(rounds: &Rounds, body: &[u8], now_nanos: u64) -> Option<Vec<u8>> {
    match rounds.rewrite(body, now_nanos) {
        Rewrite::Unchanged => None,
        Rewrite::Replace(bytes) => Some(bytes),
    }
}

/// An event stream: each complete event passes as it arrives, the call's
/// `input_required` reply rewritten.
pub struct RoundsStream {
    rounds: Box<Rounds>,
    splitter: SseSplitter,
}

impl RoundsStream {
    pub fn new(rounds: Box<Rounds>) -> RoundsStream {
        RoundsStream {
            rounds,
            splitter: SseSplitter::new(),
        }
    }

    pub fn push(&mut self, chunk: &[u8], now_nanos: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len());
        for event in self.splitter.push(chunk) {
            match self.rounds.rewrite(event.data.as_bytes(), now_nanos) {
                Rewrite::Unchanged => out.extend_from_slice(&event.raw),
                Rewrite::Replace(data) => out.extend(reissue(&event, &data)),
            }
        }
        out
    }

    /// The held tail, at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        self.splitter.take_pending()
    }
}
