//! The functions Envoy calls: the proxy-wasm 0.2.1 ABI's exports, each
//! handed to `contexts`. Envoy only calls the exports a module has, so
//! callbacks this filter has no use for (ticks, queues, HTTP callouts,
//! network filters) are not exported. Neither is `proxy_on_done`: a context
//! never has work pending at its end, and without the export Envoy takes it
//! as done without a call into the VM.

use super::contexts;

#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Memory the host fills and hands over (header maps, bodies, shared data);
/// `abi::take` owns it back as a `Vec<u8>` of this exact capacity.
#[cfg_attr(
    all(target_arch = "wasm32", target_os = "unknown"),
    export_name = "malloc"
)]
#[cfg_attr(not(all(target_arch = "wasm32", target_os = "unknown")), no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut block = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(size));
    block.as_mut_ptr()
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
    end_of_stream: bool,
) -> u32 {
    contexts::request_headers(context_id, end_of_stream)
}

#[no_mangle]
pub extern "C" fn proxy_on_request_body(
    context_id: u32,
    body_size: usize,
    end_of_stream: bool,
) -> u32 {
    contexts::request_body(context_id, body_size, end_of_stream)
}

#[no_mangle]
pub extern "C" fn proxy_on_request_trailers(context_id: u32, _num_trailers: usize) -> u32 {
    contexts::request_trailers(context_id)
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(
    context_id: u32,
    _num_headers: usize,
    end_of_stream: bool,
) -> u32 {
    contexts::response_headers(context_id, end_of_stream)
}

#[no_mangle]
pub extern "C" fn proxy_on_response_body(
    context_id: u32,
    body_size: usize,
    end_of_stream: bool,
) -> u32 {
    contexts::response_body(context_id, body_size, end_of_stream)
}

#[no_mangle]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    contexts::delete(context_id);
}
