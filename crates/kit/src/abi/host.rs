//! [`Host`] over the real proxy-wasm imports.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::imports::{self as raw, call_returning_bytes, check, check_found};
use super::introspection;
use crate::host::{
    GrpcCall, Host, HostError, HostResult, HttpCall, LocalReply, Pairs, SharedValue,
};
use crate::pairs;
use crate::types::{BufferKind, LogLevel, MapKind, MetricKind, Status, StreamKind};

/// The proxy this VM runs in. Zero-sized: every method is a hostcall.
#[derive(Debug, Default, Clone, Copy)]
pub struct AbiHost;

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Header names in lower case, as Envoy and HTTP/2 keep them: the nginx hosts hand
/// over upstream response headers as the upstream spelt them (`Content-Type`).
fn decode_pairs(call: &'static str, bytes: &[u8]) -> HostResult<Pairs> {
    let mut pairs = pairs::decode_lossy(bytes)
        .map_err(|_| HostError::new(call, Status::SerializationFailure))?;
    for (name, _) in &mut pairs {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name.make_ascii_lowercase();
        }
    }
    Ok(pairs)
}

fn path_bytes(path: &[&str]) -> Vec<u8> {
    path.join("\0").into_bytes()
}

impl Host for AbiHost {
    fn log(&self, level: LogLevel, message: &str) {
        // SAFETY: pointer and length describe `message`.
        unsafe { raw::proxy_log(level.code(), message.as_ptr(), message.len()) };
    }

    fn log_level(&self) -> HostResult<LogLevel> {
        // Not imported: Kong and APISIX cannot link it (see `introspection`).
        introspection::unimplemented("proxy_get_log_level")
    }

    fn now(&self) -> HostResult<SystemTime> {
        match self.proxy_clock() {
            // APISIX has no clock hostcall, but links WASI: std's clock is WASI's
            // `clock_time_get` on wasm32-wasip1.
            Err(e) if e.is_unimplemented() => Ok(SystemTime::now()),
            other => other,
        }
    }

    fn proxy_clock(&self) -> HostResult<SystemTime> {
        let mut nanos = 0u64;
        // SAFETY: the host writes one u64.
        check("proxy_get_current_time_nanoseconds", unsafe {
            raw::proxy_get_current_time_nanoseconds(&mut nanos)
        })?;
        Ok(UNIX_EPOCH + Duration::from_nanos(nanos))
    }

    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        // SAFETY: plain value.
        check("proxy_set_tick_period_milliseconds", unsafe {
            raw::proxy_set_tick_period_milliseconds(millis(period))
        })
    }

    fn header_pairs(&self, map: MapKind) -> HostResult<Pairs> {
        const CALL: &str = "proxy_get_header_map_pairs";
        // SAFETY: out-pointers are valid for the call.
        let bytes = call_returning_bytes(CALL, |p, s| unsafe {
            raw::proxy_get_header_map_pairs(map.code(), p, s)
        })?;
        decode_pairs(CALL, &bytes.unwrap_or_default())
    }

    fn set_header_pairs(&self, map: MapKind, pairs: &[(&str, &str)]) -> HostResult<()> {
        let bytes = pairs::encode(pairs);
        // SAFETY: pointer and length describe `bytes`.
        check("proxy_set_header_map_pairs", unsafe {
            raw::proxy_set_header_map_pairs(map.code(), bytes.as_ptr(), bytes.len())
        })
    }

    fn header(&self, map: MapKind, name: &str) -> HostResult<Option<String>> {
        let bytes = call_returning_bytes("proxy_get_header_map_value", |p, s| {
            // SAFETY: key slice and out-pointers are valid for the call.
            unsafe { raw::proxy_get_header_map_value(map.code(), name.as_ptr(), name.len(), p, s) }
        })?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn add_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()> {
        // SAFETY: slices are valid for the call.
        check("proxy_add_header_map_value", unsafe {
            raw::proxy_add_header_map_value(
                map.code(),
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    fn replace_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()> {
        // SAFETY: slices are valid for the call.
        check("proxy_replace_header_map_value", unsafe {
            raw::proxy_replace_header_map_value(
                map.code(),
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        })
    }

    fn remove_header(&self, map: MapKind, name: &str) -> HostResult<()> {
        // SAFETY: slice is valid for the call.
        check("proxy_remove_header_map_value", unsafe {
            raw::proxy_remove_header_map_value(map.code(), name.as_ptr(), name.len())
        })
    }

    fn header_map_size(&self, map: MapKind) -> HostResult<usize> {
        let _ = map;
        // Not imported: Kong and APISIX cannot link it (see `introspection`).
        introspection::unimplemented("proxy_get_header_map_size")
    }

    fn buffer(
        &self,
        kind: BufferKind,
        start: usize,
        max_size: usize,
    ) -> HostResult<Option<Vec<u8>>> {
        // SAFETY: out-pointers are valid for the call.
        call_returning_bytes("proxy_get_buffer_bytes", |p, s| unsafe {
            raw::proxy_get_buffer_bytes(kind.code(), start, max_size, p, s)
        })
    }

    fn set_buffer(
        &self,
        kind: BufferKind,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        // SAFETY: slice is valid for the call.
        check("proxy_set_buffer_bytes", unsafe {
            raw::proxy_set_buffer_bytes(kind.code(), start, size, data.as_ptr(), data.len())
        })
    }

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        let path = path_bytes(path);
        // SAFETY: slice and out-pointers are valid for the call.
        call_returning_bytes("proxy_get_property", |p, s| unsafe {
            raw::proxy_get_property(path.as_ptr(), path.len(), p, s)
        })
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        let path = path_bytes(path);
        // SAFETY: slices are valid for the call.
        check("proxy_set_property", unsafe {
            raw::proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len())
        })
    }

    fn shared_data(&self, key: &str) -> HostResult<SharedValue> {
        let mut cas = 0u32;
        let value = call_returning_bytes("proxy_get_shared_data", |p, s| {
            // SAFETY: slice and out-pointers are valid for the call.
            unsafe { raw::proxy_get_shared_data(key.as_ptr(), key.len(), p, s, &mut cas) }
        })?;
        let found = value.is_some();
        Ok(SharedValue {
            value,
            cas: found.then_some(cas),
        })
    }

    fn set_shared_data(&self, key: &str, value: Option<&[u8]>, cas: Option<u32>) -> HostResult<()> {
        let value = value.unwrap_or_default();
        // SAFETY: slices are valid for the call.
        check("proxy_set_shared_data", unsafe {
            raw::proxy_set_shared_data(
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
                cas.unwrap_or(0),
            )
        })
    }

    fn register_queue(&self, name: &str) -> HostResult<u32> {
        let mut id = 0u32;
        // SAFETY: slice and out-pointer are valid for the call.
        check("proxy_register_shared_queue", unsafe {
            raw::proxy_register_shared_queue(name.as_ptr(), name.len(), &mut id)
        })?;
        Ok(id)
    }

    fn resolve_queue(&self, vm_id: &str, name: &str) -> HostResult<Option<u32>> {
        let mut id = 0u32;
        // SAFETY: slices and out-pointer are valid for the call.
        let code = unsafe {
            raw::proxy_resolve_shared_queue(
                vm_id.as_ptr(),
                vm_id.len(),
                name.as_ptr(),
                name.len(),
                &mut id,
            )
        };
        Ok(check_found("proxy_resolve_shared_queue", code)?.then_some(id))
    }

    fn enqueue(&self, queue_id: u32, value: &[u8]) -> HostResult<()> {
        // SAFETY: slice is valid for the call.
        check("proxy_enqueue_shared_queue", unsafe {
            raw::proxy_enqueue_shared_queue(queue_id, value.as_ptr(), value.len())
        })
    }

    fn dequeue(&self, queue_id: u32) -> HostResult<Option<Vec<u8>>> {
        // Unknown queues are NotFound, which is an error here, not "empty".
        let mut ptr: *mut u8 = std::ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: out-pointers are valid for the call.
        let code = unsafe { raw::proxy_dequeue_shared_queue(queue_id, &mut ptr, &mut size) };
        match Status::from_code(code) {
            // SAFETY: on Ok the host returned memory from our allocator.
            Status::Ok => Ok(Some(unsafe { super::imports::take_bytes(ptr, size) })),
            Status::Empty => Ok(None),
            status => Err(HostError::new("proxy_dequeue_shared_queue", status)),
        }
    }

    fn http_call(&self, call: &HttpCall<'_>) -> HostResult<u32> {
        let headers = pairs::encode(call.headers);
        let trailers = pairs::encode(call.trailers);
        let body = call.body.unwrap_or_default();
        let mut token = 0u32;
        // SAFETY: slices and out-pointer are valid for the call.
        check("proxy_http_call", unsafe {
            raw::proxy_http_call(
                call.upstream.as_ptr(),
                call.upstream.len(),
                headers.as_ptr(),
                headers.len(),
                body.as_ptr(),
                body.len(),
                trailers.as_ptr(),
                trailers.len(),
                millis(call.timeout),
                &mut token,
            )
        })?;
        super::exports::register_callout(token, false);
        Ok(token)
    }

    fn grpc_call(&self, call: &GrpcCall<'_>, message: &[u8], timeout: Duration) -> HostResult<u32> {
        let metadata = pairs::encode(call.initial_metadata);
        let mut token = 0u32;
        // SAFETY: slices and out-pointer are valid for the call.
        check("proxy_grpc_call", unsafe {
            raw::proxy_grpc_call(
                call.service.as_ptr(),
                call.service.len(),
                call.service_name.as_ptr(),
                call.service_name.len(),
                call.method.as_ptr(),
                call.method.len(),
                metadata.as_ptr(),
                metadata.len(),
                message.as_ptr(),
                message.len(),
                millis(timeout),
                &mut token,
            )
        })?;
        super::exports::register_callout(token, true);
        Ok(token)
    }

    fn grpc_stream(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        let metadata = pairs::encode(call.initial_metadata);
        let mut token = 0u32;
        // SAFETY: slices and out-pointer are valid for the call.
        check("proxy_grpc_stream", unsafe {
            raw::proxy_grpc_stream(
                call.service.as_ptr(),
                call.service.len(),
                call.service_name.as_ptr(),
                call.service_name.len(),
                call.method.as_ptr(),
                call.method.len(),
                metadata.as_ptr(),
                metadata.len(),
                &mut token,
            )
        })?;
        super::exports::register_callout(token, false);
        Ok(token)
    }

    fn grpc_send(&self, token: u32, message: &[u8], end_stream: bool) -> HostResult<()> {
        // SAFETY: slice is valid for the call.
        check("proxy_grpc_send", unsafe {
            raw::proxy_grpc_send(
                token,
                message.as_ptr(),
                message.len(),
                u32::from(end_stream),
            )
        })
    }

    fn grpc_cancel(&self, token: u32) -> HostResult<()> {
        // SAFETY: plain value.
        check("proxy_grpc_cancel", unsafe {
            raw::proxy_grpc_cancel(token)
        })
    }

    fn grpc_close(&self, token: u32) -> HostResult<()> {
        // SAFETY: plain value.
        check("proxy_grpc_close", unsafe { raw::proxy_grpc_close(token) })
    }

    fn status(&self) -> HostResult<(u32, Option<Vec<u8>>)> {
        let mut code = 0u32;
        // SAFETY: out-pointers are valid for the call.
        let message = call_returning_bytes("proxy_get_status", |p, s| unsafe {
            raw::proxy_get_status(&mut code, p, s)
        })?;
        Ok((code, message))
    }

    fn send_local_response(&self, reply: &LocalReply<'_>) -> HostResult<()> {
        let headers = pairs::encode(reply.headers);
        // SAFETY: slices are valid for the call.
        check("proxy_send_local_response", unsafe {
            raw::proxy_send_local_response(
                reply.status,
                reply.details.as_ptr(),
                reply.details.len(),
                reply.body.as_ptr(),
                reply.body.len(),
                headers.as_ptr(),
                headers.len(),
                reply.grpc_status.unwrap_or(-1),
            )
        })
    }

    fn continue_stream(&self, stream: StreamKind) -> HostResult<()> {
        // SAFETY: plain value.
        check("proxy_continue_stream", unsafe {
            raw::proxy_continue_stream(stream.code())
        })
    }

    fn close_stream(&self, stream: StreamKind) -> HostResult<()> {
        // SAFETY: plain value.
        check("proxy_close_stream", unsafe {
            raw::proxy_close_stream(stream.code())
        })
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        // SAFETY: plain value.
        check("proxy_set_effective_context", unsafe {
            raw::proxy_set_effective_context(context_id)
        })
    }

    fn done(&self) -> HostResult<()> {
        // SAFETY: no arguments.
        check("proxy_done", unsafe { raw::proxy_done() })
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        let mut id = 0u32;
        // SAFETY: slice and out-pointer are valid for the call.
        check("proxy_define_metric", unsafe {
            raw::proxy_define_metric(kind.code(), name.as_ptr(), name.len(), &mut id)
        })?;
        Ok(id)
    }

    fn increment_metric(&self, metric_id: u32, delta: i64) -> HostResult<()> {
        // SAFETY: plain values.
        check("proxy_increment_metric", unsafe {
            raw::proxy_increment_metric(metric_id, delta)
        })
    }

    fn record_metric(&self, metric_id: u32, value: u64) -> HostResult<()> {
        // SAFETY: plain values.
        check("proxy_record_metric", unsafe {
            raw::proxy_record_metric(metric_id, value)
        })
    }

    fn metric(&self, metric_id: u32) -> HostResult<u64> {
        let _ = metric_id;
        // Not imported: Kong and APISIX cannot link it (see `introspection`).
        introspection::unimplemented("proxy_get_metric")
    }

    fn call_foreign_function(&self, name: &str, args: &[u8]) -> HostResult<Option<Vec<u8>>> {
        let mut ptr: *mut u8 = std::ptr::null_mut();
        let mut size = 0usize;
        // SAFETY: slices and out-pointers are valid for the call.
        let code = unsafe {
            raw::proxy_call_foreign_function(
                name.as_ptr(),
                name.len(),
                args.as_ptr(),
                args.len(),
                &mut ptr,
                &mut size,
            )
        };
        check("proxy_call_foreign_function", code)?;
        // SAFETY: on Ok the host returned memory from our allocator (or null).
        Ok(Some(unsafe { super::imports::take_bytes(ptr, size) }))
    }
}
