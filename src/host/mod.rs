//! The boundary between the filter and the proxy. `Host` is everything the
//! filter needs from Envoy; `crate::envoy` implements it over the proxy-wasm
//! ABI and `fake::FakeHost` implements it in memory for native tests.

use std::fmt;

use crate::store::SharedStore;

#[cfg(any(test, feature = "fake-host"))]
pub mod fake;
mod header_codec;
mod header_map;
mod state_struct;

pub use header_codec::{decode_header_map, encode_header_map};
pub use header_map::HeaderMap;
pub use state_struct::{declare_property_arguments, encode_struct, StateValue, STRUCT_TYPE_URL};

/// What a stream callback tells the proxy to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Hold the stream (headers: stop iteration; body: buffer).
    Pause,
}

/// A host call that failed. The filter decides, per call site, how to fail closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    pub call: &'static str,
    pub detail: String,
}

impl HostError {
    pub fn new(call: &'static str, detail: impl Into<String>) -> HostError {
        HostError {
            call,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host call {} failed: {}", self.call, self.detail)
    }
}

/// A local reply the filter sends instead of forwarding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Envoy's response code details (`%RESPONSE_CODE_DETAILS%`): why the
    /// filter answered, e.g. `mcp_policy_denied`.
    pub details: &'static str,
}

/// A unary gRPC call through one of Envoy's clusters.
#[derive(Clone, Copy, Debug)]
pub struct GrpcCall<'a> {
    /// The serialized `envoy.config.core.v3.GrpcService` to reach.
    pub service: &'a [u8],
    pub service_name: &'a str,
    pub method: &'a str,
    pub message: &'a [u8],
    pub timeout_ms: u32,
}

pub trait Host: SharedStore {
    /// Host clock, milliseconds since the Unix epoch.
    fn now_millis(&self) -> Result<u64, HostError>;

    /// Host clock in nanoseconds, for measuring time spent deciding.
    fn now_nanos(&self) -> Result<u64, HostError> {
        self.now_millis()
            .map(|millis| millis.saturating_mul(1_000_000))
    }

    fn request_headers(&self) -> Result<HeaderMap, HostError>;
    fn set_request_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError>;
    fn request_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError>;
    /// Replaces `len` bytes at `start` of the buffered request body.
    fn replace_request_body(&self, start: usize, len: usize, data: &[u8]) -> Result<(), HostError>;

    fn response_headers(&self) -> Result<HeaderMap, HostError>;
    fn set_response_header(&self, name: &str, value: Option<&str>) -> Result<(), HostError>;
    fn response_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError>;
    /// Replaces `len` bytes at `start` of the buffered response body.
    fn replace_response_body(&self, start: usize, len: usize, data: &[u8])
        -> Result<(), HostError>;

    fn send_reply(&self, reply: &LocalReply) -> Result<(), HostError>;
    /// Resets the stream: what the filter cannot pass on safely is never sent.
    fn reset_stream(&self) -> Result<(), HostError>;

    /// Adds `delta` to the counter metric `name` (defined on first use).
    fn increment_counter(&self, name: &str, delta: u64) -> Result<(), HostError>;
    /// Publishes a value as Envoy filter state `wasm.<name>`, readable by
    /// access logs (`%FILTER_STATE(wasm.<name>:PLAIN)%`) and later filters.
    fn set_filter_state(&self, name: &str, value: &str) -> Result<(), HostError>;
    /// Publishes `fields` as one filter-state object `wasm.<name>`, a
    /// `google.protobuf.Struct` (declared so when the plugin is configured).
    fn set_filter_state_struct(
        &self,
        name: &str,
        fields: &[(&str, StateValue)],
    ) -> Result<(), HostError>;
    /// Reads an Envoy attribute by path, e.g. dynamic metadata
    /// `["metadata", "filter_metadata", "<filter>", "<key>", ...]`.
    fn property(&self, path: &[&str]) -> Result<Option<Vec<u8>>, HostError>;

    /// Starts a unary gRPC call; its answer comes later, named by the token
    /// returned (`HttpFilter::on_service_reply`).
    fn grpc_call(&self, call: &GrpcCall<'_>) -> Result<u32, HostError>;
    /// Lets a request the filter paused go on, once an answer arrived.
    fn resume_request(&self) -> Result<(), HostError>;
}
