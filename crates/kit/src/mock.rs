//! An in-memory [`Host`] for fast native tests of filter logic.
//!
//! Every capability works as Envoy's does; [`MockHost::without`] removes capabilities
//! (they then return `Unimplemented`) to test how a filter degrades on APISIX or Kong.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::facts::HostKind;
use crate::host::{
    GrpcCall, Host, HostError, HostResult, HttpCall, LocalReply, Pairs, SharedValue,
};
use crate::types::{BufferKind, LogLevel, MapKind, MetricKind, Status, StreamKind};

/// A recorded HTTP callout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    pub token: u32,
    pub upstream: String,
    pub headers: Pairs,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// A recorded local reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedReply {
    pub status: u32,
    pub details: String,
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub grpc_status: Option<i32>,
}

#[derive(Debug, Default)]
pub struct MockState {
    pub log_level: Option<LogLevel>,
    pub logs: Vec<(LogLevel, String)>,
    pub now: Option<SystemTime>,
    pub tick_period: Option<Duration>,
    pub maps: HashMap<MapKind, Pairs>,
    pub buffers: HashMap<BufferKind, Vec<u8>>,
    pub properties: HashMap<Vec<String>, Vec<u8>>,
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    pub queues: BTreeMap<u32, (String, String, VecDeque<Vec<u8>>)>,
    pub http_calls: Vec<RecordedCall>,
    pub grpc_calls: Vec<(u32, String, String, Vec<u8>)>,
    pub next_token: u32,
    pub local_reply: Option<RecordedReply>,
    pub continued: Vec<StreamKind>,
    pub closed: Vec<StreamKind>,
    pub metrics: BTreeMap<u32, (MetricKind, String, u64)>,
    pub status: (u32, Option<Vec<u8>>),
    pub hostcalls: Vec<&'static str>,
}

#[derive(Debug, Default)]
pub struct MockHost {
    pub state: RefCell<MockState>,
    missing: HashSet<&'static str>,
    vm_id: String,
    /// Hostcalls that answer a given error status.
    failures: HashMap<&'static str, Status>,
    /// Request headers whose writes report success and change nothing (Kong's
    /// `:authority`).
    ignored_writes: HashSet<&'static str>,
    /// Which host's quirks the mock shows to [`HostFacts::detect`](crate::facts::HostFacts::detect).
    kind: Option<HostKind>,
}

impl MockHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// A mock whose listed hostcalls return `Unimplemented`.
    pub fn without(missing: &[&'static str]) -> Self {
        Self {
            missing: missing.iter().copied().collect(),
            ..Self::default()
        }
    }

    /// A mock with APISIX's gaps, detected as APISIX.
    pub fn apisix() -> Self {
        Self {
            kind: Some(HostKind::Apisix),
            ..Self::without(crate::facts::APISIX_UNIMPLEMENTED)
        }
    }

    /// A mock detected as Kong (it ignores `proxy_set_effective_context` and has a clock).
    pub fn kong() -> Self {
        Self {
            kind: Some(HostKind::Kong),
            ..Self::default()
        }
    }

    /// A mock whose hostcall `name` answers `status` (a host error other than a gap).
    pub fn failing(mut self, name: &'static str, status: Status) -> Self {
        self.failures.insert(name, status);
        self
    }

    /// A mock that reports success for writes to `name` but ignores them.
    pub fn ignoring_writes_to(mut self, name: &'static str) -> Self {
        self.ignored_writes.insert(name);
        self
    }

    fn kind(&self) -> HostKind {
        self.kind.unwrap_or(HostKind::Envoy)
    }

    pub fn with_headers(self, map: MapKind, pairs: &[(&str, &str)]) -> Self {
        self.state.borrow_mut().maps.insert(
            map,
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        );
        self
    }

    pub fn with_buffer(self, kind: BufferKind, data: &[u8]) -> Self {
        self.state.borrow_mut().buffers.insert(kind, data.to_vec());
        self
    }

    pub fn with_property(self, path: &[&str], value: &[u8]) -> Self {
        self.state
            .borrow_mut()
            .properties
            .insert(path.iter().map(|s| s.to_string()).collect(), value.to_vec());
        self
    }

    pub fn with_time(self, now: SystemTime) -> Self {
        self.state.borrow_mut().now = Some(now);
        self
    }

    fn call(&self, name: &'static str) -> HostResult<()> {
        self.state.borrow_mut().hostcalls.push(name);
        if let Some(status) = self.failures.get(name) {
            return Err(HostError::new(name, *status));
        }
        if self.missing.contains(name) {
            Err(HostError::new(name, Status::Unimplemented))
        } else {
            Ok(())
        }
    }

    fn token(&self) -> u32 {
        let mut s = self.state.borrow_mut();
        s.next_token += 1;
        s.next_token
    }
}

fn owned(pairs: &[(&str, &str)]) -> Pairs {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn err<T>(call: &'static str, status: Status) -> HostResult<T> {
    Err(HostError::new(call, status))
}

impl Host for MockHost {
    fn log(&self, level: LogLevel, message: &str) {
        self.state
            .borrow_mut()
            .logs
            .push((level, message.to_string()));
    }

    fn log_level(&self) -> HostResult<LogLevel> {
        self.call("proxy_get_log_level")?;
        Ok(self.state.borrow().log_level.unwrap_or(LogLevel::Info))
    }

    fn now(&self) -> HostResult<SystemTime> {
        self.call("proxy_get_current_time_nanoseconds")?;
        Ok(self
            .state
            .borrow()
            .now
            .unwrap_or(UNIX_EPOCH + Duration::from_secs(1_700_000_000)))
    }

    fn proxy_clock(&self) -> HostResult<SystemTime> {
        if self.kind() == HostKind::Apisix {
            self.call("proxy_get_current_time_nanoseconds")?;
            return Err(HostError::new(
                "proxy_get_current_time_nanoseconds",
                Status::Unimplemented,
            ));
        }
        self.now()
    }

    fn set_tick_period(&self, period: Duration) -> HostResult<()> {
        self.call("proxy_set_tick_period_milliseconds")?;
        self.state.borrow_mut().tick_period = Some(period);
        Ok(())
    }

    fn header_pairs(&self, map: MapKind) -> HostResult<Pairs> {
        self.call("proxy_get_header_map_pairs")?;
        Ok(self
            .state
            .borrow()
            .maps
            .get(&map)
            .cloned()
            .unwrap_or_default())
    }

    fn set_header_pairs(&self, map: MapKind, pairs: &[(&str, &str)]) -> HostResult<()> {
        self.call("proxy_set_header_map_pairs")?;
        self.state.borrow_mut().maps.insert(map, owned(pairs));
        Ok(())
    }

    fn header(&self, map: MapKind, name: &str) -> HostResult<Option<String>> {
        self.call("proxy_get_header_map_value")?;
        let state = self.state.borrow();
        Ok(state
            .maps
            .get(&map)
            .and_then(|pairs| pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.clone()))
    }

    fn add_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()> {
        self.call("proxy_add_header_map_value")?;
        self.state
            .borrow_mut()
            .maps
            .entry(map)
            .or_default()
            .push((name.to_ascii_lowercase(), value.to_string()));
        Ok(())
    }

    fn replace_header(&self, map: MapKind, name: &str, value: &str) -> HostResult<()> {
        self.call("proxy_replace_header_map_value")?;
        if self.ignored_writes.contains(name) {
            return Ok(());
        }
        let mut state = self.state.borrow_mut();
        let pairs = state.maps.entry(map).or_default();
        pairs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        pairs.push((name.to_ascii_lowercase(), value.to_string()));
        Ok(())
    }

    fn remove_header(&self, map: MapKind, name: &str) -> HostResult<()> {
        self.call("proxy_remove_header_map_value")?;
        if let Some(pairs) = self.state.borrow_mut().maps.get_mut(&map) {
            pairs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        Ok(())
    }

    fn header_map_size(&self, map: MapKind) -> HostResult<usize> {
        self.call("proxy_get_header_map_size")?;
        let state = self.state.borrow();
        Ok(state
            .maps
            .get(&map)
            .map_or(0, |p| crate::pairs::encode(p).len()))
    }

    fn buffer(
        &self,
        kind: BufferKind,
        start: usize,
        max_size: usize,
    ) -> HostResult<Option<Vec<u8>>> {
        self.call("proxy_get_buffer_bytes")?;
        let state = self.state.borrow();
        let Some(data) = state.buffers.get(&kind) else {
            return Ok(None);
        };
        let end = start.saturating_add(max_size).min(data.len());
        Ok(data.get(start.min(end)..end).map(<[u8]>::to_vec))
    }

    fn set_buffer(
        &self,
        kind: BufferKind,
        start: usize,
        size: usize,
        data: &[u8],
    ) -> HostResult<()> {
        self.call("proxy_set_buffer_bytes")?;
        let mut state = self.state.borrow_mut();
        let buffer = state.buffers.entry(kind).or_default();
        let start = start.min(buffer.len());
        let end = start.saturating_add(size).min(buffer.len());
        buffer.splice(start..end, data.iter().copied());
        Ok(())
    }

    fn property(&self, path: &[&str]) -> HostResult<Option<Vec<u8>>> {
        self.call("proxy_get_property")?;
        let key: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        Ok(self.state.borrow().properties.get(&key).cloned())
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> HostResult<()> {
        self.call("proxy_set_property")?;
        let key = path.iter().map(|s| s.to_string()).collect();
        self.state
            .borrow_mut()
            .properties
            .insert(key, value.to_vec());
        Ok(())
    }

    fn shared_data(&self, key: &str) -> HostResult<SharedValue> {
        self.call("proxy_get_shared_data")?;
        Ok(match self.state.borrow().shared.get(key) {
            Some((value, cas)) => SharedValue {
                value: Some(value.clone()),
                cas: Some(*cas),
            },
            None => SharedValue::default(),
        })
    }

    fn set_shared_data(&self, key: &str, value: Option<&[u8]>, cas: Option<u32>) -> HostResult<()> {
        self.call("proxy_set_shared_data")?;
        let mut state = self.state.borrow_mut();
        let current = state.shared.get(key).map(|(_, c)| *c);
        if let Some(expected) = cas.filter(|c| *c != 0)
            && current.is_some_and(|c| c != expected)
        {
            return err("proxy_set_shared_data", Status::CasMismatch);
        }
        // Kong's shm_kv takes a write without a token only for a key that is absent.
        if cas.is_none_or(|c| c == 0) && current.is_some() && self.kind == Some(HostKind::Kong) {
            return err("proxy_set_shared_data", Status::CasMismatch);
        }
        let next = current.map_or(1, |c| c.wrapping_add(1).max(1));
        state
            .shared
            .insert(key.to_string(), (value.unwrap_or_default().to_vec(), next));
        Ok(())
    }

    fn register_queue(&self, name: &str) -> HostResult<u32> {
        self.call("proxy_register_shared_queue")?;
        let mut state = self.state.borrow_mut();
        if let Some((id, _)) = state
            .queues
            .iter()
            .find(|(_, (vm, n, _))| *vm == self.vm_id && n == name)
        {
            return Ok(*id);
        }
        let id = u32::try_from(state.queues.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        state
            .queues
            .insert(id, (self.vm_id.clone(), name.to_string(), VecDeque::new()));
        Ok(id)
    }

    fn resolve_queue(&self, vm_id: &str, name: &str) -> HostResult<Option<u32>> {
        self.call("proxy_resolve_shared_queue")?;
        let state = self.state.borrow();
        Ok(state
            .queues
            .iter()
            .find(|(_, (vm, n, _))| vm == vm_id && n == name)
            .map(|(id, _)| *id))
    }

    fn enqueue(&self, queue_id: u32, value: &[u8]) -> HostResult<()> {
        self.call("proxy_enqueue_shared_queue")?;
        match self.state.borrow_mut().queues.get_mut(&queue_id) {
            Some((_, _, q)) => {
                q.push_back(value.to_vec());
                Ok(())
            }
            None => err("proxy_enqueue_shared_queue", Status::NotFound),
        }
    }

    fn dequeue(&self, queue_id: u32) -> HostResult<Option<Vec<u8>>> {
        self.call("proxy_dequeue_shared_queue")?;
        match self.state.borrow_mut().queues.get_mut(&queue_id) {
            Some((_, _, q)) => Ok(q.pop_front()),
            None => err("proxy_dequeue_shared_queue", Status::NotFound),
        }
    }

    fn http_call(&self, call: &HttpCall<'_>) -> HostResult<u32> {
        self.call("proxy_http_call")?;
        let token = self.token();
        self.state.borrow_mut().http_calls.push(RecordedCall {
            token,
            upstream: call.upstream.to_string(),
            headers: owned(call.headers),
            body: call.body.map(<[u8]>::to_vec),
            timeout: call.timeout,
        });
        Ok(token)
    }

    fn grpc_call(
        &self,
        call: &GrpcCall<'_>,
        message: &[u8],
        _timeout: Duration,
    ) -> HostResult<u32> {
        self.call("proxy_grpc_call")?;
        let token = self.token();
        self.state.borrow_mut().grpc_calls.push((
            token,
            call.service_name.to_string(),
            call.method.to_string(),
            message.to_vec(),
        ));
        Ok(token)
    }

    fn grpc_stream(&self, call: &GrpcCall<'_>) -> HostResult<u32> {
        self.call("proxy_grpc_stream")?;
        let token = self.token();
        self.state.borrow_mut().grpc_calls.push((
            token,
            call.service_name.to_string(),
            call.method.to_string(),
            Vec::new(),
        ));
        Ok(token)
    }

    fn grpc_send(&self, _token: u32, _message: &[u8], _end_stream: bool) -> HostResult<()> {
        self.call("proxy_grpc_send")
    }

    fn grpc_cancel(&self, _token: u32) -> HostResult<()> {
        self.call("proxy_grpc_cancel")
    }

    fn grpc_close(&self, _token: u32) -> HostResult<()> {
        self.call("proxy_grpc_close")
    }

    fn status(&self) -> HostResult<(u32, Option<Vec<u8>>)> {
        self.call("proxy_get_status")?;
        Ok(self.state.borrow().status.clone())
    }

    fn send_local_response(&self, reply: &LocalReply<'_>) -> HostResult<()> {
        self.call("proxy_send_local_response")?;
        self.state.borrow_mut().local_reply = Some(RecordedReply {
            status: reply.status,
            details: reply.details.to_string(),
            headers: owned(reply.headers),
            body: reply.body.to_vec(),
            grpc_status: reply.grpc_status,
        });
        Ok(())
    }

    fn continue_stream(&self, stream: StreamKind) -> HostResult<()> {
        self.call("proxy_continue_stream")?;
        self.state.borrow_mut().continued.push(stream);
        Ok(())
    }

    fn close_stream(&self, stream: StreamKind) -> HostResult<()> {
        self.call("proxy_close_stream")?;
        self.state.borrow_mut().closed.push(stream);
        Ok(())
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        self.call("proxy_set_effective_context")?;
        // Envoy refuses an id no context has; the nginx hosts accept anything.
        if context_id == u32::MAX && self.kind() == HostKind::Envoy {
            return Err(HostError::new(
                "proxy_set_effective_context",
                Status::BadArgument,
            ));
        }
        Ok(())
    }

    fn done(&self) -> HostResult<()> {
        self.call("proxy_done")
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> HostResult<u32> {
        self.call("proxy_define_metric")?;
        let mut state = self.state.borrow_mut();
        if let Some((id, _)) = state
            .metrics
            .iter()
            .find(|(_, (k, n, _))| *k == kind && n == name)
        {
            return Ok(*id);
        }
        let id = u32::try_from(state.metrics.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        state.metrics.insert(id, (kind, name.to_string(), 0));
        Ok(id)
    }

    fn increment_metric(&self, metric_id: u32, delta: i64) -> HostResult<()> {
        self.call("proxy_increment_metric")?;
        match self.state.borrow_mut().metrics.get_mut(&metric_id) {
            Some((MetricKind::Histogram, _, _)) => {
                err("proxy_increment_metric", Status::BadArgument)
            }
            Some((_, _, value)) => {
                *value = value.saturating_add_signed(delta);
                Ok(())
            }
            None => err("proxy_increment_metric", Status::NotFound),
        }
    }

    fn record_metric(&self, metric_id: u32, value: u64) -> HostResult<()> {
        self.call("proxy_record_metric")?;
        match self.state.borrow_mut().metrics.get_mut(&metric_id) {
            Some((_, _, v)) => {
                *v = value;
                Ok(())
            }
            None => err("proxy_record_metric", Status::NotFound),
        }
    }

    fn metric(&self, metric_id: u32) -> HostResult<u64> {
        self.call("proxy_get_metric")?;
        match self.state.borrow().metrics.get(&metric_id) {
            Some((MetricKind::Histogram, _, _)) => err("proxy_get_metric", Status::BadArgument),
            Some((_, _, v)) => Ok(*v),
            None => err("proxy_get_metric", Status::NotFound),
        }
    }

    fn call_foreign_function(&self, _name: &str, _args: &[u8]) -> HostResult<Option<Vec<u8>>> {
        self.call("proxy_call_foreign_function")?;
        err("proxy_call_foreign_function", Status::NotFound)
    }
}

#[cfg(test)]
#[path = "mock_tests.rs"]
mod tests;
