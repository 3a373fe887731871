//! pii-mask's native integration tests, one binary: typed case files
//! (`tests/cases/`) for detectors, JSON rules and config errors, and property tests
//! of chunked masking.
//!
//! `cargo test -p tollgate-pii-mask --test all detect::card` runs one case file;
//! `CASE="luhn" cargo test …` runs only the cases whose name contains `luhn`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;
mod config;
mod detect;
mod json;
mod props;
