//! What the proxy a filter runs in can and cannot do, found once in `on_configure`.
//!
//! The three hosts implement the same ABI differently, and some differences decide
//! security (see `testing/README.md`, "Host facts", where each is proven against the
//! real host):
//!
//! * **Envoy** switches to another stream's context on `proxy_set_effective_context`,
//!   removes request headers, routes on `:authority` and keeps custom properties in the
//!   stream's filter state.
//! * **Kong** (ngx_wasm_module) accepts `proxy_set_effective_context` but ignores it, so
//!   a stream can only be continued or refused from its own callbacks; a removed request
//!   header is only marked removed and nginx still sends it upstream; a write to
//!   `:authority` reports success and changes nothing; custom properties must live
//!   under `wasmx.`.
//! * **APISIX** (wasm-nginx-module) ignores `proxy_set_effective_context` too; it has no
//!   clock hostcall; a write to `:authority` sets the request *method*; properties are
//!   nginx variables, which must be declared (`set $name '';`).

use crate::host::Host;

/// The proxy family, told apart by behaviour (no host announces itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    Envoy,
    Kong,
    Apisix,
}

/// Hostcalls APISIX's wasm-nginx-module answers with `Unimplemented` (besides the clock,
/// which the ABI layer replaces with WASI's): filters degrade without them.
pub const APISIX_UNIMPLEMENTED: &[&str] = &[
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_set_tick_period_milliseconds",
    "proxy_set_buffer_bytes",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
];

/// No context has this id: a host that checks the id refuses to switch to it.
const NO_SUCH_CONTEXT: u32 = u32::MAX;

/// What the kit and the filters must know about the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    pub kind: HostKind,
}

impl Default for HostFacts {
    /// Envoy: the reference host, and what native tests run against.
    fn default() -> Self {
        Self::of(HostKind::Envoy)
    }
}

impl HostFacts {
    pub fn of(kind: HostKind) -> Self {
        Self { kind }
    }

    /// Tells the host apart, from the root context (in `on_configure`), with calls that
    /// are safe there on every host (Kong's `plugin_name` property, for one, crashes the
    /// worker outside a request):
    /// * only Envoy checks the id given to `proxy_set_effective_context` (the nginx
    ///   hosts accept any id, because they ignore it);
    /// * of the nginx hosts, only APISIX has no clock hostcall.
    pub fn detect(host: &dyn Host) -> Self {
        if host.set_effective_context(NO_SUCH_CONTEXT).is_err() {
            return Self::of(HostKind::Envoy);
        }
        match host.proxy_clock() {
            Err(e) if e.is_unimplemented() => Self::of(HostKind::Apisix),
            _ => Self::of(HostKind::Kong),
        }
    }

    pub fn name(self) -> &'static str {
        match self.kind {
            HostKind::Envoy => "Envoy",
            HostKind::Kong => "Kong",
            HostKind::Apisix => "APISIX",
        }
    }

    /// Whether `proxy_set_effective_context` really makes another stream current. Where
    /// it does not, a stream is only ever continued or answered from its own callbacks:
    /// acting from the root (a tick, a callout the root made) would act on no request
    /// (Kong dereferences NULL and the worker dies) or on the wrong one.
    pub fn switches_context(self) -> bool {
        self.kind == HostKind::Envoy
    }

    /// Whether `proxy_remove_header_map_value` keeps a request header from reaching the
    /// upstream. Kong marks the header removed, but nginx's proxy module still sends it.
    pub fn removes_request_headers(self) -> bool {
        self.kind != HostKind::Kong
    }

    /// Whether the worker VMs of one proxy share data (`proxy_get/set_shared_data` with
    /// compare-and-swap): Envoy's shared data and Kong's `shm_kv` do; every APISIX
    /// worker is its own VM with none.
    pub fn shares_data(self) -> bool {
        self.kind != HostKind::Apisix
    }

    /// Whether gRPC callouts work: Envoy's do; Kong links `proxy_grpc_call` but a call
    /// traps (not yet implemented in ngx_wasm_module), and APISIX answers
    /// `Unimplemented`.
    pub fn grpc_callouts(self) -> bool {
        self.kind == HostKind::Envoy
    }

    /// Whether `end_of_stream` on response headers means the response has no body.
    /// APISIX passes it set on every response (`resty.proxy-wasm` hardcodes 1), so a
    /// body may still follow there.
    pub fn response_headers_end_stream(self) -> bool {
        self.kind != HostKind::Apisix
    }

    /// Whether `proxy_close_stream` resets a stream, so a response that must not go on
    /// ends in an error the client sees. Envoy resets it; Kong links the hostcall to a
    /// not-yet-implemented stub that traps; APISIX has none.
    pub fn resets_streams(self) -> bool {
        self.kind == HostKind::Envoy
    }

    /// Whether a local reply's non-empty body reaches the client with a line feed
    /// appended (Kong's `ngx_http_wasm_local_response` adds one).
    pub fn local_reply_appends_newline(self) -> bool {
        self.kind == HostKind::Kong
    }

    /// The request header that carries the upstream authority: `:authority` on Envoy;
    /// on the nginx hosts `:authority` cannot be written (Kong ignores it, APISIX sets
    /// the method), and `Host` is what their `proxy_pass` forwards.
    pub fn authority_header(self) -> &'static str {
        match self.kind {
            HostKind::Envoy => ":authority",
            HostKind::Kong | HostKind::Apisix => "host",
        }
    }

    /// The property path of a value one filter hands to a later filter of the same
    /// request, never sent upstream: Envoy's filter state, Kong's `wasmx.` namespace,
    /// APISIX's nginx variable of that name (declared by the operator).
    pub fn stream_property(self, name: &str) -> Vec<&str> {
        match self.kind {
            HostKind::Envoy | HostKind::Apisix => vec![name],
            HostKind::Kong => vec!["wasmx", name],
        }
    }
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
