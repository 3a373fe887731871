//! The WASI preview1 calls a Rust `wasm32-wasip1` filter imports. There is no file
//! system, no arguments and no environment; stdout/stderr go to the plugin log;
//! clocks are the virtual clock; randomness is seeded per worker so runs repeat.

use anyhow::Result;
use tollgate_kit::LogLevel;
use wasmtime::{Caller, Linker};

use super::memory::{Fail, read, write, write_u32, write_u64};
use crate::vm::{VmState, lock};

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ENOSYS: i32 = 52;

fn errno(result: Result<(), Fail>) -> wasmtime::Result<i32> {
    match result {
        Ok(()) => Ok(ESUCCESS),
        Err(Fail::Status(_)) => Ok(EFAULT),
        Err(Fail::Trap(e)) => Err(e),
    }
}

const MODULE: &str = "wasi_snapshot_preview1";

pub fn define(linker: &mut Linker<VmState>) -> Result<()> {
    linker.func_wrap(
        MODULE,
        "fd_write",
        |mut cx: Caller<'_, VmState>,
         fd: i32,
         iovs: u32,
         iovs_len: u32,
         nwritten: u32|
         -> wasmtime::Result<i32> {
            if fd != 1 && fd != 2 {
                return Ok(EBADF);
            }
            let mut written = 0u32;
            let result = (|| {
                for i in 0..iovs_len.min(1024) {
                    let iov = read(&mut cx, iovs.saturating_add(i.saturating_mul(8)), 8)?;
                    let word = |at: usize| {
                        iov.get(at..at + 4)
                            .and_then(|b| <[u8; 4]>::try_from(b).ok())
                            .map(u32::from_le_bytes)
                            .unwrap_or(0)
                    };
                    let chunk = read(&mut cx, word(0), word(4))?;
                    written = written.saturating_add(word(4));
                    cx.data_mut().stdout.extend_from_slice(&chunk);
                }
                // Flush whole lines to the plugin log, as Envoy logs a filter's stdout.
                while let Some(pos) = cx.data().stdout.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = cx.data_mut().stdout.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    let level = if fd == 2 {
                        LogLevel::Error
                    } else {
                        LogLevel::Info
                    };
                    lock(&cx.data().plugin.logs).push((level, text));
                }
                write_u32(&mut cx, nwritten, written)
            })();
            errno(result)
        },
    )?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        linker.func_wrap(
            MODULE,
            name,
            |mut cx: Caller<'_, VmState>, count: u32, size: u32| -> wasmtime::Result<i32> {
                errno(write_u32(&mut cx, count, 0).and_then(|()| write_u32(&mut cx, size, 0)))
            },
        )?;
    }
    for name in ["environ_get", "args_get"] {
        linker.func_wrap(
            MODULE,
            name,
            |_: Caller<'_, VmState>, _a: u32, _b: u32| -> i32 { ESUCCESS },
        )?;
    }
    linker.func_wrap(
        MODULE,
        "clock_time_get",
        |mut cx: Caller<'_, VmState>,
         id: i32,
         _precision: i64,
         ret: u32|
         -> wasmtime::Result<i32> {
            let clock = cx.data().plugin.clock.clone();
            let nanos = match id {
                0 => clock
                    .now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
                1..=3 => clock.elapsed().as_nanos(),
                _ => return Ok(EINVAL),
            };
            errno(write_u64(
                &mut cx,
                ret,
                u64::try_from(nanos).unwrap_or(u64::MAX),
            ))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "clock_res_get",
        |mut cx: Caller<'_, VmState>, _id: i32, ret: u32| -> wasmtime::Result<i32> {
            errno(write_u64(&mut cx, ret, 1))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "random_get",
        |mut cx: Caller<'_, VmState>, buf: u32, len: u32| -> wasmtime::Result<i32> {
            let mut bytes = Vec::with_capacity(len as usize);
            let mut x = cx.data().rng;
            for _ in 0..len {
                // xorshift64*: deterministic per worker, so test runs repeat.
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                bytes.push((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8);
            }
            cx.data_mut().rng = x;
            errno(write(&mut cx, buf, &bytes))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: Caller<'_, VmState>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::format_err!("the filter called proc_exit({code})"))
        },
    )?;
    linker.func_wrap(MODULE, "sched_yield", |_: Caller<'_, VmState>| -> i32 {
        ESUCCESS
    })?;
    for name in ["fd_close", "fd_sync", "fd_datasync"] {
        linker.func_wrap(MODULE, name, |_: Caller<'_, VmState>, _fd: i32| -> i32 {
            EBADF
        })?;
    }
    for name in ["fd_prestat_get", "fd_fdstat_get", "fd_filestat_get"] {
        linker.func_wrap(
            MODULE,
            name,
            |_: Caller<'_, VmState>, _fd: i32, _ptr: u32| -> i32 { EBADF },
        )?;
    }
    linker.func_wrap(
        MODULE,
        "fd_prestat_dir_name",
        |_: Caller<'_, VmState>, _fd: i32, _p: u32, _l: u32| -> i32 { EBADF },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_read",
        |_: Caller<'_, VmState>, _fd: i32, _i: u32, _l: u32, _n: u32| -> i32 { EBADF },
    )?;
    linker.func_wrap(
        MODULE,
        "fd_seek",
        |_: Caller<'_, VmState>, _fd: i32, _o: i64, _w: i32, _n: u32| -> i32 { EBADF },
    )?;
    linker.func_wrap(
        MODULE,
        "poll_oneoff",
        |_: Caller<'_, VmState>, _a: u32, _b: u32, _c: u32, _d: u32| -> i32 { ENOSYS },
    )?;
    Ok(())
}
