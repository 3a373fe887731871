//! The proxy-wasm ABI 0.2.1 boundary (wasm32 only): the only `unsafe` in the kit.
//!
//! Tollgate owns this layer instead of using the proxy-wasm SDK's dispatcher because the
//! SDK panics on any status it does not expect (APISIX answers `Unimplemented`) and on a
//! callout token it did not issue; a panic traps the VM and, on APISIX, every request on
//! that worker. Here every hostcall returns a [`HostResult`](crate::HostResult) and every
//! export tolerates unknown contexts.
#![allow(unsafe_code)]

mod exports;
mod host;
mod imports;
pub mod introspection;

pub use exports::install_panic_hook;
pub use host::AbiHost;
