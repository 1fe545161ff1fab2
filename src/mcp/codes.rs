//! Every JSON-RPC error code the gateway answers with: the standard ones
//! (JSON-RPC 2.0, section 5.1), MCP's, and the gateway's own refusals.

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
/// What the official SDKs answer an unknown session with (HTTP 404).
pub const SESSION_NOT_FOUND: i64 = -32001;
/// A method other than `tools/call` refused by policy, and a spent
/// `request_limit`. MCP leaves -32000..-32019 to implementations; the
/// official SDKs use -32000 (connection closed) and -32001 (request
/// timeout), so a client that retries timeouts by code would retry a denial
/// carrying either. -32010 is used by neither.
pub const POLICY_DENIED: i64 = -32010;
/// A missing or unknown bearer token (HTTP 401).
pub const UNAUTHENTICATED: i64 = -32011;
/// A valid identity that no grant matches (HTTP 403).
pub const FORBIDDEN: i64 = -32012;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let mut codes = [
            PARSE_ERROR,
            INVALID_REQUEST,
            METHOD_NOT_FOUND,
            INVALID_PARAMS,
            INTERNAL_ERROR,
            HEADER_MISMATCH,
            UNSUPPORTED_PROTOCOL_VERSION,
            HANDSHAKE_UNSUPPORTED_VERSION,
            SESSION_NOT_FOUND,
            POLICY_DENIED,
            UNAUTHENTICATED,
            FORBIDDEN,
        ];
        codes.sort_unstable();
        assert!(codes.windows(2).all(|pair| pair[0] != pair[1]));
    }
}
