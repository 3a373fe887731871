//! The one trait through which a filter talks to its proxy.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::types::{BufferKind, LogLevel, MapKind, MetricKind, Status, StreamKind};

/// A hostcall that did not return `Ok`. `call` names the hostcall so a log line says
/// which capability the host lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError {
    pub call: &'static str,
    pub status: Status,
}

impl HostError {
    pub fn new(call: &'static str, status: Status) -> Self {
        Self { call, status }
    }

    /// The host does not offer this hostcall (APISIX: shared data, queues, timers,
    /// body writes, gRPC). Callers degrade instead of failing the request.
    pub fn is_unimplemented(&self) -> bool {
        self.status == Status::Unimplemented
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} returned {} ({})",
            self.call,
            self.status.name(),
            self.status.code()
        )
    }
}

impl std::error::Error for HostError {}

pub type HostResult<T> = Result<T, HostError>;

/// Header pairs as read from or written to a header map.
pub type Pairs = Vec<(String, String)>;

/// A shared-data value with its compare-and-swap token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SharedValue {
    pub value: Option<Vec<u8>>,
    pub cas: Option<u32>,
}

/// An outbound HTTP callout.
#[derive(Debug, Clone, Copy)]
pub struct HttpCall<'a> {
    /// A cluster name (Envoy, Kong) or `host:port` (APISIX, Kong).
    pub upstream: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a [u8]>,
    pub trailers: &'a [(&'a str, &'a str)],
    pub timeout: Duration,
}

/// An outbound gRPC callout or stream.
#[derive(Debug, Clone, Copy)]
pub struct GrpcCall<'a> {
    /// A cluster name, or a serialized `envoy.config.core.v3.GrpcService`.
    pub service: &'a [u8],
    pub service_name: &'a str,
    pub method: &'a str,
    pub initial_metadata: &'a [(&'a str, &'a [u8])],
}

/// A reply the proxy sends instead of forwarding the request.
#[derive(Debug, Clone, Copy)]
pub struct LocalReply<'a> {
    pub status: u32,
    pub details: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub grpc_status: Option<i32>,
}

/// Every capability of the proxy-wasm ABI 0.2.1, none of which panics.
pub trait Host {
    // Logging and time.
    fn log(&self, level: LogLevel, message: &str);
    fn log_level(&self) -> HostResult<LogLevel>;
    /// Wall-clock time: the proxy's clock, or WASI's where the proxy has none (APISIX).
    fn now(&self) -> HostResult<SystemTime>;
    /// The proxy's own clock hostcall only, without a fallback (tells APISIX apart).
    fn proxy_clock(&self) -> HostResult<SystemTime>;
    fn set_tick_period(&self, period: Duration) -> HostResult<()>;

    // Header maps. Read a whole map in one call: each hostcall costs.
    fn header_pairs(&self, map: MapKind) -> HostResult<Pairs>;
    fn set_header_pairs(&self, map: MapKind, pairs: &[(&str, &str)]) -> HostResult<()>;
    fn header(&self, map: MapKind, name: &str) -> HostResult<Option<String>>;
    fn add_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()>;
    fn replace_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()>;
    fn remove_header(&self, map: MapKind, name: &str) -> HostResult<()>;
    fn header_map_size(&self, map: MapKind) -> HostResult<usize>;

    // Buffers: bodies, callout responses, configuration.
    fn buffer(
        &self,
        kind: BufferKind,
        start: usize,
        max_size: usize,
    ) -> HostResult<Option<Vec<u8>>>;
    fn set_buffer(
        &self,
        kind: BufferKind,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()>;

    // Properties (Envoy attributes), addressed by path segments.
    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>>;
    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()>;

    // Shared data, shared by every VM of a vm_id; `cas: None` writes unconditionally.
    fn shared_data(&self, key: &str) -> HostResult<SharedValue>;
    fn set_shared_data(&self, key: &str, value: Option<&[u8]>, cas: Option<u32>) -> HostResult<()>;

    // Shared queues.
    fn register_queue(&self, name: &str) -> HostResult<u32>;
    fn resolve_queue(&self, vm_id: &str, name: &str) -> HostResult<Option<u32>>;
    fn enqueue(&self, queue_id: u32, value: &[u8]) -> HostResult<()>;
    fn dequeue(&self, queue_id: u32) -> HostResult<Option<Vec<u8>>>;

    // Callouts. Each returns a token; the response arrives in a later callback.
    fn http_call(&self, call: &HttpCall<'_>) -> HostResult<u32>;
    fn grpc_call(&self, call: &GrpcCall<'_>, message: &[u8], timeout: Duration) -> HostResult<u32>;
    fn grpc_stream(&self, call: &GrpcCall<'_>) -> HostResult<u32>;
    fn grpc_send(&self, token: u32, message: &[u8], end_stream: bool) -> HostResult<()>;
    fn grpc_cancel(&self, token: u32) -> HostResult<()>;
    fn grpc_close(&self, token: u32) -> HostResult<()>;
    /// The status of the last gRPC callout (code, message).
    fn status(&self) -> HostResult<(u32, Option<Vec<u8>>)>;

    // Stream control.
    fn send_local_response(&self, reply: &LocalReply<'_>) -> HostResult<()>;
    fn continue_stream(&self, stream: StreamKind) -> HostResult<()>;
    fn close_stream(&self, stream: StreamKind) -> HostResult<()>;
    fn set_effective_context(&self, context_id: u32) -> HostResult<()>;
    fn done(&self) -> HostResult<()>;

    // Metrics.
    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32>;
    fn increment_metric(&self, metric_id: u32, delta: i64) -> HostResult<()>;
    fn record_metric(&self, metric_id: u32, value: u64) -> HostResult<()>;
    fn metric(&self, metric_id: u32) -> HostResult<u64>;

    fn call_foreign_function(&self, name: &str, args: &[u8]) -> HostResult<Option<Vec<u8>>>;
}

/// Replaces a whole body portably. Envoy drains `size` bytes and prepends the data;
/// Kong keeps only `size` bytes of the new data. Passing `max(old, new)` is right on both.
pub fn replace_body(
    host: &dyn Host,
    kind: crate::types::BufferKind,
    old_len: usize,
    new_body: &[u8],
) -> HostResult<()> {
    host.set_buffer(kind, 0, old_len.max(new_body.len()), new_body)
}
