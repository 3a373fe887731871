//! A plugin: N worker VMs of one filter with one configuration, the event loop that
//! delivers timers, callout responses and queue notifications in virtual time, and
//! failure handling.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use tollgate_kit::{BufferKind, LogLevel, MapKind};
use wasmtime::{Config, Engine, Linker, Module};

use crate::abi;
use crate::callout::{Cluster, GrpcReply, HttpReply};
use crate::clock::Clock;
use crate::exchange::{Headers, Outcome, Request, UpstreamReply, UpstreamRequest};
use crate::hostcall_log::HostcallRecord;
use crate::profile::Profile;
use crate::shared::SharedState;
use crate::stream::StreamRun;
use crate::vm::{ContextData, Dispatched, PluginShared, Vm, VmState, lock};

/// What the host does when a filter traps (Envoy's `failure_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// The trapping stream and every later one get the failure reply (Envoy's default).
    FailClosed,
    /// Later streams pass through without the filter.
    FailOpen,
    /// The trapping stream gets the failure reply; the next stream reloads the VM, unless
    /// the last reload was less than the backoff ago. Tollgate's gateway configs use this.
    #[default]
    FailReload,
}

pub type UpstreamHandler = Arc<dyn Fn(&UpstreamRequest) -> UpstreamReply + Send + Sync>;

/// Engine and compiled modules are shared by every plugin in the process: compiling a
/// filter once keeps the test suite fast.
fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(e) = ENGINE.get() {
        return Ok(e);
    }
    let mut config = Config::new();
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config)?;
    Ok(ENGINE.get_or_init(|| engine))
}

fn module(engine: &Engine, wasm: &[u8]) -> Result<Module> {
    static MODULES: OnceLock<Mutex<HashMap<u64, Module>>> = OnceLock::new();
    let cache = MODULES.get_or_init(Default::default);
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        wasm.hash(&mut h);
        h.finish()
    };
    if let Some(m) = lock(cache).get(&key) {
        return Ok(m.clone());
    }
    let m = Module::new(engine, wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the filter")?;
    lock(cache).insert(key, m.clone());
    Ok(m)
}

pub struct PluginBuilder {
    wasm: Vec<u8>,
    profile: Profile,
    name: String,
    root_id: String,
    vm_id: String,
    config: Vec<u8>,
    vm_config: Vec<u8>,
    workers: usize,
    policy: FailurePolicy,
    failure_reply: (u16, Vec<u8>),
    log_level: LogLevel,
    stream_timeout: Duration,
    reload_backoff: Duration,
    allow_on_headers_stop_iteration: bool,
}

impl PluginBuilder {
    /// Envoy's `allow_on_headers_stop_iteration` (Envoy 1.35+). Off by default, as in
    /// Envoy: a `StopIteration` from a headers callback then stops everything, and the
    /// filter sees no body until it resumes. On: body callbacks run while headers are held.
    pub fn allow_on_headers_stop_iteration(mut self, allow: bool) -> Self {
        self.allow_on_headers_stop_iteration = allow;
        self
    }

    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }
    /// Plugin name, root id and vm id at once (Tollgate's configs use one name for all).
    pub fn named(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        name.clone_into(&mut self.root_id);
        name.clone_into(&mut self.vm_id);
        self
    }
    pub fn config(mut self, config: impl Into<Vec<u8>>) -> Self {
        self.config = config.into();
        self
    }
    pub fn vm_config(mut self, config: impl Into<Vec<u8>>) -> Self {
        self.vm_config = config.into();
        self
    }
    /// Worker VMs, as Envoy runs one per worker thread. Default 1.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }
    /// The reply a stream gets when the filter traps. Default: Envoy's empty 503.
    pub fn failure_reply(mut self, status: u16, body: impl Into<Vec<u8>>) -> Self {
        self.failure_reply = (status, body.into());
        self
    }
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = level;
        self
    }
    /// Virtual time a paused stream may wait before Envoy's 504 "stream timeout".
    pub fn stream_timeout(mut self, timeout: Duration) -> Self {
        self.stream_timeout = timeout;
        self
    }

    /// Starts every worker VM and configures it. Fails if any rejects its config.
    pub fn build(self) -> Result<Plugin> {
        let engine = engine()?;
        let module = module(engine, &self.wasm)?;
        let mut linker = abi::linker(engine)?;
        // Imports the host does not model trap when called, instead of failing to load.
        linker.define_unknown_imports_as_traps(&module)?;
        let shared = Arc::new(PluginShared {
            profile: self.profile,
            allow_on_headers_stop_iteration: self.allow_on_headers_stop_iteration,
            name: self.name,
            root_id: self.root_id,
            vm_id: self.vm_id,
            config: self.config,
            vm_config: self.vm_config,
            log_level: self.log_level,
            shared: Mutex::new(SharedState::default()),
            clock: Clock::new(),
            hostcalls: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            clusters: Mutex::new(HashMap::new()),
            crashed: Mutex::new(None),
            race: Mutex::new(None),
            ignore_cas: std::sync::atomic::AtomicBool::new(false),
        });
        let mut plugin = Plugin {
            engine: engine.clone(),
            module,
            linker,
            shared,
            workers: Vec::new(),
            events: BTreeMap::new(),
            seq: 0,
            upstream: Arc::new(|req: &UpstreamRequest| UpstreamReply::ok(req.body.clone())),
            policy: self.policy,
            failure_reply: self.failure_reply,
            stream_timeout: self.stream_timeout,
            reload_backoff: self.reload_backoff,
            next_worker: 0,
            streams: 0,
            starts: BTreeMap::new(),
            finished: BTreeMap::new(),
            next_start: 0,
        };
        for worker in 0..self.workers {
            let vm = plugin.start_vm(worker)?;
            // Envoy's reload backoff counts from the VM's creation, not only from reloads.
            let created = plugin.shared.clock.elapsed();
            plugin.workers.push(Worker {
                vm: Some(vm),
                failed: false,
                last_reload: Some(created),
                tick: None,
                tick_generation: 0,
            });
            plugin.after_call(worker);
        }
        Ok(plugin)
    }
}

pub(crate) struct Worker {
    pub vm: Option<Vm>,
    pub failed: bool,
    pub last_reload: Option<Duration>,
    pub tick: Option<Duration>,
    pub tick_generation: u64,
}

#[derive(Debug, Clone)]
pub(crate) enum Event {
    Tick {
        worker: usize,
        generation: u64,
    },
    Http {
        worker: usize,
        token: u32,
        maker: u32,
        reply: Option<(Headers, Vec<u8>, Headers)>,
    },
    Grpc {
        worker: usize,
        token: u32,
        reply: Result<Vec<Vec<u8>>, (u32, String)>,
    },
    QueueReady {
        worker: usize,
        root: u32,
        queue: u32,
    },
    /// One of [`Plugin::send_concurrently`]'s requests arrives.
    Start {
        id: usize,
    },
}

/// Fail a guest call: the trap's message, for the outcome and the log.
pub(crate) struct Trapped(pub String);

pub struct Plugin {
    engine: Engine,
    module: Module,
    linker: Linker<VmState>,
    pub(crate) shared: Arc<PluginShared>,
    pub(crate) workers: Vec<Worker>,
    events: BTreeMap<(Duration, u64), Event>,
    seq: u64,
    pub(crate) upstream: UpstreamHandler,
    pub(crate) policy: FailurePolicy,
    pub(crate) failure_reply: (u16, Vec<u8>),
    pub(crate) stream_timeout: Duration,
    reload_backoff: Duration,
    next_worker: usize,
    pub(crate) streams: u64,
    /// Requests of [`Plugin::send_concurrently`] not started yet, and their results
    /// with the virtual time each took.
    starts: BTreeMap<usize, Request>,
    finished: BTreeMap<usize, (Duration, Result<Outcome>)>,
    next_start: usize,
}

impl Plugin {
    /// A builder for the filter in `wasm` with Envoy's profile, one worker, named "tollgate".
    pub fn builder(wasm: &[u8]) -> PluginBuilder {
        PluginBuilder {
            wasm: wasm.to_vec(),
            profile: Profile::Envoy,
            name: "tollgate".into(),
            root_id: "tollgate".into(),
            vm_id: "tollgate".into(),
            config: Vec::new(),
            vm_config: Vec::new(),
            workers: 1,
            policy: FailurePolicy::default(),
            failure_reply: (503, Vec::new()),
            log_level: LogLevel::Info,
            stream_timeout: Duration::from_secs(300),
            reload_backoff: Duration::from_secs(1),
            allow_on_headers_stop_iteration: false,
        }
    }

    /// Sets what the route's upstream answers. Default: 200 echoing the request body.
    pub fn upstream(
        &mut self,
        handler: impl Fn(&UpstreamRequest) -> UpstreamReply + Send + Sync + 'static,
    ) {
        self.upstream = Arc::new(handler);
    }

    /// Adds (or replaces) a callout target.
    pub fn add_cluster(&mut self, cluster: Cluster) {
        lock(&self.shared.clusters).insert(cluster.name.clone(), cluster);
    }

    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    /// Every hostcall made so far.
    pub fn hostcalls(&self) -> Vec<HostcallRecord> {
        lock(&self.shared.hostcalls).clone()
    }

    /// What killed the worker, if the filter did what crashes the real host (Kong: a
    /// local reply or a resume from the root context).
    pub fn crashed(&self) -> Option<String> {
        lock(&self.shared.crashed).clone()
    }

    /// Everything the filter logged (including its stdout/stderr).
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        lock(&self.shared.logs).clone()
    }

    /// A counter's or gauge's value.
    pub fn metric(&self, name: &str) -> Option<u64> {
        lock(&self.shared.shared).metrics.value(name)
    }

    /// The shared data under `prefix` (the plugin's vm_id), sorted by key: what the
    /// filter's workers share, for tests that check its consistency.
    pub fn shared_data(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        lock(&self.shared.shared).entries(&self.shared.vm_id, prefix)
    }

    /// A histogram's samples.
    pub fn histogram(&self, name: &str) -> Vec<u64> {
        lock(&self.shared.shared).metrics.samples(name)
    }

    /// Virtual time since the plugin started.
    pub fn elapsed(&self) -> Duration {
        self.shared.clock.elapsed()
    }

    /// Whether worker `i`'s VM is currently failed (trapped and not yet reloaded).
    pub fn worker_failed(&self, worker: usize) -> bool {
        self.workers.get(worker).is_none_or(|w| w.failed)
    }

    /// Advances virtual time, delivering every timer, callout response and queue
    /// notification that falls due.
    pub fn advance(&mut self, by: Duration) {
        let target = self.shared.clock.elapsed().saturating_add(by);
        self.run_until(target, |_| false);
        self.shared.clock.advance_to(target);
    }

    /// Pushes a new configuration to every worker, as Envoy does on a config update.
    /// A rejected config leaves the previous one serving.
    pub fn reconfigure(&mut self, config: impl Into<Vec<u8>>) -> Result<()> {
        let config = config.into();
        for worker in 0..self.workers.len() {
            self.configure(worker, &config)?;
        }
        Ok(())
    }

    /// Sends one request through the filter and the scripted upstream.
    pub fn send(&mut self, request: Request) -> Result<Outcome> {
        let worker = match request.worker {
            Some(w) if w < self.workers.len() => w,
            Some(w) => bail!("no worker {w}: the plugin has {}", self.workers.len()),
            None => {
                let w = self.next_worker % self.workers.len();
                self.next_worker = self.next_worker.wrapping_add(1);
                w
            }
        };
        self.streams = self.streams.wrapping_add(1);
        let mark = lock(&self.shared.hostcalls).len();
        let log_mark = lock(&self.shared.logs).len();
        let source: SocketAddr = request.source.unwrap_or_else(|| {
            SocketAddr::from(([127, 0, 0, 1], 40_000 + (self.streams % 20_000) as u16))
        });
        let mut outcome = StreamRun::new(self, worker, request, source).run()?;
        outcome.hostcalls = lock(&self.shared.hostcalls)
            .get(mark..)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        outcome.logs = lock(&self.shared.logs)
            .get(log_mark..)
            .map(<[_]>::to_vec)
            .unwrap_or_default();
        Ok(outcome)
    }

    /// Sends requests that overlap in time: request `i` arrives `offset` after the
    /// call (in virtual time) and is handled while earlier ones may still wait on a
    /// callout, on whichever worker it names. Returns each outcome with how long it
    /// took, in the order given. A stream that waits lets the others run, as in a proxy
    /// with many connections; each runs inside the wait of the one before it.
    pub fn send_concurrently(
        &mut self,
        requests: Vec<(Duration, Request)>,
    ) -> Result<Vec<(Duration, Outcome)>> {
        let base = self.shared.clock.elapsed();
        let count = requests.len();
        let first = self.next_start;
        self.next_start += count;
        let ids: Vec<usize> = (first..first + count).collect();
        for (id, (offset, request)) in ids.iter().zip(requests) {
            self.starts.insert(*id, request);
            self.schedule(base + offset, Event::Start { id: *id });
        }
        let horizon = base + self.stream_timeout + Duration::from_secs(3600);
        self.run_until(horizon, |p| {
            ids.iter().all(|id| p.finished.contains_key(id))
        });
        ids.iter()
            .map(|id| {
                let (took, outcome) = self
                    .finished
                    .remove(id)
                    .ok_or_else(|| anyhow!("request {id} never finished"))?;
                Ok((took, outcome?))
            })
            .collect()
    }

    // ----- VM lifecycle -----

    fn start_vm(&mut self, worker: usize) -> Result<Vm> {
        let mut vm = Vm::start(
            &self.engine,
            &self.linker,
            &self.module,
            Arc::clone(&self.shared),
            worker,
        )?;
        let root = vm.store.data().root_context;
        let vm_config = self.shared.vm_config.clone();
        if let Some(f) = vm.exports.on_vm_start.clone() {
            set_root_buffer(
                &mut vm,
                BufferKind::VmConfiguration,
                Some(vm_config.clone()),
            );
            let ok = f
                .call(&mut vm.store, (root, len32(&vm_config)))
                .map_err(anyhow::Error::from)
                .context("proxy_on_vm_start trapped")?;
            set_root_buffer(&mut vm, BufferKind::VmConfiguration, None);
            if ok == 0 {
                bail!(
                    "the filter's on_vm_start returned false{}",
                    self.recent_errors()
                );
            }
        }
        let config = self.shared.config.clone();
        configure_vm(&mut vm, &config).map_err(|e| anyhow!("{e}{}", self.recent_errors()))?;
        Ok(vm)
    }

    fn configure(&mut self, worker: usize, config: &[u8]) -> Result<()> {
        let w = self
            .workers
            .get_mut(worker)
            .ok_or_else(|| anyhow!("no worker {worker}"))?;
        let vm =
            w.vm.as_mut()
                .ok_or_else(|| anyhow!("worker {worker} has no VM"))?;
        let result = configure_vm(vm, config);
        self.after_call(worker);
        result.map_err(|e| anyhow!("{e}{}", self.recent_errors()))
    }

    fn recent_errors(&self) -> String {
        let logs = lock(&self.shared.logs);
        let errors: Vec<&str> = logs
            .iter()
            .rev()
            .take(5)
            .filter(|(l, _)| *l >= LogLevel::Warn)
            .map(|(_, m)| m.as_str())
            .collect();
        if errors.is_empty() {
            String::new()
        } else {
            format!(": {}", errors.join("; "))
        }
    }

    /// Makes worker `w` usable for a new stream according to the failure policy.
    /// `Ok(false)`: the stream must get the failure reply (or pass, for FailOpen).
    pub(crate) fn ready(&mut self, worker: usize) -> bool {
        let Some(w) = self.workers.get(worker) else {
            return false;
        };
        if !w.failed {
            return true;
        }
        if self.policy != FailurePolicy::FailReload {
            return false;
        }
        let now = self.shared.clock.elapsed();
        if w.last_reload
            .is_some_and(|at| now.saturating_sub(at) < self.reload_backoff)
        {
            return false;
        }
        match self.start_vm(worker) {
            Ok(vm) => {
                if let Some(w) = self.workers.get_mut(worker) {
                    w.vm = Some(vm);
                    w.failed = false;
                    w.last_reload = Some(now);
                    w.tick = None;
                    w.tick_generation = w.tick_generation.wrapping_add(1);
                }
                self.after_call(worker);
                true
            }
            Err(e) => {
                lock(&self.shared.logs).push((LogLevel::Error, format!("VM reload failed: {e:#}")));
                if let Some(w) = self.workers.get_mut(worker) {
                    w.last_reload = Some(now);
                }
                false
            }
        }
    }

    pub(crate) fn vm(&mut self, worker: usize) -> Option<&mut Vm> {
        self.workers
            .get_mut(worker)
            .filter(|w| !w.failed)
            .and_then(|w| w.vm.as_mut())
    }

    /// Marks a worker's VM failed after a trap.
    pub(crate) fn fail(&mut self, worker: usize, error: &wasmtime::Error) -> Trapped {
        let message = format!("{error:#}");
        lock(&self.shared.logs).push((LogLevel::Error, format!("wasm trap: {message}")));
        if let Some(w) = self.workers.get_mut(worker) {
            w.failed = true;
            w.vm = None;
            w.tick = None;
        }
        Trapped(message)
    }

    // ----- Events -----

    fn schedule(&mut self, at: Duration, event: Event) {
        self.seq = self.seq.wrapping_add(1);
        self.events.insert((at, self.seq), event);
    }

    /// Collects what the last guest call asked for: callouts, timers, queue notices.
    pub(crate) fn after_call(&mut self, worker: usize) {
        let now = self.shared.clock.elapsed();
        let Some(vm) = self.workers.get_mut(worker).and_then(|w| w.vm.as_mut()) else {
            return;
        };
        let state = vm.store.data_mut();
        let dispatched = std::mem::take(&mut state.dispatched);
        let tick = state.tick_request.take();
        let notices = std::mem::take(&mut state.queue_notifications);
        if let Some(period) = tick
            && let Some(w) = self.workers.get_mut(worker)
        {
            w.tick_generation = w.tick_generation.wrapping_add(1);
            w.tick = (!period.is_zero()).then_some(period);
            let generation = w.tick_generation;
            if !period.is_zero() {
                self.schedule(now + period, Event::Tick { worker, generation });
            }
        }
        for (w, root, queue) in notices {
            self.schedule(
                now,
                Event::QueueReady {
                    worker: w,
                    root,
                    queue,
                },
            );
        }
        for call in dispatched {
            self.schedule_callout(worker, now, call);
        }
    }

    fn schedule_callout(&mut self, worker: usize, now: Duration, call: Dispatched) {
        let cluster = |name: &str| lock(&self.shared.clusters).get(name).cloned();
        match call {
            Dispatched::Http {
                token,
                maker,
                cluster: name,
                request,
                timeout,
            } => {
                let reply = cluster(&name)
                    .and_then(|c| c.http)
                    .map_or(HttpReply::fail(), |h| h(&request));
                // Envoy answers a timed-out callout with its own 504, not a failure.
                let timed_out = || {
                    Some((
                        vec![
                            (":status".to_string(), "504".to_string()),
                            ("content-length".into(), "24".into()),
                            ("content-type".into(), "text/plain".into()),
                        ],
                        b"upstream request timeout".to_vec(),
                        Vec::new(),
                    ))
                };
                let (at, reply) = match reply {
                    HttpReply::Respond { delay, .. } | HttpReply::Fail { delay }
                        if !timeout.is_zero() && delay >= timeout =>
                    {
                        (now + timeout, timed_out())
                    }
                    HttpReply::Respond {
                        headers,
                        body,
                        trailers,
                        delay,
                    } => (now + delay, Some((headers, body, trailers))),
                    HttpReply::Fail { delay } => (now + delay, None),
                    HttpReply::Hang => (now + timeout, timed_out()),
                };
                self.schedule(
                    at,
                    Event::Http {
                        worker,
                        token,
                        maker,
                        reply,
                    },
                );
            }
            Dispatched::Grpc {
                token,
                cluster: name,
                service,
                method,
                metadata,
                message,
                timeout,
            } => {
                let reply = cluster(&name)
                    .and_then(|c| c.grpc)
                    .map(|h| h(&service, &method, &metadata, &message));
                let (at, reply) = match reply {
                    Some(GrpcReply::Messages { messages, delay })
                        if timeout.is_zero() || delay < timeout =>
                    {
                        (now + delay, Ok(messages))
                    }
                    Some(GrpcReply::Status {
                        code,
                        message,
                        delay,
                    }) if timeout.is_zero() || delay < timeout => {
                        (now + delay, Err((code, message)))
                    }
                    // gRPC UNAVAILABLE (14) when nothing serves it; DEADLINE_EXCEEDED (4) on timeout.
                    None => (now, Err((14, "no healthy upstream".to_string()))),
                    _ => (now + timeout, Err((4, "timeout".to_string()))),
                };
                self.schedule(
                    at,
                    Event::Grpc {
                        worker,
                        token,
                        reply,
                    },
                );
            }
        }
    }

    /// Delivers events in time order until `done` holds or the next event is after
    /// `deadline`. Bounded: a filter that keeps a timer running cannot spin forever.
    pub(crate) fn run_until(
        &mut self,
        deadline: Duration,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        for _ in 0..1_000_000 {
            if done(self) {
                return true;
            }
            let Some((&(at, seq), _)) = self.events.first_key_value() else {
                return false;
            };
            if at > deadline {
                return false;
            }
            let Some(event) = self.events.remove(&(at, seq)) else {
                return false;
            };
            self.shared.clock.advance_to(at);
            self.deliver(event);
        }
        false
    }

    fn deliver(&mut self, event: Event) {
        match event {
            Event::Start { id } => {
                if let Some(request) = self.starts.remove(&id) {
                    let started = self.shared.clock.elapsed();
                    let outcome = self.send(request);
                    let took = self.shared.clock.elapsed().saturating_sub(started);
                    self.finished.insert(id, (took, outcome));
                }
            }
            Event::Tick { worker, generation } => {
                let Some(w) = self.workers.get(worker) else {
                    return;
                };
                let (Some(period), true) = (w.tick, w.tick_generation == generation) else {
                    return;
                };
                let now = self.shared.clock.elapsed();
                self.schedule(now + period, Event::Tick { worker, generation });
                self.call_root(worker, |vm, root| {
                    vm.exports
                        .on_tick
                        .clone()
                        .map(|f| f.call(&mut vm.store, root))
                });
            }
            Event::QueueReady {
                worker,
                root,
                queue,
            } => {
                self.call_root(worker, |vm, _| {
                    vm.exports
                        .on_queue_ready
                        .clone()
                        .map(|f| f.call(&mut vm.store, (root, queue)))
                });
            }
            Event::Http {
                worker,
                token,
                maker,
                reply,
            } => {
                let (headers, body, trailers) = reply.clone().unwrap_or_default();
                let present = reply.is_some();
                // Envoy makes the filter switch to the maker itself; the nginx hosts
                // run the answer on the maker's request (APISIX names the root context).
                let switches = self.shared.profile.switches_context();
                self.call_root(worker, |vm, root| {
                    if !switches && vm.store.data().contexts.contains_key(&maker) {
                        vm.enter(maker);
                    }
                    let ctx = vm.root_data();
                    if present {
                        ctx.maps
                            .insert(MapKind::HttpCallResponseHeaders, headers.clone());
                        ctx.maps
                            .insert(MapKind::HttpCallResponseTrailers, trailers.clone());
                        ctx.buffers
                            .insert(BufferKind::HttpCallResponseBody, body.clone());
                    }
                    let result = vm.exports.on_http_call_response.clone().map(|f| {
                        f.call(
                            &mut vm.store,
                            (root, token, len32(&headers), len32(&body), len32(&trailers)),
                        )
                    });
                    let ctx = vm.root_data();
                    ctx.maps.remove(&MapKind::HttpCallResponseHeaders);
                    ctx.maps.remove(&MapKind::HttpCallResponseTrailers);
                    ctx.buffers.remove(&BufferKind::HttpCallResponseBody);
                    result
                });
            }
            Event::Grpc {
                worker,
                token,
                reply,
            } => {
                self.call_root(worker, |vm, root| match &reply {
                    Ok(messages) => {
                        let mut last = None;
                        for message in messages {
                            vm.root_data()
                                .buffers
                                .insert(BufferKind::GrpcReceiveBuffer, message.clone());
                            last = vm
                                .exports
                                .on_grpc_receive
                                .clone()
                                .map(|f| f.call(&mut vm.store, (root, token, len32(message))));
                            vm.root_data()
                                .buffers
                                .remove(&BufferKind::GrpcReceiveBuffer);
                            if matches!(last, Some(Err(_))) {
                                break;
                            }
                        }
                        last
                    }
                    Err((code, message)) => {
                        vm.store.data_mut().grpc_status = (*code, message.clone().into_bytes());
                        vm.exports
                            .on_grpc_close
                            .clone()
                            .map(|f| f.call(&mut vm.store, (root, token, *code)))
                    }
                });
            }
        }
    }

    /// Calls into a worker's root context; a trap fails the VM.
    fn call_root(
        &mut self,
        worker: usize,
        f: impl FnOnce(&mut Vm, u32) -> Option<wasmtime::Result<()>>,
    ) {
        let Some(vm) = self.vm(worker) else { return };
        let root = vm.store.data().root_context;
        vm.enter(root);
        if let Some(Err(e)) = f(vm, root) {
            self.fail(worker, &e);
            return;
        }
        self.after_call(worker);
    }
}

pub(crate) fn len32<T>(v: &[T]) -> u32 {
    u32::try_from(v.len()).unwrap_or(u32::MAX)
}

fn set_root_buffer(vm: &mut Vm, kind: BufferKind, value: Option<Vec<u8>>) {
    let root = vm.store.data().root_context;
    vm.enter(root);
    let ctx: &mut ContextData = vm.root_data();
    match value {
        Some(v) => ctx.buffers.insert(kind, v),
        None => ctx.buffers.remove(&kind),
    };
}

fn configure_vm(vm: &mut Vm, config: &[u8]) -> Result<()> {
    let Some(f) = vm.exports.on_configure.clone() else {
        return Ok(());
    };
    let root = vm.store.data().root_context;
    set_root_buffer(vm, BufferKind::PluginConfiguration, Some(config.to_vec()));
    let result = f.call(&mut vm.store, (root, len32(config)));
    set_root_buffer(vm, BufferKind::PluginConfiguration, None);
    match result
        .map_err(anyhow::Error::from)
        .context("proxy_on_configure trapped")?
    {
        0 => bail!("the filter rejected its configuration"),
        _ => Ok(()),
    }
}
