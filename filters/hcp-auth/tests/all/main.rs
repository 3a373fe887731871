//! hcp-auth's native integration tests, one binary: typed case files (decisions and
//! config errors, `tests/cases/`).
//!
//! `cargo test -p tollgate-hcp-auth --test all decide::s3` runs one case file;
//! `CASE="S3 PUT" cargo test …` runs only the cases whose name contains `S3 PUT`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod config;
mod decide;
