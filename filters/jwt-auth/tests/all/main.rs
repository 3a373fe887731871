//! jwt-auth's native integration tests, one binary: typed case files (decisions and
//! config errors, `tests/cases/`), attacks, and the published RFC vectors.
//!
//! `cargo test -p tollgate-jwt-auth --test all decide::tokens` runs one case file;
//! `CASE="expired" cargo test …` runs only the cases whose name contains `expired`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod attacks;
mod config;
mod decide;
mod vectors;
