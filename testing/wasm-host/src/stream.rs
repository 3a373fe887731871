//! One HTTP stream through a worker VM, with Envoy's semantics:
//!
//! * headers → body chunks → trailers per direction, each body delivered as it
//!   arrives and closed by an empty end-of-stream chunk (Envoy's HTTP/1 codec);
//! * `StopAll*` buffers the body without calling the filter until it resumes. Envoy
//!   treats a headers `StopIteration` the same way unless the plugin sets
//!   `allow_on_headers_stop_iteration`; then (and on the other profiles) body chunks
//!   still reach the filter while the headers are held;
//!   a body callback that stops sees everything buffered so far on the next call;
//! * a paused stream waits (in virtual time) for `proxy_continue_stream`, a local
//!   reply, or Envoy's stream timeout (504 "stream timeout");
//! * a local reply goes through the filter's own response callbacks;
//! * then `on_log`, `on_done`, `on_delete`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use tollgate_kit::{BufferKind, MapKind, StreamKind};
use wasmtime::TypedFunc;

use crate::exchange::{ClientResponse, Headers, Outcome, Request, UpstreamRequest};
use crate::plugin::{FailurePolicy, Plugin, Trapped, len32};
use crate::profile::Profile;
use crate::properties::StreamInfo;
use crate::vm::{ContextData, Effect, Vm};

/// How a direction ended early.
enum Stop {
    Local {
        status: u16,
        headers: Headers,
        body: Vec<u8>,
    },
    Trap(Trapped),
    Reset,
    Timeout,
}

struct Direction {
    kind: StreamKind,
    headers_map: MapKind,
    trailers_map: MapKind,
    buffer: BufferKind,
    opt_in_property: &'static str,
}

const REQUEST: Direction = Direction {
    kind: StreamKind::Request,
    headers_map: MapKind::RequestHeaders,
    trailers_map: MapKind::RequestTrailers,
    buffer: BufferKind::HttpRequestBody,
    opt_in_property: "wasm_process_req_body",
};

const RESPONSE: Direction = Direction {
    kind: StreamKind::Response,
    headers_map: MapKind::ResponseHeaders,
    trailers_map: MapKind::ResponseTrailers,
    buffer: BufferKind::HttpResponseBody,
    opt_in_property: "wasm_process_resp_body",
};

type HeadersFn = TypedFunc<(u32, u32, u32), u32>;
type TrailersFn = TypedFunc<(u32, u32), u32>;

pub struct StreamRun<'p> {
    plugin: &'p mut Plugin,
    worker: usize,
    request: Request,
    source: SocketAddr,
    ctx: u32,
    deadline: Duration,
}

impl<'p> StreamRun<'p> {
    pub fn new(
        plugin: &'p mut Plugin,
        worker: usize,
        request: Request,
        source: SocketAddr,
    ) -> Self {
        let deadline = plugin.elapsed().saturating_add(plugin.stream_timeout);
        Self {
            plugin,
            worker,
            request,
            source,
            ctx: 0,
            deadline,
        }
    }

    fn profile(&self) -> Profile {
        self.plugin.profile()
    }

    /// The request headers as the HTTP connection manager hands them to filters.
    fn request_headers(&self) -> Headers {
        let r = &self.request;
        let mut headers: Headers = vec![
            (":authority".into(), r.authority.clone()),
            (":path".into(), r.path.clone()),
            (":method".into(), r.method.clone()),
            (":scheme".into(), "http".into()),
        ];
        headers.extend(r.headers.iter().cloned());
        if self.profile().adds_envoy_request_headers() {
            headers.push(("x-forwarded-proto".into(), "http".into()));
            headers.push(("x-request-id".into(), request_id(self.plugin.streams)));
        }
        headers
    }

    pub fn run(mut self) -> Result<Outcome> {
        let headers = self.request_headers();
        if !self.plugin.ready(self.worker) {
            if self.plugin.policy == FailurePolicy::FailOpen {
                return Ok(self.pass_through(headers));
            }
            return Ok(self.failure_outcome(None));
        }
        match self.open(headers.clone()) {
            Ok(()) => {}
            Err(t) => return Ok(self.trap_outcome(t)),
        }
        let mut outcome = Outcome::default();
        let response = match self.request_phase() {
            Ok(forwarded) => {
                let upstream_reply = (self.plugin.upstream)(&forwarded);
                outcome.upstream = Some(forwarded);
                let mut headers: Headers =
                    vec![(":status".into(), upstream_reply.status.to_string())];
                let envoy = self.profile() == Profile::Envoy;
                headers.extend(upstream_reply.headers.iter().map(|(n, v)| {
                    // Envoy's codec lowercases names; nginx keeps the upstream's spelling.
                    let n = if envoy {
                        n.to_ascii_lowercase()
                    } else {
                        n.clone()
                    };
                    (n, v.clone())
                }));
                let total: usize = upstream_reply.body_chunks.iter().map(Vec::len).sum();
                if !headers
                    .iter()
                    .any(|(n, _)| n == "content-length" || n == "transfer-encoding")
                {
                    headers.push(("content-length".into(), total.to_string()));
                }
                if self.profile() == Profile::Envoy {
                    headers.push(("x-envoy-upstream-service-time".into(), "0".into()));
                }
                self.set_response_code(upstream_reply.status);
                self.response_phase(
                    headers,
                    upstream_reply.body_chunks,
                    upstream_reply.trailers,
                    true,
                )
            }
            Err(stop) => Err(stop),
        };
        let response = match response {
            Ok(r) => Ok(r),
            Err(Stop::Local {
                status,
                headers,
                body,
            }) => self.local_reply(status, headers, body),
            Err(Stop::Timeout) => self.local_reply(504, Vec::new(), b"stream timeout".to_vec()),
            Err(other) => Err(other),
        };
        match response {
            Ok(client) => {
                outcome.client = client;
                if let Err(Stop::Trap(t)) = self.close() {
                    outcome.trap = Some(t.0);
                }
            }
            Err(Stop::Trap(t)) => {
                return Ok(Outcome {
                    upstream: outcome.upstream,
                    ..self.trap_outcome(t)
                });
            }
            Err(Stop::Reset) => {
                outcome.client = ClientResponse::default();
                let _ = self.close();
            }
            Err(_) => {
                outcome.client = ClientResponse {
                    status: 500,
                    ..Default::default()
                }
            }
        }
        Ok(outcome)
    }

    fn failure_outcome(&self, trap: Option<String>) -> Outcome {
        let (status, body) = self.plugin.failure_reply.clone();
        let mut headers = vec![("content-length".to_string(), body.len().to_string())];
        if self.profile() == Profile::Envoy {
            headers.push(("server".into(), "envoy".into()));
        }
        Outcome {
            client: ClientResponse {
                status,
                headers,
                body,
                trailers: Vec::new(),
            },
            trap,
            ..Outcome::default()
        }
    }

    fn trap_outcome(&self, t: Trapped) -> Outcome {
        self.failure_outcome(Some(t.0))
    }

    /// FAIL_OPEN with a failed VM: the request goes through as if the filter were absent.
    fn pass_through(&mut self, headers: Headers) -> Outcome {
        let body = self.request.body_chunks.concat();
        let forwarded = UpstreamRequest {
            headers,
            body,
            trailers: self.request.trailers.clone(),
        };
        let reply = (self.plugin.upstream)(&forwarded);
        let client = ClientResponse {
            status: reply.status,
            headers: reply.headers.clone(),
            body: reply.body_chunks.concat(),
            trailers: reply.trailers.clone(),
        };
        Outcome {
            client,
            upstream: Some(forwarded),
            ..Outcome::default()
        }
    }

    fn vm(&mut self) -> Result<&mut Vm, Stop> {
        let worker = self.worker;
        self.plugin
            .vm(worker)
            .ok_or(Stop::Trap(Trapped("the VM failed".into())))
    }

    /// Runs a guest call on this stream's context; a trap fails the VM.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Vm, u32) -> Option<wasmtime::Result<R>>,
    ) -> Result<Option<R>, Stop> {
        let ctx = self.ctx;
        let vm = self.vm()?;
        vm.enter(ctx);
        let result = f(vm, ctx);
        match result {
            Some(Err(e)) => {
                let worker = self.worker;
                Err(Stop::Trap(self.plugin.fail(worker, &e)))
            }
            Some(Ok(r)) => {
                self.plugin.after_call(self.worker);
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }

    fn data(&mut self) -> Option<&mut ContextData> {
        let ctx = self.ctx;
        self.plugin
            .vm(self.worker)
            .and_then(|vm| vm.store.data_mut().contexts.get_mut(&ctx))
    }

    fn open(&mut self, headers: Headers) -> Result<(), Trapped> {
        let worker = self.worker;
        let request_size: usize = self.request.body_chunks.iter().map(Vec::len).sum();
        let info = StreamInfo {
            request_headers: headers.clone(),
            request_id: headers
                .iter()
                .find(|(n, _)| n == "x-request-id")
                .map(|(_, v)| v.clone())
                .unwrap_or_default(),
            start: self.plugin.shared.clock.now(),
            source: self.source,
            destination: SocketAddr::from(([127, 0, 0, 1], 10_000)),
            connection_id: self.plugin.streams,
            request_size: request_size as u64,
            response_code: None,
        };
        let Some(vm) = self.plugin.vm(worker) else {
            return Err(Trapped("no VM".into()));
        };
        let ctx = vm.new_context_id();
        self.ctx = ctx;
        let mut data = ContextData {
            info: Some(info),
            ..ContextData::default()
        };
        data.maps.insert(MapKind::RequestHeaders, headers);
        data.filter_state
            .extend(self.request.filter_state.iter().cloned());
        vm.store.data_mut().contexts.insert(ctx, data);
        let root = vm.store.data().root_context;
        vm.enter(ctx);
        let create = vm.exports.on_context_create.clone();
        if let Err(e) = create.call(&mut vm.store, (ctx, root)) {
            return Err(self.plugin.fail(worker, &e));
        }
        self.plugin.after_call(worker);
        Ok(())
    }

    fn set_response_code(&mut self, status: u16) {
        if let Some(info) = self.data().and_then(|d| d.info.as_mut()) {
            info.response_code = Some(status);
        }
    }

    fn take_effects(&mut self) -> Vec<Effect> {
        self.data()
            .map(|d| std::mem::take(&mut d.effects))
            .unwrap_or_default()
    }

    /// Applies effects; returns whether `dir` was resumed.
    fn apply(&mut self, dir: StreamKind) -> Result<bool, Stop> {
        let mut resumed = false;
        for effect in self.take_effects() {
            match effect {
                Effect::LocalReply {
                    status,
                    headers,
                    body,
                    ..
                } => {
                    return Err(Stop::Local {
                        status,
                        headers,
                        body,
                    });
                }
                Effect::Continue(kind) if kind == dir => resumed = true,
                Effect::Continue(_) => {}
                Effect::Close(_) => return Err(Stop::Reset),
            }
        }
        Ok(resumed)
    }

    /// Waits in virtual time until the filter resumes `dir`.
    fn wait(&mut self, dir: StreamKind) -> Result<(), Stop> {
        let ctx = self.ctx;
        let worker = self.worker;
        let deadline = self.deadline;
        let woke = self.plugin.run_until(deadline, |p| {
            p.vm(worker)
                .and_then(|vm| vm.store.data().contexts.get(&ctx))
                .is_none_or(|d| !d.effects.is_empty())
        });
        if self.plugin.vm(worker).is_none() {
            return Err(Stop::Trap(Trapped(
                "the VM failed while the stream waited".into(),
            )));
        }
        if !woke {
            self.plugin.shared.clock.advance_to(deadline);
            return Err(Stop::Timeout);
        }
        if self.apply(dir)? {
            Ok(())
        } else {
            self.wait(dir)
        }
    }

    fn body_callbacks(&mut self, dir: &Direction) -> bool {
        if self.profile().body_callbacks_by_default() {
            return true;
        }
        let key = dir.opt_in_property;
        self.data()
            .is_some_and(|d| d.filter_state.contains_key(key))
    }

    /// Runs one direction; returns the (possibly rewritten) headers, body and trailers.
    fn direction(
        &mut self,
        dir: &Direction,
        headers: Headers,
        chunks: Vec<Vec<u8>>,
        trailers: Headers,
        codec_eos_chunk: bool,
    ) -> Result<(Headers, Vec<u8>, Headers), Stop> {
        let (on_headers, on_body, on_trailers) = {
            let vm = self.vm()?;
            let e = &vm.exports;
            match dir.kind {
                StreamKind::Request => (
                    e.on_request_headers.clone(),
                    e.on_request_body.clone(),
                    e.on_request_trailers.clone(),
                ),
                _ => (
                    e.on_response_headers.clone(),
                    e.on_response_body.clone(),
                    e.on_response_trailers.clone(),
                ),
            }
        };
        if let Some(d) = self.data() {
            d.maps.insert(dir.headers_map, headers.clone());
            d.buffers.insert(dir.buffer, Vec::new());
        }
        let has_body = !chunks.is_empty();
        let headers_eos = (!has_body && trailers.is_empty())
            || (dir.kind != StreamKind::Request
                && self.profile().response_headers_always_end_stream());
        let n = len32(&headers);
        let action = self
            .call(|vm, ctx| {
                on_headers
                    .map(|f: HeadersFn| f.call(&mut vm.store, (ctx, n, u32::from(headers_eos))))
            })?
            .unwrap_or(0);
        let resumed = self.apply(dir.kind)?;
        let mut held = action != 0 && !resumed;
        // Envoy (proxy-wasm-cpp-host) turns a headers StopIteration into
        // StopAllIterationAndWatermark unless the plugin allows StopIteration.
        let envoy_stop_all = action == 1
            && self.plugin.shared.profile == crate::Profile::Envoy
            && !self.plugin.shared.allow_on_headers_stop_iteration;
        let stop_all = held && (action >= 3 || envoy_stop_all);

        // The codec delivers each chunk, then (HTTP/1) an empty chunk carrying end-of-stream.
        let mut deliveries: Vec<(Vec<u8>, bool)> = Vec::new();
        if has_body {
            let last = chunks.len() - 1;
            for (i, chunk) in chunks.into_iter().enumerate() {
                let eos = i == last && trailers.is_empty() && !codec_eos_chunk;
                deliveries.push((chunk, eos));
            }
            if codec_eos_chunk && trailers.is_empty() {
                deliveries.push((Vec::new(), true));
            }
        }
        let mut forwarded = Vec::new();
        let mut body_held = false;
        let callbacks = self.body_callbacks(dir);
        for (chunk, eos) in deliveries {
            self.append(dir, &chunk);
            if stop_all {
                continue;
            }
            if !callbacks {
                forwarded.extend(self.drain(dir));
                continue;
            }
            let size = self.visible_len(dir);
            let action = self
                .call(|vm, ctx| {
                    on_body
                        .clone()
                        .map(|f: HeadersFn| f.call(&mut vm.store, (ctx, size, u32::from(eos))))
                })?
                .unwrap_or(0);
            let resumed = self.apply(dir.kind)?;
            if action == 0 || resumed {
                forwarded.extend(self.drain(dir));
                body_held = false;
                held = false;
            } else {
                body_held = true;
            }
        }
        if stop_all {
            self.wait(dir.kind)?;
            held = false;
            if has_body && callbacks {
                let size = self.visible_len(dir);
                let eos = u32::from(trailers.is_empty());
                let action = self
                    .call(|vm, ctx| {
                        on_body
                            .clone()
                            .map(|f: HeadersFn| f.call(&mut vm.store, (ctx, size, eos)))
                    })?
                    .unwrap_or(0);
                body_held = action != 0 && !self.apply(dir.kind)?;
            }
            if !body_held {
                forwarded.extend(self.drain(dir));
            }
        }
        let mut trailers_held = false;
        if !trailers.is_empty() {
            if let Some(d) = self.data() {
                d.maps.insert(dir.trailers_map, trailers.clone());
            }
            let n = len32(&trailers);
            let action = self
                .call(|vm, ctx| on_trailers.map(|f: TrailersFn| f.call(&mut vm.store, (ctx, n))))?
                .unwrap_or(0);
            trailers_held = action != 0 && !self.apply(dir.kind)?;
        }
        if held || body_held || trailers_held {
            self.wait(dir.kind)?;
            forwarded.extend(self.drain(dir));
        }
        let data = self.data();
        let headers = data
            .as_ref()
            .and_then(|d| d.maps.get(&dir.headers_map).cloned())
            .unwrap_or_default();
        let trailers = data
            .and_then(|d| d.maps.get(&dir.trailers_map).cloned())
            .unwrap_or_default();
        Ok((headers, forwarded, trailers))
    }

    fn append(&mut self, dir: &Direction, chunk: &[u8]) {
        if let Some(d) = self.data() {
            d.buffers
                .entry(dir.buffer)
                .or_default()
                .extend_from_slice(chunk);
        }
    }

    fn drain(&mut self, dir: &Direction) -> Vec<u8> {
        self.data()
            .map(|d| std::mem::take(d.buffers.entry(dir.buffer).or_default()))
            .unwrap_or_default()
    }

    fn visible_len(&mut self, dir: &Direction) -> u32 {
        self.data()
            .and_then(|d| d.buffers.get(&dir.buffer))
            .map_or(0, |b| len32(b))
    }

    /// The target the upstream receives, as this profile's proxy sends it.
    fn upstream_target(&mut self, headers: &mut Headers) {
        let profile = self.profile();
        let Some(data) = self.data() else {
            return;
        };
        let sent = data
            .info
            .as_ref()
            .and_then(|i| i.request_headers.iter().find(|(n, _)| n == ":path"))
            .map(|(_, v)| v.clone());
        let args = data
            .filter_state
            .get("args")
            .map(|a| String::from_utf8_lossy(a).into_owned());
        let written = data.target_written;
        let (Some(sent), Some(slot)) = (sent, headers.iter_mut().find(|(n, _)| n == ":path"))
        else {
            return;
        };
        slot.1 = profile.upstream_target(&sent, &slot.1, written, args.as_deref());
    }

    fn request_phase(&mut self) -> Result<UpstreamRequest, Stop> {
        let headers = self
            .data()
            .and_then(|d| d.maps.get(&MapKind::RequestHeaders).cloned())
            .unwrap_or_default();
        let chunks = std::mem::take(&mut self.request.body_chunks);
        let trailers = std::mem::take(&mut self.request.trailers);
        let (mut headers, mut body, trailers) =
            self.direction(&REQUEST, headers, chunks, trailers, true)?;
        // HTTP/1 framing: the upstream reads `content-length` bytes, whatever the filter
        // did to the body. A filter that changes a body's length must drop the header.
        let declared = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        if let Some(declared) = declared.filter(|d| *d < body.len()) {
            body.truncate(declared);
        }
        if self.profile() == Profile::Envoy {
            // The router adds this after the filter chain (route timeout, default 15 s).
            headers.push(("x-envoy-expected-rq-timeout-ms".into(), "15000".into()));
        }
        self.upstream_target(&mut headers);
        Ok(UpstreamRequest {
            headers,
            body,
            trailers,
        })
    }

    fn response_phase(
        &mut self,
        headers: Headers,
        chunks: Vec<Vec<u8>>,
        trailers: Headers,
        codec_eos_chunk: bool,
    ) -> Result<ClientResponse, Stop> {
        let (headers, body, trailers) =
            self.direction(&RESPONSE, headers, chunks, trailers, codec_eos_chunk)?;
        let status = headers
            .iter()
            .find(|(n, _)| n == ":status")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut headers: Headers = headers
            .into_iter()
            .filter(|(n, _)| !n.starts_with(':'))
            .collect();
        if self.profile() == Profile::Envoy {
            // Envoy overwrites `server` after the filter chain.
            headers.retain(|(n, _)| n != "server");
            headers.push(("server".into(), "envoy".into()));
        }
        Ok(ClientResponse {
            status,
            headers,
            body,
            trailers,
        })
    }

    /// A local reply: Envoy runs it through the filter's own response callbacks.
    fn local_reply(
        &mut self,
        status: u16,
        extra: Headers,
        body: Vec<u8>,
    ) -> Result<ClientResponse, Stop> {
        let mut headers: Headers = vec![(":status".into(), status.to_string())];
        headers.extend(extra.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), v)));
        if !headers.iter().any(|(n, _)| n == "content-length") {
            headers.push(("content-length".into(), body.len().to_string()));
        }
        if !body.is_empty() && !headers.iter().any(|(n, _)| n == "content-type") {
            headers.push(("content-type".into(), "text/plain".into()));
        }
        self.set_response_code(status);
        if let Some(d) = self.data() {
            d.buffers.insert(BufferKind::HttpResponseBody, Vec::new());
        }
        let chunks = if body.is_empty() {
            Vec::new()
        } else if self.profile().local_reply_appends_newline() {
            let mut body = body;
            body.push(b'\n');
            vec![body]
        } else {
            vec![body]
        };
        match self.response_phase(headers, chunks, Vec::new(), false) {
            // A second local reply from the response callbacks is ignored, as in Envoy.
            Err(Stop::Local {
                status,
                headers,
                body,
            }) => Ok(ClientResponse {
                status,
                headers,
                body,
                trailers: Vec::new(),
            }),
            other => other,
        }
    }

    /// `on_log`, `on_done`, `on_delete`, then the context is gone.
    fn close(&mut self) -> Result<(), Stop> {
        self.call(|vm, ctx| {
            vm.exports
                .on_log
                .clone()
                .map(|f| f.call(&mut vm.store, ctx))
        })?;
        self.call(|vm, ctx| {
            vm.exports
                .on_done
                .clone()
                .map(|f| f.call(&mut vm.store, ctx))
        })?;
        self.call(|vm, ctx| {
            vm.exports
                .on_delete
                .clone()
                .map(|f| f.call(&mut vm.store, ctx))
        })?;
        let ctx = self.ctx;
        if let Some(vm) = self.plugin.vm(self.worker) {
            vm.store.data_mut().contexts.remove(&ctx);
            let root = vm.store.data().root_context;
            vm.enter(root);
        }
        Ok(())
    }
}

/// A stable, UUID-shaped request id (Envoy generates a random UUIDv4).
fn request_id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}
