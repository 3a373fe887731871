//! Raw hostcall imports and the byte-level helpers that call them. Nothing here panics:
//! every status comes back to the caller.

use crate::host::{HostError, HostResult};
use crate::types::Status;

#[allow(improper_ctypes)]
unsafe extern "C" {
    pub fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    pub fn proxy_get_log_level(return_level: *mut u32) -> u32;
    pub fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    pub fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    pub fn proxy_get_buffer_bytes(
        kind: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_set_buffer_bytes(
        kind: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    pub fn proxy_get_header_map_pairs(
        map: u32,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_set_header_map_pairs(map: u32, data: *const u8, size: usize) -> u32;
    pub fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    pub fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    pub fn proxy_add_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    pub fn proxy_get_header_map_size(map: u32, return_size: *mut usize) -> u32;
    pub fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    pub fn proxy_get_shared_data(
        key: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    pub fn proxy_set_shared_data(
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    pub fn proxy_register_shared_queue(
        name: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    pub fn proxy_resolve_shared_queue(
        vm_id: *const u8,
        vm_id_size: usize,
        name: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    pub fn proxy_dequeue_shared_queue(
        queue_id: u32,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_enqueue_shared_queue(queue_id: u32, value: *const u8, value_size: usize) -> u32;
    pub fn proxy_continue_stream(stream: u32) -> u32;
    pub fn proxy_close_stream(stream: u32) -> u32;
    pub fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    pub fn proxy_http_call(
        upstream: *const u8,
        upstream_size: usize,
        headers: *const u8,
        headers_size: usize,
        body: *const u8,
        body_size: usize,
        trailers: *const u8,
        trailers_size: usize,
        timeout_ms: u32,
        return_token: *mut u32,
    ) -> u32;
    pub fn proxy_grpc_call(
        service: *const u8,
        service_size: usize,
        service_name: *const u8,
        service_name_size: usize,
        method: *const u8,
        method_size: usize,
        metadata: *const u8,
        metadata_size: usize,
        message: *const u8,
        message_size: usize,
        timeout_ms: u32,
        return_token: *mut u32,
    ) -> u32;
    pub fn proxy_grpc_stream(
        service: *const u8,
        service_size: usize,
        service_name: *const u8,
        service_name_size: usize,
        method: *const u8,
        method_size: usize,
        metadata: *const u8,
        metadata_size: usize,
        return_token: *mut u32,
    ) -> u32;
    pub fn proxy_grpc_send(
        token: u32,
        message: *const u8,
        message_size: usize,
        end_stream: u32,
    ) -> u32;
    pub fn proxy_grpc_cancel(token: u32) -> u32;
    pub fn proxy_grpc_close(token: u32) -> u32;
    pub fn proxy_get_status(
        return_code: *mut u32,
        return_message: *mut *mut u8,
        return_message_size: *mut usize,
    ) -> u32;
    pub fn proxy_set_effective_context(context_id: u32) -> u32;
    pub fn proxy_done() -> u32;
    pub fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        args: *const u8,
        args_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_define_metric(
        kind: u32,
        name: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    pub fn proxy_increment_metric(metric_id: u32, delta: i64) -> u32;
    pub fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    pub fn proxy_get_metric(metric_id: u32, return_value: *mut u64) -> u32;
}

/// Maps a raw status to `Ok(())` or a named error.
pub fn check(call: &'static str, code: u32) -> HostResult<()> {
    match Status::from_code(code) {
        Status::Ok => Ok(()),
        status => Err(HostError::new(call, status)),
    }
}

/// Like [`check`], but `NotFound` (and `Empty`) become `Ok(false)`: "nothing there".
pub fn check_found(call: &'static str, code: u32) -> HostResult<bool> {
    match Status::from_code(code) {
        Status::Ok => Ok(true),
        Status::NotFound | Status::Empty => Ok(false),
        status => Err(HostError::new(call, status)),
    }
}

/// Takes ownership of bytes the host wrote into memory it got from
/// `proxy_on_memory_allocate`.
///
/// # Safety
/// `ptr` must be null or come from `proxy_on_memory_allocate(size)`.
pub unsafe fn take_bytes(ptr: *mut u8, size: usize) -> Vec<u8> {
    if ptr.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated exactly `size` bytes through our allocator export.
    unsafe { Vec::from_raw_parts(ptr, size, size) }
}

/// Runs a hostcall that returns an allocated buffer; `None` when the host has nothing.
pub fn call_returning_bytes(
    call: &'static str,
    f: impl FnOnce(*mut *mut u8, *mut usize) -> u32,
) -> HostResult<Option<Vec<u8>>> {
    let mut ptr: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    let code = f(&mut ptr, &mut size);
    if check_found(call, code)? {
        // SAFETY: on Ok the host returned memory from our allocator (or null).
        Ok(Some(unsafe { take_bytes(ptr, size) }))
    } else {
        Ok(None)
    }
}
