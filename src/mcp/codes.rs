//! JSON-RPC error codes: the standard ones (JSON-RPC 2.0, section 5.1) and
//! MCP's. The gateway's own codes for its refusals are defined with the
//! replies that carry them (`filter`).

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP (2026-07-28): `Mcp-*` headers that disagree with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP (2026-07-28): an unsupported protocol version (with
/// `data: {supported, requested}`).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// What the handshake-era SDK servers answer an unsupported
/// `MCP-Protocol-Version` header with.
pub const HANDSHAKE_UNSUPPORTED_VERSION: i64 = -32000;
