//! One worker VM: a wasmtime instance plus the host-side state its hostcalls see.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use tollgate_kit::{BufferKind, LogLevel, MapKind, StreamKind};
use wasmtime::{Engine, Instance, Linker, Module, Store, TypedFunc};

use crate::callout::Cluster;
use crate::clock::Clock;
use crate::exchange::{Headers, UpstreamRequest};
use crate::hostcall_log::HostcallRecord;
use crate::profile::Profile;
use crate::properties::StreamInfo;
use crate::shared::{MetricIds, SharedState};

/// Locks, recovering from a poisoned mutex (a failed test thread must not cascade).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every VM of a plugin shares.
pub struct PluginShared {
    pub profile: Profile,
    /// Envoy's `PluginConfig.allow_on_headers_stop_iteration`: without it Envoy turns a
    /// headers `StopIteration` into `StopAllIterationAndWatermark` (no body callbacks
    /// until the filter resumes).
    pub allow_on_headers_stop_iteration: bool,
    pub name: String,
    pub root_id: String,
    pub vm_id: String,
    pub config: Vec<u8>,
    pub vm_config: Vec<u8>,
    pub log_level: LogLevel,
    pub shared: Mutex<SharedState>,
    pub clock: Clock,
    pub hostcalls: Mutex<Vec<HostcallRecord>>,
    pub logs: Mutex<Vec<(LogLevel, String)>>,
    pub clusters: Mutex<HashMap<String, Cluster>>,
    /// Set when the filter did what kills a real worker (Kong: a local reply from the
    /// root context).
    pub crashed: Mutex<Option<String>>,
    /// While [`Plugin::hammer`](crate::Plugin::hammer) runs: the workers' turns.
    pub race: Mutex<Option<Arc<crate::race::Baton>>>,
    /// Fault injection: `proxy_set_shared_data` ignores the CAS token.
    pub ignore_cas: std::sync::atomic::AtomicBool,
}

/// Something a hostcall asked the host to do once the callback returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LocalReply {
        status: u16,
        details: String,
        headers: Headers,
        body: Vec<u8>,
    },
    Continue(StreamKind),
    Close(StreamKind),
}

/// The host-side view of one context (root or stream).
#[derive(Debug, Default)]
pub struct ContextData {
    pub maps: HashMap<MapKind, Headers>,
    /// A filter wrote the request's `:path`.
    pub target_written: bool,
    pub buffers: HashMap<BufferKind, Vec<u8>>,
    pub info: Option<StreamInfo>,
    pub filter_state: HashMap<String, Vec<u8>>,
    pub effects: Vec<Effect>,
}

/// A callout dispatched during a callback, scheduled by the plugin afterwards.
#[derive(Debug, Clone)]
pub enum Dispatched {
    Http {
        token: u32,
        /// The context that made the call.
        maker: u32,
        cluster: String,
        request: UpstreamRequest,
        timeout: Duration,
    },
    Grpc {
        token: u32,
        cluster: String,
        service: String,
        method: String,
        metadata: Headers,
        message: Vec<u8>,
        timeout: Duration,
    },
}

/// The wasmtime store data.
pub struct VmState {
    pub plugin: Arc<PluginShared>,
    pub worker: usize,
    pub root_context: u32,
    pub effective: u32,
    pub contexts: HashMap<u32, ContextData>,
    pub metric_ids: MetricIds,
    /// Set when the filter changes its tick period; the plugin reschedules.
    pub tick_request: Option<Duration>,
    pub dispatched: Vec<Dispatched>,
    /// (worker, root context, queue id) to notify.
    pub queue_notifications: Vec<(usize, u32, u32)>,
    pub next_token: u32,
    pub grpc_status: (u32, Vec<u8>),
    pub rng: u64,
    pub stdout: Vec<u8>,
}

impl VmState {
    pub fn context(&mut self) -> Option<&mut ContextData> {
        let id = self.effective;
        self.contexts.get_mut(&id)
    }

    pub fn record(&self, name: &'static str, status: tollgate_kit::Status) {
        lock(&self.plugin.hostcalls).push(HostcallRecord {
            worker: self.worker,
            context_id: self.effective,
            name,
            status,
        });
    }
}

/// `proxy_on_http_call_response(context, token, headers, body size, trailers)`.
pub type CalloutResponseFn = TypedFunc<(u32, u32, u32, u32, u32), ()>;

/// Exports the host calls into, resolved once per instance.
pub struct Exports {
    pub on_context_create: TypedFunc<(u32, u32), ()>,
    pub on_vm_start: Option<TypedFunc<(u32, u32), u32>>,
    pub on_configure: Option<TypedFunc<(u32, u32), u32>>,
    pub on_tick: Option<TypedFunc<u32, ()>>,
    pub on_queue_ready: Option<TypedFunc<(u32, u32), ()>>,
    pub on_request_headers: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_request_body: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_request_trailers: Option<TypedFunc<(u32, u32), u32>>,
    pub on_response_headers: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_response_body: Option<TypedFunc<(u32, u32, u32), u32>>,
    pub on_response_trailers: Option<TypedFunc<(u32, u32), u32>>,
    pub on_log: Option<TypedFunc<u32, ()>>,
    pub on_done: Option<TypedFunc<u32, u32>>,
    pub on_delete: Option<TypedFunc<u32, ()>>,
    pub on_http_call_response: Option<CalloutResponseFn>,
    pub on_grpc_receive: Option<TypedFunc<(u32, u32, u32), ()>>,
    pub on_grpc_close: Option<TypedFunc<(u32, u32, u32), ()>>,
}

pub struct Vm {
    pub store: Store<VmState>,
    pub exports: Exports,
    pub next_context: u32,
}

/// Root context id, as Envoy numbers it.
pub const ROOT_CONTEXT: u32 = 1;

impl Vm {
    /// Instantiates `module`, runs WASI initialisation and creates the root context.
    pub fn start(
        engine: &Engine,
        linker: &Linker<VmState>,
        module: &Module,
        plugin: Arc<PluginShared>,
        worker: usize,
    ) -> Result<Self> {
        let seed = 0x9e37_79b9_7f4a_7c15_u64 ^ (worker as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
        let state = VmState {
            plugin,
            worker,
            root_context: ROOT_CONTEXT,
            effective: ROOT_CONTEXT,
            contexts: HashMap::from([(ROOT_CONTEXT, ContextData::default())]),
            metric_ids: MetricIds::default(),
            tick_request: None,
            dispatched: Vec::new(),
            queue_notifications: Vec::new(),
            next_token: 0,
            grpc_status: (0, Vec::new()),
            rng: seed,
            stdout: Vec::new(),
        };
        let mut store = Store::new(engine, state);
        let instance = linker
            .instantiate(&mut store, module)
            .map_err(anyhow::Error::from)
            .context("instantiating the filter")?;
        for init in ["_initialize", "_start"] {
            if let Ok(f) = instance.get_typed_func::<(), ()>(&mut store, init) {
                f.call(&mut store, ())
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("running {init}"))?;
            }
        }
        let exports = Exports::resolve(&instance, &mut store)?;
        let mut vm = Self {
            store,
            exports,
            next_context: ROOT_CONTEXT + 1,
        };
        let create = vm.exports.on_context_create.clone();
        create
            .call(&mut vm.store, (ROOT_CONTEXT, 0))
            .map_err(anyhow::Error::from)
            .context("creating the root context")?;
        Ok(vm)
    }

    pub fn new_context_id(&mut self) -> u32 {
        let id = self.next_context;
        self.next_context = self.next_context.saturating_add(1);
        id
    }

    /// The root context's host-side data (callout responses are staged there).
    pub fn root_data(&mut self) -> &mut ContextData {
        let state = self.store.data_mut();
        let root = state.root_context;
        state.contexts.entry(root).or_default()
    }

    /// Makes `id` the effective context for the next guest call.
    pub fn enter(&mut self, id: u32) {
        self.store.data_mut().effective = id;
    }
}

impl Exports {
    fn resolve(instance: &Instance, store: &mut Store<VmState>) -> Result<Self> {
        macro_rules! opt {
            ($name:literal) => {
                instance.get_typed_func(&mut *store, $name).ok()
            };
        }
        if instance
            .get_func(&mut *store, "proxy_abi_version_0_2_1")
            .is_none()
            && instance
                .get_func(&mut *store, "proxy_abi_version_0_2_0")
                .is_none()
        {
            return Err(anyhow!(
                "the module exports no proxy_abi_version_0_2_x: not a proxy-wasm 0.2 filter"
            ));
        }
        Ok(Self {
            on_context_create: instance
                .get_typed_func(&mut *store, "proxy_on_context_create")
                .map_err(anyhow::Error::from)
                .context("the module must export proxy_on_context_create")?,
            on_vm_start: opt!("proxy_on_vm_start"),
            on_configure: opt!("proxy_on_configure"),
            on_tick: opt!("proxy_on_tick"),
            on_queue_ready: opt!("proxy_on_queue_ready"),
            on_request_headers: opt!("proxy_on_request_headers"),
            on_request_body: opt!("proxy_on_request_body"),
            on_request_trailers: opt!("proxy_on_request_trailers"),
            on_response_headers: opt!("proxy_on_response_headers"),
            on_response_body: opt!("proxy_on_response_body"),
            on_response_trailers: opt!("proxy_on_response_trailers"),
            on_log: opt!("proxy_on_log"),
            on_done: opt!("proxy_on_done"),
            on_delete: opt!("proxy_on_delete"),
            on_http_call_response: opt!("proxy_on_http_call_response"),
            on_grpc_receive: opt!("proxy_on_grpc_receive"),
            on_grpc_close: opt!("proxy_on_grpc_close"),
        })
    }
}
