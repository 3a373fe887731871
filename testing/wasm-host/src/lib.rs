//! A proxy-wasm ABI 0.2.1 host on wasmtime, faithful to Envoy and able to act as APISIX
//! or Kong ([`Profile`]).
//!
//! ```ignore
//! let plugin = Plugin::builder(&wasm).config(r#"{"tick_ms":0}"#).workers(2).build()?;
//! plugin.upstream(|req| UpstreamReply::ok(req.body.clone()));
//! let out = plugin.send(Request::get("/hello").header("x-a", "1"))?;
//! assert_eq!(out.client.status, 200);
//! assert_eq!(out.upstream.unwrap().header("x-a"), Some("1"));
//! ```
//!
//! * Envoy's lifecycle: root context, `on_vm_start`, `on_configure` (false rejects the
//!   plugin), one context per stream, header/body/trailer callbacks with
//!   `end_of_stream`, StopIteration and buffering, pause and resume, local replies that
//!   pass through the filter's own response callbacks, `on_log` → `on_done` →
//!   `on_delete`.
//! * N worker VMs per plugin share shared data, queues and metrics, as Envoy's worker
//!   threads do; time is a virtual clock the test advances.
//! * A trap ends only its stream (500, or the configured failure reply); the VM is
//!   recycled and the plugin keeps serving.
//! * Every hostcall is recorded in a log a test can assert on.

mod abi;
mod callout;
mod clock;
mod exchange;
mod hostcall_log;
mod plugin;
mod profile;
mod properties;
mod race;
mod shared;
mod stream;
mod vm;

pub use callout::{Cluster, GrpcReply, HttpReply};
pub use exchange::{ClientResponse, Outcome, Request, UpstreamReply, UpstreamRequest};
pub use hostcall_log::HostcallRecord;
pub use plugin::{FailurePolicy, Plugin, PluginBuilder};
pub use profile::Profile;
pub use tollgate_kit::{LogLevel, Status};
