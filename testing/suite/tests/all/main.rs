//! The suite's one integration-test binary: a module per filter and per host concern,
//! linking wasmtime, tokio and hyper once. Tier 2 (the built `.wasm` in the wasmtime
//! host under the envoy, apisix and kong profiles) and tier 3 (real Envoy, Kong and
//! APISIX on loopback).
//!
//! `cargo test -p tollgate-host-suite --test all jwt_auth_envoy::` runs one module.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod conformance;
mod deploy_configs;
mod ecds_envoy;
mod envoy_e2e;
mod hcp_auth_envoy;
mod hcp_auth_wasm;
mod host_behaviour;
mod host_facts;
mod host_imports;
mod jwt_auth_algs;
mod jwt_auth_envoy;
mod jwt_auth_wasm;
mod layout;
mod pii_mask_accuracy;
mod pii_mask_envoy;
mod pii_mask_real_hosts;
mod pii_mask_wasm;
mod profiles;
mod rate_limit_envoy;
mod rate_limit_global;
mod rate_limit_real_hosts;
mod rate_limit_wasm;
mod real_hosts;
mod rego_authz_envoy;
mod rego_authz_real_hosts;
mod rego_authz_wasm;
mod response_cache_conformance;
mod response_cache_envoy;
mod response_cache_real_hosts;
mod response_cache_tier;
mod response_cache_wasm;
mod traps;
