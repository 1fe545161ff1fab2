//! The VM's environment variables: Envoy hands the module those its
//! `vm_config.environment_variables` names through WASI's `environ_get`,
//! which the host implements for any module that imports it.

use std::ptr::null_mut;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn environ_sizes_get(count: *mut usize, buffer_size: *mut usize) -> u16;
    fn environ_get(environ: *mut *mut u8, buffer: *mut u8) -> u16;
}

/// Every `NAME=value` pair the host gives the VM; none if it gives none or
/// the call fails.
pub fn variables() -> Vec<(String, String)> {
    let mut count = 0usize;
    let mut size = 0usize;
    // SAFETY: both pointers are to live locals the host writes one usize to.
    let status = unsafe { environ_sizes_get(&mut count, &mut size) };
    if status != 0 || count == 0 || size == 0 {
        return Vec::new();
    }
    let mut pointers: Vec<*mut u8> = vec![null_mut(); count];
    let mut buffer = vec![0u8; size];
    // SAFETY: the host writes `count` pointers into `pointers` and `size`
    // bytes into `buffer`, the sizes it reported just before; both vectors
    // have exactly that room and outlive the call.
    let status = unsafe { environ_get(pointers.as_mut_ptr(), buffer.as_mut_ptr()) };
    if status != 0 {
        return Vec::new();
    }
    // The pointers point into `buffer`; the NUL-terminated entries are read
    // from it by position instead of through them.
    buffer
        .split(|byte| *byte == 0)
        .filter(|entry| !entry.is_empty())
        .take(count)
        .filter_map(|entry| {
            let text = std::str::from_utf8(entry).ok()?;
            let (name, value) = text.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}
