//! The proxy-wasm ABI calls the filter makes. Every call returns a typed
//! error; nothing here panics, whatever the host answers (the SDK's
//! `hostcalls` panic, trapping the VM, on unexpected statuses and on header
//! values that are not UTF-8). Memory the host returns was allocated through
//! the module's exported `proxy_on_memory_allocate`, so it is owned as a `Vec`.

use std::ptr::{null, null_mut};

use crate::host::{HeaderMap, HostError};

pub const MAP_REQUEST_HEADERS: u32 = 0;
pub const MAP_RESPONSE_HEADERS: u32 = 2;
pub const BUFFER_REQUEST_BODY: u32 = 0;
pub const BUFFER_RESPONSE_BODY: u32 = 1;
pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;

pub const STREAM_HTTP_RESPONSE: u32 = 1;

pub const STATUS_OK: u32 = 0;
pub const STATUS_NOT_FOUND: u32 = 1;
pub const STATUS_CAS_MISMATCH: u32 = 8;

pub const LOG_TRACE: u32 = 0;

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
}

fn check(call: &'static str, status: u32) -> Result<(), HostError> {
    if status == STATUS_OK {
        Ok(())
    } else {
        Err(HostError::new(call, format!("status {status}")))
    }
}

/// Takes ownership of a host-allocated buffer.
///
/// # Safety
/// `data` must be null or a block of `size` bytes allocated by this module's
/// allocator and handed over by the host.
unsafe fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

pub fn log(level: u32, message: &str) {
    // Nothing useful can be done if logging itself fails.
    let _ = unsafe { proxy_log(level, message.as_ptr(), message.len()) };
}

pub fn log_level() -> Result<u32, HostError> {
    let mut level = LOG_TRACE;
    check("get_log_level", unsafe { proxy_get_log_level(&mut level) })?;
    Ok(level)
}

pub fn now_nanos() -> Result<u64, HostError> {
    let mut nanos = 0u64;
    check("get_current_time", unsafe {
        proxy_get_current_time_nanoseconds(&mut nanos)
    })?;
    Ok(nanos)
}

pub fn get_buffer(buffer_type: u32, start: usize, max_size: usize) -> Result<Vec<u8>, HostError> {
    let mut data = null_mut();
    let mut size = 0usize;
    let status =
        unsafe { proxy_get_buffer_bytes(buffer_type, start, max_size, &mut data, &mut size) };
    match status {
        STATUS_OK => Ok(unsafe { take(data, size) }),
        STATUS_NOT_FOUND => Ok(Vec::new()),
        other => Err(HostError::new(
            "get_buffer_bytes",
            format!("status {other}"),
        )),
    }
}

pub fn set_buffer(
    buffer_type: u32,
    start: usize,
    size: usize,
    value: &[u8],
) -> Result<(), HostError> {
    check("set_buffer_bytes", unsafe {
        proxy_set_buffer_bytes(buffer_type, start, size, value.as_ptr(), value.len())
    })
}

pub fn get_header_map(map_type: u32) -> Result<HeaderMap, HostError> {
    let mut data = null_mut();
    let mut size = 0usize;
    check("get_header_map_pairs", unsafe {
        proxy_get_header_map_pairs(map_type, &mut data, &mut size)
    })?;
    let bytes = unsafe { take(data, size) };
    decode_header_map(&bytes)
        .ok_or_else(|| HostError::new("get_header_map_pairs", "malformed header map"))
}

pub fn set_header(map_type: u32, name: &str, value: Option<&str>) -> Result<(), HostError> {
    match value {
        Some(value) => check("replace_header_map_value", unsafe {
            proxy_replace_header_map_value(
                map_type,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        }),
        None => check("remove_header_map_value", unsafe {
            proxy_remove_header_map_value(map_type, name.as_ptr(), name.len())
        }),
    }
}

/// `Ok(None)` for an absent key; otherwise the value and its CAS token.
pub fn get_shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    let mut data = null_mut();
    let mut size = 0usize;
    let mut cas = 0u32;
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match status {
        STATUS_OK => Ok(Some((unsafe { take(data, size) }, cas))),
        STATUS_NOT_FOUND => Ok(None),
        other => Err(HostError::new("get_shared_data", format!("status {other}"))),
    }
}

/// `Ok(false)` on a CAS mismatch.
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<bool, HostError> {
    let status =
        unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) };
    match status {
        STATUS_OK => Ok(true),
        STATUS_CAS_MISMATCH => Ok(false),
        other => Err(HostError::new("set_shared_data", format!("status {other}"))),
    }
}

pub const METRIC_COUNTER: u32 = 0;

pub fn define_metric(metric_type: u32, name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    check("define_metric", unsafe {
        proxy_define_metric(metric_type, name.as_ptr(), name.len(), &mut id)
    })?;
    Ok(id)
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), HostError> {
    check("increment_metric", unsafe {
        proxy_increment_metric(id, offset)
    })
}

/// Sets a one-segment property; Envoy keeps it as filter state `wasm.<name>`.
pub fn set_property(name: &str, value: &[u8]) -> Result<(), HostError> {
    check("set_property", unsafe {
        proxy_set_property(name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

/// Calls the foreign function `function` with serialized `arguments`; its
/// results, if any, are dropped.
pub fn call_foreign_function(function: &str, arguments: &[u8]) -> Result<(), HostError> {
    let mut data = null_mut();
    let mut size = 0usize;
    let status = unsafe {
        proxy_call_foreign_function(
            function.as_ptr(),
            function.len(),
            arguments.as_ptr(),
            arguments.len(),
            &mut data,
            &mut size,
        )
    };
    drop(unsafe { take(data, size) });
    check("call_foreign_function", status)
}

/// Reads a property by path (segments joined with NUL); `None` if absent.
pub fn get_property(path: &[&str]) -> Result<Option<Vec<u8>>, HostError> {
    let joined = path.join("\0");
    let mut data = null_mut();
    let mut size = 0usize;
    let status = unsafe { proxy_get_property(joined.as_ptr(), joined.len(), &mut data, &mut size) };
    match status {
        STATUS_OK => Ok(Some(unsafe { take(data, size) })),
        STATUS_NOT_FOUND => Ok(None),
        other => Err(HostError::new("get_property", format!("status {other}"))),
    }
}

pub fn send_local_response(
    status: u32,
    details: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), HostError> {
    let headers = encode_header_map(headers);
    check("send_local_response", unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            if body.is_empty() {
                null()
            } else {
                body.as_ptr()
            },
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Resets the HTTP stream (`proxy_close_stream` on the response: Envoy
/// resets the stream).
pub fn close_response_stream() -> Result<(), HostError> {
    check("close_stream", unsafe {
        proxy_close_stream(STREAM_HTTP_RESPONSE)
    })
}

/// The ABI's header map: a u32 count, then (name length, value length) u32
/// pairs, then each name and value followed by a NUL byte; little-endian.
fn encode_header_map(headers: &[(String, String)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (name, value) in headers {
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    bytes
}

/// Values that are not UTF-8 are decoded lossily rather than trapping.
pub fn decode_header_map(bytes: &[u8]) -> Option<HeaderMap> {
    if bytes.is_empty() {
        return Some(HeaderMap::default());
    }
    let read_u32 = |at: usize| -> Option<usize> {
        let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    };
    let count = read_u32(0)?;
    let mut cursor = count.checked_mul(8)?.checked_add(4)?;
    let mut map = HeaderMap::with_capacity(count.min(1024), bytes.len().saturating_sub(cursor));
    for index in 0..count {
        let sizes_at = 4 + index * 8;
        let name_len = read_u32(sizes_at)?;
        let value_len = read_u32(sizes_at + 4)?;
        let name = bytes.get(cursor..cursor.checked_add(name_len)?)?;
        cursor = cursor.checked_add(name_len)?.checked_add(1)?;
        let value = bytes.get(cursor..cursor.checked_add(value_len)?)?;
        cursor = cursor.checked_add(value_len)?.checked_add(1)?;
        map.push(
            &String::from_utf8_lossy(name),
            &String::from_utf8_lossy(value),
        );
    }
    Some(map)
}
