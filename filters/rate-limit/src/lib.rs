//! rate-limit: limits at the edge, exact across a proxy's worker VMs.
//!
//! Split by concern:
//! * [`gcra`]: the limiter, one number per limit;
//! * [`table`]: a bounded table of buckets, updated by compare-and-swap;
//! * the kit's `slots`: the table's slots in shared data (every worker) or in memory
//!   (per worker);
//! * [`key`]: bucket keys from claims, headers, the client address, path, method;
//! * [`decide`]: a request's decision over plain data;
//! * [`headers`]: `Retry-After`, `RateLimit-Policy`, `RateLimit`, `X-RateLimit-*`;
//! * [`config`]: the documented configuration and its compiled form;
//! * [`filter`]: the thin proxy-wasm glue.

pub mod config;
pub mod decide;
pub mod filter;
pub mod gcra;
pub mod headers;
pub mod key;
pub mod rls;
pub mod table;

pub use filter::RateLimitRoot;

tollgate_kit::export_filter!(RateLimitRoot::default());
