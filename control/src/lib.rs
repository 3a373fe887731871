//! Tollgate's control service: the one place that stores what the gateways run.
//!
//! Filter configs, Rego bundles and JWKS sets are validated with the filters' own
//! crates before anything is stored, versioned as immutable content-addressed
//! revisions (`If-Match` against lost updates), optionally approved, signed with
//! Ed25519 (bundles in OPA's `.signatures.json` format), and served to gateways and to
//! stock OPA (ETag, 304, long polling). Secrets are sealed with AES-256-GCM under a
//! master key kept outside storage. Every change and denial is in a hash-chained audit
//! log. Storage is SQLite (embedded) or etcd (several replicas), behind one interface.
//!
//! [`app`] is the whole HTTP service as an axum `Router`.

pub mod api;
pub mod apisix;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod checks;
pub mod cli;
pub mod client;
pub mod docs;
pub mod ecds;
pub mod error;
pub mod fleet;
pub mod gateway;
pub mod ledger;
pub mod metrics;
pub mod model;
pub mod modules;
pub mod openapi;
pub mod ratelimit;
pub mod records;
pub mod resolve;
pub mod rollout;
pub mod routes;
pub mod secrets;
pub mod serve;
pub mod signals;
pub mod signing;
pub mod state;
pub mod store;
pub mod validate;
pub mod vault;

pub use routes::app;
pub use state::{AppState, Control, Settings};
