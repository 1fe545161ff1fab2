//! The proxy-wasm glue: the ABI exports Envoy calls (`exports`), the root and
//! stream contexts behind them (`contexts`), gRPC answers routed back to
//! their streams (`calls`), the ABI imports (`abi`) and
//! enumerations (`types`), and `Host` over those imports (`host`). Nothing
//! else in the crate calls the host.

mod abi;
mod calls;
mod contexts;
mod environment;
mod exports;
mod host;
mod logger;
mod types;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_REVISION: &str = match option_env!("MCP_POLICY_GIT_REVISION") {
    Some(revision) => revision,
    None => "unknown",
};
