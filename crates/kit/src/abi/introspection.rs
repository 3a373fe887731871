//! Hostcalls that only the conformance filter uses: `proxy_get_log_level`,
//! `proxy_get_header_map_size` and `proxy_get_metric`.
//!
//! Kong's ngx_wasm_module and APISIX's wasm-nginx-module link every import when a module
//! loads. Kong has no `proxy_get_header_map_size` and declares `proxy_get_log_level`
//! with another signature; APISIX lacks both and declares `proxy_get_metric` with an
//! i64 argument. A module that merely imports one of them does not load there. Product
//! filters reach the host through the `&dyn Host` vtable, which keeps every method it
//! names, so [`AbiHost`](super::AbiHost) answers these three with `Unimplemented` and
//! never calls them; the free functions here call them, and only a module that calls
//! one of them (the conformance filter) imports it.

use super::imports::{self as raw, check};
use crate::host::{HostError, HostResult};
use crate::types::{LogLevel, MapKind, Status};

pub(super) fn unimplemented<T>(call: &'static str) -> HostResult<T> {
    Err(HostError::new(call, Status::Unimplemented))
}

/// `proxy_get_log_level`.
pub fn log_level() -> HostResult<LogLevel> {
    let mut level = 0u32;
    // SAFETY: the host writes one u32.
    check("proxy_get_log_level", unsafe {
        raw::proxy_get_log_level(&mut level)
    })?;
    LogLevel::from_code(level).ok_or(HostError::new(
        "proxy_get_log_level",
        Status::SerializationFailure,
    ))
}

/// `proxy_get_header_map_size`.
pub fn header_map_size(map: MapKind) -> HostResult<usize> {
    let mut size = 0usize;
    // SAFETY: the host writes one usize.
    check("proxy_get_header_map_size", unsafe {
        raw::proxy_get_header_map_size(map.code(), &mut size)
    })?;
    Ok(size)
}

/// `proxy_get_metric`.
pub fn metric(metric_id: u32) -> HostResult<u64> {
    let mut value = 0u64;
    // SAFETY: the host writes one u64.
    check("proxy_get_metric", unsafe {
        raw::proxy_get_metric(metric_id, &mut value)
    })?;
    Ok(value)
}
