//! `tollgate-cache`: the shared tier of response-cache, in front of Redis.
//!
//! Gateways store entries here (sealed and named by them: the service never sees an
//! identity or can forge an entry), fetch entries another gateway filled, and publish
//! and follow invalidations, so a write through one gateway drops the entries of every
//! gateway within their poll period.
//!
//! * [`backend`]: entries and the invalidation log in Redis (several instances, one
//!   Redis) or in memory (one instance, tests);
//! * [`http`]: the API the filter calls, health and metrics;
//! * [`server`]: started and stopped as one (the binary, and tests).

pub mod backend;
pub mod http;
pub mod server;
