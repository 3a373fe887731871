//! The host as the wrapped filter sees it: everything passes through, except the tick
//! period, which is noted. The pull client and the filter share the one timer a root
//! context has, so the wrapper sets the real period and calls the filter's `on_tick`
//! at the period the filter asked for.

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use crate::host::{GrpcCall, Host, HostResult, HttpCall, LocalReply, Pairs, SharedValue};
use crate::types::{BufferKind, LogLevel, MapKind, MetricKind, StreamKind};

pub struct TickShim<'a> {
    pub host: &'a dyn Host,
    /// The period the filter asked for (`None`: no ticks).
    pub asked: &'a Cell<Option<Duration>>,
}

impl Host for TickShim<'_> {
    fn log(&self, level: LogLevel, message: &str) {
        self.host.log(level, message);
    }
    fn log_level(&self) -> HostResult<LogLevel> {
        self.host.log_level()
    }
    fn now(&self) -> HostResult<SystemTime> {
        self.host.now()
    }
    fn proxy_clock(&self) -> HostResult<SystemTime> {
        self.host.proxy_clock()
    }
    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        self.asked.set((!period.is_zero()).then_some(period));
        Ok(())
    }
    fn header_pairs(&self, map: MapKind) -> HostResult<Pairs> {
        self.host.header_pairs(map)
    }
    fn set_header_pairs(&self, map: MapKind, pairs: &[(&str, &str)]) -> HostResult<()> {
        self.host.set_header_pairs(map, pairs)
    }
    fn header(&self, map: MapKind, name: &str) -> HostResult<Option<String>> {
        self.host.header(map, name)
    }
    fn add_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()> {
        self.host.add_header(map, name, value)
    }
    fn replace_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()> {
        self.host.replace_header(map, name, value)
    }
    fn remove_header(&self, map: MapKind, name: &str) -> HostResult<()> {
        self.host.remove_header(map, name)
    }
    fn header_map_size(&self, map: MapKind) -> HostResult<usize> {
        self.host.header_map_size(map)
    }
    fn buffer(
        &self,
        kind: BufferKind,
        start: usize,
        max_size: usize,
    ) -> HostResult<Option<Vec<u8>>> {
        self.host.buffer(kind, start, max_size)
    }
    fn set_buffer(
        &self,
        kind: BufferKind,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        self.host.set_buffer(kind, start, size, data)
    }
    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        self.host.property(path)
    }
    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        self.host.set_property(path, value)
    }
    fn shared_data(&self, key: &str) -> HostResult<SharedValue> {
        self.host.shared_data(key)
    }
    fn set_shared_data(&self, key: &str, value: Option<&[u8]>, cas: Option<u32>) -> HostResult<()> {
        self.host.set_shared_data(key, value, cas)
    }
    fn register_queue(&self, name: &str) -> HostResult<u32> {
        self.host.register_queue(name)
    }
    fn resolve_queue(&self, vm_id: &str, name: &str) -> HostResult<Option<u32>> {
        self.host.resolve_queue(vm_id, name)
    }
    fn enqueue(&self, queue_id: u32, value: &[u8]) -> HostResult<()> {
        self.host.enqueue(queue_id, value)
    }
    fn dequeue(&self, queue_id: u32) -> HostResult<Option<Vec<u8>>> {
        self.host.dequeue(queue_id)
    }
    fn http_call(&self, call: &HttpCall<'_>) -> HostResult<u32> {
        self.host.http_call(call)
    }
    fn grpc_call(&self, call: &GrpcCall<'_>, message: &[u8], timeout: Duration) -> HostResult<u32> {
        self.host.grpc_call(call, message, timeout)
    }
    fn grpc_stream(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        self.host.grpc_stream(call)
    }
    fn grpc_send(&self, token: u32, message: &[u8], end_stream: bool) -> HostResult<()> {
        self.host.grpc_send(token, message, end_stream)
    }
    fn grpc_cancel(&self, token: u32) -> HostResult<()> {
        self.host.grpc_cancel(token)
    }
    fn grpc_close(&self, token: u32) -> HostResult<()> {
        self.host.grpc_close(token)
    }
    fn status(&self) -> HostResult<(u32, Option<Vec<u8>>)> {
        self.host.status()
    }
    fn send_local_response(&self, reply: &LocalReply<'_>) -> HostResult<()> {
        self.host.send_local_response(reply)
    }
    fn continue_stream(&self, stream: StreamKind) -> HostResult<()> {
        self.host.continue_stream(stream)
    }
    fn close_stream(&self, stream: StreamKind) -> HostResult<()> {
        self.host.close_stream(stream)
    }
    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        self.host.set_effective_context(context_id)
    }
    fn done(&self) -> HostResult<()> {
        self.host.done()
    }
    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        self.host.define_metric(kind, name)
    }
    fn increment_metric(&self, metric_id: u32, delta: i64) -> HostResult<()> {
        self.host.increment_metric(metric_id, delta)
    }
    fn record_metric(&self, metric_id: u32, value: u64) -> HostResult<()> {
        self.host.record_metric(metric_id, value)
    }
    fn metric(&self, metric_id: u32) -> HostResult<u64> {
        self.host.metric(metric_id)
    }
    fn call_foreign_function(&self, name: &str, args: &[u8]) -> HostResult<Option<Vec<u8>>> {
        self.host.call_foreign_function(name, args)
    }
}
