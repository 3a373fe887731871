//! The hostcalls the kit's `AbiHost` does not import (Kong and APISIX cannot link them:
//! see `tollgate_kit::abi::introspection`). The conformance filter probes them anyway:
//! in wasm it calls them directly, so only this module imports them; natively it asks
//! the host it was given (the mock). Built without the `introspection` feature
//! (`dist/fixtures/conformance-portable.wasm`) it imports none of them and reports them
//! `Unimplemented`, so it loads on Kong and APISIX too.

use tollgate_kit::{Host, HostResult, LogLevel, MapKind};

#[cfg(all(target_arch = "wasm32", not(feature = "introspection")))]
use tollgate_kit::{HostError, Status};

#[cfg(all(target_arch = "wasm32", feature = "introspection"))]
use tollgate_kit::abi::introspection as direct;

#[cfg(all(target_arch = "wasm32", feature = "introspection"))]
pub fn log_level(_host: &dyn Host) -> HostResult<LogLevel> {
    direct::log_level()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn log_level(host: &dyn Host) -> HostResult<LogLevel> {
    host.log_level()
}

#[cfg(all(target_arch = "wasm32", feature = "introspection"))]
pub fn header_map_size(_host: &dyn Host, map: MapKind) -> HostResult<usize> {
    direct::header_map_size(map)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn header_map_size(host: &dyn Host, map: MapKind) -> HostResult<usize> {
    host.header_map_size(map)
}

#[cfg(all(target_arch = "wasm32", feature = "introspection"))]
pub fn metric(_host: &dyn Host, id: u32) -> HostResult<u64> {
    direct::metric(id)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn metric(host: &dyn Host, id: u32) -> HostResult<u64> {
    host.metric(id)
}

#[cfg(all(target_arch = "wasm32", not(feature = "introspection")))]
pub fn log_level(_host: &dyn Host) -> HostResult<LogLevel> {
    Err(HostError::new("proxy_get_log_level", Status::Unimplemented))
}

#[cfg(all(target_arch = "wasm32", not(feature = "introspection")))]
pub fn header_map_size(_host: &dyn Host, _map: MapKind) -> HostResult<usize> {
    Err(HostError::new(
        "proxy_get_header_map_size",
        Status::Unimplemented,
    ))
}

#[cfg(all(target_arch = "wasm32", not(feature = "introspection")))]
pub fn metric(_host: &dyn Host, _id: u32) -> HostResult<u64> {
    Err(HostError::new("proxy_get_metric", Status::Unimplemented))
}
