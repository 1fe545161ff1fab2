//! The functions Envoy calls: the proxy-wasm 0.2.1 ABI's exports, each
//! handed to `contexts` (gRPC answers to `calls`). Envoy only calls the
//! exports a module has, so callbacks this filter has no use for (ticks,
//! queues, HTTP callouts, gRPC streams and their metadata, network filters)
//! are not exported. Neither is `proxy_on_done`: a context
//! never has work pending at its end, and without the export Envoy takes it
//! as done without a call into the VM.
//!
//! Arguments stay plain integers: `end_of_stream` is any u32 (non-zero is
//! true), as a Rust `bool` or enum the host could pass out of range.

use std::alloc::{alloc, Layout};
use std::ptr::{null_mut, NonNull};

use super::types::Action;
use super::{calls, contexts};

#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Memory the host fills and hands over (header maps, bodies, shared data):
/// exactly `size` bytes, which `abi` owns back as a `Vec<u8>` of capacity
/// `size`. Null when the memory cannot be had, which fails the host call
/// rather than the VM.
#[cfg_attr(
    all(target_arch = "wasm32", target_os = "unknown"),
    export_name = "malloc"
)]
#[cfg_attr(not(all(target_arch = "wasm32", target_os = "unknown")), no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    match Layout::array::<u8>(size) {
        Ok(layout) if size > 0 => {
            // SAFETY: the layout's size is not zero; `alloc` returns null on
            // failure.
            unsafe { alloc(layout) }
        }
        // What an empty `Vec<u8>` holds.
        Ok(_) => NonNull::dangling().as_ptr(),
        Err(_) => null_mut(),
    }
}

#[no_mangle]
pub extern "C" fn proxy_on_context_create(context_id: u32, root_context_id: u32) {
    contexts::create(context_id, root_context_id);
}

#[no_mangle]
pub extern "C" fn proxy_on_vm_start(root_context_id: u32, vm_configuration_size: usize) -> bool {
    contexts::vm_start(root_context_id, vm_configuration_size)
}

#[no_mangle]
pub extern "C" fn proxy_on_configure(root_context_id: u32, configuration_size: usize) -> bool {
    contexts::configure(root_context_id, configuration_size)
}

#[no_mangle]
pub extern "C" fn proxy_on_request_headers(
    context_id: u32,
    _num_headers: usize,
    end_of_stream: u32,
) -> Action {
    contexts::request_headers(context_id, end_of_stream != 0)
}

#[no_mangle]
pub extern "C" fn proxy_on_request_body(
    context_id: u32,
    body_size: usize,
    end_of_stream: u32,
) -> Action {
    contexts::request_body(context_id, body_size, end_of_stream != 0)
}

#[no_mangle]
pub extern "C" fn proxy_on_request_trailers(context_id: u32, _num_trailers: usize) -> Action {
    contexts::request_trailers(context_id)
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(
    context_id: u32,
    _num_headers: usize,
    end_of_stream: u32,
) -> Action {
    contexts::response_headers(context_id, end_of_stream != 0)
}

#[no_mangle]
pub extern "C" fn proxy_on_response_body(
    context_id: u32,
    body_size: usize,
    end_of_stream: u32,
) -> Action {
    contexts::response_body(context_id, body_size, end_of_stream != 0)
}

#[no_mangle]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    contexts::delete(context_id);
}

/// The answer of a gRPC call, `response_size` bytes in the GrpcReceiveBuffer.
#[no_mangle]
pub extern "C" fn proxy_on_grpc_receive(_root_context_id: u32, token: u32, response_size: usize) {
    calls::receive(token, response_size);
}

/// A gRPC call that ended without an answer (`status_code`: 4 for a timeout,
/// 14 when the service is unavailable).
#[no_mangle]
pub extern "C" fn proxy_on_grpc_close(_root_context_id: u32, token: u32, status_code: u32) {
    calls::close(token, status_code);
}
