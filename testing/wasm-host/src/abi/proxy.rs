//! The proxy-wasm hostcalls, with the semantics observed in Envoy 1.40 (see the
//! fidelity table in testing/README.md) and the profile's gaps.

use std::time::Duration;

use anyhow::Result;
use tollgate_kit::{BufferKind, LogLevel, MapKind, MetricKind, Status, StreamKind, pairs};
use wasmtime::{Caller, Linker};

use super::memory::{Cx, Fail, HcResult, read, read_string, return_bytes, write_u32, write_u64};
use crate::exchange::{Headers, UpstreamRequest};
use crate::profile::{AuthorityWrite, Profile};
use crate::properties;
use crate::vm::{Dispatched, Effect, VmState, lock};

/// Runs one hostcall: the profile's gaps answer `Unimplemented` before anything
/// happens; every call lands in the hostcall log.
fn run(
    caller: Cx<'_, '_>,
    name: &'static str,
    f: impl FnOnce(Cx<'_, '_>) -> HcResult,
) -> wasmtime::Result<u32> {
    if caller.data().plugin.profile.lacks(name) {
        caller.data().record(name, Status::Unimplemented);
        return Ok(Status::Unimplemented.code());
    }
    if caller.data().plugin.profile.traps_on(name) {
        caller.data().record(name, Status::InternalFailure);
        return Err(wasmtime::Error::msg(format!(
            "host trap (function not yet implemented): {name}"
        )));
    }
    let status = match f(caller) {
        Ok(()) => Status::Ok,
        Err(Fail::Status(s)) => s,
        Err(Fail::Trap(e)) => {
            caller.data().record(name, Status::InternalFailure);
            return Err(e);
        }
    };
    caller.data().record(name, status);
    Ok(status.code())
}

macro_rules! hostcall {
    ($linker:ident, $name:literal, |$cx:ident $(, $arg:ident : $ty:ty)*| $body:expr) => {
        $linker.func_wrap("env", $name, move |mut caller: Caller<'_, VmState>, $($arg: $ty),*| -> wasmtime::Result<u32> {
            run(&mut caller, $name, move |$cx| $body)
        })?;
    };
}

fn map_kind(code: u32) -> HcResult<MapKind> {
    MapKind::from_code(code).ok_or(Fail::Status(Status::BadArgument))
}

fn buffer_kind(code: u32) -> HcResult<BufferKind> {
    BufferKind::from_code(code).ok_or(Fail::Status(Status::BadArgument))
}

/// Callout responses live on the root context (Envoy answers callouts there); stream
/// maps live on the effective context and always exist, empty before they arrive.
fn is_callout_map(map: MapKind) -> bool {
    matches!(
        map,
        MapKind::HttpCallResponseHeaders
            | MapKind::HttpCallResponseTrailers
            | MapKind::GrpcReceiveInitialMetadata
            | MapKind::GrpcReceiveTrailingMetadata
    )
}

fn get_map(state: &mut VmState, map: MapKind) -> HcResult<Headers> {
    if is_callout_map(map) {
        let root = state.root_context;
        return state
            .contexts
            .get(&root)
            .and_then(|c| c.maps.get(&map))
            .cloned()
            .ok_or(Fail::Status(Status::BadArgument));
    }
    let ctx = state.context().ok_or(Status::BadArgument)?;
    if ctx.info.is_none() {
        return Err(Fail::Status(Status::BadArgument));
    }
    Ok(ctx.maps.get(&map).cloned().unwrap_or_default())
}

fn with_map(state: &mut VmState, map: MapKind, f: impl FnOnce(&mut Headers)) -> HcResult {
    if is_callout_map(map) {
        return Err(Fail::Status(Status::BadArgument));
    }
    let ctx = state.context().ok_or(Status::BadArgument)?;
    if ctx.info.is_none() {
        return Err(Fail::Status(Status::BadArgument));
    }
    f(ctx.maps.entry(map).or_default());
    Ok(())
}

fn get_buffer(state: &mut VmState, kind: BufferKind) -> HcResult<Vec<u8>> {
    match kind {
        BufferKind::HttpCallResponseBody | BufferKind::GrpcReceiveBuffer => {
            let root = state.root_context;
            state
                .contexts
                .get(&root)
                .and_then(|c| c.buffers.get(&kind))
                .cloned()
                .ok_or(Fail::Status(Status::NotFound))
        }
        BufferKind::HttpRequestBody | BufferKind::HttpResponseBody => {
            let ctx = state.context().ok_or(Status::NotFound)?;
            if ctx.info.is_none() {
                return Err(Fail::Status(Status::NotFound));
            }
            Ok(ctx.buffers.get(&kind).cloned().unwrap_or_default())
        }
        _ => state
            .context()
            .and_then(|c| c.buffers.get(&kind))
            .cloned()
            .ok_or(Fail::Status(Status::NotFound)),
    }
}

/// Envoy's `set_buffer_bytes`: `start == 0` drains `size` bytes and prepends the data;
/// `start >= len` appends; anything else is `BadArgument`. Kong keeps only `size`
/// bytes of the new data.
fn splice(
    profile: Profile,
    buffer: &mut Vec<u8>,
    start: usize,
    size: usize,
    data: &[u8],
) -> HcResult {
    if profile == Profile::Kong && start == 0 {
        buffer.clear();
        buffer.extend_from_slice(data.get(..size.min(data.len())).unwrap_or(data));
        return Ok(());
    }
    if start == 0 {
        let drain = size.min(buffer.len());
        buffer.drain(..drain);
        buffer.splice(0..0, data.iter().copied());
        Ok(())
    } else if start >= buffer.len() {
        buffer.extend_from_slice(data);
        Ok(())
    } else {
        Err(Fail::Status(Status::BadArgument))
    }
}

fn decode_headers(bytes: &[u8]) -> HcResult<Headers> {
    pairs::decode_lossy(bytes).map_err(|_| Fail::Status(Status::BadArgument))
}

fn property_path(bytes: &[u8]) -> Vec<String> {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    trimmed
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn next_token(state: &mut VmState) -> u32 {
    state.next_token = state.next_token.wrapping_add(1).max(1);
    state.next_token
}

fn header_value<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[allow(clippy::too_many_lines)]
pub fn define(linker: &mut Linker<VmState>) -> Result<()> {
    hostcall!(linker, "proxy_log", |cx, level: u32, ptr: u32, len: u32| {
        let message = String::from_utf8_lossy(&read(cx, ptr, len)?).into_owned();
        let level = LogLevel::from_code(level).ok_or(Status::BadArgument)?;
        lock(&cx.data().plugin.logs).push((level, message));
        Ok(())
    });
    hostcall!(linker, "proxy_get_log_level", |cx, ret: u32| {
        let level = cx.data().plugin.log_level.code();
        write_u32(cx, ret, level)
    });
    hostcall!(
        linker,
        "proxy_get_current_time_nanoseconds",
        |cx, ret: u32| {
            let now = cx.data().plugin.clock.now();
            let nanos = now
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            write_u64(cx, ret, u64::try_from(nanos).unwrap_or(u64::MAX))
        }
    );
    hostcall!(
        linker,
        "proxy_set_tick_period_milliseconds",
        |cx, period: u32| {
            let state = cx.data();
            if state.plugin.profile.tick_period_from_root_only()
                && state.effective != state.root_context
            {
                return Err(Fail::Trap(wasmtime::format_err!(
                    "can only set tick_period in root context"
                )));
            }
            cx.data_mut().tick_request = Some(Duration::from_millis(u64::from(period)));
            Ok(())
        }
    );

    // Buffers.
    hostcall!(
        linker,
        "proxy_get_buffer_bytes",
        |cx, kind: u32, start: u32, max: u32, ptr_ptr: u32, size_ptr: u32| {
            let buffer = get_buffer(cx.data_mut(), buffer_kind(kind)?)?;
            let start = start as usize;
            if start > buffer.len() {
                return Err(Fail::Status(Status::BadArgument));
            }
            let end = start.saturating_add(max as usize).min(buffer.len());
            let slice = buffer.get(start..end).unwrap_or_default().to_vec();
            return_bytes(cx, &slice, ptr_ptr, size_ptr)
        }
    );
    hostcall!(
        linker,
        "proxy_set_buffer_bytes",
        |cx, kind: u32, start: u32, size: u32, ptr: u32, len: u32| {
            let kind = buffer_kind(kind)?;
            if !matches!(
                kind,
                BufferKind::HttpRequestBody | BufferKind::HttpResponseBody
            ) {
                return Err(Fail::Status(Status::BadArgument));
            }
            let data = read(cx, ptr, len)?;
            let profile = cx.data().plugin.profile;
            let ctx = cx.data_mut().context().ok_or(Status::BadArgument)?;
            splice(
                profile,
                ctx.buffers.entry(kind).or_default(),
                start as usize,
                size as usize,
                &data,
            )
        }
    );

    // Header maps.
    hostcall!(
        linker,
        "proxy_get_header_map_pairs",
        |cx, map: u32, ptr_ptr: u32, size_ptr: u32| {
            let kind = map_kind(map)?;
            let headers = get_map(cx.data_mut(), kind)?;
            let mut bytes = pairs::encode(&headers);
            if kind == MapKind::ResponseHeaders {
                let slack = cx.data().plugin.profile.response_pairs_slack();
                bytes.resize(bytes.len() + slack, 0);
            }
            return_bytes(cx, &bytes, ptr_ptr, size_ptr)
        }
    );
    hostcall!(
        linker,
        "proxy_set_header_map_pairs",
        |cx, map: u32, ptr: u32, len: u32| {
            let headers = decode_headers(&read(cx, ptr, len)?)?;
            let headers: Headers = headers
                .into_iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                .collect();
            with_map(cx.data_mut(), map_kind(map)?, |m| *m = headers)
        }
    );
    hostcall!(
        linker,
        "proxy_get_header_map_value",
        |cx, map: u32, kptr: u32, klen: u32, ptr_ptr: u32, size_ptr: u32| {
            let key = read_string(cx, kptr, klen)?.to_ascii_lowercase();
            let headers = get_map(cx.data_mut(), map_kind(map)?)?;
            let value = header_value(&headers, &key)
                .ok_or(Status::NotFound)?
                .as_bytes()
                .to_vec();
            return_bytes(cx, &value, ptr_ptr, size_ptr)
        }
    );
    hostcall!(
        linker,
        "proxy_add_header_map_value",
        |cx, map: u32, kptr: u32, klen: u32, vptr: u32, vlen: u32| {
            let key = read_string(cx, kptr, klen)?.to_ascii_lowercase();
            let value = String::from_utf8_lossy(&read(cx, vptr, vlen)?).into_owned();
            with_map(cx.data_mut(), map_kind(map)?, |m| m.push((key, value)))
        }
    );
    hostcall!(
        linker,
        "proxy_replace_header_map_value",
        |cx, map: u32, kptr: u32, klen: u32, vptr: u32, vlen: u32| {
            let key = read_string(cx, kptr, klen)?.to_ascii_lowercase();
            let value = String::from_utf8_lossy(&read(cx, vptr, vlen)?).into_owned();
            let map = map_kind(map)?;
            let profile = cx.data().plugin.profile;
            let Some((key, value)) = authority_write(cx, profile, map, key, value)? else {
                return Ok(());
            };
            if map == MapKind::RequestHeaders
                && key == ":path"
                && let Some(ctx) = cx.data_mut().context()
            {
                ctx.target_written = true;
            }
            // Kong replaces the first copy in place; the others stay (still sent).
            let drops_copies = map != MapKind::RequestHeaders || profile.removes_request_headers();
            with_map(cx.data_mut(), map, |m| {
                match m.iter().position(|(n, _)| *n == key) {
                    Some(first) => {
                        if let Some(slot) = m.get_mut(first) {
                            slot.1 = value;
                        }
                        let mut seen = false;
                        m.retain(|(n, _)| {
                            if *n != key {
                                return true;
                            }
                            let keep = !seen || !drops_copies;
                            seen = true;
                            keep
                        });
                    }
                    None => m.push((key, value)),
                }
            })
        }
    );
    hostcall!(
        linker,
        "proxy_remove_header_map_value",
        |cx, map: u32, kptr: u32, klen: u32| {
            let key = read_string(cx, kptr, klen)?.to_ascii_lowercase();
            let map = map_kind(map)?;
            if map == MapKind::RequestHeaders && !cx.data().plugin.profile.removes_request_headers()
            {
                // Kong only marks the header removed: the filter still reads it and
                // nginx still sends it.
                return with_map(cx.data_mut(), map, |_| {});
            }
            with_map(cx.data_mut(), map, |m| m.retain(|(n, _)| *n != key))
        }
    );
    hostcall!(
        linker,
        "proxy_get_header_map_size",
        |cx, map: u32, ret: u32| {
            let headers = get_map(cx.data_mut(), map_kind(map)?)?;
            let size: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
            write_u32(cx, ret, u32::try_from(size).unwrap_or(u32::MAX))
        }
    );

    // Properties.
    hostcall!(
        linker,
        "proxy_get_property",
        |cx, ptr: u32, len: u32, ptr_ptr: u32, size_ptr: u32| {
            let path = property_path(&read(cx, ptr, len)?);
            let key = path.join(".");
            let state = cx.data_mut();
            let plugin = std::sync::Arc::clone(&state.plugin);
            let ctx = state.context().ok_or(Status::NotFound)?;
            let readable = path.len() == 1 || plugin.profile.reads_nested_properties();
            let value = match ctx.filter_state.get(&key).filter(|_| readable) {
                Some(v) => v.clone(),
                None => properties::lookup(&plugin, ctx.info.as_ref(), &path)?,
            };
            return_bytes(cx, &value, ptr_ptr, size_ptr)
        }
    );
    hostcall!(
        linker,
        "proxy_set_property",
        |cx, ptr: u32, len: u32, vptr: u32, vlen: u32| {
            let path = property_path(&read(cx, ptr, len)?);
            let key = path.join(".");
            let value = read(cx, vptr, vlen)?;
            // Kong: only `wasmx.`/`ngx.`; APISIX: only declared nginx variables.
            cx.data().plugin.profile.property_write(&path)?;
            let ctx = cx.data_mut().context().ok_or(Status::BadArgument)?;
            ctx.filter_state.insert(key, value);
            Ok(())
        }
    );

    // Shared data and queues.
    hostcall!(
        linker,
        "proxy_get_shared_data",
        |cx, kptr: u32, klen: u32, ptr_ptr: u32, size_ptr: u32, cas_ptr: u32| {
            let key = read_string(cx, kptr, klen)?;
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            take_turn(&plugin, cx.data().worker);
            let (value, cas) = lock(&plugin.shared).get(&plugin.vm_id, &key)?;
            return_bytes(cx, &value, ptr_ptr, size_ptr)?;
            write_u32(cx, cas_ptr, cas)
        }
    );
    hostcall!(
        linker,
        "proxy_set_shared_data",
        |cx, kptr: u32, klen: u32, vptr: u32, vlen: u32, cas: u32| {
            let key = read_string(cx, kptr, klen)?;
            let value = read(cx, vptr, vlen)?;
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            take_turn(&plugin, cx.data().worker);
            let cas = if plugin.ignore_cas.load(std::sync::atomic::Ordering::SeqCst) {
                0
            } else {
                cas
            };
            let mut shared = lock(&plugin.shared);
            if cas == 0
                && plugin.profile.unconditional_write_needs_absent_key()
                && shared.get(&plugin.vm_id, &key).is_ok()
            {
                return Err(Status::CasMismatch.into());
            }
            shared.set(&plugin.vm_id, &key, value, cas)?;
            Ok(())
        }
    );
    hostcall!(
        linker,
        "proxy_register_shared_queue",
        |cx, nptr: u32, nlen: u32, ret: u32| {
            let name = read_string(cx, nptr, nlen)?;
            let (plugin, worker, root) = (
                std::sync::Arc::clone(&cx.data().plugin),
                cx.data().worker,
                cx.data().root_context,
            );
            let id = lock(&plugin.shared).register_queue(&plugin.vm_id, &name, worker, root);
            write_u32(cx, ret, id)
        }
    );
    hostcall!(
        linker,
        "proxy_resolve_shared_queue",
        |cx, vptr: u32, vlen: u32, nptr: u32, nlen: u32, ret: u32| {
            let vm_id = read_string(cx, vptr, vlen)?;
            let name = read_string(cx, nptr, nlen)?;
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            let id = lock(&plugin.shared)
                .resolve_queue(&vm_id, &name)
                .ok_or(Status::NotFound)?;
            write_u32(cx, ret, id)
        }
    );
    hostcall!(
        linker,
        "proxy_dequeue_shared_queue",
        |cx, id: u32, ptr_ptr: u32, size_ptr: u32| {
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            let item = lock(&plugin.shared).dequeue(id)?;
            return_bytes(cx, &item, ptr_ptr, size_ptr)
        }
    );
    hostcall!(
        linker,
        "proxy_enqueue_shared_queue",
        |cx, id: u32, vptr: u32, vlen: u32| {
            let value = read(cx, vptr, vlen)?;
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            let (worker, root) = lock(&plugin.shared).enqueue(id, value)?;
            if plugin.profile.delivers_queue_ready() {
                cx.data_mut().queue_notifications.push((worker, root, id));
            }
            Ok(())
        }
    );

    // Stream control.
    for (name, kind) in [
        ("proxy_continue_request", StreamKind::Request),
        ("proxy_continue_response", StreamKind::Response),
    ] {
        linker.func_wrap(
            "env",
            name,
            move |mut caller: Caller<'_, VmState>| -> wasmtime::Result<u32> {
                run(
                    &mut caller,
                    if kind == StreamKind::Request {
                        "proxy_continue_request"
                    } else {
                        "proxy_continue_response"
                    },
                    move |cx| push_effect(cx, Effect::Continue(kind)),
                )
            },
        )?;
    }
    hostcall!(linker, "proxy_continue_stream", |cx, kind: u32| {
        let kind = StreamKind::from_code(kind).ok_or(Status::BadArgument)?;
        push_effect(cx, Effect::Continue(kind))
    });
    hostcall!(linker, "proxy_close_stream", |cx, kind: u32| {
        let kind = StreamKind::from_code(kind).ok_or(Status::BadArgument)?;
        push_effect(cx, Effect::Close(kind))
    });
    hostcall!(
        linker,
        "proxy_send_local_response",
        |cx,
         status: u32,
         dptr: u32,
         dlen: u32,
         bptr: u32,
         blen: u32,
         hptr: u32,
         hlen: u32,
         _grpc: i32| {
            let details = String::from_utf8_lossy(&read(cx, dptr, dlen)?).into_owned();
            let body = read(cx, bptr, blen)?;
            let headers = decode_headers(&read(cx, hptr, hlen)?)?;
            let status = u16::try_from(status).map_err(|_| Status::BadArgument)?;
            push_effect(
                cx,
                Effect::LocalReply {
                    status,
                    details,
                    headers,
                    body,
                },
            )
        }
    );
    hostcall!(linker, "proxy_set_effective_context", |cx, id: u32| {
        if !cx.data().plugin.profile.switches_context() {
            // Kong and APISIX: any id is accepted, and nothing changes.
            return Ok(());
        }
        if !cx.data().contexts.contains_key(&id) {
            return Err(Fail::Status(Status::BadArgument));
        }
        cx.data_mut().effective = id;
        Ok(())
    });
    hostcall!(linker, "proxy_done", |_cx| Ok(()));

    // Callouts.
    hostcall!(
        linker,
        "proxy_http_call",
        |cx,
         uptr: u32,
         ulen: u32,
         hptr: u32,
         hlen: u32,
         bptr: u32,
         blen: u32,
         tptr: u32,
         tlen: u32,
         timeout: u32,
         ret: u32| {
            let upstream = read_string(cx, uptr, ulen)?;
            let headers = decode_headers(&read(cx, hptr, hlen)?)?;
            let body = read(cx, bptr, blen)?;
            let trailers = decode_headers(&read(cx, tptr, tlen)?)?;
            for required in [":method", ":path", ":authority"] {
                if header_value(&headers, required).is_none() {
                    return Err(Fail::Status(Status::BadArgument));
                }
            }
            check_upstream(cx.data(), &upstream)?;
            let state = cx.data_mut();
            let token = next_token(state);
            let request = UpstreamRequest {
                headers,
                body,
                trailers,
            };
            let maker = state.effective;
            state.dispatched.push(Dispatched::Http {
                token,
                maker,
                cluster: upstream,
                request,
                timeout: Duration::from_millis(u64::from(timeout)),
            });
            write_u32(cx, ret, token)
        }
    );
    hostcall!(
        linker,
        "proxy_grpc_call",
        |cx,
         sptr: u32,
         slen: u32,
         nptr: u32,
         nlen: u32,
         mptr: u32,
         mlen: u32,
         mdptr: u32,
         mdlen: u32,
         rptr: u32,
         rlen: u32,
         timeout: u32,
         ret: u32| {
            let cluster = String::from_utf8_lossy(&read(cx, sptr, slen)?).into_owned();
            let service = read_string(cx, nptr, nlen)?;
            let method = read_string(cx, mptr, mlen)?;
            let metadata = decode_headers(&read(cx, mdptr, mdlen)?)?;
            let message = read(cx, rptr, rlen)?;
            check_upstream(cx.data(), &cluster)?;
            let state = cx.data_mut();
            let token = next_token(state);
            state.dispatched.push(Dispatched::Grpc {
                token,
                cluster,
                service,
                method,
                metadata,
                message,
                timeout: Duration::from_millis(u64::from(timeout)),
            });
            write_u32(cx, ret, token)
        }
    );
    hostcall!(
        linker,
        "proxy_grpc_stream",
        |cx,
         sptr: u32,
         slen: u32,
         _nptr: u32,
         _nlen: u32,
         _mptr: u32,
         _mlen: u32,
         _mdptr: u32,
         _mdlen: u32,
         ret: u32| {
            let cluster = String::from_utf8_lossy(&read(cx, sptr, slen)?).into_owned();
            check_upstream(cx.data(), &cluster)?;
            let token = next_token(cx.data_mut());
            write_u32(cx, ret, token)
        }
    );
    hostcall!(
        linker,
        "proxy_grpc_send",
        |cx, token: u32, _ptr: u32, _len: u32, _end: u32| known_token(cx, token)
    );
    hostcall!(linker, "proxy_grpc_cancel", |cx, token: u32| known_token(
        cx, token
    ));
    hostcall!(linker, "proxy_grpc_close", |cx, token: u32| known_token(
        cx, token
    ));
    hostcall!(
        linker,
        "proxy_get_status",
        |cx, code_ptr: u32, ptr_ptr: u32, size_ptr: u32| {
            let (code, message) = cx.data().grpc_status.clone();
            write_u32(cx, code_ptr, code)?;
            return_bytes(cx, &message, ptr_ptr, size_ptr)
        }
    );

    // Metrics.
    hostcall!(
        linker,
        "proxy_define_metric",
        |cx, kind: u32, nptr: u32, nlen: u32, ret: u32| {
            let kind = MetricKind::from_code(kind).ok_or(Status::BadArgument)?;
            let name = read_string(cx, nptr, nlen)?;
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            let id =
                cx.data_mut()
                    .metric_ids
                    .define(&mut lock(&plugin.shared).metrics, kind, &name);
            write_u32(cx, ret, id)
        }
    );
    hostcall!(
        linker,
        "proxy_increment_metric",
        |cx, id: u32, delta: i64| {
            let plugin = std::sync::Arc::clone(&cx.data().plugin);
            Ok(cx
                .data()
                .metric_ids
                .increment(&mut lock(&plugin.shared).metrics, id, delta)?)
        }
    );
    hostcall!(linker, "proxy_record_metric", |cx, id: u32, value: u64| {
        let plugin = std::sync::Arc::clone(&cx.data().plugin);
        Ok(cx
            .data()
            .metric_ids
            .record(&mut lock(&plugin.shared).metrics, id, value)?)
    });
    hostcall!(linker, "proxy_get_metric", |cx, id: u32, ret: u32| {
        let plugin = std::sync::Arc::clone(&cx.data().plugin);
        let value = cx
            .data()
            .metric_ids
            .get(&lock(&plugin.shared).metrics, id)?;
        write_u64(cx, ret, value)
    });

    hostcall!(
        linker,
        "proxy_call_foreign_function",
        |cx, nptr: u32, nlen: u32, _aptr: u32, _alen: u32, _ptr_ptr: u32, _size_ptr: u32| {
            // No foreign functions are modelled; Envoy answers unknown names with NotFound.
            let _name = read_string(cx, nptr, nlen)?;
            Err(Fail::Status(Status::NotFound))
        }
    );
    Ok(())
}

fn push_effect(cx: Cx<'_, '_>, effect: Effect) -> HcResult {
    let profile = cx.data().plugin.profile;
    let at_root = cx.data().effective == cx.data().root_context;
    if at_root && profile.root_stream_call_crashes() {
        // Kong runs it with no request and dereferences NULL: the worker dies.
        let what = format!("{effect:?} from the root context");
        *lock(&cx.data().plugin.crashed) = Some(what.clone());
        return Err(Fail::Trap(wasmtime::format_err!(
            "worker crashed (SIGSEGV): {what}"
        )));
    }
    let ctx = cx.data_mut().context().ok_or(Status::BadArgument)?;
    if ctx.info.is_none() {
        return Err(Fail::Status(Status::BadArgument));
    }
    ctx.effects.push(effect);
    Ok(())
}

/// A write to the request's `:authority`, as each host does it: `Some` is the write to
/// make, `None` means nothing changes (Kong, which still answers `Ok`).
fn authority_write(
    cx: Cx<'_, '_>,
    profile: Profile,
    map: MapKind,
    key: String,
    value: String,
) -> HcResult<Option<(String, String)>> {
    if map != MapKind::RequestHeaders || key != ":authority" {
        return Ok(Some((key, value)));
    }
    match profile.authority_write() {
        AuthorityWrite::Sets => Ok(Some((key, value))),
        AuthorityWrite::Ignored => {
            lock(&cx.data().plugin.logs).push((
                LogLevel::Error,
                "[host] cannot set read-only \":authority\" header".into(),
            ));
            Ok(None)
        }
        AuthorityWrite::SetsMethod => {
            // APISIX validates the value as a method token.
            if !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Fail::Status(Status::BadArgument));
            }
            Ok(Some((":method".into(), value)))
        }
    }
}

/// Envoy and Kong address callouts by cluster name; APISIX by `host:port`.
fn check_upstream(state: &VmState, upstream: &str) -> HcResult {
    let plugin = &state.plugin;
    if plugin.profile.callouts_by_cluster() {
        if !lock(&plugin.clusters).contains_key(upstream) {
            return Err(Fail::Status(Status::BadArgument));
        }
        return Ok(());
    }
    let valid = upstream
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(Fail::Status(Status::BadArgument))
    }
}

fn known_token(cx: Cx<'_, '_>, token: u32) -> HcResult {
    if token == 0 || token > cx.data().next_token {
        return Err(Fail::Status(Status::NotFound));
    }
    Ok(())
}

/// While workers race ([`Plugin::hammer`](crate::Plugin::hammer)), a shared-data call is
/// where another worker may run first.
fn take_turn(plugin: &crate::vm::PluginShared, worker: usize) {
    let baton = lock(&plugin.race).clone();
    if let Some(b) = baton {
        b.yield_turn(worker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_buffer_follows_envoy() {
        let mut b = b"hello".to_vec();
        assert!(splice(Profile::Envoy, &mut b, 0, 5, b"HELLO!").is_ok());
        assert_eq!(b, b"HELLO!");
        assert!(splice(Profile::Envoy, &mut b, 6, 0, b"?").is_ok());
        assert_eq!(b, b"HELLO!?");
        assert!(matches!(
            splice(Profile::Envoy, &mut b, 2, 1, b"x"),
            Err(Fail::Status(Status::BadArgument))
        ));
    }

    #[test]
    fn set_buffer_truncates_on_kong() {
        let mut b = b"hello world".to_vec();
        assert!(splice(Profile::Kong, &mut b, 0, 3, b"abcdef").is_ok());
        assert_eq!(b, b"abc");
    }
}
