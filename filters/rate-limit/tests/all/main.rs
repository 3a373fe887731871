//! rate-limit's native integration tests, one binary: typed case files (config errors
//! and request sequences, `tests/cases/`).
//!
//! `cargo test -p tollgate-rate-limit --test all decide::keys` runs one case file;
//! `CASE="burst" cargo test …` runs only the cases whose name contains `burst`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod config;
mod decide;
