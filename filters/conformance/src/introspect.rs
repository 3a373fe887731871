//! The hostcalls the kit's `AbiHost` does not import (Kong and APISIX cannot link them:
//! see `tollgate_kit::abi::introspection`). The conformance filter probes them anyway:
//! in wasm it calls them directly, so only this module imports them; natively it asks
//! the host it was given (the mock).

use tollgate_kit::{Host, HostResult, LogLevel, MapKind};

#[cfg(target_arch = "wasm32")]
use tollgate_kit::abi::introspection as direct;

#[cfg(target_arch = "wasm32")]
pub fn log_level(_host: &dyn Host) -> HostResult<LogLevel> {
    direct::log_level()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn log_level(host: &dyn Host) -> HostResult<LogLevel> {
    host.log_level()
}

#[cfg(target_arch = "wasm32")]
pub fn header_map_size(_host: &dyn Host, map: MapKind) -> HostResult<usize> {
    direct::header_map_size(map)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn header_map_size(host: &dyn Host, map: MapKind) -> HostResult<usize> {
    host.header_map_size(map)
}

#[cfg(target_arch = "wasm32")]
pub fn metric(_host: &dyn Host, id: u32) -> HostResult<u64> {
    direct::metric(id)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn metric(host: &dyn Host, id: u32) -> HostResult<u64> {
    host.metric(id)
}
