#![no_main]
//! See `mcp_policy_filter_fuzz::read_payload_target` (fuzz/src/lib.rs) for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_policy_filter_fuzz::read_payload_target(data));
