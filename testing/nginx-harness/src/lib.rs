//! The two nginx-based proxy-wasm hosts, for real, in tests.
//!
//! ```ignore
//! let upstream = Upstream::start()?;
//! let kong = Nginx::start(&NginxConfig::new(NginxHost::Kong, upstream.addr())
//!     .filter(NginxFilter::new("jwt-auth", &wasm_path, &config)))?;
//! let response = kong.send(&HttpRequest::get("/hello"))?;
//! ```
//!
//! The hosts are the prebuilt ones in `../shared/hosts/prebuilt` (Kong's
//! ngx_wasm_module on nginx 1.27.4; APISIX's wasm-nginx-module on nginx 1.25.3 with
//! lua-nginx-module and the shim that drives it as APISIX does). The harness writes its
//! own `nginx.conf` from the same layout as the shared templates, plus what a Tollgate
//! deployment declares (APISIX: `set $tollgate_credentials '';`). Every socket is on
//! 127.0.0.1; dropping the handle stops nginx and its workers.

mod conf;
mod process;

pub use conf::{NginxConfig, NginxFilter, NginxHost};
pub use process::{Nginx, hosts_dir};
