//! The MCP protocol versions the filter knows. A request that names another
//! one is refused, never decided under a guessed version: the filter cannot
//! know which rules such a version would need. A new version is added here
//! once the filter handles what it changes (see the README).

/// Every version the filter knows, oldest first.
pub const KNOWN_VERSIONS: [&str; 5] = [
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];

/// The versions of the stateless protocol (the `_meta` envelope).
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];

pub use super::codes::{HANDSHAKE_UNSUPPORTED_VERSION, UNSUPPORTED_PROTOCOL_VERSION};

pub fn is_known(version: &str) -> bool {
    KNOWN_VERSIONS.contains(&version)
}

/// Where a 2026-07-28 message names its version: `params._meta[...]`.
pub const VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";

/// The version a message's `_meta` envelope names, if any.
pub fn envelope_version(message: &super::Message) -> Option<&str> {
    message
        .params()?
        .get("_meta")?
        .get(VERSION_META_KEY)?
        .as_str()
}
