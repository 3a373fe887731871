//! rego-authz's native integration tests, one binary: typed case files (decisions, the
//! input document, config errors; `tests/cases/`).
//!
//! `cargo test -p tollgate-rego-authz --test all decide::tutorial` runs one case file;
//! `CASE="bob POST" cargo test …` runs only the cases whose name contains `bob POST`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod config;
mod decide;
