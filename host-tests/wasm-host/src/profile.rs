//! What distinguishes the hosts Tollgate runs in.

/// The proxy a [`Plugin`](crate::Plugin) behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Envoy 1.40 with the V8 runtime: the reference host.
    #[default]
    Envoy,
    /// Apache APISIX through api7's wasm-nginx-module: no shared data, queues, timers,
    /// clock, body writes or gRPC (all `Unimplemented`); callouts take `host:port`; body
    /// callbacks only after `wasm_process_req_body` / `wasm_process_resp_body` is set.
    Apisix,
    /// Kong's ngx_wasm_module: a replaced body is truncated to the size argument; no
    /// `on_queue_ready` and no `proxy_resolve_shared_queue`.
    Kong,
}

impl Profile {
    /// Whether this host answers `hostcall` with `Unimplemented`.
    pub fn lacks(self, hostcall: &str) -> bool {
        match self {
            Self::Envoy => false,
            // No clock hostcall either (filters read WASI's clock instead, as the kit's
            // ABI layer does); the mock keeps its clock for native tests.
            Self::Apisix => {
                tollgate_kit::mock::APISIX_MISSING.contains(&hostcall)
                    || hostcall == "proxy_get_current_time_nanoseconds"
            }
            Self::Kong => hostcall == "proxy_resolve_shared_queue",
        }
    }

    /// Whether the host ever calls `proxy_on_queue_ready`.
    pub fn delivers_queue_ready(self) -> bool {
        matches!(self, Self::Envoy)
    }

    /// Whether body callbacks run without the filter opting in through a property.
    pub fn body_callbacks_by_default(self) -> bool {
        !matches!(self, Self::Apisix)
    }

    /// Whether a callout target is a cluster name (`false`: `host:port`).
    pub fn callouts_by_cluster(self) -> bool {
        !matches!(self, Self::Apisix)
    }

    /// Whether the HTTP connection manager adds `x-request-id` and `x-forwarded-proto`.
    pub fn adds_envoy_request_headers(self) -> bool {
        matches!(self, Self::Envoy)
    }
}
