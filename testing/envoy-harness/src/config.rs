//! Rendering an Envoy bootstrap with Tollgate's wasm filters in front of an upstream.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Envoy's `failure_policy` for a wasm plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    FailClosed,
    FailOpen,
    /// Reload the VM after a trap: what Tollgate's gateway configs use.
    #[default]
    FailReload,
}

impl FailurePolicy {
    fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "FAIL_CLOSED",
            Self::FailOpen => "FAIL_OPEN",
            Self::FailReload => "FAIL_RELOAD",
        }
    }
}

/// One `envoy.filters.http.wasm` entry.
#[derive(Debug, Clone)]
pub struct WasmFilter {
    /// Plugin name, root id and vm id.
    pub name: String,
    pub wasm: PathBuf,
    /// The plugin configuration (JSON text).
    pub config: String,
    pub failure_policy: FailurePolicy,
    /// `allow_on_headers_stop_iteration` (Envoy 1.35+): body callbacks while headers are held.
    pub allow_on_headers_stop_iteration: bool,
    /// Pushed by the control service's ECDS instead of written here.
    pub discovery: Option<Discovery>,
}

/// A filter whose config comes from ECDS (`config_discovery`).
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The resource (`<project>/<group>/<filter>`), also the filter's name in the chain.
    pub resource: String,
    /// The cluster that reaches the ECDS server (HTTP/2).
    pub cluster: String,
    /// A gateway token, sent as `authorization` metadata.
    pub token: String,
}

/// Until the first config arrives (or when it cannot, after `initial_fetch_timeout`),
/// the filter slot holds this: Envoy's RBAC with no policy, which refuses every request
/// with 403. Never a request through unfiltered, never a 500 for a missing config.
pub const DENY_ALL_DEFAULT: &str = "{\"@type\": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC, rules: {action: ALLOW}}";

impl WasmFilter {
    pub fn new(name: &str, wasm: &Path) -> Self {
        Self {
            name: name.to_string(),
            wasm: wasm.to_path_buf(),
            config: String::new(),
            failure_policy: FailurePolicy::default(),
            allow_on_headers_stop_iteration: false,
            discovery: None,
        }
    }

    /// The config comes from ECDS.
    pub fn discovered(mut self, discovery: Discovery) -> Self {
        self.discovery = Some(discovery);
        self
    }

    pub fn allow_on_headers_stop_iteration(mut self, allow: bool) -> Self {
        self.allow_on_headers_stop_iteration = allow;
        self
    }

    pub fn config(mut self, json: &str) -> Self {
        json.clone_into(&mut self.config);
        self
    }

    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }
}

/// A bootstrap: one listener, the filters in order, then the router.
#[derive(Debug, Clone)]
pub struct EnvoyConfig {
    pub upstream: SocketAddr,
    pub filters: Vec<WasmFilter>,
    /// Raw YAML fields of the one virtual host (`rate_limits:` for Envoy's native
    /// `ratelimit` filter), at its indentation.
    pub virtual_host_yaml: Vec<String>,
    /// Raw YAML http filter entries placed before the wasm filters (native filters for
    /// comparison benchmarks). Each is a list item without the leading `- `.
    pub native_filters: Vec<String>,
    /// Extra clusters: (name, address, speaks HTTP/2).
    pub clusters: Vec<(String, SocketAddr, bool)>,
    /// Path prefixes routed to a named cluster, tried in order before the catch-all
    /// route to `upstream`.
    pub routes: Vec<(String, String)>,
    pub concurrency: usize,
    pub log_level: String,
    /// `--component-log-level`, e.g. `wasm:trace` (none by default).
    pub component_log_level: Option<String>,
    /// The connection manager normalizes paths (`normalize_path`, `merge_slashes`,
    /// escaped slashes rejected), as every config Tollgate ships does. Off only to
    /// prove that the filters normalize by themselves behind a careless config.
    pub normalize_paths: bool,
    /// Every route's timeout: how long Envoy waits for an upstream's whole answer
    /// before answering 504. `None`: Envoy's default (15 s).
    pub route_timeout: Option<std::time::Duration>,
    /// The node's id and cluster (what a control plane sees).
    pub node: Option<(String, String)>,
    /// Stats streamed every second to a metrics service: (cluster, bearer token).
    pub metrics_sink: Option<(String, String)>,
}

/// The connection manager settings that put paths in normal form before any filter or
/// route sees them: RFC 3986 dot-segments resolved, slashes merged, and requests with
/// escaped slashes (`%2F`, `%5C`) refused. Every Envoy config Tollgate ships or renders
/// has them (checked by the suite's deploy_configs tests).
pub const PATH_NORMALIZATION: &str = "          normalize_path: true\n          merge_slashes: true\n          path_with_escaped_slashes_action: REJECT_REQUEST\n";

impl EnvoyConfig {
    pub fn new(upstream: SocketAddr) -> Self {
        Self {
            upstream,
            filters: Vec::new(),
            native_filters: Vec::new(),
            virtual_host_yaml: Vec::new(),
            clusters: Vec::new(),
            routes: Vec::new(),
            concurrency: 1,
            log_level: "info".into(),
            component_log_level: None,
            normalize_paths: true,
            route_timeout: None,
            node: None,
            metrics_sink: None,
        }
    }

    /// Streams Envoy's stats every second to the metrics service behind `cluster`
    /// (Envoy's `metrics_service` sink), with `token` as bearer.
    pub fn metrics_sink(mut self, cluster: &str, token: &str) -> Self {
        self.metrics_sink = Some((cluster.to_string(), token.to_string()));
        self
    }

    /// The node's id and cluster.
    pub fn node(mut self, id: &str, cluster: &str) -> Self {
        self.node = Some((id.to_string(), cluster.to_string()));
        self
    }

    /// Sets every route's timeout (a hung upstream costs a client at most this).
    pub fn route_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.route_timeout = Some(timeout);
        self
    }

    pub fn filter(mut self, filter: WasmFilter) -> Self {
        self.filters.push(filter);
        self
    }

    pub fn cluster(mut self, name: &str, addr: SocketAddr, http2: bool) -> Self {
        self.clusters.push((name.to_string(), addr, http2));
        self
    }

    /// Envoy's log level (`info` by default).
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.to_string();
        self
    }

    /// Per-component log levels (`wasm:trace`): everything the filters log, without
    /// Envoy's own debug output (which dumps request headers).
    pub fn component_log_level(mut self, levels: &str) -> Self {
        self.component_log_level = Some(levels.to_string());
        self
    }

    /// Routes requests whose path starts with `prefix` to `cluster`.
    pub fn route(mut self, prefix: &str, cluster: &str) -> Self {
        self.routes.push((prefix.to_string(), cluster.to_string()));
        self
    }

    /// Leaves paths as clients send them (no `normalize_path`): a careless operator's
    /// config, for tests of the filters' own normalization.
    pub fn raw_paths(mut self) -> Self {
        self.normalize_paths = false;
        self
    }

    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    pub fn render(&self, admin_port: u16) -> String {
        let mut y = String::new();
        if let Some((id, cluster)) = &self.node {
            let _ = writeln!(y, "node: {{id: \"{id}\", cluster: \"{cluster}\"}}");
        }
        if let Some((cluster, token)) = &self.metrics_sink {
            y.push_str("stats_flush_interval: 1s\nstats_sinks:\n- name: envoy.stat_sinks.metrics_service\n  typed_config:\n");
            y.push_str("    \"@type\": type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig\n    transport_api_version: V3\n");
            let _ = writeln!(
                y,
                "    grpc_service: {{envoy_grpc: {{cluster_name: {cluster}}}, initial_metadata: [{{key: authorization, value: \"Bearer {token}\"}}]}}"
            );
        }
        let _ = writeln!(
            y,
            "admin:\n  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}"
        );
        y.push_str("static_resources:\n  listeners:\n  - name: main\n    address: {socket_address: {address: 127.0.0.1, port_value: 0}}\n");
        y.push_str("    filter_chains:\n    - filters:\n      - name: envoy.filters.network.http_connection_manager\n        typed_config:\n");
        y.push_str("          \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n");
        y.push_str("          stat_prefix: ingress\n");
        if self.normalize_paths {
            y.push_str(PATH_NORMALIZATION);
        }
        y.push_str("          route_config:\n            virtual_hosts:\n            - name: all\n              domains: [\"*\"]\n");
        for extra in &self.virtual_host_yaml {
            for line in extra.lines() {
                let _ = writeln!(y, "              {line}");
            }
        }
        y.push_str("              routes:\n");
        let timeout = self
            .route_timeout
            .map(|t| format!(", timeout: {}s", t.as_secs_f64()))
            .unwrap_or_default();
        let catch_all = ("/".to_string(), "upstream".to_string());
        for (prefix, cluster) in self.routes.iter().chain([&catch_all]) {
            let _ = writeln!(
                y,
                "              - {{match: {{prefix: \"{prefix}\"}}, route: {{cluster: {cluster}{timeout}}}}}"
            );
        }
        y.push_str("          http_filters:\n");
        for native in &self.native_filters {
            for (i, line) in native.lines().enumerate() {
                let _ = writeln!(y, "          {}{line}", if i == 0 { "- " } else { "  " });
            }
        }
        for f in &self.filters {
            if let Some(d) = &f.discovery {
                render_discovered(&mut y, d);
                continue;
            }
            let config = serde_json::to_string(&f.config).unwrap_or_else(|_| "\"\"".into());
            let _ = writeln!(y, "          - name: envoy.filters.http.wasm");
            let _ = writeln!(y, "            typed_config:");
            let _ = writeln!(
                y,
                "              \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
            );
            let _ = writeln!(y, "              config:");
            let _ = writeln!(y, "                name: {}", f.name);
            let _ = writeln!(y, "                root_id: {}", f.name);
            let _ = writeln!(
                y,
                "                failure_policy: {}",
                f.failure_policy.as_str()
            );
            let _ = writeln!(
                y,
                "                configuration: {{\"@type\": type.googleapis.com/google.protobuf.StringValue, value: {config}}}"
            );
            if f.allow_on_headers_stop_iteration {
                let _ = writeln!(y, "                allow_on_headers_stop_iteration: true");
            }
            let _ = writeln!(y, "                vm_config:");
            let _ = writeln!(y, "                  vm_id: {}", f.name);
            let _ = writeln!(y, "                  runtime: envoy.wasm.runtime.v8");
            let _ = writeln!(
                y,
                "                  code: {{local: {{filename: {}}}}}",
                f.wasm.display()
            );
        }
        y.push_str("          - name: envoy.filters.http.router\n            typed_config: {\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}\n");
        y.push_str("  clusters:\n");
        let mut clusters = vec![("upstream".to_string(), self.upstream, false)];
        clusters.extend(self.clusters.iter().cloned());
        for (name, addr, http2) in clusters {
            let _ = writeln!(
                y,
                "  - name: {name}\n    connect_timeout: 1s\n    type: STATIC"
            );
            if http2 {
                y.push_str("    typed_extension_protocol_options:\n      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n");
                y.push_str("        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n        explicit_http_config: {http2_protocol_options: {}}\n");
            }
            let _ = writeln!(
                y,
                "    load_assignment: {{cluster_name: {name}, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}]}}]}}",
                addr.ip(),
                addr.port()
            );
        }
        y
    }
}

/// A `config_discovery` filter entry: the listener warms until the first config
/// arrives (`apply_default_config_without_warming: false`), so no request meets the
/// filter before it has a config; the default applies only if none arrives in 30 s.
fn render_discovered(y: &mut String, d: &Discovery) {
    let _ = writeln!(y, "          - name: \"{}\"", d.resource);
    y.push_str("            config_discovery:\n              config_source:\n");
    y.push_str(
        "                resource_api_version: V3\n                initial_fetch_timeout: 30s\n",
    );
    y.push_str("                api_config_source:\n                  api_type: GRPC\n                  transport_api_version: V3\n");
    let _ = writeln!(
        y,
        "                  grpc_services: [{{envoy_grpc: {{cluster_name: {}}}, initial_metadata: [{{key: authorization, value: \"Bearer {}\"}}]}}]",
        d.cluster, d.token
    );
    let _ = writeln!(y, "              default_config: {DENY_ALL_DEFAULT}");
    y.push_str("              apply_default_config_without_warming: false\n");
    y.push_str("              type_urls: [type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm, type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC]\n");
}
