//! response-cache: an HTTP cache at the edge, one partition per identity.
//!
//! Split by concern:
//! * [`directives`]: `Cache-Control` and HTTP dates, parsed as RFC 9111 says;
//! * [`freshness`]: what may be stored, for how long, and what a stored response may
//!   answer;
//! * [`key`]: whose an entry is (verified identity) and which request it answers
//!   (`Vary`);
//! * [`entry`]: a stored response and its byte form;
//! * [`coalesce`]: concurrent misses for one key wait for one fill;
//! * [`store`]: entries in slot tables shared by every worker, LRU within a byte
//!   budget, invalidation marks;
//! * [`invalidate`]: what a write invalidates and what a lookup checks;
//! * [`tier`]: the shared tier several gateways exchange entries and invalidations
//!   through;
//! * [`glob`]: the path globs of the TTL table;
//! * [`decide`]: a request's and a response's decisions over plain data;
//! * [`config`]: the documented configuration and its compiled form;
//! * [`filter`]: the thin proxy-wasm glue.

pub mod coalesce;
pub mod config;
pub mod decide;
pub mod directives;
pub mod entry;
pub mod filter;
pub mod freshness;
pub mod glob;
pub mod invalidate;
pub mod key;
pub mod store;
pub mod tier;
pub mod waiting;

pub use filter::ResponseCacheRoot;

tollgate_kit::export_filter!(ResponseCacheRoot::default());
