//! The control service's tests: the API in-process (axum `oneshot`) and over a real
//! socket, the storage suite on SQLite and on a real etcd, crash safety, RBAC.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod etcd;

mod apisix;
mod approvals;
mod audit;
mod bad_input;
mod bundles;
mod cli;
mod crash;
mod ecds;
mod pull;
mod ratelimit;
mod rbac;
mod rollout;
mod secrets;
mod service;
mod storage;
mod versions;
