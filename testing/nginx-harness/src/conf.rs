//! What runs: which host, which filters with which configuration, which upstream.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One of the two nginx-based hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NginxHost {
    /// Kong's ngx_wasm_module on bare nginx.
    Kong,
    /// APISIX's wasm-nginx-module, driven by the shared shim as APISIX drives it.
    Apisix,
}

impl NginxHost {
    pub const ALL: [Self; 2] = [Self::Kong, Self::Apisix];

    pub fn name(self) -> &'static str {
        match self {
            Self::Kong => "kong",
            Self::Apisix => "apisix",
        }
    }
}

/// A filter in the chain: its module and its configuration (JSON).
#[derive(Debug, Clone)]
pub struct NginxFilter {
    /// `[A-Za-z0-9_]`: the module name on Kong, the plugin name on APISIX.
    pub name: String,
    pub wasm: PathBuf,
    pub config: String,
}

impl NginxFilter {
    pub fn new(name: &str, wasm: &Path, config: &str) -> Self {
        let name = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        Self {
            name,
            wasm: wasm.to_path_buf(),
            config: config.to_string(),
        }
    }
}

/// A host with a filter chain in front of one upstream.
#[derive(Debug, Clone)]
pub struct NginxConfig {
    pub host: NginxHost,
    pub upstream: SocketAddr,
    pub filters: Vec<NginxFilter>,
    pub workers: u32,
    /// nginx variables the server declares: on APISIX a property is an nginx variable,
    /// which must exist before a filter can set it.
    pub variables: Vec<String>,
    pub proxy_buffering: bool,
}

/// The variables a Tollgate deployment on APISIX declares: the two APISIX's own
/// template declares, the credentials handoff from jwt-auth to hcp-auth, and
/// rego-authz's dynamic metadata.
pub const APISIX_VARIABLES: [&str; 4] = [
    "wasm_process_req_body",
    "wasm_process_resp_body",
    "tollgate_credentials",
    "tollgate_rego_metadata",
];

impl NginxConfig {
    pub fn new(host: NginxHost, upstream: SocketAddr) -> Self {
        Self {
            host,
            upstream,
            filters: Vec::new(),
            workers: 1,
            variables: APISIX_VARIABLES.iter().map(|v| v.to_string()).collect(),
            proxy_buffering: true,
        }
    }

    /// nginx's `proxy_buffering` (on by default). A filter that rewrites response
    /// bodies needs it off on Kong (Kong Gateway: the route's `response_buffering:
    /// false`): with it on, a streamed response larger than the proxy buffers stalls
    /// once a filter replaces its chunks.
    pub fn proxy_buffering(mut self, on: bool) -> Self {
        self.proxy_buffering = on;
        self
    }

    pub fn filter(mut self, filter: NginxFilter) -> Self {
        self.filters.push(filter);
        self
    }

    pub fn workers(mut self, workers: u32) -> Self {
        self.workers = workers;
        self
    }

    /// Declares only these variables (to show what happens without one).
    pub fn variables(mut self, names: &[&str]) -> Self {
        self.variables = names.iter().map(|v| v.to_string()).collect();
        self
    }

    /// The `nginx.conf` for `prefix`, listening on `port`.
    pub fn render(&self, prefix: &Path, port: u16, lualib: &Path) -> String {
        let prefix = prefix.display();
        let common = format!(
            "daemon on;\nworker_processes {workers};\nerror_log {prefix}/logs/error.log info;\n\
             pid {prefix}/logs/nginx.pid;\nevents {{ worker_connections 256; }}\n",
            workers = self.workers
        );
        let temp = format!(
            "    access_log {prefix}/logs/access.log;\n\
             \x20   client_body_temp_path {prefix}/tmp/client_body;\n\
             \x20   proxy_temp_path {prefix}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {prefix}/tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {prefix}/tmp/uwsgi;\n\
             \x20   scgi_temp_path {prefix}/tmp/scgi;\n"
        );
        let upstream = self.upstream;
        let buffering = if self.proxy_buffering {
            ""
        } else {
            "            proxy_buffering off;\n"
        };
        match self.host {
            NginxHost::Kong => {
                let modules: String = self
                    .filters
                    .iter()
                    .map(|f| format!("    module {} {};\n", f.name, f.wasm.display()))
                    .collect();
                let chain: String = self
                    .filters
                    .iter()
                    .map(|f| {
                        format!(
                            "            proxy_wasm {} '{}';\n",
                            f.name,
                            kong_quote(&f.config)
                        )
                    })
                    .collect();
                format!(
                    "{common}wasm {{\n{modules}    shm_kv * 4m;\n    resolver 127.0.0.1 ipv6=off;\n    resolver_timeout 2s;\n}}\n\
                     http {{\n{temp}    server {{\n        listen 127.0.0.1:{port};\n        location / {{\n{chain}\
                     {buffering}\x20           proxy_set_header Host $http_host;\n            proxy_pass http://{upstream};\n        }}\n    }}\n}}\n"
                )
            }
            NginxHost::Apisix => {
                let plugins: String = self
                    .filters
                    .iter()
                    .map(|f| {
                        format!(
                            "            {{name = \"{}\", file = \"{}\", conf = [==[{}]==]}},\n",
                            f.name,
                            f.wasm.display(),
                            f.config
                        )
                    })
                    .collect();
                let chain = self
                    .filters
                    .iter()
                    .map(|f| format!("\"{}\"", f.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                let variables: String = self
                    .variables
                    .iter()
                    .map(|v| format!("        set ${v} '';\n"))
                    .collect();
                format!(
                    "{common}http {{\n{temp}    lua_package_path \"{lualib}/?.lua;;\";\n    wasm_vm wasmtime;\n\
                     \x20   init_worker_by_lua_block {{\n        require(\"apisix_wasm_shim\").init_worker({{\n{plugins}        }})\n    }}\n\
                     \x20   server {{\n        listen 127.0.0.1:{port};\n{variables}        location / {{\n\
                     \x20           access_by_lua_block {{ require(\"apisix_wasm_shim\").access({{{chain}}}) }}\n\
                     \x20           header_filter_by_lua_block {{ require(\"apisix_wasm_shim\").header_filter({{{chain}}}) }}\n\
                     \x20           body_filter_by_lua_block {{ require(\"apisix_wasm_shim\").body_filter({{{chain}}}) }}\n\
                     {buffering}\x20           proxy_set_header Host $http_host;\n            proxy_pass http://{upstream};\n        }}\n    }}\n}}\n",
                    lualib = lualib.display()
                )
            }
        }
    }
}

/// A configuration inside `'…'` in Kong's directive: `\` and `'` escaped.
fn kong_quote(config: &str) -> String {
    config.replace('\\', "\\\\").replace('\'', "\\'")
}
