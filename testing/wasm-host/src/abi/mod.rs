//! The host side of the proxy-wasm ABI 0.2.1 and the WASI preview1 calls Rust filters
//! import, registered on a wasmtime [`Linker`].

mod memory;
mod proxy;
mod wasi;

use anyhow::Result;
use wasmtime::{Engine, Linker};

use crate::vm::VmState;

/// A linker with every hostcall defined.
pub fn linker(engine: &Engine) -> Result<Linker<VmState>> {
    let mut linker = Linker::new(engine);
    proxy::define(&mut linker)?;
    wasi::define(&mut linker)?;
    Ok(linker)
}
