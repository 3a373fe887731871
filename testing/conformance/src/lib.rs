//! A test-only filter that exercises every hostcall and reports what it observed.
//!
//! The same requests are sent through the wasmtime host and through real Envoy; the
//! test asserts the reports match. A scenario is chosen by path,
//! `/conformance/<scenario>`, with an `x-conformance-id` header naming the record. Each
//! callback appends to the record, which is kept in shared data so that
//! `/conformance/report/<id>` can return it after the stream has ended (including
//! `on_log`, `on_done` and `on_delete`). `/conformance/report/root` returns what the
//! root context saw (VM start, configure, ticks, queue deliveries).
//!
//! Values that differ between runs (addresses, ports, ids, times) are recorded by
//! shape only, so a report is deterministic.

mod introspect;
mod observe;
mod root;
mod scenarios;
mod stream;

pub use observe::Record;
pub use root::{ConformanceConfig, ConformanceRoot};
pub use scenarios::FACTS_HEADER;
pub use stream::ConformanceStream;

tollgate_kit::export_filter!(ConformanceRoot::default());
