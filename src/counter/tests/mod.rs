//! Tests of the counter layer against stores with Envoy's semantics.

mod memory;
#[cfg(not(target_arch = "wasm32"))]
mod props;
mod races;
mod scenarios;
mod support;
