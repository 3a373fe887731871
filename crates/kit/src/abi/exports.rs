//! The exports the proxy calls, dispatched to the filter's [`RootFilter`] and
//! [`StreamFilter`] objects.
//!
//! A context is taken out of the registry while its callback runs, so a hostcall that
//! re-enters the VM (a host may call back synchronously) finds no borrowed state; a
//! callback for a context that is gone (deleted, or never created because the filter
//! declined the stream) is ignored instead of trapping.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::host::AbiHost;
use super::imports::{call_returning_bytes, proxy_log};
use crate::filter::{Callouts, RootFilter, StreamFilter};
use crate::host::Host;
use crate::types::{BufferKind, LogLevel};

unsafe extern "Rust" {
    /// Defined in the filter crate by [`export_filter!`](crate::export_filter).
    safe fn __tollgate_new_root() -> Box<dyn RootFilter>;
}

#[derive(Default)]
struct Registry {
    roots: HashMap<u32, Box<dyn RootFilter>>,
    streams: HashMap<u32, Box<dyn StreamFilter>>,
    hook_installed: bool,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
    /// The context whose callback is running: callouts it makes are answered to it.
    static CURRENT: Cell<u32> = const { Cell::new(0) };
    /// Callout token → the context that made the call, and whether it is a unary gRPC
    /// call. Envoy answers callouts on the root context, so the ABI layer routes them
    /// back itself.
    static CALLOUTS: RefCell<HashMap<u32, (u32, bool)>> = RefCell::new(HashMap::new());
}

/// Remembers which context made callout `token`. A unary gRPC call ends with its one
/// message (`proxy_on_grpc_receive`) or with `proxy_on_grpc_close`, never both, so its
/// token is dropped on either; other callouts end with their response or close.
pub(super) fn register_callout(token: u32, unary_grpc: bool) {
    let current = CURRENT.with(Cell::get);
    CALLOUTS.with(|c| c.borrow_mut().insert(token, (current, unary_grpc)));
}

/// Runs `f` with `id` as the current context, restoring the previous one after.
fn as_current<R>(id: u32, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(id));
    let out = f();
    CURRENT.with(|c| c.set(previous));
    out
}

const HOST: AbiHost = AbiHost;

/// Routes panic messages to the proxy's log; the trap that follows ends only the VM call.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("tollgate filter panicked: {info}");
        // SAFETY: pointer and length describe `message`.
        unsafe { proxy_log(LogLevel::Critical.code(), message.as_ptr(), message.len()) };
    }));
}

fn with_root<R>(id: u32, default: R, f: impl FnOnce(&mut dyn RootFilter) -> R) -> R {
    let Some(mut root) = REGISTRY.with(|r| r.borrow_mut().roots.remove(&id)) else {
        return default;
    };
    let out = as_current(id, || f(root.as_mut()));
    REGISTRY.with(|r| r.borrow_mut().roots.insert(id, root));
    out
}

fn with_stream<R>(id: u32, default: R, f: impl FnOnce(&mut dyn StreamFilter) -> R) -> R {
    let Some(mut stream) = REGISTRY.with(|r| r.borrow_mut().streams.remove(&id)) else {
        return default;
    };
    let out = as_current(id, || f(stream.as_mut()));
    REGISTRY.with(|r| r.borrow_mut().streams.insert(id, stream));
    out
}

/// Whether a callout callback is the callout's last.
#[derive(Clone, Copy)]
enum Ending {
    Always,
    /// A gRPC message: the last one of a unary call, not of a stream.
    IfUnary,
    Never,
}

/// Runs a callout callback on the context that made the call. The last callback of a
/// callout drops its token. Streams that are gone are skipped.
fn with_callouts(
    delivered_to: u32,
    token: u32,
    finished: Ending,
    f: impl FnOnce(&mut dyn Callouts),
) {
    let owner = CALLOUTS.with(|c| {
        let mut map = c.borrow_mut();
        let entry = map.get(&token).copied();
        let ends = match finished {
            Ending::Always => true,
            Ending::IfUnary => entry.is_some_and(|(_, unary)| unary),
            Ending::Never => false,
        };
        if ends {
            map.remove(&token);
        }
        entry.map(|(context, _)| context)
    });
    let id = owner.unwrap_or(delivered_to);
    let is_stream = REGISTRY.with(|r| r.borrow().streams.contains_key(&id));
    if id != delivered_to {
        // Hostcalls made from the callback (resume, add header) must act on the stream.
        if HOST.set_effective_context(id).is_err() {
            return;
        }
    }
    if is_stream {
        with_stream(id, (), |s| f(s));
    } else {
        with_root(id, (), |r| f(r));
    }
}

fn read_buffer(kind: BufferKind, size: usize) -> Vec<u8> {
    if size == 0 {
        return Vec::new();
    }
    call_returning_bytes("proxy_get_buffer_bytes", |p, s| {
        // SAFETY: out-pointers are valid for the call.
        unsafe { super::imports::proxy_get_buffer_bytes(kind.code(), 0, size, p, s) }
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

fn flag(value: u32) -> bool {
    value != 0
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_abi_version_0_2_1() {}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut buffer: Vec<u8> = Vec::with_capacity(size);
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_context_create(context_id: u32, parent_context_id: u32) {
    let first = REGISTRY.with(|r| !std::mem::replace(&mut r.borrow_mut().hook_installed, true));
    if first {
        install_panic_hook();
    }
    if parent_context_id == 0 {
        let root = __tollgate_new_root();
        REGISTRY.with(|r| r.borrow_mut().roots.insert(context_id, root));
        return;
    }
    let stream = with_root(parent_context_id, None, |root| {
        root.new_stream(&HOST, context_id)
    });
    if let Some(stream) = stream {
        REGISTRY.with(|r| r.borrow_mut().streams.insert(context_id, stream));
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_vm_start(root_id: u32, vm_config_size: usize) -> u32 {
    let config = read_buffer(BufferKind::VmConfiguration, vm_config_size);
    u32::from(with_root(root_id, false, |root| {
        root.on_vm_start(&HOST, &config)
    }))
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_configure(root_id: u32, config_size: usize) -> u32 {
    let config = read_buffer(BufferKind::PluginConfiguration, config_size);
    let result = with_root(root_id, Err("unknown root context".to_string()), |root| {
        root.on_configure(&HOST, &config)
    });
    match result {
        Ok(()) => 1,
        Err(message) => {
            HOST.log(
                LogLevel::Error,
                &format!("tollgate: rejected configuration: {message}"),
            );
            0
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_tick(root_id: u32) {
    with_root(root_id, (), |root| root.on_tick(&HOST));
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_queue_ready(root_id: u32, queue_id: u32) {
    with_root(root_id, (), |root| root.on_queue_ready(&HOST, queue_id));
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_foreign_function(root_id: u32, function_id: u32, data_size: usize) {
    with_root(root_id, (), |root| {
        root.on_foreign_function(&HOST, function_id, data_size)
    });
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_headers(
    context_id: u32,
    num_headers: usize,
    end_of_stream: u32,
) -> u32 {
    with_stream(context_id, 0, |s| {
        s.on_request_headers(&HOST, num_headers, flag(end_of_stream))
            .code()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_body(
    context_id: u32,
    body_size: usize,
    end_of_stream: u32,
) -> u32 {
    with_stream(context_id, 0, |s| {
        s.on_request_body(&HOST, body_size, flag(end_of_stream))
            .code()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_request_trailers(context_id: u32, num_trailers: usize) -> u32 {
    with_stream(context_id, 0, |s| {
        s.on_request_trailers(&HOST, num_trailers).code()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_response_headers(
    context_id: u32,
    num_headers: usize,
    end_of_stream: u32,
) -> u32 {
    with_stream(context_id, 0, |s| {
        s.on_response_headers(&HOST, num_headers, flag(end_of_stream))
            .code()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_response_body(
    context_id: u32,
    body_size: usize,
    end_of_stream: u32,
) -> u32 {
    with_stream(context_id, 0, |s| {
        s.on_response_body(&HOST, body_size, flag(end_of_stream))
            .code()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_response_trailers(context_id: u32, num_trailers: usize) -> u32 {
    with_stream(context_id, 0, |s| {
        s.on_response_trailers(&HOST, num_trailers).code()
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_log(context_id: u32) {
    let is_stream = REGISTRY.with(|r| r.borrow().streams.contains_key(&context_id));
    if is_stream {
        with_stream(context_id, (), |s| s.on_log(&HOST));
    } else {
        with_root(context_id, (), |r| r.on_log(&HOST));
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_done(context_id: u32) -> u32 {
    let is_stream = REGISTRY.with(|r| r.borrow().streams.contains_key(&context_id));
    let done = if is_stream {
        with_stream(context_id, true, |s| s.on_done(&HOST))
    } else {
        with_root(context_id, true, |r| r.on_done(&HOST))
    };
    u32::from(done)
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_delete(context_id: u32) {
    let stream = REGISTRY.with(|r| r.borrow_mut().streams.remove(&context_id));
    if let Some(mut stream) = stream {
        stream.on_delete(&HOST);
        return;
    }
    REGISTRY.with(|r| r.borrow_mut().roots.remove(&context_id));
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_http_call_response(
    context_id: u32,
    token: u32,
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
) {
    with_callouts(context_id, token, Ending::Always, |c| {
        c.on_http_call_response(&HOST, token, num_headers, body_size, num_trailers)
    });
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_grpc_receive_initial_metadata(
    context_id: u32,
    token: u32,
    num_elements: usize,
) {
    with_callouts(context_id, token, Ending::Never, |c| {
        c.on_grpc_initial_metadata(&HOST, token, num_elements)
    });
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_grpc_receive(context_id: u32, token: u32, size: usize) {
    with_callouts(context_id, token, Ending::IfUnary, |c| {
        c.on_grpc_message(&HOST, token, size)
    });
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_grpc_receive_trailing_metadata(
    context_id: u32,
    token: u32,
    num_elements: usize,
) {
    with_callouts(context_id, token, Ending::Never, |c| {
        c.on_grpc_trailing_metadata(&HOST, token, num_elements)
    });
}

#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_grpc_close(context_id: u32, token: u32, status_code: u32) {
    with_callouts(context_id, token, Ending::Always, |c| {
        c.on_grpc_close(&HOST, token, status_code)
    });
}
