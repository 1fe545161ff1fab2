#![no_main]
//! See `mcp_policy_filter_fuzz::header_map` (fuzz/src/lib.rs) for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_policy_filter_fuzz::header_map(data));
