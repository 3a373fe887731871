//! Guest memory access. A bad pointer is `InvalidMemoryAccess`, never a host panic.

use tollgate_kit::Status;
use wasmtime::{Caller, Extern};

use crate::vm::VmState;

/// A hostcall failure: a status returned to the guest, or a trap.
pub enum Fail {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for Fail {
    fn from(s: Status) -> Self {
        Self::Status(s)
    }
}

pub type HcResult<T = ()> = Result<T, Fail>;

pub type Cx<'a, 'b> = &'a mut Caller<'b, VmState>;

fn memory(caller: &mut Caller<'_, VmState>) -> Result<wasmtime::Memory, Fail> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Fail::Trap(wasmtime::format_err!(
            "the module exports no memory"
        ))),
    }
}

pub fn read(caller: Cx<'_, '_>, ptr: u32, len: u32) -> HcResult<Vec<u8>> {
    let mem = memory(caller)?;
    let data = mem.data(&*caller);
    let start = ptr as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or(Status::InvalidMemoryAccess)?;
    Ok(data
        .get(start..end)
        .ok_or(Status::InvalidMemoryAccess)?
        .to_vec())
}

pub fn read_string(caller: Cx<'_, '_>, ptr: u32, len: u32) -> HcResult<String> {
    String::from_utf8(read(caller, ptr, len)?).map_err(|_| Fail::Status(Status::BadArgument))
}

pub fn write(caller: Cx<'_, '_>, ptr: u32, bytes: &[u8]) -> HcResult {
    let mem = memory(caller)?;
    let data = mem.data_mut(&mut *caller);
    let start = ptr as usize;
    let end = start
        .checked_add(bytes.len())
        .ok_or(Status::InvalidMemoryAccess)?;
    data.get_mut(start..end)
        .ok_or(Status::InvalidMemoryAccess)?
        .copy_from_slice(bytes);
    Ok(())
}

pub fn write_u32(caller: Cx<'_, '_>, ptr: u32, value: u32) -> HcResult {
    write(caller, ptr, &value.to_le_bytes())
}

pub fn write_u64(caller: Cx<'_, '_>, ptr: u32, value: u64) -> HcResult {
    write(caller, ptr, &value.to_le_bytes())
}

/// Copies `bytes` into memory the guest allocates (`proxy_on_memory_allocate`) and
/// writes the pointer and size to the guest's out-parameters.
pub fn return_bytes(caller: Cx<'_, '_>, bytes: &[u8], ptr_ptr: u32, size_ptr: u32) -> HcResult {
    if bytes.is_empty() {
        write_u32(caller, ptr_ptr, 0)?;
        return write_u32(caller, size_ptr, 0);
    }
    let len = u32::try_from(bytes.len()).map_err(|_| Status::BadArgument)?;
    let alloc = match caller.get_export("proxy_on_memory_allocate") {
        Some(Extern::Func(f)) => f.typed::<u32, u32>(&*caller).map_err(Fail::Trap)?,
        _ => {
            return Err(Fail::Trap(wasmtime::format_err!(
                "the module exports no proxy_on_memory_allocate"
            )));
        }
    };
    let ptr = alloc.call(&mut *caller, len).map_err(Fail::Trap)?;
    if ptr == 0 {
        return Err(Fail::Status(Status::InvalidMemoryAccess));
    }
    write(caller, ptr, bytes)?;
    write_u32(caller, ptr_ptr, ptr)?;
    write_u32(caller, size_ptr, len)
}
