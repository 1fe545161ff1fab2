//! The proxy-wasm ABI calls the filter makes. Every call returns a typed
//! error; nothing here panics, whatever the host answers (the `proxy-wasm`
//! crate's `hostcalls` panic, trapping the VM, on unexpected statuses and on
//! header names and values that are not UTF-8). The imports take and return
//! raw `u32`s, read through the total `Status::from_raw`. Memory the host
//! returns was allocated through the module's exported
//! `proxy_on_memory_allocate`, so it is owned as a `Vec`.

use std::ptr::{null, null_mut};

use super::types::{BufferType, LogLevel, MapType, MetricType, Status, StreamType};
use crate::host::{decode_header_map, encode_header_map, GrpcCall, HeaderMap, HostError};

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_call_foreign_function(
        function_name_data: *const u8,
        function_name_size: usize,
        arguments_data: *const u8,
        arguments_size: usize,
        return_results_data: *mut *mut u8,
        return_results_size: *mut usize,
    ) -> u32;
    fn proxy_close_stream(stream_type: u32) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_grpc_call(
        upstream_data: *const u8,
        upstream_size: usize,
        service_name_data: *const u8,
        service_name_size: usize,
        method_name_data: *const u8,
        method_name_size: usize,
        initial_metadata_data: *const u8,
        initial_metadata_size: usize,
        message_data: *const u8,
        message_size: usize,
        timeout_milliseconds: u32,
        return_token: *mut u32,
    ) -> u32;
    fn proxy_get_status(
        return_code: *mut u32,
        return_message_data: *mut *mut u8,
        return_message_size: *mut usize,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
}

fn unexpected(call: &'static str, raw: u32) -> HostError {
    match Status::from_raw(raw) {
        Some(status) => HostError::new(call, format!("status {raw} ({status:?})")),
        None => HostError::new(call, format!("status {raw} (not an ABI status)")),
    }
}

fn check(call: &'static str, raw: u32) -> Result<(), HostError> {
    match Status::from_raw(raw) {
        Some(Status::Ok) => Ok(()),
        _ => Err(unexpected(call, raw)),
    }
}

/// Runs a call that may hand over a block through its (data, size)
/// out-pointers, and owns the block when the call succeeded.
fn with_returned_block(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> (u32, Vec<u8>) {
    let mut data = null_mut();
    let mut size = 0usize;
    let raw = call(&mut data, &mut size);
    if Status::from_raw(raw) != Some(Status::Ok) || data.is_null() {
        return (raw, Vec::new());
    }
    // SAFETY: on success the host has written `size` bytes to a block it got
    // from this module's `proxy_on_memory_allocate(size)`, which allocates
    // exactly `Layout::array::<u8>(size)` with the global allocator (a
    // dangling pointer for 0), as a `Vec<u8>` of capacity `size` holds it;
    // the host keeps no reference to the block.
    (raw, unsafe { Vec::from_raw_parts(data, size, size) })
}

pub fn log(level: LogLevel, message: &str) {
    // Nothing useful can be done if logging itself fails.
    // SAFETY: the host reads `message`, a live slice, only during the call.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

/// `None` when the host's level is not a proxy-wasm level (Envoy's "off").
pub fn log_level() -> Result<Option<LogLevel>, HostError> {
    let mut level = 0u32;
    // SAFETY: the host writes one u32 to `level`, a live local, during the call.
    check("get_log_level", unsafe { proxy_get_log_level(&mut level) })?;
    Ok(LogLevel::from_raw(level))
}

pub fn now_nanos() -> Result<u64, HostError> {
    let mut nanos = 0u64;
    // SAFETY: the host writes one u64 to `nanos`, a live local, during the call.
    let raw = unsafe { proxy_get_current_time_nanoseconds(&mut nanos) };
    check("get_current_time", raw)?;
    Ok(nanos)
}

pub fn get_buffer(
    buffer_type: BufferType,
    start: usize,
    max_size: usize,
) -> Result<Vec<u8>, HostError> {
    let (raw, bytes) = with_returned_block(|data, size| {
        // SAFETY: `data` and `size` point to live locals of `with_returned_block`.
        unsafe { proxy_get_buffer_bytes(buffer_type as u32, start, max_size, data, size) }
    });
    match Status::from_raw(raw) {
        Some(Status::Ok) => Ok(bytes),
        Some(Status::NotFound) => Ok(Vec::new()),
        _ => Err(unexpected("get_buffer_bytes", raw)),
    }
}

pub fn set_buffer(
    buffer_type: BufferType,
    start: usize,
    size: usize,
    value: &[u8],
) -> Result<(), HostError> {
    // SAFETY: the host reads `value`, a live slice, only during the call.
    let raw = unsafe {
        proxy_set_buffer_bytes(buffer_type as u32, start, size, value.as_ptr(), value.len())
    };
    check("set_buffer_bytes", raw)
}

pub fn get_header_map(map_type: MapType) -> Result<HeaderMap, HostError> {
    let (raw, bytes) = with_returned_block(|data, size| {
        // SAFETY: `data` and `size` point to live locals of `with_returned_block`.
        unsafe { proxy_get_header_map_pairs(map_type as u32, data, size) }
    });
    check("get_header_map_pairs", raw)?;
    decode_header_map(&bytes)
        .ok_or_else(|| HostError::new("get_header_map_pairs", "malformed header map"))
}

pub fn set_header(map_type: MapType, name: &str, value: Option<&str>) -> Result<(), HostError> {
    let map = map_type as u32;
    match value {
        Some(value) => {
            // SAFETY: the host reads `name` and `value`, live slices, only
            // during the call.
            let raw = unsafe {
                proxy_replace_header_map_value(
                    map,
                    name.as_ptr(),
                    name.len(),
                    value.as_ptr(),
                    value.len(),
                )
            };
            check("replace_header_map_value", raw)
        }
        None => {
            // SAFETY: the host reads `name`, a live slice, only during the call.
            let raw = unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) };
            check("remove_header_map_value", raw)
        }
    }
}

/// `Ok(None)` for an absent key; otherwise the value and its CAS token.
pub fn get_shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    let mut cas = 0u32;
    let (raw, value) = with_returned_block(|data, size| {
        // SAFETY: the host reads `key`, a live slice, and writes to `data`,
        // `size` and `cas`, live locals, only during the call.
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), data, size, &mut cas) }
    });
    match Status::from_raw(raw) {
        Some(Status::Ok) => Ok(Some((value, cas))),
        Some(Status::NotFound) => Ok(None),
        _ => Err(unexpected("get_shared_data", raw)),
    }
}

/// `Ok(false)` on a CAS mismatch.
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<bool, HostError> {
    // SAFETY: the host reads `key` and `value`, live slices, only during the call.
    let raw =
        unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) };
    match Status::from_raw(raw) {
        Some(Status::Ok) => Ok(true),
        Some(Status::CasMismatch) => Ok(false),
        _ => Err(unexpected("set_shared_data", raw)),
    }
}

pub fn define_metric(metric_type: MetricType, name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    // SAFETY: the host reads `name`, a live slice, and writes one u32 to `id`,
    // a live local, only during the call.
    let raw =
        unsafe { proxy_define_metric(metric_type as u32, name.as_ptr(), name.len(), &mut id) };
    check("define_metric", raw)?;
    Ok(id)
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), HostError> {
    // SAFETY: the call takes no pointers.
    check("increment_metric", unsafe {
        proxy_increment_metric(id, offset)
    })
}

/// Sets a one-segment property; Envoy keeps it as filter state `wasm.<name>`.
pub fn set_property(name: &str, value: &[u8]) -> Result<(), HostError> {
    // SAFETY: the host reads `name` and `value`, live slices, only during the call.
    let raw = unsafe { proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len()) };
    check("set_property", raw)
}

/// Calls the foreign function `function` with serialized `arguments`; its
/// results, if any, are dropped.
pub fn call_foreign_function(function: &str, arguments: &[u8]) -> Result<(), HostError> {
    let (raw, _results) = with_returned_block(|data, size| {
        // SAFETY: the host reads `function` and `arguments`, live slices, and
        // writes to `data` and `size`, live locals, only during the call.
        unsafe {
            proxy_call_foreign_function(
                function.as_ptr(),
                function.len(),
                arguments.as_ptr(),
                arguments.len(),
                data,
                size,
            )
        }
    });
    check("call_foreign_function", raw)
}

/// Reads a property by path (segments joined with NUL); `None` if absent.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
    let joined = path.join("\0");
    let (raw, value) = with_returned_block(|data, size| {
        // SAFETY: the host reads `joined`, a live string, and writes to `data`
        // and `size`, live locals, only during the call.
        unsafe { proxy_get_property(joined.as_ptr(), joined.len(), data, size) }
    });
    match Status::from_raw(raw) {
        Some(Status::Ok) => Ok(Some(value)),
        Some(Status::NotFound) => Ok(None),
        _ => Err(unexpected("get_property", raw)),
    }
}

/// Answers the request locally; `details` is Envoy's response code details
/// (`%RESPONSE_CODE_DETAILS%`).
pub fn send_local_response(
    status: u32,
    details: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), HostError> {
    let headers = encode_header_map(headers)
        .ok_or_else(|| HostError::new("send_local_response", "headers too large"))?;
    let body_data = if body.is_empty() {
        null()
    } else {
        body.as_ptr()
    };
    // SAFETY: the host reads `details`, `body` (null when empty) and
    // `headers`, live for the whole call, only during the call.
    let raw = unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body_data,
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    };
    check("send_local_response", raw)
}

/// Resets the HTTP stream (`proxy_close_stream` on the response: Envoy
/// resets the stream).
pub fn close_response_stream() -> Result<(), HostError> {
    // SAFETY: plain integer argument; the host reads nothing from this module.
    let raw = unsafe { proxy_close_stream(StreamType::HttpResponse as u32) };
    check("close_stream", raw)
}

/// Starts a unary gRPC call from the plugin's root context; its answer
/// comes to `proxy_on_grpc_receive` or `proxy_on_grpc_close` with the token
/// returned.
pub fn dispatch_grpc_call(call: &GrpcCall<'_>) -> Result<u32, HostError> {
    let metadata = encode_header_map::<&str, &str>(&[])
        .ok_or_else(|| HostError::new("dispatch_grpc_call", "no metadata map"))?;
    let mut token = 0u32;
    // SAFETY: the host reads the service, names, metadata and message, live
    // slices, and writes one u32 to `token`, a live local, only during the
    // call.
    let raw = unsafe {
        proxy_grpc_call(
            call.service.as_ptr(),
            call.service.len(),
            call.service_name.as_ptr(),
            call.service_name.len(),
            call.method.as_ptr(),
            call.method.len(),
            metadata.as_ptr(),
            metadata.len(),
            call.message.as_ptr(),
            call.message.len(),
            call.timeout_ms,
            &mut token,
        )
    };
    check("dispatch_grpc_call", raw)?;
    Ok(token)
}

/// The gRPC status code and message of the call being closed
/// (`proxy_on_grpc_close`).
pub fn grpc_status() -> Result<(u32, String), HostError> {
    let mut code = 0u32;
    let (raw, message) = with_returned_block(|data, size| {
        // SAFETY: the host writes to `code`, `data` and `size`, live locals,
        // only during the call.
        unsafe { proxy_get_status(&mut code, data, size) }
    });
    check("get_status", raw)?;
    Ok((code, String::from_utf8_lossy(&message).into_owned()))
}

/// Makes the stream `context_id` the one later host calls act on, in a
/// callback that came to the root context (a gRPC answer). Fails when the
/// stream is gone.
pub fn set_effective_context(context_id: u32) -> Result<(), HostError> {
    // SAFETY: plain integer argument; the host reads nothing from this module.
    let raw = unsafe { proxy_set_effective_context(context_id) };
    check("set_effective_context", raw)
}

/// Lets the paused request go on (Envoy's `continueDecoding`).
pub fn continue_request() -> Result<(), HostError> {
    // SAFETY: plain integer argument; the host reads nothing from this module.
    let raw = unsafe { proxy_continue_stream(StreamType::HttpRequest as u32) };
    check("continue_stream", raw)
}
