//! response-cache's native integration tests, one binary: typed case files (config
//! errors and request sequences through `decide`, `tests/cases/`).
//!
//! `cargo test -p tollgate-response-cache --test all decide::freshness` runs one case
//! file; `CASE="vary" cargo test …` runs only the cases whose name contains `vary`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod config;
mod decide;
