//! rego-authz: Rego policies evaluated inside the proxy by regorus, drop-in compatible
//! with OPA-Envoy policies and OPA bundles.
//!
//! Split by concern:
//! * [`engine`]: a policy compiled once into a prepared regorus engine, with a budget;
//! * [`jwt_builtins`]: OPA's `io.jwt.*`, on jwt-auth's JWS code;
//! * [`input`], [`parsed`]: the OPA-Envoy input document from plain request data;
//! * [`decision`]: a result read with OPA-Envoy's semantics;
//! * [`cache`]: decisions keyed by configured input paths;
//! * [`bundle`], [`signature`]: OPA bundles and their signatures;
//! * [`decision_log`]: OPA-shaped decision logs, masked, batched, bounded;
//! * [`runner`]: a policy's `test_*` rules, on the same engine;
//! * [`config`]: the documented configuration and its compiled form;
//! * [`filter`]: the thin proxy-wasm glue.

pub mod bundle;
pub mod cache;
pub mod config;
pub mod decision;
pub mod decision_log;
pub mod engine;
pub mod filter;
pub mod input;
pub mod jwt_builtins;
pub mod parsed;
pub mod runner;
pub mod signature;

#[cfg(test)]
#[path = "test_support_tests.rs"]
mod test_support;

pub use filter::RegoAuthzRoot;

tollgate_kit::export_filter!(RegoAuthzRoot::default());
