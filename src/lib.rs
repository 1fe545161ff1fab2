//! mcp-policy-filter: an Envoy proxy-wasm filter that enforces a
//! PolicyLayer-style policy on the JSON-RPC traffic of an MCP server.
//!
//! The pure core (`json`, `policy`, `mcp`, `counter`, `config`, `identity`,
//! `store`, `seal`, `rate_limit_service`, `filter`) has no proxy-wasm
//! dependency. `host` defines the small trait the filter talks to; `envoy`
//! (feature `proxy-wasm-host`) is the only code that calls the ABI.

pub mod approval;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod counter;
pub mod filter;
mod hash;
pub mod host;
pub mod identity;
mod json;
pub mod mcp;
pub mod policy;
pub mod rate_limit_service;
pub mod seal;
pub mod store;

#[cfg(feature = "proxy-wasm-host")]
mod envoy;
