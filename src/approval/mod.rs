//! Human approval of a tool call. A call whose tool requires approval is not
//! forwarded until a person (the caller's user, or a named approver) said
//! yes to this very call: its grant, its tool,
//! its arguments (a digest of their RFC 8785 canonical form) and the rule
//! that asked, before an expiry, once.
//!
//! - `state`: the filter's sealed `requestState` of MCP 2026-07-28's
//!   multi-round-trip requests, which carries all of that to the client and
//!   back (HMAC with the session keys, so nothing is stored while a person
//!   decides);
//! - `digest`: the canonical digest of a call's arguments;
//! - `nonce`: single use, in shared data, bounded per grant;
//! - `pending`: approvals a named approver gives (`by: approver`), waiting
//!   in shared data, bounded per grant;
//! - `exchange`: what the filter sends the client (the `input_required`
//!   result with a form elicitation) and reads back from its retry;
//! - `rounds`: an approved call's upstream asking for input itself.

pub mod digest;
pub mod exchange;
mod fields;
pub mod nonce;
pub mod pending;
pub mod rounds;
pub mod state;

pub use digest::arguments_digest;
pub use state::ApprovalState;
